//! Bytes to a ready model: format detection, the HF safetensors checkpoint (fp32), the
//! converted burnpack record (int8 per-block-32 along each linear's inputs, see `record`), and
//! the conversion.

use burn::module::{Module, ModuleMapper, Param};
use burn::nn::Initializer;
use burn::store::burn_pack::Error as PackError;
use burn::store::{
    ApplyResult, BurnpackStore, ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore,
    SafetensorsStoreError,
};
use burn::tensor::quantization::{
    compute_q_params, compute_range, Calibration, QuantScheme, QuantStore, QuantValue, ScaleDtype,
};
use burn::tensor::{Bytes, DType, Device, Tensor};

use sha2::Digest;

use super::bert::{BertEmbeddings, BertModel};
use super::config::BertConfig;
use super::int8_layers::Int8Layers;
use super::record::Int8Record;
use super::word_table::WordTable;
use crate::error::EncoderError;

/// How the weights are stored in the file given to `Encoder::load`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// The original fp32 checkpoint (safetensors). Used for parity checks.
    Fp32,
    /// Int8 per-block(32) weights in a burnpack record: run by the integer kernel on the CPU,
    /// dequantized to fp32 at load for WebGPU.
    Int8,
}

impl Precision {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fp32 => "fp32",
            Self::Int8 => "int8",
        }
    }
}

/// Burnpack files start with this magic number (little-endian "NRUB").
const BURNPACK_MAGIC: u32 = 0x4255_524E;

/// Tells the two accepted formats apart from their first bytes, before burn sees them.
pub fn detect_format(bytes: &[u8]) -> Result<Precision, EncoderError> {
    if bytes.len() < 8 {
        return Err(EncoderError::ModelCorrupt(format!(
            "{} bytes is too short for a model file",
            bytes.len()
        )));
    }
    let magic = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if magic == BURNPACK_MAGIC {
        return Ok(Precision::Int8);
    }
    // safetensors: u64 header length, then a JSON object.
    let header_len = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
    if bytes.len() > 8 && bytes[8] == b'{' {
        if header_len > (bytes.len() as u64 - 8) {
            return Err(EncoderError::ModelCorrupt(format!(
                "safetensors header claims {header_len} bytes but the file has {}",
                bytes.len()
            )));
        }
        return Ok(Precision::Fp32);
    }
    Err(EncoderError::ModelFormat(
        "expected a burnpack (.bpk) record made by `cloister convert` or the model.safetensors \
         checkpoint"
            .into(),
    ))
}

/// HF BERT names to the burn module's names.
const HF_TO_BURN: &[(&str, &str)] = &[
    (r"^encoder\.layer\.(\d+)\.", "encoder.layers.$1."),
    (r"\.attention\.self\.(query|key|value)\.", ".mha.$1."),
    (r"\.attention\.output\.dense\.", ".mha.output."),
    (r"\.attention\.output\.LayerNorm\.", ".norm_1."),
    (r"\.intermediate\.dense\.", ".pwff.linear_inner."),
    (
        r"^(encoder\.layers\.\d+)\.output\.dense\.",
        "$1.pwff.linear_outer.",
    ),
    (
        r"^(encoder\.layers\.\d+)\.output\.LayerNorm\.",
        "$1.norm_2.",
    ),
    (r"^embeddings\.LayerNorm\.", "embeddings.layer_norm."),
];

/// Tensors of the HF checkpoint that the encoder does not use.
fn is_unused_hf_tensor(name: &str) -> bool {
    name == "embeddings.position_ids" || name.starts_with("pooler.")
}

/// A model file read into memory: burn's module and, for the int8 CPU strategy, the linear
/// layers it runs.
pub struct LoadedModel {
    /// burn's module, its word table left as a one-row placeholder: `words` holds it.
    pub model: BertModel,
    pub words: WordTable,
    /// The int8 file's linear layers packed for the integer kernel (the module then has no
    /// materialised `Linear` weights); `None` when burn's modules hold them.
    pub int8: Option<Int8Layers>,
    pub precision: Precision,
}

/// Reads the HF safetensors checkpoint into burn's module (`HF_TO_BURN` names).
fn load_checkpoint(
    bytes: Vec<u8>,
    config: &BertConfig,
    device: &Device,
) -> Result<BertModel, EncoderError> {
    let mut model = BertModel::new(config, device);
    let mut store = HF_TO_BURN.iter().fold(
        SafetensorsStore::from_bytes(Some(bytes)).with_from_adapter(PyTorchToBurnAdapter),
        |store, (from, to)| store.with_key_remapping(*from, *to),
    );
    check_apply_result(&model.load_from(&mut store).map_err(safetensors_error)?)?;
    Ok(model)
}

