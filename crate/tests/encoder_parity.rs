//! The encoder against sentence-transformers' own output (tests/fixtures, 22 sentences).

mod common;

use cloister::encoder::device::cpu_device;
use cloister::{Backend, Encoder, EncoderOptions, EMBEDDING_DIM};
use common::{cosine, encoder, model_file, reference};

fn min_cosine(encoder: &Encoder) -> f64 {
    let reference = reference();
    let texts: Vec<&str> = reference
        .sentences
        .iter()
        .map(|s| s.text.as_str())
        .collect();
    let embeddings = encoder.embed(&texts).expect("embeds");
    assert_eq!(embeddings.len(), texts.len());
    reference
        .sentences
        .iter()
        .enumerate()
        .map(|(i, s)| cosine(embeddings.row(i), &s.embedding))
        .fold(f64::INFINITY, f64::min)
}

#[test]
fn token_ids_match_the_reference() {
    let encoder = encoder("model.int8.bpk");
    let reference = reference();
    let texts: Vec<&str> = reference
        .sentences
        .iter()
        .map(|s| s.text.as_str())
        .collect();
    let ids = encoder.tokenize(&texts).unwrap();
    for (got, want) in ids.iter().zip(&reference.sentences) {
        assert_eq!(got, &want.input_ids, "token ids of {:?}", want.text);
    }
}

#[test]
fn fp32_matches_the_reference() {
    let min = min_cosine(&encoder("model.safetensors"));
    println!("fp32 min cosine {min:.7}");
    assert!(min >= 0.99999, "fp32 min cosine {min}");
}

#[test]
fn int8_matches_the_reference() {
    let encoder = encoder("model.int8.bpk");
    assert_eq!(encoder.precision().as_str(), "int8");
    let min = min_cosine(&encoder);
    println!("int8 min cosine {min:.7}");
    assert!(min >= 0.9995, "int8 min cosine {min}");
}

/// The int8 file through the integer kernel (the CPU path) and through burn's f32 matmul
/// (WebGPU's path) give the same embeddings, up to the kernel's 16-bit activations.
#[test]
fn int8_with_f32_matmul_agrees_with_the_integer_kernel() {
    let with = |int8_matmul| {
        Encoder::load_with_options(
            model_file("model.int8.bpk"),
            &model_file("tokenizer.json"),
            cpu_device(),
            Backend::Cpu,
            EncoderOptions {
                int8_matmul,
                ..Default::default()
            },
        )
        .unwrap()
    };
    let (integer, float) = (with(true), with(false));
    assert!(integer.int8_matmul() && !float.int8_matmul());
    let min = min_cosine(&integer);
    println!("int8, integer kernel, min cosine {min:.7}");
    assert!(
        min >= 0.9995,
        "int8 with the integer kernel: min cosine {min}"
    );
    let min = min_cosine(&float);
    println!("int8, f32 matmul, min cosine {min:.7}");
    assert!(min >= 0.9995, "int8 with f32 matmul: min cosine {min}");
    let reference = reference();
    let texts: Vec<&str> = reference
        .sentences
        .iter()
        .map(|s| s.text.as_str())
        .collect();
    let (a, b) = (integer.embed(&texts).unwrap(), float.embed(&texts).unwrap());
    for i in 0..texts.len() {
        let c = cosine(a.row(i), b.row(i));
        assert!(c > 0.99999, "text {i}: integer vs f32 matmul cosine {c}");
    }
}

#[test]
fn batch_size_and_padding_do_not_change_embeddings() {
    let reference = reference();
    let texts: Vec<&str> = reference
        .sentences
        .iter()
        .map(|s| s.text.as_str())
        .collect();
    let one_at_a_time = Encoder::load_with_options(
        model_file("model.int8.bpk"),
        &model_file("tokenizer.json"),
        cpu_device(),
        Backend::Cpu,
        EncoderOptions {
            micro_batch: 1,
            ..Default::default()
        },
    )
    .unwrap();
    let all_at_once = Encoder::load_with_options(
        model_file("model.int8.bpk"),
        &model_file("tokenizer.json"),
        cpu_device(),
        Backend::Cpu,
        // One batch of all 22, padded to the longest: the padding mask must hold.
        EncoderOptions {
            micro_batch: 64,
            max_padding_percent: usize::MAX,
            ..Default::default()
        },
    )
    .unwrap();
    let a = one_at_a_time.embed(&texts).unwrap();
    let b = all_at_once.embed(&texts).unwrap();
    // Bit for bit: a profile caches a text's vector from whatever batch it came in, and a
    // reload encodes it again in another, so any difference shows as scores that move.
    for i in 0..texts.len() {
        assert_eq!(
            a.row(i),
            b.row(i),
            "text {i} differs between batch 1 and a padded batch"
        );
    }
}

#[test]
fn empty_and_huge_texts_are_valid_input() {
    let encoder = encoder("model.int8.bpk");
    let huge = "the quick brown fox jumps over the lazy dog ".repeat(25_000); // ~1.1 MB
    assert!(huge.len() > 1_000_000);
    let truncated_by_hand: String = huge
        .split_whitespace()
        .take(254)
        .collect::<Vec<_>>()
        .join(" ");
    let out = encoder.embed(&["", &huge, &truncated_by_hand]).unwrap();
    for row in out.rows() {
        let norm: f32 = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "not unit length: {norm}");
        assert!(row.iter().all(|x| x.is_finite()));
    }
    // 256 tokens = [CLS] + 254 one-token words + [SEP]: the huge text is cut there.
    assert!(cosine(out.row(1), out.row(2)) > 0.99999);
    assert_eq!(encoder.tokenize(&[&huge]).unwrap()[0].len(), 256);
    assert_eq!(out.row(0).len(), EMBEDDING_DIM);
}

#[test]
fn truncation_length_is_configurable() {
    let encoder = Encoder::load_with_options(
        model_file("model.int8.bpk"),
        &model_file("tokenizer.json"),
        cpu_device(),
        Backend::Cpu,
        EncoderOptions {
            max_tokens: 16,
            ..Default::default()
        },
    )
    .unwrap();
    let long = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen";
    assert_eq!(encoder.tokenize(&[long]).unwrap()[0].len(), 16);
}
