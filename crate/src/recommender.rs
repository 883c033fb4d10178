//! `Recommender`: one user's profile, online weights, embedding cache and recent impressions,
//! behind one type that both edges (CLI, wasm) drive. Policies live here; the edges convert.
//!
//! Encoding is the caller's job, so the core stays synchronous and knows nothing of devices.
//! A request runs in three steps: `hold_*` names the texts it will read (they are kept in the
//! cache until `release`, whatever else runs meanwhile) and returns those still to encode; the
//! edge encodes them (awaiting the GPU in a browser) and calls `put_embeddings`; then
//! `record` / `rerank`, and `release`.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::cache::{EmbeddingCache, HoldId};
use crate::embedding::{Embeddings, EMBEDDING_DIM};
use crate::encoder::config::{ModelFamily, TextRole};
use crate::error::{InputError, InputErrorKind, StoreError};
use crate::limits::{MAX_DEFERRED_EVENTS, MAX_FEEDBACK, MAX_ID_BYTES, MAX_SHOWN, MAX_TEXT_BYTES};
use crate::profile::{Event, EventKind, InterestProfile, Item, ProfileConfig};
use crate::rank::candidate::{embedding_problem, validate_candidates};
use crate::rank::explain::Explanation;
use crate::rank::fit::TrainList;
use crate::rank::impression::{
    feedback_rows, Impression, Impressions, DISMISS_STRENGTH, IMPRESSION_ITEMS,
};
use crate::rank::{
    rerank_with_signal, Candidate, ExtraSignal, Feedback, OnlineWeights, Prior, RankedItem,
    Ranking, RerankOptions, Weights,
};
use crate::similarity::SimilarityScale;
use crate::store::{decode_record, encode_record, RecordKind, RECORD_VERSION};

/// Items counted as on screen when `rerank` is not told `k`: a first page.
const ASSUMED_SHOWN: usize = 10;
/// Texts the embedding cache keeps: a full list of `MAX_CANDIDATES` plus a long history
/// (about 18 MB of f32 at most, more only while a larger request holds its texts).
pub const CACHE_CAPACITY: usize = 12_288;
/// `format` of the profile document `export_document` writes.
pub const PROFILE_DOCUMENT_FORMAT: &str = "cloister-profile";

/// What `rerank` returns: the ranking, the impression id to send feedback against, and how
/// many items will be shown.
#[derive(Debug, Clone)]
pub struct Reranked {
    pub impression_id: String,
    pub ranking: Ranking,
    /// Items ranked without an embedding (`rerank_available` before the encoder is there).
    pub unembedded: usize,
    shown: usize,
}

impl Reranked {
    /// The items to show: the first `k` (every candidate when `k` was not set).
    pub fn shown(&self) -> &[RankedItem] {
        &self.ranking.items[..self.shown]
    }
}

/// A request's texts held in the cache, and those of them the edge must still encode (each
/// once, in first-seen order, never blank): passages (items, the text of events) and queries
/// (stated interests, searches), which an encoder such as E5 reads differently.
#[derive(Debug, Clone)]
#[must_use = "release the hold when the request ends"]
pub struct Pending {
    pub hold: HoldId,
    pub missing: Vec<String>,
    pub queries: Vec<String>,
}

/// A text read by the model as mostly unknown tokens, at most this share, gets a warning.
pub const UNREADABLE_SHARE: f32 = 0.5;
/// Warnings kept until the edge takes them.
const MAX_WARNINGS: usize = 8;

/// The cache key of a text in a role: the two roles never share a key (every key is tagged).
fn cache_key(role: TextRole, text: &str) -> String {
    let tag = match role {
        TextRole::Passage => 'p',
        TextRole::Query => 'q',
    };
    format!("{tag}\u{0}{text}")
}

/// What is persisted: profile, weights and the recent impressions (so feedback after a
/// reload is still answered).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedState {
    pub profile: InterestProfile,
    pub weights: OnlineWeights,
    #[serde(default)]
    pub impressions: Impressions,
    /// The model whose embeddings the profile holds: its name and the sha256 of the file
    /// (absent in states saved before they were recorded, which were all-MiniLM-L6-v2's).
    /// Another model's are refused; another file of the same model (a re-conversion, fp32 and
    /// int8) is the same embedding space.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<SavedModel>,
    /// Events recorded before the encoder could embed their text, folded in when it can.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deferred: Vec<Event>,
    /// The learned interest model's gate as this user's choices adapted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interest_gate: Option<SavedGate>,
    /// Stated interests carried from another model's profile, stated again once their text
    /// is embedded by this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deferred_interests: Vec<DeferredInterest>,
}

/// A stated interest waiting for this model's embedding of its text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeferredInterest {
    pub text: String,
    pub weight: f32,
}

/// What `Recommender::carry_from_other_model` took from another model's profile: events and
/// stated interests now waiting to be embedded by this model, and the history entries it could
/// not take (saved before their texts were kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Carried {
    pub events: usize,
    pub interests: usize,
    pub without_text: usize,
}

/// A user's gate of the learned interest model, and the model file it belongs to: a gate
/// adapted for one file means nothing to another, which starts from its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedGate {
    /// sha256 of the interest model file.
    pub model: String,
    #[serde(with = "crate::profile::interest::f32_base64")]
    pub gate: Vec<f32>,
}

/// The learned interest model's part of one ranking: per candidate its readout, its score and
/// the reason it gives (from its attention). Only the builds with burn make one.
#[cfg_attr(not(feature = "encoder"), allow(dead_code))]
struct ModelSignal {
    phi: Vec<Vec<f32>>,
    scores: Vec<f32>,
    reasons: Vec<Option<Explanation>>,
}

/// The learned interest model's contribution name in a ranking.
pub const INTEREST_MODEL_FEATURE: &str = "interest_model";

/// A loaded interest model file (opt-in: a site that ships one calls `set_interest_model`).
#[cfg(feature = "encoder")]
#[derive(Debug)]
struct LoadedInterestModel {
    model: crate::interest_model::InterestModel,
    sha256: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedModel {
    pub name: String,
    pub sha256: String,
}

/// The profile document a person can read and take elsewhere (`exportProfile`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileDocument {
    pub format: String,
    pub version: u16,
    pub state: SavedState,
}

