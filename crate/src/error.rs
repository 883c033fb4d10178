//! Typed errors of the core: the encoder's, bad input's and storage's. Each has a stable
//! snake_case kind that the CLI prints and the JS package maps to an error class.

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
    /// Writing a converted model file failed (its bytes could not be produced).
    #[error("could not write the model file: {0}")]
    ModelWrite(String),
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
            Self::ModelWrite(_) => "model_write",
            Self::WebGpuUnavailable(_) => "webgpu_unavailable",
        }
    }
}

/// What was wrong with an input, as a stable snake_case kind (`kind.as_str()`) that programs
/// switch on: the JS package maps each to an error class in one table (`js/errors.js`) and the
/// CLI prints it in its per-line errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputErrorKind {
    /// An event is malformed (value out of range, a search without a query, ...).
    InvalidEvent,
    /// An event's `at` is negative or more than a day after the clock.
    InvalidTime,
    /// An event's item has a missing or over-long id.
    InvalidItem,
    /// A log row names an item the catalogue does not hold.
    UnknownItem,
    /// A candidate is malformed (id, score, features, text and embedding both missing, ...).
    InvalidCandidate,
    /// Two candidates in one list share an id.
    DuplicateCandidate,
    /// The candidate list is empty.
    EmptyCandidates,
    /// The candidate list is longer than `limits::MAX_CANDIDATES`.
    TooManyCandidates,
    /// More site features on a candidate, or distinct feature names in a list or a training
    /// set, than `limits` allows.
    TooManyFeatures,
    /// A request's history is longer than `limits::MAX_HISTORY`.
    TooManyEvents,
    /// More feedback entries (or items shown in one) than `limits` allows.
    TooManyFeedback,
    /// A text's embedding is not in the cache (the edge did not encode it).
    MissingEmbedding,
    /// An embedding is not 384 finite floats of unit length, or not one per text.
    InvalidEmbedding,
    /// Feedback names items that were not shown, or too few were shown.
    InvalidFeedback,
    /// Feedback for an impression that is not (or no longer) kept.
    UnknownImpression,
    /// A prior file that does not parse or is out of range.
    InvalidPrior,
    /// A ranking option out of range (`k`, `diversity`, `explore`).
    InvalidOption,
    /// A stated interest with no text or a weight out of range.
    InvalidInterest,
    /// More stated interests than the profile keeps.
    TooManyInterests,
    /// A value from the edge does not have the expected shape (a JS object, a JSON line).
    InvalidInput,
}

impl InputErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidEvent => "invalid_event",
            Self::InvalidTime => "invalid_time",
            Self::InvalidItem => "invalid_item",
            Self::UnknownItem => "unknown_item",
            Self::InvalidCandidate => "invalid_candidate",
            Self::DuplicateCandidate => "duplicate_candidate",
            Self::EmptyCandidates => "empty_candidates",
            Self::TooManyCandidates => "too_many_candidates",
            Self::TooManyFeatures => "too_many_features",
            Self::TooManyEvents => "too_many_events",
            Self::TooManyFeedback => "too_many_feedback",
            Self::MissingEmbedding => "missing_embedding",
            Self::InvalidEmbedding => "invalid_embedding",
            Self::InvalidFeedback => "invalid_feedback",
            Self::UnknownImpression => "unknown_impression",
            Self::InvalidPrior => "invalid_prior",
            Self::InvalidOption => "invalid_option",
            Self::InvalidInterest => "invalid_interest",
            Self::TooManyInterests => "too_many_interests",
            Self::InvalidInput => "invalid_input",
        }
    }

    /// Every kind, for tests that check each has a JS class.
    pub const ALL: [InputErrorKind; 20] = [
        Self::InvalidEvent,
        Self::InvalidTime,
        Self::InvalidItem,
        Self::UnknownItem,
        Self::InvalidCandidate,
        Self::DuplicateCandidate,
        Self::EmptyCandidates,
        Self::TooManyCandidates,
        Self::TooManyFeatures,
        Self::TooManyEvents,
        Self::TooManyFeedback,
        Self::MissingEmbedding,
        Self::InvalidEmbedding,
        Self::InvalidFeedback,
        Self::UnknownImpression,
        Self::InvalidPrior,
        Self::InvalidOption,
        Self::InvalidInterest,
        Self::TooManyInterests,
        Self::InvalidInput,
    ];
}

impl std::fmt::Display for InputErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Bad input to the recommender (an event, a candidate list, feedback, a prior): its kind and
/// what was wrong. Nothing is changed when one is returned.
#[derive(Debug, Error, Clone, PartialEq)]
#[error("{message}")]
pub struct InputError {
    pub kind: InputErrorKind,
    pub message: String,
}

impl InputError {
    pub fn new(kind: InputErrorKind, message: impl Into<String>) -> Self {
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
    /// A profile whose vectors another model made: they cannot be mixed with this model's;
    /// `Recommender::carry_from_other_model` embeds its kept texts again instead.
    #[error(
        "this profile was built with {saved}; the loaded model is {loaded}, and their vectors \
         cannot be mixed: open it with its own model, or carry it over to this one (its kept \
         texts embedded again; the package does this when a model has no profile yet)"
    )]
    OtherModel { saved: String, loaded: String },
}

impl StoreError {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Corrupt(_) => "store_corrupt",
            Self::Version { .. } => "store_version",
            Self::Full(_) => "store_full",
            Self::Io(_) => "store_io",
            Self::OtherModel { .. } => "store_other_model",
        }
    }
}
