//! A candidate the site's server sent, and its validation.

use std::collections::{BTreeMap, HashSet};

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::embedding::EMBEDDING_DIM;
use crate::error::{InputError, InputErrorKind};
use crate::limits::{fits_f32, MAX_ID_BYTES, MAX_TEXT_BYTES};
use crate::profile::event::truncate_utf8;
use crate::vector::is_unit_embedding;

pub use crate::limits::{MAX_CANDIDATES, MAX_RELATED, MAX_SITE_FEATURES};

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
    /// Site features by name; a name given twice is an error (JSON would keep the last).
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "unique_keys"
    )]
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

    /// Adds a site feature (`site:<name>` among the ranking features).
    pub fn with_feature(mut self, name: impl Into<String>, value: f64) -> Self {
        self.features.insert(name.into(), value);
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

/// An object into a map, refusing a key that appears twice (serde's own map keeps the last
/// value silently).
pub(crate) fn unique_keys<'de, D, V>(d: D) -> Result<BTreeMap<String, V>, D::Error>
where
    D: Deserializer<'de>,
    V: Deserialize<'de>,
{
    struct Unique<V>(std::marker::PhantomData<V>);
    impl<'de, V: Deserialize<'de>> Visitor<'de> for Unique<V> {
        type Value = BTreeMap<String, V>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an object of names to numbers")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((name, value)) = map.next_entry::<String, V>()? {
                if out.contains_key(&name) {
                    return Err(de::Error::custom(format!("'{name}' appears twice")));
                }
                out.insert(name, value);
            }
            Ok(out)
        }
    }
    d.deserialize_map(Unique(std::marker::PhantomData))
}

/// What is wrong with a server embedding that `model` cannot use, if one was sent.
pub fn embedding_problem(candidate: &Candidate, model: &str) -> Option<&'static str> {
    match (&candidate.embedding, &candidate.model) {
        (None, _) => None,
        (Some(_), None) => Some("server embedding ignored: it names no model"),
        (Some(_), Some(m)) if m != model => {
            Some("server embedding ignored: it was made with another model")
        }
        (Some(v), Some(_)) if !is_unit_embedding(v, EMBEDDING_DIM) => {
            Some("server embedding ignored: it is not 384 finite floats of unit length")
        }
        _ => None,
    }
}

/// Checks a candidate list from outside: 1..=MAX_CANDIDATES items, unique ids of at most
/// MAX_ID_BYTES, numbers f32 can hold, at most MAX_SITE_FEATURES features per candidate and
/// distinct feature names per list, at most MAX_RELATED `related` entries. Texts are cut to
/// MAX_TEXT_BYTES and categories to MAX_ID_BYTES.
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
    let mut names: HashSet<&str> = HashSet::new();
    for (i, c) in candidates.iter().enumerate() {
        let bad = |message: String| InputError::new(InputErrorKind::InvalidCandidate, message);
        if c.id.is_empty() || c.id.len() > MAX_ID_BYTES {
            return Err(bad(format!(
                "candidate {i}: id must be 1 to {MAX_ID_BYTES} bytes"
            )));
        }
        if !seen.insert(c.id.as_str()) {
            return Err(InputError::new(
                InputErrorKind::DuplicateCandidate,
                format!("candidate id '{}' appears more than once", c.id),
            ));
        }
        if !fits_f32(c.server_score) {
            return Err(bad(format!(
                "candidate '{}': server_score must be finite and at most {:e} in size",
                c.id,
                f32::MAX
            )));
        }
        if c.features.len() > MAX_SITE_FEATURES {
            return Err(InputError::new(
                InputErrorKind::TooManyFeatures,
                format!("candidate '{}': at most {MAX_SITE_FEATURES} features", c.id),
            ));
        }
        for (name, value) in &c.features {
            if name.is_empty() || name.len() > MAX_ID_BYTES {
                return Err(bad(format!(
                    "candidate '{}': feature names must be 1 to {MAX_ID_BYTES} bytes",
                    c.id
                )));
            }
            if !fits_f32(*value) {
                return Err(bad(format!(
                    "candidate '{}': feature '{name}' must be finite and at most {:e} in size",
                    c.id,
                    f32::MAX
                )));
            }
            names.insert(name);
        }
        if names.len() > MAX_SITE_FEATURES {
            return Err(InputError::new(
                InputErrorKind::TooManyFeatures,
                format!(
                    "the list names more than {MAX_SITE_FEATURES} distinct site features \
                     (each is a column for every candidate)"
                ),
            ));
        }
        if c.related.len() > MAX_RELATED {
            return Err(bad(format!(
                "candidate '{}': {} related entries; at most {MAX_RELATED}",
                c.id,
                c.related.len()
            )));
        }
        for r in &c.related {
            if r.id.is_empty() || r.id.len() > MAX_ID_BYTES || !fits_f32(r.weight) {
                return Err(bad(format!(
                    "candidate '{}': related entries need an id of 1 to {MAX_ID_BYTES} bytes \
                     and a finite weight at most {:e} in size",
                    c.id,
                    f32::MAX
                )));
            }
        }
    }
    for c in &mut candidates {
        truncate_utf8(&mut c.text, MAX_TEXT_BYTES);
        if let Some(category) = &mut c.category {
            truncate_utf8(category, MAX_ID_BYTES);
        }
    }
    Ok(candidates)
}
