//! Cloister: on-device sentence embeddings, interest profile and re-ranking.
//!
//! One core, thin edges: everything here is plain Rust that runs natively and in wasm.
//! The wasm edge (`wasm`) only converts types and awaits the GPU; the CLI (`src/bin`) only
//! parses arguments and files.

pub mod cache;
pub mod compact_embedding;
pub mod embedding;
pub mod encoder;
pub mod error;
#[cfg(not(target_arch = "wasm32"))]
pub mod eval;
pub mod limits;
pub mod manifest;
pub mod profile;
pub mod rank;
pub mod recommender;
pub mod similarity;
pub mod store;
pub mod tokenize;
pub mod vector;

#[cfg(target_arch = "wasm32")]
pub mod wasm;

pub use embedding::{Embeddings, EMBEDDING_DIM};
pub use encoder::{Backend, Encoder, EncoderOptions, Precision};
pub use error::{EncoderError, InputError, InputErrorKind, StoreError};
pub use profile::{Event, EventKind, InterestProfile, Item};
pub use rank::{Candidate, OnlineWeights, Prior, RerankOptions};
pub use recommender::Recommender;
