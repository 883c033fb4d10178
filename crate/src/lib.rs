//! Cloister: on-device sentence embeddings, interest profile and re-ranking.
//!
//! One core, thin edges: everything here is plain Rust that runs natively and in wasm.
//! The wasm edge (`wasm`) only converts types and awaits the GPU; the CLI (`src/bin`) only
//! parses arguments and files.

pub mod encoder;
pub mod error;
pub mod manifest;
pub mod tokenize;

#[cfg(target_arch = "wasm32")]
pub mod wasm;

pub use encoder::{Backend, Encoder, EncoderOptions, Precision, EMBEDDING_DIM};
pub use error::EncoderError;
