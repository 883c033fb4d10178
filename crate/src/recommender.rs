//! `Recommender`: the profile, the online weights, the embedding cache and the recent
//! impressions of one user, behind one type that both edges (CLI, wasm) drive.
//!
//! Encoding is the caller's job, so the core stays synchronous and knows nothing of devices:
//! ask `missing_texts`, encode them (awaiting the GPU in a browser), `put_embeddings`, then
//! `record` / `rerank`.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::cache::EmbeddingCache;
use crate::encoder::Embeddings;
use crate::error::{InputError, StoreError};
use crate::profile::{Event, InterestProfile, ProfileConfig};
use crate::rank::candidate::validate_candidates;
use crate::rank::{rerank, Candidate, OnlineWeights, Prior, Ranking, RerankOptions, Weights};
use crate::store::{decode_record, encode_record, RecordKind};

/// Impressions kept for feedback; older ones can no longer be answered.
pub const MAX_IMPRESSIONS: usize = 32;
/// Items per impression kept for feedback (the shown head of the list).
const IMPRESSION_ITEMS: usize = 100;

#[derive(Debug, Clone)]
struct Impression {
    id: String,
    ids: Vec<String>,
    names: Vec<String>,
    z: Vec<Vec<f32>>,
}

/// What `rerank` returns: the ranking and the impression id to send feedback against.
#[derive(Debug, Clone)]
pub struct Reranked {
    pub impression_id: String,
    pub ranking: Ranking,
}

/// What is persisted: profile and weights together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedState {
    pub profile: InterestProfile,
    pub weights: OnlineWeights,
}

#[derive(Debug, Clone)]
pub struct Recommender {
    profile: InterestProfile,
    weights: OnlineWeights,
    cache: EmbeddingCache,
    impressions: VecDeque<Impression>,
    next_impression: u64,
    /// sha256 of the loaded model file: server-side embeddings must carry the same.
    model: String,
}