/// Loads model bytes (either format) into a module on `device`. With `int8_matmul` an int8
/// file's linear layers go to the integer kernel instead ([`Int8Layers`], CPU only) and the
/// module keeps only the rest; otherwise everything is fp32 in memory.
pub fn load_model(
    bytes: Vec<u8>,
    config: &BertConfig,
    device: &Device,
    int8_matmul: bool,
) -> Result<LoadedModel, EncoderError> {
    let precision = detect_format(&bytes)?;
    // Weights are read and dequantized on the CPU whatever the target: burn's quantized
    // kernels are slow on wgpu (and stalled on SwiftShader), and this is a one-off cost.
    let cpu = Device::flex();
    let (model, words, int8) = match precision {
        Precision::Fp32 => {
            let mut model = load_checkpoint(bytes, config, &cpu)?;
            let words = take_word_table(&mut model.embeddings, config, &cpu)?;
            (model, words, None)
        }
        Precision::Int8 => {
            let mut record = Int8Record::new(config, &cpu);
            let mut store = BurnpackStore::from_bytes(Some(Bytes::from_bytes_vec(bytes)));
            check_apply_result(&record.load_from(&mut store).map_err(burnpack_error)?)?;
            drop(store); // the file's bytes (77 MB for the multilingual model)
                         // The word table stays int8 (`WordTable`); the integer kernel takes the file's
                         // int8 values and scales as they are.
            let words = take_word_table(&mut record.embeddings, config, &cpu)?;
            let int8 = if int8_matmul {
                let int8 = Int8Layers::from_record_layers(&record.layers)?;
                // The kernel holds the linear weights now: never dequantize them.
                for layer in &mut record.layers {
                    layer.drop_linear_weights(&cpu);
                }
                Some(int8)
            } else {
                None
            };
            // burn runs a quantized matmul by dequantizing on every call: pay that once, here.
            let record = record.map(&mut Dequantizer);
            match int8 {
                Some(int8) => (record.into_parts(config, &cpu).0, words, Some(int8)),
                None => (record.into_model(config, &cpu), words, None),
            }
        }
    };
    let model = if *device == cpu {
        model
    } else {
        model.to_device(device)
    };
    Ok(LoadedModel {
        model,
        words,
        int8,
        precision,
    })
}

/// Moves the word table out of `embeddings` into a [`WordTable`], leaving a one-row
/// placeholder (the full table in f32 would be 202 MB for the multilingual model).
fn take_word_table(
    embeddings: &mut BertEmbeddings,
    config: &BertConfig,
    device: &Device,
) -> Result<WordTable, EncoderError> {
    let placeholder = Initializer::Zeros.init([1, config.hidden], device);
    let weight = std::mem::replace(&mut embeddings.word_embeddings.weight, placeholder);
    WordTable::from_param(weight)
}

/// The store's first line only: its summaries are long tables meant for terminals.
fn first_line(e: &impl std::fmt::Display) -> String {
    e.to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Missing or mis-shaped tensors mean another model; unreadable bytes mean a damaged file.
fn safetensors_error(e: SafetensorsStoreError) -> EncoderError {
    match e {
        SafetensorsStoreError::TensorNotFound(_) | SafetensorsStoreError::ValidationFailed(_) => {
            EncoderError::WrongModel(first_line(&e))
        }
        other => EncoderError::ModelCorrupt(first_line(&other)),
    }
}

fn burnpack_error(e: PackError) -> EncoderError {
    match e {
        PackError::TensorNotFound(_) | PackError::ValidationError(_) => {
            EncoderError::WrongModel(first_line(&e))
        }
        other => EncoderError::ModelCorrupt(first_line(&other)),
    }
}

fn check_apply_result(result: &ApplyResult) -> Result<(), EncoderError> {
    if let Some(error) = result.errors.first() {
        return Err(EncoderError::WrongModel(format!(
            "{error} ({} tensor errors in all)",
            result.errors.len()
        )));
    }
    if !result.missing.is_empty() {
        let names: Vec<&str> = result
            .missing
            .iter()
            .take(5)
            .map(|(n, _)| n.as_str())
            .collect();
        return Err(EncoderError::WrongModel(format!(
            "{} tensors missing, e.g. {}",
            result.missing.len(),
            names.join(", ")
        )));
    }
    let unexpected: Vec<&String> = result
        .unused
        .iter()
        .filter(|name| !is_unused_hf_tensor(name))
        .collect();
    if !unexpected.is_empty() {
        return Err(EncoderError::WrongModel(format!(
            "{} unexpected tensors, e.g. {}",
            unexpected.len(),
            unexpected[0]
        )));
    }
    Ok(())
}

/// Turns every quantized float parameter back into fp32.
struct Dequantizer;

impl ModuleMapper for Dequantizer {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if matches!(param.val().dtype(), DType::QFloat(_)) {
            param.map(|tensor| tensor.dequantize())
        } else {
            param
        }
    }
}

