//! Shared test helpers: the model files `./build.sh` produces, and the parity reference.
#![allow(dead_code)]

use std::path::PathBuf;

use cloister::encoder::device::cpu_device;
use cloister::{Backend, Encoder};
use serde::Deserialize;

/// A file of the multilingual model (a build output, like the English model's).
pub fn e5_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../models/multilingual-e5-small")
        .join(name)
}

pub fn model_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/all-MiniLM-L6-v2")
}

/// A model file; a missing one is a failure with the fix in the message, never a skip.
pub fn model_file(name: &str) -> Vec<u8> {
    let path = model_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}. The model files are build outputs: run ./build.sh (or npm test) first",
            path.display()
        )
    })
}

pub fn encoder(model: &str) -> Encoder {
    Encoder::load(
        model_file(model),
        &model_file("tokenizer.json"),
        cpu_device(),
        Backend::Cpu,
    )
    .expect("model loads")
}

#[derive(Deserialize)]
pub struct Reference {
    pub sentences: Vec<RefSentence>,
}

#[derive(Deserialize)]
pub struct RefSentence {
    pub text: String,
    pub input_ids: Vec<u32>,
    pub embedding: Vec<f32>,
}

pub fn reference() -> Reference {
    serde_json::from_str(include_str!("../fixtures/minilm-l6-reference.json"))
        .expect("reference parses")
}

pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

/// Records one click per vector on `rec`, as "history {i}" (id `h{i}`), a millisecond apart and
/// a minute before `now`: a history whose embeddings the test chose.
pub fn click_history(rec: &mut cloister::Recommender, vectors: &[Vec<f32>], now: i64) {
    use cloister::{Event, EventKind, Item};
    let texts: Vec<String> = (0..vectors.len()).map(|i| format!("history {i}")).collect();
    let data = vectors.concat();
    rec.put_embeddings(&texts, &cloister::Embeddings { data })
        .unwrap();
    for (i, text) in texts.iter().enumerate() {
        let event = Event {
            item: Item {
                id: format!("h{i}"),
                text: text.clone(),
                category: None,
            },
            kind: EventKind::Click,
            value: None,
            at: now - 60_000 + i as i64,
        };
        rec.record(event, now).unwrap();
    }
}
