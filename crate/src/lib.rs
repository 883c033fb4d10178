//! Cloister: on-device sentence embeddings, interest profile and re-ranking.
//!
//! One core, thin edges: everything here is plain Rust that runs natively and in wasm.
//! The wasm edge (`wasm`) only converts types and awaits the GPU; the CLI (`src/bin`) only
//! parses arguments and files.

pub mod cache;
pub mod compact_embedding;
pub mod embedding;
#[cfg(feature = "encoder")]
pub mod encoder;
/// Without the `encoder` feature (the ranking-only wasm build) only the models' names and text
/// roles remain: the recommender still pins and reads embeddings made by them.
#[cfg(not(feature = "encoder"))]
pub mod encoder {
    pub mod config;
    pub use config::{ModelFamily, TextRole};
}
pub mod error;
#[cfg(all(not(target_arch = "wasm32"), feature = "encoder"))]
pub mod eval;
#[cfg(feature = "encoder")]
pub mod interest_model;
pub mod limits;
pub mod manifest;
#[cfg(all(not(target_arch = "wasm32"), feature = "encoder"))]
pub mod model_files;
pub mod profile;
pub mod rank;
pub mod recommender;
pub mod related;
#[cfg(all(not(target_arch = "wasm32"), feature = "encoder"))]
pub mod requests;
pub mod similarity;
pub mod store;
#[cfg(feature = "encoder")]
pub mod tokenize;
#[cfg(all(not(target_arch = "wasm32"), feature = "encoder"))]
pub mod training;
pub mod vector;

#[cfg(target_arch = "wasm32")]
pub mod wasm;

pub use embedding::{Embeddings, EMBEDDING_DIM};
#[cfg(feature = "encoder")]
pub use encoder::{Backend, Encoder, EncoderOptions, Precision};
pub use error::{EncoderError, InputError, InputErrorKind, StoreError};
pub use profile::{Event, EventKind, InterestProfile, Item};
pub use rank::{Candidate, OnlineWeights, Prior, RerankOptions};
pub use recommender::Recommender;