/// One point of the "inside my profile" map.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MapPoint {
    /// "history", "interest" or "candidate".
    pub kind: &'static str,
    /// The item's id; a stated interest's numeric id.
    pub id: serde_json::Value,
    pub label: String,
    pub x: f32,
    pub y: f32,
}

#[derive(Debug, Clone)]
pub struct Recommender {
    profile: InterestProfile,
    weights: OnlineWeights,
    cache: EmbeddingCache,
    impressions: Impressions,
    /// sha256 of the loaded model file: server-side embeddings must carry the same.
    model: String,
    /// Problems the user should hear of (texts the model cannot read), until taken.
    warnings: Vec<String>,
    /// The encoder whose embeddings this recommender reads, and what cosines mean for it
    /// (the profile's config carries the latter).
    family: ModelFamily,
    similarity: SimilarityScale,
    /// The prior the site ships now: a saved state adapted from another is carried onto it,
    /// and `forget` returns to it.
    site_prior: Prior,
    /// Events waiting for their text's embedding (the encoder is still loading), oldest first.
    deferred: Vec<Event>,
    /// Stated interests waiting the same way (carried from another model's profile).
    deferred_interests: Vec<DeferredInterest>,
    #[cfg(feature = "encoder")]
    interest_model: Option<std::sync::Arc<LoadedInterestModel>>,
    interest_gate: Option<SavedGate>,
}

impl Recommender {
    pub fn new(prior: &Prior, model: impl Into<String>) -> Self {
        Self {
            profile: InterestProfile::new(ProfileConfig::default()),
            weights: OnlineWeights::new(prior),
            cache: EmbeddingCache::new(CACHE_CAPACITY),
            impressions: Impressions::default(),
            model: model.into(),
            warnings: Vec::new(),
            family: ModelFamily::MiniLm,
            similarity: SimilarityScale::default(),
            site_prior: prior.clone(),
            deferred: Vec::new(),
            deferred_interests: Vec::new(),
            #[cfg(feature = "encoder")]
            interest_model: None,
            interest_gate: None,
        }
    }

    /// Loads a learned interest model file (`cloister train`): from now on its score is added
    /// to each candidate's, and the user's choices adapt its gate. A bad file is a typed error
    /// and the ranking goes on without the model. Returns the file's sha256.
    #[cfg(feature = "encoder")]
    pub fn set_interest_model(
        &mut self,
        bytes: &[u8],
    ) -> Result<String, crate::interest_model::InterestModelError> {
        use crate::interest_model::{InterestModel, InterestModelParams};
        let params = InterestModelParams::from_json(bytes)?;
        params.check_dimension(EMBEDDING_DIM)?;
        params.check_encoder(self.family.name())?;
        let sha256 = InterestModelParams::sha256(bytes);
        self.interest_model = Some(std::sync::Arc::new(LoadedInterestModel {
            model: InterestModel::new(params, crate::encoder::device::cpu_device()),
            sha256: sha256.clone(),
        }));
        Ok(sha256)
    }

    /// Ranks without the interest model again (the user's gate is kept for when it returns).
    #[cfg(feature = "encoder")]
    pub fn clear_interest_model(&mut self) {
        self.interest_model = None;
    }

    /// The user's adapted gate, if their choices have moved it.
    pub fn interest_gate(&self) -> Option<&SavedGate> {
        self.interest_gate.as_ref()
    }

    /// The gate to rank with: the user's for this model file, else the shipped one.
    #[cfg(feature = "encoder")]
    fn current_gate(&self, loaded: &LoadedInterestModel) -> Vec<f32> {
        match &self.interest_gate {
            Some(g) if g.model == loaded.sha256 && g.gate.len() == loaded.model.params.hidden => {
                g.gate.clone()
            }
            _ => loaded.model.params.gate.clone(),
        }
    }

    /// The loaded interest model file's weights and sha256.
    #[cfg(feature = "encoder")]
    pub fn interest_model(&self) -> Option<(&crate::interest_model::InterestModelParams, &str)> {
        self.interest_model
            .as_ref()
            .map(|m| (&m.model.params, m.sha256.as_str()))
    }

    /// What the interest model reads for these candidates (validated; texts without a usable
    /// server embedding must be cached), and the gate this user ranks with: to run the model
    /// on another device (WebGPU) against the ranking's. `None` without a model or history.
    #[cfg(feature = "encoder")]
    pub fn interest_inputs(
        &mut self,
        candidates: Vec<Candidate>,
    ) -> Result<Option<(crate::interest_model::SignalInputs, Vec<f32>)>, InputError> {
        let Some(loaded) = self.interest_model.clone() else {
            return Ok(None);
        };
        let candidates = validate_candidates(candidates)?;
        let vectors = self.candidate_vectors(&candidates, false)?;
        let refs: Vec<&[f32]> = vectors.iter().map(Vec::as_slice).collect();
        let inputs = crate::interest_model::SignalInputs::new(
            loaded.model.params.dim,
            &self.profile.recent,
            &refs,
        )
        .map_err(|e| InputError::new(InputErrorKind::InvalidEmbedding, e.to_string()))?;
        Ok(inputs.map(|i| (i, self.current_gate(&loaded))))
    }

    /// The interest model's readouts, scores and attention for these candidates; `None`
    /// without a model or history. A failure drops the model from this ranking with a warning,
    /// never the ranking.
    #[cfg(feature = "encoder")]
    fn interest_signal(&mut self, vectors: &[&[f32]]) -> Option<ModelSignal> {
        let loaded = self.interest_model.clone()?;
        let gate = self.current_gate(&loaded);
        match crate::interest_model::signal(&loaded.model, &self.profile.recent, vectors, &gate) {
            Ok(signal) => signal.map(|s| ModelSignal {
                reasons: s
                    .attention
                    .iter()
                    .map(|a| crate::rank::explain::model_explanation(&self.profile, a))
                    .collect(),
                phi: s.phi,
                scores: s.scores,
            }),
            Err(e) => {
                self.warnings
                    .push(format!("ranked without the interest model: {e}"));
                None
            }
        }
    }

