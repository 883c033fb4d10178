//! A candidate the site's server sent, and its validation.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::embedding::EMBEDDING_DIM;
use crate::error::{InputError, InputErrorKind};
use crate::profile::event::{truncate_utf8, MAX_ID_BYTES, MAX_TEXT_BYTES};
use crate::vector::is_unit_embedding;

/// Most candidates in one list. 10,000 re-rank in milliseconds; beyond that the caller should
/// page (the encoder, not the ranking, is the cost for new texts).
pub const MAX_CANDIDATES: usize = 10_000;
/// Most site features per candidate and `related` entries per candidate.
pub const MAX_SITE_FEATURES: usize = 32;
pub const MAX_RELATED: usize = 64;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Related {
    pub id: String,
    pub weight: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Candidate {
    pub id: String,
    #[serde(default)]
    pub text: String,
    pub server_score: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub features: BTreeMap<String, f64>,
    /// Items often consumed just before this one (public co-occurrence from the server).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<Related>,
    /// A server-side embedding of `text`, used only if `model` is the loaded model's sha256
    /// and the vector is valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding: Option<Vec<f32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

impl Candidate {
    /// A candidate with an id, a text and the server's score; nothing else.
    pub fn new(id: impl Into<String>, text: impl Into<String>, server_score: f64) -> Self {
        Self {
            id: id.into(),
            text: text.into(),
            server_score,
            category: None,
            features: BTreeMap::new(),
            related: Vec::new(),
            embedding: None,
            model: None,
        }
    }

    pub fn with_category(mut self, category: impl Into<String>) -> Self {
        self.category = Some(category.into());
        self
    }

    pub fn with_related(mut self, related: Vec<Related>) -> Self {
        self.related = related;
        self
    }

    /// The server-side embedding, if it may be used with the model whose sha256 is `model`.
    pub fn usable_embedding(&self, model: &str) -> Option<&[f32]> {
        match (&self.embedding, &self.model) {
            (Some(v), Some(m)) if m == model && is_unit_embedding(v, EMBEDDING_DIM) => Some(v),
            _ => None,
        }
    }
}

/// Checks a candidate list from outside: 1..=MAX_CANDIDATES items, unique non-empty ids,
/// finite scores and features. Texts are cut to `MAX_TEXT_BYTES`.
pub fn validate_candidates(mut candidates: Vec<Candidate>) -> Result<Vec<Candidate>, InputError> {
    if candidates.is_empty() {
        return Err(InputError::new(
            InputErrorKind::EmptyCandidates,
            "the candidate list is empty",
        ));
    }
    if candidates.len() > MAX_CANDIDATES {
        return Err(InputError::new(
            InputErrorKind::TooManyCandidates,
            format!(
                "{} candidates; at most {MAX_CANDIDATES} per list",
                candidates.len()
            ),
        ));
    }
    let mut seen = HashSet::with_capacity(candidates.len());
    for (i, c) in candidates.iter_mut().enumerate() {
        let bad = |message: String| InputError::new(InputErrorKind::InvalidCandidate, message);
        if c.id.is_empty() || c.id.len() > MAX_ID_BYTES {
            return Err(bad(format!(
                "candidate {i}: id must be 1 to {MAX_ID_BYTES} bytes"
            )));
        }
        if !seen.insert(c.id.clone()) {
            return Err(InputError::new(
                InputErrorKind::DuplicateCandidate,
                format!("candidate id '{}' appears more than once", c.id),
            ));
        }
        if !c.server_score.is_finite() {
            return Err(bad(format!(
                "candidate '{}': server_score must be finite",
                c.id
            )));
        }
        if c.features.len() > MAX_SITE_FEATURES {
            return Err(bad(format!(
                "candidate '{}': at most {MAX_SITE_FEATURES} features",
                c.id
            )));
        }
        if let Some((name, _)) = c.features.iter().find(|(_, v)| !v.is_finite()) {
            return Err(bad(format!(
                "candidate '{}': feature '{name}' must be finite",
                c.id
            )));
        }
        if c.related.len() > MAX_RELATED {
            c.related.truncate(MAX_RELATED);
        }
        if c.related.iter().any(|r| !r.weight.is_finite()) {
            return Err(bad(format!(
                "candidate '{}': related weights must be finite",
                c.id
            )));
        }
        truncate_utf8(&mut c.text, MAX_TEXT_BYTES);
        if let Some(category) = &mut c.category {
            truncate_utf8(category, MAX_ID_BYTES);
        }
    }
    Ok(candidates)
}
