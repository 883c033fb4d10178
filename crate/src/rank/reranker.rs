//! `rerank`: features, a weighted score, optional Thompson exploration and MMR diversity
//! within the shown window, and an explanation per item.

use std::sync::Arc;

use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use serde::Serialize;

use super::candidate::Candidate;
use super::explain::{explain, Explanation};
use super::features::{compute, FeatureMatrix};
use super::options::RerankOptions;
use super::weights::OnlineWeights;
use crate::error::{InputError, InputErrorKind};
use crate::profile::InterestProfile;
use crate::vector::dot;

/// One ranked candidate as both edges return it: `{ id, score, contributions, explanation,
/// notes? }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankedItem {
    pub id: String,
    pub score: f32,
    pub contributions: Contributions,
    pub explanation: Explanation,
    /// What the ranking could not use as sent (an ignored server embedding), in words.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<&'static str>,
}

/// Weight x standardised feature, per feature in column order; serialised as an object from
/// feature name to value. The names are shared by every item of a ranking, so 10,000 items
/// cost their values only.
#[derive(Debug, Clone, PartialEq)]
pub struct Contributions {
    names: Arc<[String]>,
    values: Vec<f32>,
}

impl Contributions {
    pub fn iter(&self) -> impl Iterator<Item = (&str, f32)> {
        self.names
            .iter()
            .map(String::as_str)
            .zip(self.values.iter().copied())
    }

    pub fn get(&self, name: &str) -> Option<f32> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }
}

impl Serialize for Contributions {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.values.len()))?;
        for (name, value) in self.iter() {
            map.serialize_entry(name, &value)?;
        }
        map.end()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ranking {
    /// Every candidate, best first.
    pub items: Vec<RankedItem>,
    /// Index into the input list of each ranked item.
    pub order: Vec<usize>,
    pub features: FeatureMatrix,
}

/// MMR looks at this many candidates per shown slot at most (bounds its cost on huge lists).
const MMR_POOL_PER_SLOT: usize = 4;
const MMR_MAX_WINDOW: usize = 200;

pub fn rerank(
    profile: &InterestProfile,
    candidates: &[Candidate],
    embeddings: &[&[f32]],
    weights: &OnlineWeights,
    options: &RerankOptions,
) -> Result<Ranking, InputError> {
    if candidates.len() != embeddings.len() {
        return Err(InputError::new(
            InputErrorKind::InvalidCandidate,
            "one embedding per candidate",
        ));
    }
    if candidates.is_empty() {
        return Err(InputError::new(
            InputErrorKind::EmptyCandidates,
            "the candidate list is empty",
        ));
    }
    options.validate()?;
    let features = compute(profile, candidates, embeddings);
    let mut w = weights.vector(&features.names);
    if let Some(explore) = options.explore {
        let sd = explore.scale / (1.0 + weights.steps as f32).sqrt();
        let mut rng = StdRng::seed_from_u64(explore.seed);
        for wj in &mut w {
            if let Ok(normal) = Normal::new(*wj, sd) {
                *wj = normal.sample(&mut rng);
            }
        }
    }
    let scores: Vec<f32> = features.z.iter().map(|row| dot(&w, row)).collect();
    // By score, ties by server order (input order): stable sort.
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    if options.diversity > 0.0 {
        let shown = options.k.unwrap_or(10).min(MMR_MAX_WINDOW).min(order.len());
        mmr(&mut order, &scores, embeddings, shown, options.diversity);
    }
    let names: Arc<[String]> = features.names.clone().into();
    let items = order
        .iter()
        .map(|&i| {
            let contributions: Vec<f32> = w
                .iter()
                .zip(&features.z[i])
                .map(|(wj, zj)| wj * zj)
                .collect();
            let explanation = explain(
                profile,
                &candidates[i],
                &features.names,
                &contributions,
                &features.z[i],
                &features.raw[i],
                &features.evidence[i],
            );
            RankedItem {
                id: candidates[i].id.clone(),
                score: scores[i],
                contributions: Contributions {
                    names: Arc::clone(&names),
                    values: contributions,
                },
                explanation,
                notes: Vec::new(),
            }
        })
        .collect();
    Ok(Ranking {
        items,
        order,
        features,
    })
}

/// Maximal marginal relevance over the head of `order`: fills the first `shown` slots from a
/// pool of the best `shown * MMR_POOL_PER_SLOT`, trading score for distance to what is picked.
fn mmr(order: &mut [usize], scores: &[f32], embeddings: &[&[f32]], shown: usize, lambda: f32) {
    let pool_len = (shown * MMR_POOL_PER_SLOT).min(order.len());
    let pool: Vec<usize> = order[..pool_len].to_vec();
    let (lo, hi) = pool
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &i| {
            (lo.min(scores[i]), hi.max(scores[i]))
        });
    let span = (hi - lo).max(1e-6);
    let mut picked: Vec<usize> = Vec::with_capacity(shown);
    let mut left = pool.clone();
    let mut max_sim = vec![f32::NEG_INFINITY; order.len().max(scores.len())];
    while picked.len() < shown && !left.is_empty() {
        let (best_pos, _) = left
            .iter()
            .enumerate()
            .map(|(pos, &i)| {
                let relevance = (scores[i] - lo) / span;
                let redundancy = if picked.is_empty() {
                    0.0
                } else {
                    max_sim[i].max(0.0)
                };
                (pos, (1.0 - lambda) * relevance - lambda * redundancy)
            })
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
            .expect("left is not empty");
        let chosen = left.remove(best_pos);
        for &i in &left {
            let s = dot(embeddings[i], embeddings[chosen]);
            if s > max_sim[i] {
                max_sim[i] = s;
            }
        }
        picked.push(chosen);
    }
    // Picked first, then the rest of the pool and the tail in score order.
    let mut rest: Vec<usize> = left;
    rest.extend_from_slice(&order[pool_len..]);
    for (slot, i) in picked.into_iter().chain(rest).enumerate() {
        order[slot] = i;
    }
}
