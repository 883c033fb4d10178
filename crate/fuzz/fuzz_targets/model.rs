//! The model loader: any bytes (burnpack, safetensors or neither) load or fail with a typed
//! EncoderError, never a panic. Seeds: the heads of the real files (fuzz/seeds/model).
#![no_main]
use cloister::encoder::device::cpu_device;
use cloister::{Backend, Encoder};
use libfuzzer_sys::fuzz_target;

static TOKENIZER: &[u8] = include_bytes!("../../../models/all-MiniLM-L6-v2/tokenizer.json");

fuzz_target!(|data: &[u8]| {
    let _ = Encoder::load(data.to_vec(), TOKENIZER, cpu_device(), Backend::Cpu);
});
