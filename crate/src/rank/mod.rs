//! Re-ranking: per-candidate features against the profile, a weighted score with weights that
//! start from a prior and adapt on the device, optional exploration and MMR diversity, and an
//! explanation per item.

pub mod candidate;
pub mod explain;
pub mod features;
pub mod fit;
pub mod impression;
pub mod options;
pub mod reranker;
pub mod weights;

pub use candidate::{Candidate, Related, MAX_CANDIDATES};
pub use explain::Explanation;
pub use features::{FeatureMatrix, BUILTIN_FEATURES};
pub use options::{Explore, ExploreSetting, RerankOptions, RerankSettings};
pub use reranker::{rerank, rerank_with_signal, Contributions, ExtraSignal, RankedItem, Ranking};
pub use weights::{Feedback, OnlineConfig, OnlineWeights, Prior, Weights};