    /// One gate step for a choice on an impression the model ranked.
    #[cfg(feature = "encoder")]
    fn adapt_interest_gate(&mut self, imp: &Impression, chosen: usize) {
        use crate::interest_model::{adapt_gate, GateStep, DEVICE_ADAPTATION};
        let Some(loaded) = self.interest_model.clone() else {
            return;
        };
        let n = imp.ids.len();
        let hidden = loaded.model.params.hidden;
        if imp.model_phi.len() != n * hidden || imp.model_offset.len() != n || chosen >= n {
            return;
        }
        // The items on screen, and the chosen one wherever it was.
        let seen = imp.shown.max(chosen + 1).min(n);
        let phi: Vec<Vec<f32>> = (0..seen)
            .map(|i| imp.model_phi[i * hidden..(i + 1) * hidden].to_vec())
            .collect();
        let gate = adapt_gate(
            &self.current_gate(&loaded),
            &loaded.model.params.gate,
            &GateStep {
                phi: &phi,
                offset: &imp.model_offset[..seen],
                chosen,
            },
            &DEVICE_ADAPTATION,
        );
        self.interest_gate = Some(SavedGate {
            model: loaded.sha256.clone(),
            gate,
        });
    }

    /// Sets the encoder family whose embeddings this recommender reads (all-MiniLM-L6-v2 by
    /// default): its similarity thresholds go into the profile's config.
    pub fn set_model_family(&mut self, family: ModelFamily) {
        self.family = family;
        self.similarity = SimilarityScale::for_family(family);
        self.profile.config.similarity = self.similarity;
    }

    pub fn profile(&self) -> &InterestProfile {
        &self.profile
    }

    pub fn weights(&self) -> &OnlineWeights {
        &self.weights
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    /// The encoder family whose embeddings this recommender reads.
    pub fn model_family(&self) -> ModelFamily {
        self.family
    }

    // ---- embeddings -------------------------------------------------------------------

    /// Holds passage `texts` for a request (see the module docs); blank texts are never
    /// encoded.
    pub fn hold_texts<'a>(&mut self, texts: impl IntoIterator<Item = &'a str>) -> Pending {
        self.hold_roles(texts.into_iter().map(|t| (TextRole::Passage, t)))
    }