/// The quantization recipe: symmetric int8, one f16 scale per block of 32 values. Per-tensor
/// int8 loses too much on MiniLM's outlier weights (cosine 0.936 vs 0.9997 per block). f16
/// scales cost nothing measurable (min cosine 0.9997097 vs 0.9997073 with f32 scales) and save
/// 1.4 MB of download; blocks of 64 would save 0.7 MB more but drop it to 0.99958.
pub fn int8_scheme() -> QuantScheme {
    QuantScheme::default()
        .with_value(QuantValue::Q8S)
        .with_store(QuantStore::Native)
        .per_block([32], ScaleDtype::F16)
}

/// The word-embedding table's recipe: blocks of 64. The table is looked up, never multiplied,
/// and its f16 scales were 0.73 MB of the download at blocks of 32; at 64 the min cosine moves
/// from 0.9997355 to 0.9997300 (docs/benchmarks.md).
pub fn word_table_scheme() -> QuantScheme {
    int8_scheme().per_block([64], ScaleDtype::F16)
}

/// Quantizes the weights of every linear layer (stored `[outputs][inputs]`, so the blocks of
/// 32 run along the inputs) and the word- and position-embedding tables (the word table in
/// blocks of 64, `word_table_scheme`).
struct Int8Quantizer {
    scheme: QuantScheme,
    path: Vec<String>,
    containers: Vec<String>,
}

impl ModuleMapper for Int8Quantizer {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.push(name.to_string());
        self.containers.push(container_type.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
        self.containers.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let path = self.path.join(".");
        let in_linear =
            self.containers.last().map(String::as_str) == Some("Struct:TransposedLinear");
        // The position table too: in fp32 it was 0.8 MB of the download for 512 x 384 values
        // that are added to the word vectors and then normalised.
        let quantize = (in_linear && path.ends_with(".weight"))
            || path == "embeddings.word_embeddings.weight"
            || path == "embeddings.position_embeddings.weight";
        if !quantize {
            return param;
        }
        let scheme = if path == "embeddings.word_embeddings.weight" {
            word_table_scheme()
        } else {
            self.scheme
        };
        param.map(|tensor| {
            let range = compute_range(&scheme, &tensor, &Calibration::MinMax);
            let qparams = compute_q_params(&scheme, range);
            tensor.quantize(&scheme, qparams)
        })
    }
}

/// Sets each parameter's id to a hash of its module path.
#[derive(Default)]
pub(super) struct StableIds {
    path: Vec<String>,
}

impl ModuleMapper for StableIds {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, mut param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let digest = sha2::Sha256::digest(self.path.join(".").as_bytes());
        let id = u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"));
        param.id = burn::module::ParamId::from(id);
        param
    }
}

/// The safetensors checkpoint to the int8 burnpack record shipped to browsers.
pub fn convert_to_int8(
    safetensors: Vec<u8>,
    config: &BertConfig,
    device: &Device,
) -> Result<Vec<u8>, EncoderError> {
    if detect_format(&safetensors)? != Precision::Fp32 {
        return Err(EncoderError::ModelFormat(
            "convert expects the fp32 model.safetensors checkpoint".into(),
        ));
    }
    let model = load_checkpoint(safetensors, config, device)?;
    let model = Int8Record::from_model(model).map(&mut Int8Quantizer {
        scheme: int8_scheme(),
        path: Vec::new(),
        containers: Vec::new(),
    });
    // Parameter ids are random at init; derive them from the path so the same checkpoint
    // always converts to the same bytes (the manifest pins their sha256).
    let model = model.map(&mut StableIds { path: Vec::new() });
    let mut out = BurnpackStore::from_bytes(None).metadata(
        "model",
        "all-MiniLM-L6-v2 int8 per-block-32, f16 scales; linear weights [outputs][inputs]",
    );
    model
        .save_into(&mut out)
        .map_err(|e| EncoderError::ModelWrite(format!("burnpack record: {e}")))?;
    let bytes = out
        .get_bytes()
        .map_err(|e| EncoderError::ModelWrite(format!("burnpack record: {e}")))?;
    Ok(bytes.to_vec())
}
