//! Typed errors. Each variant has a stable `kind()` string that the JS edge maps to an error class.

use thiserror::Error;

/// Everything that can go wrong while loading or running the sentence encoder.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum EncoderError {
    /// The bytes are neither a safetensors nor a burnpack file.
    #[error("model format not recognised: {0}")]
    ModelFormat(String),
    /// The bytes look like a model file but are corrupt or cut short.
    #[error("model file is corrupt or truncated: {0}")]
    ModelCorrupt(String),
    /// A well-formed file of some other model: tensors missing or of the wrong shape.
    #[error("model file does not hold all-MiniLM-L6-v2: {0}")]
    WrongModel(String),
    /// tokenizer.json did not parse, or encoding failed.
    #[error("tokenizer error: {0}")]
    Tokenizer(String),
    /// `embed` was called with no texts.
    #[error("empty batch: pass at least one text to embed")]
    EmptyBatch,
    /// An option is out of its valid range.
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// The compute backend failed (device lost, read-back failed).
    #[error("backend error: {0}")]
    Backend(String),
    /// WebGPU was requested but cannot be used here.
    #[error("WebGPU unavailable: {0}")]
    WebGpuUnavailable(String),
}

impl EncoderError {
    /// Stable machine-readable kind, used by the CLI's JSON errors and the JS error classes.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ModelFormat(_) => "model_format",
            Self::ModelCorrupt(_) => "model_corrupt",
            Self::WrongModel(_) => "wrong_model",
            Self::Tokenizer(_) => "tokenizer",
            Self::EmptyBatch => "empty_batch",
            Self::InvalidOption(_) => "invalid_option",
            Self::Backend(_) => "backend",
            Self::WebGpuUnavailable(_) => "webgpu_unavailable",
        }
    }
}

/// Bad input to the recommender (an event, a candidate list, feedback, a prior): what was
/// wrong, with a stable kind. Nothing is changed when one is returned.
#[derive(Debug, Error, Clone, PartialEq)]
#[error("{message}")]
pub struct InputError {
    pub kind: &'static str,
    pub message: String,
}

impl InputError {
    pub fn new(kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

/// Persisted bytes that cannot be read back, or a store that cannot write.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum StoreError {
    #[error("stored record is corrupt: {0}")]
    Corrupt(String),
    #[error("stored record has format version {found}; this build reads up to {supported}")]
    Version { found: u16, supported: u16 },
    #[error("storage is full: {0}")]
    Full(String),
    #[error("storage I/O failed: {0}")]
    Io(String),
}

impl StoreError {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Corrupt(_) => "store_corrupt",
            Self::Version { .. } => "store_version",
            Self::Full(_) => "store_full",
            Self::Io(_) => "store_io",
        }
    }
}
