//! A candidate the site's server sent, and its validation.

use std::collections::{BTreeMap, HashSet};

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::compact_embedding::{decode_compact, CompactError};
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
    /// and the vector is valid: 384 floats, or the compact string (`compact_embedding`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding: Option<ServerEmbedding>,
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

    /// Attaches a server-side embedding (floats) made with the model whose sha256 is `model`.
    pub fn with_embedding(mut self, embedding: Vec<f32>, model: impl Into<String>) -> Self {
        self.embedding = Some(ServerEmbedding::Floats(embedding));
        self.model = Some(model.into());
        self
    }

    /// The server-side embedding, if it may be used with the model whose sha256 is `model`.
    pub fn usable_embedding(&self, model: &str) -> Option<&[f32]> {
        match (&self.embedding, &self.model) {
            (Some(e), Some(m)) if m == model => e.vector(),
            _ => None,
        }
    }
}

/// A server-side embedding as sent: 384 floats, or the compact string, decoded on arrival
/// (a malformed one is kept with its problem, so the item is ranked without it and says why).
#[derive(Debug, Clone, PartialEq)]
pub enum ServerEmbedding {
    Floats(Vec<f32>),
    Compact {
        text: String,
        decoded: Result<Vec<f32>, CompactError>,
    },
}

impl ServerEmbedding {
    /// The compact form, decoded.
    pub fn compact(text: impl Into<String>) -> Self {
        let text = text.into();
        let decoded = decode_compact(&text);
        Self::Compact { text, decoded }
    }

    /// The unit vector, if the embedding is a valid one.
    pub fn vector(&self) -> Option<&[f32]> {
        match self {
            Self::Floats(v) if is_unit_embedding(v, EMBEDDING_DIM) => Some(v),
            Self::Compact { decoded: Ok(v), .. } => Some(v),
            _ => None,
        }
    }
}

impl From<Vec<f32>> for ServerEmbedding {
    fn from(v: Vec<f32>) -> Self {
        Self::Floats(v)
    }
}

impl Serialize for ServerEmbedding {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Floats(v) => v.serialize(s),
            Self::Compact { text, .. } => s.serialize_str(text),
        }
    }
}

impl<'de> Deserialize<'de> for ServerEmbedding {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Either;
        impl<'de> Visitor<'de> for Either {
            type Value = ServerEmbedding;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an array of 384 numbers or a compact embedding string")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
                Ok(ServerEmbedding::compact(text))
            }

            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                // Bounded: a longer array is wrong anyway, and is not kept whole.
                let mut v = Vec::with_capacity(EMBEDDING_DIM);
                while let Some(x) = seq.next_element::<f32>()? {
                    if v.len() <= EMBEDDING_DIM {
                        v.push(x);
                    }
                }
                Ok(ServerEmbedding::Floats(v))
            }
        }
        d.deserialize_any(Either)
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
        (Some(ServerEmbedding::Floats(v)), Some(_)) if !is_unit_embedding(v, EMBEDDING_DIM) => {
            Some("server embedding ignored: it is not 384 finite floats of unit length")
        }
        (
            Some(ServerEmbedding::Compact {
                decoded: Err(e), ..
            }),
            Some(_),
        ) => Some(match e {
            CompactError::Length => {
                "server embedding ignored: a compact embedding is 520 base64 characters"
            }
            CompactError::Alphabet => {
                "server embedding ignored: a compact embedding is standard padded base64"
            }
            CompactError::Scale => {
                "server embedding ignored: the compact embedding's scale or values are invalid"
            }
        }),
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