impl Recommender {
    pub fn new(prior: &Prior, model: impl Into<String>) -> Self {
        Self {
            profile: InterestProfile::new(ProfileConfig::default()),
            weights: OnlineWeights::new(prior),
            // Room for a full list of MAX_CANDIDATES plus the history (~18 MB of f32 at most).
            cache: EmbeddingCache::new(12_288),
            impressions: VecDeque::new(),
            next_impression: 1,
            model: model.into(),
        }
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

    // ---- embeddings -------------------------------------------------------------------

    /// Texts among `texts` not yet in the cache, each once, in first-seen order.
    pub fn missing_texts<'a>(&self, texts: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for t in texts {
            if !self.cache.contains(t) && !out.iter().any(|o| o == t) {
                out.push(t.to_string());
            }
        }
        out
    }

    /// Texts an event list needs encoded.
    pub fn texts_for_events<'a>(&self, events: &'a [Event]) -> Vec<String> {
        self.missing_texts(events.iter().map(|e| e.item.text.as_str()))
    }

    /// Texts a candidate list needs encoded (those without a usable server embedding).
    pub fn texts_for_candidates(&self, candidates: &[Candidate]) -> Vec<String> {
        self.missing_texts(
            candidates
                .iter()
                .filter(|c| c.usable_embedding(&self.model).is_none())
                .map(|c| c.text.as_str()),
        )
    }

    pub fn put_embeddings(
        &mut self,
        texts: &[String],
        embeddings: &Embeddings,
    ) -> Result<(), InputError> {
        if texts.len() != embeddings.len() {
            return Err(InputError::new(
                "invalid_embedding",
                "one embedding per text",
            ));
        }
        for (t, row) in texts.iter().zip(embeddings.rows()) {
            self.cache.insert(t, row.to_vec());
        }
        Ok(())
    }

    /// The cached embedding of a text, if any.
    pub fn cached_embedding(&self, text: &str) -> Option<&[f32]> {
        self.cache.peek(text)
    }

    fn cached(&self, text: &str) -> Result<Vec<f32>, InputError> {
        self.cache.peek(text).map(<[f32]>::to_vec).ok_or_else(|| {
            InputError::new(
                "missing_embedding",
                format!("no embedding for text {:?}", preview(text)),
            )
        })
    }

    // ---- profile ----------------------------------------------------------------------

    /// Validates and folds one event in. Its text must be in the cache.
    pub fn record(&mut self, event: Event) -> Result<(), InputError> {
        let event = event.validate()?;
        if event.item.text.trim().is_empty() {
            return Err(InputError::new(
                "invalid_event",
                "item.text must not be empty",
            ));
        }
        let embedding = self.cached(&event.item.text)?;
        self.profile.observe(&event, &embedding)
    }

    /// Adds a stated interest; `text` must be in the cache. Returns its id.
    pub fn state_interest(&mut self, text: &str, weight: f32) -> Result<u64, InputError> {
        let embedding = self.cached(text.trim())?;
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
        let candidates = validate_candidates(candidates)?;
        let vectors = self.candidate_vectors(&candidates)?;
        let refs: Vec<&[f32]> = vectors.iter().map(Vec::as_slice).collect();
        let ranking = rerank(&self.profile, &candidates, &refs, &self.weights, options)?;
        let id = format!("imp-{}", self.next_impression);
        self.next_impression += 1;
        let head = options.k.unwrap_or(IMPRESSION_ITEMS).min(IMPRESSION_ITEMS);
        let kept: Vec<usize> = ranking.order.iter().take(head).copied().collect();
        self.impressions.push_back(Impression {
            id: id.clone(),
            ids: kept.iter().map(|&i| candidates[i].id.clone()).collect(),
            names: ranking.features.names.clone(),
            z: kept
                .iter()
                .map(|&i| ranking.features.z[i].clone())
                .collect(),
        });
        while self.impressions.len() > MAX_IMPRESSIONS {
            self.impressions.pop_front();
        }
        Ok(Reranked {
            impression_id: id,
            ranking,
        })
    }

    fn candidate_vectors(&self, candidates: &[Candidate]) -> Result<Vec<Vec<f32>>, InputError> {
        candidates
            .iter()
            .map(|c| match c.usable_embedding(&self.model) {
                Some(v) => Ok(v.to_vec()),
                None if c.text.trim().is_empty() => Err(InputError::new(
                    "invalid_candidate",
                    format!("candidate '{}' has no text and no usable embedding", c.id),
                )),
                None => self.cached(&c.text),
            })
            .collect()
    }

    /// The user chose `chosen` among the items shown for `impression_id`: one online step.
    pub fn feedback(
        &mut self,
        impression_id: &str,
        chosen: &[String],
    ) -> Result<Weights, InputError> {
        let imp = self
            .impressions
            .iter()
            .find(|i| i.id == impression_id)
            .ok_or_else(|| InputError::new("unknown_impression", format!("no impression '{impression_id}' (only the last {MAX_IMPRESSIONS} are kept)")))?;
        let idx = chosen
            .iter()
            .map(|c| {
                imp.ids.iter().position(|i| i == c).ok_or_else(|| {
                    InputError::new(
                        "invalid_feedback",
                        format!("'{c}' was not shown in {impression_id}"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let z: Vec<&[f32]> = imp.z.iter().map(Vec::as_slice).collect();
        let names = imp.names.clone();
        self.weights.update(&names, &z, &idx)
    }

    /// Feedback on explicit lists (the CLI's replay): `shown` and `chosen` are ids in
    /// `candidates`, whose features are computed against the current profile.
    pub fn feedback_on(
        &mut self,
        candidates: &[Candidate],
        shown: &[String],
        chosen: &[String],
    ) -> Result<Weights, InputError> {
        let subset: Vec<Candidate> = shown
            .iter()
            .map(|id| {
                candidates
                    .iter()
                    .find(|c| &c.id == id)
                    .cloned()
                    .ok_or_else(|| {
                        InputError::new(
                            "invalid_feedback",
                            format!("shown id '{id}' is not a candidate"),
                        )
                    })
            })
            .collect::<Result<_, _>>()?;
        let subset = validate_candidates(subset)?;
        let vectors = self.candidate_vectors(&subset)?;
        let refs: Vec<&[f32]> = vectors.iter().map(Vec::as_slice).collect();
        let features = crate::rank::features::compute(&self.profile, &subset, &refs);
        let idx = chosen
            .iter()
            .map(|c| {
                shown.iter().position(|s| s == c).ok_or_else(|| {
                    InputError::new("invalid_feedback", format!("chosen '{c}' was not shown"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let z: Vec<&[f32]> = features.z.iter().map(Vec::as_slice).collect();
        self.weights.update(&features.names, &z, &idx)
    }

    /// The candidates' standardised features against the current profile, with the index of
    /// `target` (None when the target is not among them), for offline fitting.
    pub fn train_list(
        &self,
        candidates: Vec<Candidate>,
        target: &str,
    ) -> Result<Option<crate::rank::fit::TrainList>, InputError> {
        let candidates = validate_candidates(candidates)?;
        let Some(target) = candidates.iter().position(|c| c.id == target) else {
            return Ok(None);
        };
        let vectors = self.candidate_vectors(&candidates)?;
        let refs: Vec<&[f32]> = vectors.iter().map(Vec::as_slice).collect();
        let features = crate::rank::features::compute(&self.profile, &candidates, &refs);
        Ok(Some(crate::rank::fit::TrainList {
            names: features.names,
            z: features.z,
            target,
        }))
    }

    // ---- persistence ------------------------------------------------------------------

    pub fn saved_state(&self) -> SavedState {
        SavedState {
            profile: self.profile.clone(),
            weights: self.weights.clone(),
        }
    }

    /// Profile and weights as one versioned, checksummed record.
    pub fn to_bytes(&self) -> Vec<u8> {
        let payload = serde_json::to_vec(&self.saved_state()).expect("state serialises");
        encode_record(RecordKind::State, &payload)
    }

    /// Restores profile and weights from `to_bytes` output; the cache and impressions start empty.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        let (payload, _version) = decode_record(bytes, RecordKind::State)?;
        let state: SavedState = serde_json::from_slice(payload)
            .map_err(|e| StoreError::Corrupt(format!("state payload: {e}")))?;
        check_state(&state)?;
        // Impressions and the cache are this session's and stay valid: another tab may have
        // saved a newer state that we reload before each change.
        self.profile = state.profile;
        self.weights = state.weights;
        Ok(())
    }

    /// Starts a new user: profile, weights and impressions reset, the embedding cache kept
    /// (it holds item texts only). Used by the CLI between requests.
    pub fn reset_user(&mut self, prior: &Prior) {
        self.profile = InterestProfile::new(self.profile.config);
        self.weights = OnlineWeights::new(prior);
        self.impressions.clear();
    }

    /// Forgets everything about the user: profile, adapted weights (back to the prior),
    /// cached embeddings, impressions.
    pub fn forget(&mut self) {
        let prior = Prior {
            weights: self.weights.prior.clone(),
            online: self.weights.config,
            fitted: None,
        };
        self.profile = InterestProfile::new(self.profile.config);
        self.weights = OnlineWeights::new(&prior);
        self.cache.clear();
        self.impressions.clear();
    }
}

/// A decoded state must be one this build could have written: bounded sizes, 384-d vectors,
/// finite weights.
fn check_state(state: &SavedState) -> Result<(), StoreError> {
    use crate::encoder::EMBEDDING_DIM;
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
    let w = &state.weights;
    if w.current
        .values()
        .chain(w.prior.values())
        .any(|x| !x.is_finite())
    {
        return bad("weights");
    }
    Ok(())
}

fn preview(text: &str) -> String {
    text.chars().take(40).collect()
}
