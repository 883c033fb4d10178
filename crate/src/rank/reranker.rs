//! `rerank`: features, a weighted score, optional Thompson exploration and MMR diversity
//! within the shown window, and an explanation per item.

use std::sync::Arc;

use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use serde::Serialize;

use super::candidate::Candidate;
use super::explain::{explain, Explanation, MIN_CONTRIBUTION};
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
    /// With exploration: the probability that the policy puts this item in the shown top k (10
    /// when `k` is not set), estimated from `PROPENSITY_DRAWS` draws of the weights (for a
    /// site's offline policy evaluation). Absent without exploration, where the top k is shown
    /// for certain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub propensity: Option<f32>,
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

/// Weight draws behind each propensity: its standard error is at most 0.5 / sqrt(256) = 0.03.
pub const PROPENSITY_DRAWS: usize = 256;

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
    rerank_with_signal(profile, candidates, embeddings, weights, options, None)
}

/// A score per candidate from outside the blend (the learned interest model), added to the
/// blend's with weight 1 and reported as one more contribution named `name`. The online weights
/// do not see it: it adapts by its own rule.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtraSignal<'a> {
    pub name: &'a str,
    pub scores: &'a [f32],
    /// Per candidate, the reason the signal gives (or empty: none): an item's explanation
    /// when the signal's contribution is its largest.
    pub reasons: &'a [Option<Explanation>],
}

/// `rerank` with an extra signal's scores added (`None`: the same as `rerank`).
pub fn rerank_with_signal(
    profile: &InterestProfile,
    candidates: &[Candidate],
    embeddings: &[&[f32]],
    weights: &OnlineWeights,
    options: &RerankOptions,
    extra: Option<&ExtraSignal>,
) -> Result<Ranking, InputError> {
    if extra.is_some_and(|e| e.scores.len() != candidates.len()) {
        return Err(InputError::new(
            InputErrorKind::InvalidCandidate,
            "one extra score per candidate",
        ));
    }
    let extra_at = |i: usize| {
        extra
            .map(|e| e.scores[i])
            .filter(|x| x.is_finite())
            .unwrap_or(0.0)
    };
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
    let mean = weights.vector(&features.names);
    let shown = options.k.unwrap_or(10).min(candidates.len());
    let (w, propensity) = match options.explore {
        None => (mean, None),
        Some(explore) => {
            let sd = weights.posterior_sd(&features.names, explore.scale);
            let mut rng = StdRng::seed_from_u64(explore.seed);
            let mut draw = || -> Vec<f32> {
                mean.iter()
                    .zip(&sd)
                    .map(|(m, s)| {
                        let e: f32 = StandardNormal.sample(&mut rng);
                        m + s * e
                    })
                    .collect()
            };
            let w = draw();
            // The policy's chance of showing each item: how often a draw puts it in the top k
            // (the ranking's own draw is one of them).
            let mut counts = vec![0u32; candidates.len()];
            let mut count_top = |w: &[f32]| {
                let scores: Vec<f32> = features
                    .z
                    .iter()
                    .enumerate()
                    .map(|(i, row)| dot(w, row) + extra_at(i))
                    .collect();
                for i in shown_items(&scores, embeddings, shown, options.diversity) {
                    counts[i] += 1;
                }
            };
            count_top(&w);
            for _ in 1..PROPENSITY_DRAWS {
                count_top(&draw());
            }
            let propensity = counts
                .iter()
                .map(|&c| c as f32 / PROPENSITY_DRAWS as f32)
                .collect::<Vec<f32>>();
            (w, Some(propensity))
        }
    };
    let scores: Vec<f32> = features
        .z
        .iter()
        .enumerate()
        .map(|(i, row)| dot(&w, row) + extra_at(i))
        .collect();
    // By score, ties by server order (input order): stable sort.
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    if options.diversity > 0.0 {
        mmr(
            &mut order,
            &scores,
            embeddings,
            shown.min(MMR_MAX_WINDOW),
            options.diversity,
        );
    }
    let mut all_names = features.names.clone();
    if let Some(e) = extra {
        all_names.push(e.name.to_string());
    }
    let names: Arc<[String]> = all_names.into();
    let items = order
        .iter()
        .map(|&i| {
            let mut contributions: Vec<f32> = w
                .iter()
                .zip(&features.z[i])
                .map(|(wj, zj)| wj * zj)
                .collect();
            let mut explanation = explain(
                profile,
                &candidates[i],
                &features.names,
                &contributions,
                &features.z[i],
                &features.raw[i],
                &features.evidence[i],
            );
            if let Some(e) = extra {
                let own = extra_at(i);
                let strongest = contributions.iter().copied().fold(0.0f32, f32::max);
                // A dismissed or owned item keeps saying so; otherwise the signal's reason when
                // it moved the item most.
                let settled = matches!(explanation.feature.as_str(), "dismissed" | "consumed");
                if let Some(Some(reason)) = e.reasons.get(i) {
                    if !settled && own > MIN_CONTRIBUTION && own > strongest {
                        explanation = reason.clone();
                    }
                }
                contributions.push(own);
            }
            RankedItem {
                id: candidates[i].id.clone(),
                score: scores[i],
                contributions: Contributions {
                    names: Arc::clone(&names),
                    values: contributions,
                },
                explanation,
                propensity: propensity.as_ref().map(|p| p[i]),
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

/// The items a ranking by `scores` (then MMR at `diversity`) shows in its first `shown` slots,
/// without sorting the whole list: the head is selected first (ties by input order, as in the
/// full sort).
fn shown_items(scores: &[f32], embeddings: &[&[f32]], shown: usize, diversity: f32) -> Vec<usize> {
    let window = shown.min(MMR_MAX_WINDOW);
    let head = if diversity > 0.0 {
        (window * MMR_POOL_PER_SLOT).max(shown)
    } else {
        shown
    }
    .min(scores.len());
    let better = |a: &usize, b: &usize| scores[*b].total_cmp(&scores[*a]).then(a.cmp(b));
    let mut order: Vec<usize> = (0..scores.len()).collect();
    if head < order.len() {
        order.select_nth_unstable_by(head, better);
        order.truncate(head);
    }
    order.sort_by(better);
    if diversity > 0.0 {
        mmr(&mut order, scores, embeddings, window, diversity);
    }
    order.truncate(shown);
    order
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