    /// Holds query `texts` (stated interests, searches).
    pub fn hold_queries<'a>(&mut self, texts: impl IntoIterator<Item = &'a str>) -> Pending {
        self.hold_roles(texts.into_iter().map(|t| (TextRole::Query, t)))
    }

    fn hold_roles<'a>(&mut self, texts: impl IntoIterator<Item = (TextRole, &'a str)>) -> Pending {
        let texts: Vec<(TextRole, &str)> = texts
            .into_iter()
            .filter(|(_, t)| !t.trim().is_empty())
            .collect();
        let keys: Vec<String> = texts.iter().map(|&(r, t)| cache_key(r, t)).collect();
        let hold = self.cache.hold(keys.iter().map(String::as_str));
        let mut seen = HashSet::with_capacity(texts.len());
        let (mut missing, mut queries) = (Vec::new(), Vec::new());
        for ((role, text), key) in texts.into_iter().zip(&keys) {
            if self.cache.contains(key) || !seen.insert(key.as_str()) {
                continue;
            }
            match role {
                TextRole::Passage => missing.push(text.to_string()),
                TextRole::Query => queries.push(text.to_string()),
            }
        }
        Pending {
            hold,
            missing,
            queries,
        }
    }

    /// Holds the texts a request reads: the item texts of `events` (a search's query as a
    /// query) and of `candidates`. A candidate's usable server embedding is cached under its
    /// text first, so it is not encoded, and a later event on that item (a click, a purchase)
    /// finds it there and needs no encoder either.
    pub fn hold_request(&mut self, events: &[Event], candidates: &[Candidate]) -> Pending {
        for c in candidates {
            if let Some(v) = c.usable_embedding(&self.model) {
                let key = cache_key(TextRole::Passage, &c.text);
                if !c.text.trim().is_empty() && !self.cache.contains(&key) {
                    self.cache.insert(&key, v.to_vec());
                }
            }
        }
        let texts: Vec<(TextRole, &str)> = events
            .iter()
            .map(|e| (event_role(e.kind), e.item.text.as_str()))
            .chain(
                candidates
                    .iter()
                    .map(|c| (TextRole::Passage, c.text.as_str())),
            )
            .collect();
        self.hold_roles(texts)
    }

    /// The texts a ranking of `candidates` (validated) would encode now: those of candidates
    /// without a usable server embedding, not blank, not cached (nor about to be, under another
    /// candidate's server embedding), each once, in order. What a caller encodes elsewhere (the
    /// package's pool of encoders) and hands over with `put_embeddings` before the ranking
    /// costs the ranking nothing.
    pub fn uncached_candidate_texts(&self, candidates: &[Candidate]) -> Vec<String> {
        let embedded: HashSet<&str> = candidates
            .iter()
            .filter(|c| c.usable_embedding(&self.model).is_some())
            .map(|c| c.text.as_str())
            .collect();
        self.uncached_passages(
            candidates
                .iter()
                .map(|c| c.text.as_str())
                .filter(|t| !embedded.contains(t)),
        )
    }

    /// The item texts a recording of `events` (validated) would encode now, as
    /// `uncached_candidate_texts` does for a ranking: not blank, not cached, each once, in order.
    /// A search's query is left out: it is read in the query role, which the recording encodes
    /// itself.
    pub fn uncached_event_texts(&self, events: &[Event]) -> Vec<String> {
        self.uncached_passages(
            events
                .iter()
                .filter(|e| event_role(e.kind) == TextRole::Passage)
                .map(|e| e.item.text.as_str()),
        )
    }

    /// The passage texts among `texts` that are not blank and not cached, each once, in order.
    fn uncached_passages<'t>(&self, texts: impl Iterator<Item = &'t str>) -> Vec<String> {
        let mut seen = HashSet::new();
        texts
            .filter(|t| !t.trim().is_empty())
            .filter(|t| {
                let key = cache_key(TextRole::Passage, t);
                !self.cache.contains(&key) && seen.insert(key)
            })
            .map(str::to_string)
            .collect()
    }

    /// Ends a request's hold on its texts.
    pub fn release(&mut self, hold: HoldId) {
        self.cache.release(hold);
    }

    /// Caches the embeddings of passage `texts` (a `Pending`'s `missing`).
    pub fn put_embeddings(
        &mut self,
        texts: &[String],
        embeddings: &Embeddings,
    ) -> Result<(), InputError> {
        self.put_role_embeddings(TextRole::Passage, texts, embeddings)
    }

    /// Caches the embeddings of query `texts` (a `Pending`'s `queries`).
    pub fn put_query_embeddings(
        &mut self,
        texts: &[String],
        embeddings: &Embeddings,
    ) -> Result<(), InputError> {
        self.put_role_embeddings(TextRole::Query, texts, embeddings)
    }

    fn put_role_embeddings(
        &mut self,
        role: TextRole,
        texts: &[String],
        embeddings: &Embeddings,
    ) -> Result<(), InputError> {
        if embeddings.data.len() != texts.len() * EMBEDDING_DIM {
            return Err(InputError::new(
                InputErrorKind::InvalidEmbedding,
                format!("one embedding of {EMBEDDING_DIM} floats per text"),
            ));
        }
        if !embeddings.data.iter().all(|v| v.is_finite()) {
            return Err(InputError::new(
                InputErrorKind::InvalidEmbedding,
                "an embedding holds a value that is not a finite number",
            ));
        }
        for (t, row) in texts.iter().zip(embeddings.rows()) {
            self.cache.insert(&cache_key(role, t), row.to_vec());
        }
        Ok(())
    }

    /// Whether passage `text`'s embedding is cached (does not count as a use).
    pub fn has_embedding(&self, text: &str) -> bool {
        self.cache.contains(&cache_key(TextRole::Passage, text))
    }

    /// Texts with a cached embedding.
    pub fn cached_texts(&self) -> usize {
        self.cache.len()
    }

    fn cached(&mut self, role: TextRole, text: &str) -> Result<Vec<f32>, InputError> {
        self.cache
            .get(&cache_key(role, text))
            .map(<[f32]>::to_vec)
            .ok_or_else(|| {
                InputError::new(
                    InputErrorKind::MissingEmbedding,
                    format!("no embedding for text {:?}", preview(text)),
                )
            })
    }

    /// Notes the texts just encoded that `model_name` read as mostly unknown tokens
    /// (`shares`, one per text, from `Encoder::unknown_shares`): their embeddings say little,
    /// and the user should hear it rather than get rankings by noise. One warning per call.
    pub fn note_unreadable(&mut self, texts: &[String], shares: &[f32], model_name: &str) {
        let unreadable: Vec<(&String, f32)> = texts
            .iter()
            .zip(shares.iter().copied())
            .filter(|&(_, share)| share > UNREADABLE_SHARE)
            .collect();
        let Some(&(example, share)) = unreadable.iter().max_by(|a, b| a.1.total_cmp(&b.1)) else {
            return;
        };
        let advice = if model_name == ModelFamily::E5.name() {
            "its vocabulary serves Chinese and Latin-script languages"
        } else {
            "the multilingual model reads Chinese and other Latin-script languages: \
             Cloister.open({ model: 'multilingual' }) or --model multilingual"
        };
        let warning = format!(
            "{} of {} texts are mostly unknown to {model_name}, e.g. {:?} ({:.0}% of its \
             characters): their embeddings say little about them; {advice}",
            unreadable.len(),
            texts.len(),
            preview(example),
            share * 100.0
        );
        if self.warnings.len() == MAX_WARNINGS {
            self.warnings.remove(0);
        }
        self.warnings.push(warning);
    }

    /// The warnings noted since the last call.
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    // ---- profile ----------------------------------------------------------------------

    /// Validates (against the caller's clock, `now_ms`) and folds one event in. Its text must
    /// be in the cache.
    pub fn record(&mut self, event: Event, now_ms: i64) -> Result<(), InputError> {
        let event = validated(event, now_ms)?;
        let embedding = self.cached(event_role(event.kind), &event.item.text)?;
        self.profile.observe(&event, &embedding)?;
        if event.kind == EventKind::Dismiss {
            self.learn_from_dismissal(&event.item.id);
        }
        Ok(())
    }

    /// Keeps an event whose text cannot be embedded yet (the encoder is still loading): it is
    /// validated now, saved with the state, and recorded by `fold_deferred` once its text is
    /// in the cache. At most `MAX_DEFERRED_EVENTS` wait.
    pub fn defer(&mut self, event: Event, now_ms: i64) -> Result<(), InputError> {
        let event = validated(event, now_ms)?;
        if self.deferred.len() >= MAX_DEFERRED_EVENTS {
            return Err(InputError::new(
                InputErrorKind::TooManyEvents,
                format!(
                    "{MAX_DEFERRED_EVENTS} events already wait for the encoder; \
                     load it (or wait for it) before recording more"
                ),
            ));
        }
        self.deferred.push(event);
        Ok(())
    }

    /// Records `event` if its text's embedding is cached (a candidate the server embedded, a
    /// text seen before), else defers it until the encoder arrives. Returns whether it waits.
    pub fn record_or_defer(&mut self, event: Event, now_ms: i64) -> Result<bool, InputError> {
        if self.has_event_text(&event) {
            self.record(event, now_ms).map(|()| false)
        } else {
            self.defer(event, now_ms).map(|()| true)
        }
    }

    /// Whether the embedding `event` reads (its text, in its role) is cached.
    fn has_event_text(&self, event: &Event) -> bool {
        self.cache
            .contains(&cache_key(event_role(event.kind), &event.item.text))
    }

    /// Events waiting for the encoder.
    pub fn deferred_events(&self) -> usize {
        self.deferred.len()
    }

    /// Stated interests waiting for the encoder.
    pub fn deferred_interests(&self) -> usize {
        self.deferred_interests.len()
    }

    /// Holds the texts the deferred events and interests read (the edge encodes what is
    /// missing).
    pub fn hold_deferred(&mut self) -> Pending {
        let events = self.deferred.clone();
        let interests = self.deferred_interests.clone();
        let texts: Vec<(TextRole, &str)> = events
            .iter()
            .map(|e| (event_role(e.kind), e.item.text.as_str()))
            .chain(interests.iter().map(|i| (TextRole::Query, i.text.trim())))
            .collect();
        self.hold_roles(texts)
    }

    /// Records the deferred events whose text is now cached, in the order they came; the rest
    /// keep waiting. Returns how many were recorded.
    pub fn fold_deferred(&mut self, now_ms: i64) -> usize {
        let mut folded = 0;
        for event in std::mem::take(&mut self.deferred) {
            if !self.has_event_text(&event) {
                self.deferred.push(event);
                continue;
            }
            // Validated when deferred; only a clock set far back could refuse it now, and then
            // it would be refused forever: drop it rather than keep it waiting.
            if self.record(event, now_ms).is_ok() {
                folded += 1;
            }
        }
        for interest in std::mem::take(&mut self.deferred_interests) {
            if !self
                .cache
                .contains(&cache_key(TextRole::Query, interest.text.trim()))
            {
                self.deferred_interests.push(interest);
                continue;
            }
            // Checked when carried; one refused now (the interests are full) is dropped.
            if self.state_interest(&interest.text, interest.weight).is_ok() {
                folded += 1;
            }
        }
        folded
    }

    /// A dismissed item that a recent impression showed: one online step pushing it down
    /// among what was shown with it. Nothing to learn from when no impression showed it.
    fn learn_from_dismissal(&mut self, id: &str) {
        let Some(imp) = self.impressions.newest_showing(id) else {
            return;
        };
        let Some(row) = imp.ids.iter().position(|x| x == id) else {
            return;
        };
        let rows: Vec<&[f32]> = (0..imp.ids.len()).map(|i| imp.row(i)).collect();
        // Only a list of one item fails here; the event itself is already recorded.
        let _ = self
            .weights
            .update_with(&imp.names, &rows, &[], &[(row, DISMISS_STRENGTH)]);
    }

    /// Adds a stated interest; `text` (trimmed) must be in the cache. Returns its id.
    pub fn state_interest(&mut self, text: &str, weight: f32) -> Result<u64, InputError> {
        if text.trim().is_empty() {
            return Err(InputError::new(
                InputErrorKind::InvalidInterest,
                "an interest needs some text",
            ));
        }
        let embedding = self.cached(TextRole::Query, text.trim())?;
        self.profile.add_interest(text, weight, &embedding)
    }

    pub fn remove_interest(&mut self, id: u64) -> bool {
        self.profile.remove_interest(id)
    }

    // ---- ranking ----------------------------------------------------------------------

    /// Validates the list, then ranks it. Texts without a usable server embedding must be in
    /// the cache. The head of the list is remembered as an impression for `feedback`.
    pub fn rerank(
        &mut self,
        candidates: Vec<Candidate>,
        options: &RerankOptions,
    ) -> Result<Reranked, InputError> {
        self.rerank_with(candidates, options, false)
    }

    /// Like `rerank`, for when the encoder is not there yet: an item with no usable server
    /// embedding and no cached text is ranked by what exists (its text features neutral, see
    /// `features::compute`), and `unembedded` counts such items.
    pub fn rerank_available(
        &mut self,
        candidates: Vec<Candidate>,
        options: &RerankOptions,
    ) -> Result<Reranked, InputError> {
        self.rerank_with(candidates, options, true)
    }

    fn rerank_with(
        &mut self,
        candidates: Vec<Candidate>,
        options: &RerankOptions,
        allow_missing: bool,
    ) -> Result<Reranked, InputError> {
        let candidates = validate_candidates(candidates)?;
        let vectors = self.candidate_vectors(&candidates, allow_missing)?;
        let unembedded = vectors.iter().filter(|v| v.is_empty()).count();
        let refs: Vec<&[f32]> = vectors.iter().map(Vec::as_slice).collect();
        #[cfg(feature = "encoder")]
        let signal = self.interest_signal(&refs);
        #[cfg(not(feature = "encoder"))]
        let signal: Option<ModelSignal> = None;
        let extra = signal.as_ref().map(|s| ExtraSignal {
            name: INTEREST_MODEL_FEATURE,
            scores: &s.scores,
            reasons: &s.reasons,
        });
        let mut ranking = rerank_with_signal(
            &self.profile,
            &candidates,
            &refs,
            &self.weights,
            options,
            extra.as_ref(),
        )?;
        let id = self.impressions.next_id();
        let head = options.k.unwrap_or(IMPRESSION_ITEMS).min(IMPRESSION_ITEMS);
        let kept: Vec<usize> = ranking.order.iter().take(head).copied().collect();
        let on_screen = options.k.unwrap_or(ASSUMED_SHOWN).min(kept.len());
        // What a gate step needs later: each kept item's readout, and the score it was added to
        // (finite, as a saved impression must be: the ranking counted a non-finite score as 0).
        let finite = |x: f32| if x.is_finite() { x } else { 0.0 };
        let (model_phi, model_offset) = match &signal {
            Some(s) => (
                kept.iter()
                    .flat_map(|&i| s.phi[i].iter().map(|&x| finite(x)))
                    .collect(),
                ranking
                    .items
                    .iter()
                    .zip(&kept)
                    .map(|(item, &i)| finite(item.score - finite(s.scores[i])))
                    .collect(),
            ),
            None => (Vec::new(), Vec::new()),
        };
        self.impressions.push(Impression {
            id: id.clone(),
            ids: kept.iter().map(|&i| candidates[i].id.clone()).collect(),
            shown: on_screen,
            names: ranking.features.names.clone(),
            z: kept
                .iter()
                .flat_map(|&i| ranking.features.z[i].iter().copied())
                .collect(),
            model_phi,
            model_offset,
        });
        self.profile
            .note_shown(kept[..on_screen].iter().map(|&i| candidates[i].id.as_str()));
        for (item, &i) in ranking.items.iter_mut().zip(&ranking.order) {
            if let Some(problem) = embedding_problem(&candidates[i], &self.model) {
                item.notes.push(problem);
            }
        }
        let shown = options.k.unwrap_or(usize::MAX).min(ranking.items.len());
        Ok(Reranked {
            impression_id: id,
            ranking,
            unembedded,
            shown,
        })
    }

    /// Each candidate's vector: the server's, or its text's from the cache; with
    /// `allow_missing`, empty for a text not encoded yet.
    fn candidate_vectors(
        &mut self,
        candidates: &[Candidate],
        allow_missing: bool,
    ) -> Result<Vec<Vec<f32>>, InputError> {
        let mut vectors = Vec::with_capacity(candidates.len());
        for c in candidates {
            let vector = match c.usable_embedding(&self.model) {
                Some(v) => v.to_vec(),
                None if c.text.trim().is_empty() => {
                    return Err(InputError::new(
                        InputErrorKind::InvalidCandidate,
                        format!("candidate '{}' has no text and no usable embedding", c.id),
                    ))
                }
                None => match self.cached(TextRole::Passage, &c.text) {
                    Err(e) if !allow_missing => return Err(e),
                    found => found.unwrap_or_default(),
                },
            };
            vectors.push(vector);
        }
        Ok(vectors)
    }

    /// Feedback on what was shown for `impression_id`: the user chose `chosen` (may be
    /// empty) and dismissed `dismissed` (may be empty; not both). One online step, in which
    /// items shown above a chosen one and skipped count as turned away too. The impression may
    /// come from before a reload: impressions are saved with the state.
    pub fn feedback(
        &mut self,
        impression_id: &str,
        chosen: &[String],
        dismissed: &[String],
    ) -> Result<Weights, InputError> {
        let imp = self.impressions.find(impression_id)?;
        let (rows, negatives) = imp.feedback_rows(chosen, dismissed)?;
        let z: Vec<&[f32]> = (0..imp.ids.len()).map(|i| imp.row(i)).collect();
        let names = imp.names.clone();
        let delta = self.weights.update_with(&names, &z, &rows, &negatives)?;
        #[cfg(feature = "encoder")]
        if let Some(&first) = rows.first() {
            let imp = imp.clone();
            self.adapt_interest_gate(&imp, first);
        }
        for id in chosen {
            self.profile.note_chosen(id);
        }
        Ok(delta)
    }

    /// Replays feedback on explicit lists (the CLI's `feedback`): for each entry, `shown` and
    /// `chosen` are ids in `candidates`, whose features are computed against the current
    /// profile, and one online step is taken. At most `MAX_FEEDBACK` entries of at most
    /// `MAX_SHOWN` items; an entry that fails stops the replay with its error.
    pub fn replay_feedback(
        &mut self,
        candidates: &[Candidate],
        feedback: &[Feedback],
    ) -> Result<(), InputError> {
        if feedback.len() > MAX_FEEDBACK {
            return Err(InputError::new(
                InputErrorKind::TooManyFeedback,
                format!(
                    "{} feedback entries; at most {MAX_FEEDBACK} per request",
                    feedback.len()
                ),
            ));
        }
        let index: HashMap<&str, usize> = candidates
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.as_str(), i))
            .collect();
        for entry in feedback {
            self.feedback_on(candidates, &index, entry)?;
        }
        Ok(())
    }

    fn feedback_on(
        &mut self,
        candidates: &[Candidate],
        index: &HashMap<&str, usize>,
        entry: &Feedback,
    ) -> Result<Weights, InputError> {
        let (shown, chosen) = (&entry.shown, &entry.chosen);
        if shown.len() > MAX_SHOWN {
            return Err(InputError::new(
                InputErrorKind::TooManyFeedback,
                format!("{} items shown; at most {MAX_SHOWN} per entry", shown.len()),
            ));
        }
        if chosen.is_empty() && entry.dismissed.is_empty() {
            return Err(InputError::new(
                InputErrorKind::InvalidFeedback,
                "a feedback entry needs a chosen or a dismissed item",
            ));
        }
        let mut positions: HashSet<&str> = HashSet::with_capacity(shown.len());
        let mut subset = Vec::with_capacity(shown.len());
        for id in shown {
            let Some(&i) = index.get(id.as_str()) else {
                return Err(InputError::new(
                    InputErrorKind::InvalidFeedback,
                    format!("shown id '{id}' is not a candidate"),
                ));
            };
            if !positions.insert(id.as_str()) {
                return Err(InputError::new(
                    InputErrorKind::InvalidFeedback,
                    format!("'{id}' is shown twice"),
                ));
            }
            subset.push(candidates[i].clone());
        }
        let (idx, negatives) = feedback_rows(shown, chosen, &entry.dismissed)?;
        let subset = validate_candidates(subset)?;
        let vectors = self.candidate_vectors(&subset, false)?;
        let refs: Vec<&[f32]> = vectors.iter().map(Vec::as_slice).collect();
        let features = crate::rank::features::compute(&self.profile, &subset, &refs);
        let z: Vec<&[f32]> = features.z.iter().map(Vec::as_slice).collect();
        self.weights
            .update_with(&features.names, &z, &idx, &negatives)
    }

    /// The candidates' standardised features against the current profile, with the index of
    /// `target` (None when the target is not among them), for offline fitting.
    pub fn train_list(
        &mut self,
        candidates: Vec<Candidate>,
        target: &str,
    ) -> Result<Option<TrainList>, InputError> {
        Ok(self
            .training_features(candidates, target)?
            .map(|(target, _, features)| TrainList {
                names: features.names,
                z: features.z,
                target,
            }))
    }

    /// A training line's validated candidates as the ranking sees them: the target's index,
    /// each candidate's vector and the feature matrix; `None` when the target is not among them.
    #[allow(clippy::type_complexity)]
    fn training_features(
        &mut self,
        candidates: Vec<Candidate>,
        target: &str,
    ) -> Result<Option<(usize, Vec<Vec<f32>>, crate::rank::FeatureMatrix)>, InputError> {
        let candidates = validate_candidates(candidates)?;
        let Some(target) = candidates.iter().position(|c| c.id == target) else {
            return Ok(None);
        };
        let vectors = self.candidate_vectors(&candidates, false)?;
        let refs: Vec<&[f32]> = vectors.iter().map(Vec::as_slice).collect();
        let features = crate::rank::features::compute(&self.profile, &candidates, &refs);
        Ok(Some((target, vectors, features)))
    }

    /// A training line as the interest model learns from it (`cloister train --lines`): the
    /// profile's window and `candidates` as rows of `table`, the target's index, and the blend's
    /// scores under this recommender's weights as the offset the model is added to. `None` when
    /// the target is not among the candidates or there is no history.
    #[cfg(all(feature = "encoder", not(target_arch = "wasm32")))]
    pub fn interest_slate(
        &mut self,
        candidates: Vec<Candidate>,
        target: &str,
        table: &mut crate::interest_model::train::SlateTable,
    ) -> Result<Option<crate::interest_model::train::Slate>, InputError> {
        let Some((target, vectors, features)) = self.training_features(candidates, target)? else {
            return Ok(None);
        };
        let refs: Vec<&[f32]> = vectors.iter().map(Vec::as_slice).collect();
        let weights = self.weights.vector(&features.names);
        let offset = features
            .z
            .iter()
            .map(|row| crate::vector::dot(&weights, row))
            .collect();
        Ok(table.slate(&self.profile.recent, &refs, target, offset))
    }

    // ---- views ------------------------------------------------------------------------

    /// Points for the "inside my profile" map: the recent history, the stated interests and
    /// the given `(id, text)` candidates whose embeddings are cached, projected to 2D (the top
    /// two principal axes). Reading the cache here does not count as a use.
    pub fn profile_map(&self, candidates: &[(String, String)]) -> Vec<MapPoint> {
        let mut points = Vec::new();
        let mut vectors: Vec<&[f32]> = Vec::new();
        let mut point = |kind, id, label: String, vector| {
            points.push(MapPoint {
                kind,
                id,
                label,
                x: 0.0,
                y: 0.0,
            });
            vectors.push(vector);
        };
        for e in &self.profile.recent {
            point(
                "history",
                e.id.clone().into(),
                e.title.clone(),
                &e.embedding[..],
            );
        }
        for i in &self.profile.interests {
            point("interest", i.id.into(), i.text.clone(), &i.embedding[..]);
        }
        for (id, text) in candidates {
            if let Some(v) = self.cache.peek(&cache_key(TextRole::Passage, text)) {
                point(
                    "candidate",
                    id.clone().into(),
                    text.chars().take(60).collect(),
                    v,
                );
            }
        }
        let owned: Vec<Vec<f32>> = vectors.iter().map(|v| v.to_vec()).collect();
        for (p, (x, y)) in points.iter_mut().zip(crate::vector::project_2d(&owned)) {
            p.x = x;
            p.y = y;
        }
        points
    }

    // ---- persistence ------------------------------------------------------------------

    pub fn saved_state(&self) -> SavedState {
        SavedState {
            profile: self.profile.clone(),
            weights: self.weights.clone(),
            impressions: self.impressions.clone(),
            model: Some(SavedModel {
                name: self.family.name().into(),
                sha256: self.model.clone(),
            }),
            deferred: self.deferred.clone(),
            interest_gate: self.interest_gate.clone(),
            deferred_interests: self.deferred_interests.clone(),
        }
    }

    /// Profile and weights as one versioned, checksummed record.
    pub fn to_bytes(&self) -> Vec<u8> {
        let payload = serde_json::to_vec(&self.saved_state()).expect("state serialises");
        encode_record(RecordKind::State, &payload)
    }

    /// Restores profile and weights from `to_bytes` output; a bad record changes nothing.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        let (payload, _version) = decode_record(bytes, RecordKind::State)?;
        let state: SavedState = serde_json::from_slice(payload)
            .map_err(|e| StoreError::Corrupt(format!("state payload: {e}")))?;
        self.adopt(state)
    }

    /// Starts this model's profile from a state another model saved (`to_bytes` output): the
    /// history's kept texts and the stated interests wait to be embedded by this model (folded
    /// in by `fold_deferred`, in their order, with their times), along with the events that
    /// waited there; the dismissed and taken items, the exposures and the learned weights
    /// carry over as they are. Vectors never cross: the other model's profile means, centroids
    /// and impressions stay behind, so events older than its last `recent_len` positive ones
    /// count only through what carries over. A bad record, or one of this model, changes
    /// nothing.
    pub fn carry_from_other_model(
        &mut self,
        bytes: &[u8],
        now_ms: i64,
    ) -> Result<Carried, StoreError> {
        let (payload, _version) = decode_record(bytes, RecordKind::State)?;
        let state: SavedState = serde_json::from_slice(payload)
            .map_err(|e| StoreError::Corrupt(format!("state payload: {e}")))?;
        check_state(&state)?;
        let saved = state
            .model
            .as_ref()
            .map_or(ModelFamily::MiniLm.name(), |m| m.name.as_str());
        if saved == self.family.name() {
            return Err(StoreError::Corrupt(format!(
                "the state to carry over is already {saved}'s: restore it instead"
            )));
        }
        let old = state.profile;
        let without_text = old.recent.iter().filter(|e| e.text.is_empty()).count();
        let mut events: Vec<Event> = old
            .recent
            .into_iter()
            .filter(|e| !e.text.is_empty())
            .map(|e| Event {
                item: Item {
                    id: e.id,
                    text: e.text,
                    category: e.category,
                },
                kind: e.kind,
                value: e.value,
                at: e.at,
            })
            .chain(state.deferred)
            .filter_map(|e| validated(e, now_ms).ok())
            .collect();
        if events.len() > MAX_DEFERRED_EVENTS {
            events.drain(..events.len() - MAX_DEFERRED_EVENTS);
        }
        let interests: Vec<DeferredInterest> = old
            .interests
            .into_iter()
            .map(|i| DeferredInterest {
                text: i.text,
                weight: i.weight,
            })
            .chain(state.deferred_interests)
            .take(self.profile.config.max_interests)
            .collect();
        let mut profile = InterestProfile::new(self.profile.config);
        profile.dismissed = old.dismissed;
        profile.consumed = old.consumed;
        profile.exposures = old.exposures;
        self.profile = profile;
        self.weights = if state.weights.started_from(&self.site_prior) {
            state.weights
        } else {
            state.weights.carried_onto(&self.site_prior)
        };
        self.impressions.clear();
        self.interest_gate = None;
        let carried = Carried {
            events: events.len(),
            interests: interests.len(),
            without_text,
        };
        self.deferred = events;
        self.deferred_interests = interests;
        Ok(carried)
    }

    fn adopt(&mut self, state: SavedState) -> Result<(), StoreError> {
        check_state(&state)?;
        // Vectors of two models never mix: a state from another model changes nothing.
        let loaded = self.family.name();
        if let Some(saved) = state.model.as_ref().filter(|m| m.name != loaded) {
            return Err(StoreError::OtherModel {
                saved: preview(&saved.name),
                loaded: loaded.into(),
            });
        }
        // The cache is this session's and stays valid. Impressions merge: another tab may have
        // saved a newer state (reloaded before each change) while ours are not saved yet.
        self.profile = state.profile;
        self.profile.config.similarity = self.similarity;
        // A returning user whose weights grew from an older prior keeps what they learned,
        // on top of the prior the site ships now.
        self.weights = if state.weights.started_from(&self.site_prior) {
            state.weights
        } else {
            state.weights.carried_onto(&self.site_prior)
        };
        self.impressions.merge(state.impressions);
        self.deferred = state.deferred;
        self.deferred_interests = state.deferred_interests;
        self.interest_gate = state.interest_gate;
        Ok(())
    }

    /// Everything the device holds about the user, as a JSON document a person can read.
    pub fn export_document(&self) -> String {
        let document = ProfileDocument {
            format: PROFILE_DOCUMENT_FORMAT.into(),
            version: RECORD_VERSION,
            state: self.saved_state(),
        };
        serde_json::to_string_pretty(&document).expect("state serialises")
    }

    /// Loads an `export_document` document (format and version checked, then the same bounds
    /// as a stored record); a bad document changes nothing.
    pub fn import_document(&mut self, json: &str) -> Result<(), StoreError> {
        let document: ProfileDocument = serde_json::from_str(json)
            .map_err(|e| StoreError::Corrupt(format!("profile JSON: {e}")))?;
        if document.format != PROFILE_DOCUMENT_FORMAT {
            return Err(StoreError::Corrupt(format!(
                "not a {PROFILE_DOCUMENT_FORMAT} document (format '{}')",
                preview(&document.format)
            )));
        }
        if document.version == 0 || document.version > RECORD_VERSION {
            return Err(StoreError::Version {
                found: document.version,
                supported: RECORD_VERSION,
            });
        }
        self.adopt(document.state)
    }

    /// Starts a new user: profile, weights and impressions reset, the embedding cache kept
    /// (it holds item texts only). Used by the CLI between requests.
    pub fn reset_user(&mut self, prior: &Prior) {
        self.site_prior = prior.clone();
        self.profile = InterestProfile::new(self.profile.config);
        self.weights = OnlineWeights::new(prior);
        self.impressions.clear();
        self.deferred.clear();
        self.deferred_interests.clear();
        self.interest_gate = None;
    }

    /// Forgets everything about the user: profile, adapted weights (back to the site's
    /// current prior), cached embeddings, impressions.
    pub fn forget(&mut self) {
        self.profile = InterestProfile::new(self.profile.config);
        self.weights = OnlineWeights::new(&self.site_prior);
        self.cache.clear();
        self.impressions.clear();
        self.deferred.clear();
        self.deferred_interests.clear();
        self.interest_gate = None;
    }
}

