//! `cloister convert` is reproducible: converting the pinned checkpoint again gives exactly the
//! bytes whose sha256 the manifest records.

mod common;

use cloister::encoder::{convert_to_int8, device::cpu_device, BertConfig};
use cloister::manifest::{sha256_hex, Manifest};
use common::model_file;

#[test]
fn conversion_reproduces_the_manifest_pin() {
    let manifest_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../models/manifest.json");
    let manifest = Manifest::from_json(&std::fs::read_to_string(manifest_path).unwrap()).unwrap();
    let pin = &manifest.converted["model.int8.bpk"];
    let bytes = convert_to_int8(
        model_file("model.safetensors"),
        &BertConfig::ALL_MINILM_L6_V2,
        &cpu_device(),
    )
    .unwrap();
    assert_eq!(bytes.len() as u64, pin.size);
    assert_eq!(sha256_hex(&bytes), pin.sha256);
    // int8 weights: well under a third of the fp32 checkpoint.
    assert!((bytes.len() as f64) < 0.3 * model_file("model.safetensors").len() as f64);
}

#[test]
fn convert_refuses_a_burnpack_input() {
    let err = convert_to_int8(
        model_file("model.int8.bpk"),
        &BertConfig::ALL_MINILM_L6_V2,
        &cpu_device(),
    )
    .err()
    .unwrap();
    assert_eq!(err.kind(), "model_format");
}
