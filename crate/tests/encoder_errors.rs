//! Bad model, tokenizer and input bytes give typed errors, never a panic.

mod common;

use cloister::encoder::device::cpu_device;
use cloister::{Backend, Encoder, EncoderError, EncoderOptions};
use common::model_file;

fn load(model: Vec<u8>) -> Result<Encoder, EncoderError> {
    Encoder::load(
        model,
        &model_file("tokenizer.json"),
        cpu_device(),
        Backend::Cpu,
    )
}

/// A safetensors file from (name, shape) pairs of f32 zeros.
fn safetensors(tensors: &[(&str, Vec<usize>)]) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    let mut offset = 0usize;
    for (name, shape) in tensors {
        let len = shape.iter().product::<usize>() * 4;
        header.insert(
            name.to_string(),
            serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len]}),
        );
        offset += len;
    }
    let mut header = serde_json::to_vec(&header).unwrap();
    while !header.len().is_multiple_of(8) {
        header.push(b' ');
    }
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend(header);
    out.extend(std::iter::repeat_n(0u8, offset));
    out
}

/// The real checkpoint's tensor list, so a test can change one entry.
fn real_tensor_list() -> Vec<(String, Vec<usize>)> {
    let bytes = model_file("model.safetensors");
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    header
        .into_iter()
        .filter(|(name, v)| name != "__metadata__" && v["dtype"] == "F32")
        .map(|(name, v)| {
            let shape = v["shape"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_u64().unwrap() as usize)
                .collect();
            (name, shape)
        })
        .collect()
}

#[test]
fn garbage_bytes_are_a_format_error() {
    let err = load(b"this is not a model file at all, just some text".to_vec())
        .err()
        .unwrap();
    assert_eq!(err.kind(), "model_format", "{err}");
    let err = load(vec![1, 2, 3]).err().unwrap();
    assert_eq!(err.kind(), "model_corrupt", "{err}");
}

#[test]
fn truncated_burnpack_is_corrupt() {
    let bytes = model_file("model.int8.bpk");
    for cut in [16, 1000, bytes.len() / 2, bytes.len() - 1] {
        let err = load(bytes[..cut].to_vec())
            .err()
            .unwrap_or_else(|| panic!("cut at {cut} loaded"));
        assert!(
            matches!(err.kind(), "model_corrupt" | "wrong_model"),
            "cut at {cut}: {err}"
        );
    }
}

#[test]
fn truncated_safetensors_is_corrupt() {
    let bytes = model_file("model.safetensors");
    for cut in [9, 5000, bytes.len() / 2, bytes.len() - 1] {
        let err = load(bytes[..cut].to_vec())
            .err()
            .unwrap_or_else(|| panic!("cut at {cut} loaded"));
        assert_eq!(err.kind(), "model_corrupt", "cut at {cut}: {err}");
    }
}

#[test]
fn corrupt_burnpack_header_is_an_error() {
    let mut bytes = model_file("model.int8.bpk");
    for b in &mut bytes[8..200] {
        *b ^= 0x5a;
    }
    let err = load(bytes).err().unwrap();
    assert!(
        matches!(err.kind(), "model_corrupt" | "wrong_model"),
        "{err}"
    );
}

#[test]
fn a_tensor_with_the_wrong_shape_is_the_wrong_model() {
    let tensors: Vec<(String, Vec<usize>)> = real_tensor_list()
        .into_iter()
        .map(|(name, shape)| {
            if name == "encoder.layer.3.intermediate.dense.weight" {
                (name, vec![1024, 384])
            } else {
                (name, shape)
            }
        })
        .collect();
    let refs: Vec<(&str, Vec<usize>)> = tensors
        .iter()
        .map(|(n, s)| (n.as_str(), s.clone()))
        .collect();
    let err = load(safetensors(&refs)).err().unwrap();
    assert_eq!(err.kind(), "wrong_model", "{err}");
    assert!(
        err.to_string().contains("intermediate") || err.to_string().contains("linear_inner"),
        "{err}"
    );
}

/// A burnpack of burn's own modules (`Linear` weights `[inputs][outputs]`, what `cloister
/// convert` wrote before the int8 kernel) must not load into the transposed record, where the
/// square projections would fit and give wrong vectors: it is refused as `wrong_model`.
#[test]
fn a_burnpack_in_the_untransposed_layout_is_the_wrong_model() {
    use burn::store::{BurnpackStore, ModuleSnapshot};
    use cloister::encoder::{BertConfig, BertModel};
    let model = BertModel::new(&BertConfig::ALL_MINILM_L6_V2, &cpu_device());
    let mut store = BurnpackStore::from_bytes(None);
    model.save_into(&mut store).unwrap();
    let bytes = store.get_bytes().unwrap().to_vec();
    let err = load(bytes).err().unwrap();
    assert_eq!(err.kind(), "wrong_model", "{err}");
}

#[test]
fn a_file_of_other_tensors_is_the_wrong_model() {
    let err = load(safetensors(&[("classifier.weight", vec![2, 384])]))
        .err()
        .unwrap();
    assert_eq!(err.kind(), "wrong_model", "{err}");
}

#[test]
fn a_tokenizer_that_does_not_parse_is_a_tokenizer_error() {
    let err = Encoder::load(
        model_file("model.int8.bpk"),
        b"{not json",
        cpu_device(),
        Backend::Cpu,
    )
    .err()
    .unwrap();
    assert_eq!(err.kind(), "tokenizer", "{err}");
}

#[test]
fn empty_batch_and_bad_options_are_typed() {
    let encoder = common::encoder("model.int8.bpk");
    assert_eq!(encoder.embed(&[]).err().unwrap(), EncoderError::EmptyBatch);
    for options in [
        EncoderOptions {
            max_tokens: 1,
            ..Default::default()
        },
        EncoderOptions {
            max_tokens: 513,
            ..Default::default()
        },
        EncoderOptions {
            micro_batch: 0,
            ..Default::default()
        },
    ] {
        let err = Encoder::load_with_options(
            model_file("model.int8.bpk"),
            &model_file("tokenizer.json"),
            cpu_device(),
            Backend::Cpu,
            options,
        )
        .err()
        .unwrap();
        assert_eq!(err.kind(), "invalid_option", "{err}");
    }
}