/// A decoded state must be one this build could have written: bounded sizes, 384-d vectors,
/// finite weights.
fn check_state(state: &SavedState) -> Result<(), StoreError> {
    let p = &state.profile;
    let c = &p.config;
    let bad = |what: &str| Err(StoreError::Corrupt(format!("state out of bounds: {what}")));
    if c.recent_len > 10_000
        || c.centroids > 64
        || c.max_interests > 1024
        || c.max_categories > 10_000
        || c.max_dismissed > 100_000
    {
        return bad("config");
    }
    let vectors = [&p.short_term, &p.long_term_sum, &p.negative];
    if vectors.iter().any(|v| v.len() != EMBEDDING_DIM)
        || p.recent.iter().any(|e| e.embedding.len() != EMBEDDING_DIM)
        || p.centroids.iter().any(|k| k.mean.len() != EMBEDDING_DIM)
        || p.interests
            .iter()
            .any(|i| i.embedding.len() != EMBEDDING_DIM)
    {
        return bad("vector width");
    }
    if p.recent.len() > c.recent_len
        || p.centroids.len() > c.centroids
        || p.interests.len() > c.max_interests
        || p.categories.len() > c.max_categories
        || p.dismissed.len() > c.max_dismissed
        || p.consumed.len() > c.max_dismissed
    {
        return bad("lengths");
    }
    if !p.long_term_mass.is_finite() || !p.negative_mass.is_finite() {
        return bad("masses");
    }
    if p.exposures.len() > crate::profile::interest::MAX_EXPOSED {
        return bad("exposures");
    }
    if !state.impressions.is_well_formed() {
        return bad("a saved impression");
    }
    if state.interest_gate.as_ref().is_some_and(|g| {
        g.gate.is_empty() || g.gate.len() > crate::limits::MAX_MODEL_HIDDEN || g.model.len() > 64
    }) {
        return bad("the interest model's gate");
    }
    if state.deferred.len() > MAX_DEFERRED_EVENTS
        || state.deferred.iter().any(|e| {
            e.at < 0
                || e.item.id.is_empty()
                || e.item.id.len() > MAX_ID_BYTES
                || e.item.text.len() > MAX_TEXT_BYTES
                || e.value.is_some_and(|v| !v.is_finite())
        })
    {
        return bad("the events waiting for the encoder");
    }
    if state.deferred_interests.len() > c.max_interests
        || state.deferred_interests.iter().any(|i| {
            i.text.trim().is_empty()
                || i.text.len() > MAX_TEXT_BYTES
                || !(0.0..=10.0).contains(&i.weight)
        })
    {
        return bad("the interests waiting for the encoder");
    }
    if p.recent
        .iter()
        .any(|e| e.text.len() > MAX_TEXT_BYTES || e.value.is_some_and(|v| !v.is_finite()))
    {
        return bad("a history entry's text or value");
    }
    let w = &state.weights;
    if w.current
        .values()
        .chain(w.prior.values())
        .any(|x| !x.is_finite())
    {
        return bad("weights");
    }
    // Information is only ever added for a weight the same step wrote.
    if w.information.keys().any(|n| !w.current.contains_key(n))
        || w.information.values().any(|x| !x.is_finite() || *x < 0.0)
    {
        return bad("the weights' information");
    }
    Ok(())
}

/// An event checked against the clock, with the text every recorded event needs.
fn validated(event: Event, now_ms: i64) -> Result<Event, InputError> {
    let event = event.validate(now_ms)?;
    if event.item.text.trim().is_empty() {
        return Err(InputError::new(
            InputErrorKind::InvalidEvent,
            "item.text must not be empty",
        ));
    }
    Ok(event)
}

/// A search's text is a query; every other event's is the item's text, a passage.
fn event_role(kind: EventKind) -> TextRole {
    if kind == EventKind::Search {
        TextRole::Query
    } else {
        TextRole::Passage
    }
}

fn preview(text: &str) -> String {
    text.chars().take(40).collect()
}
