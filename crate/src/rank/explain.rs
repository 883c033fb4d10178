//! A reason a person can read for each ranked item, from its largest positive contribution.

use crate::similarity::SimilarityScale;
use serde::{Deserialize, Serialize};

use super::candidate::Candidate;
use super::features::Evidence;
use crate::profile::InterestProfile;

/// What an explanation points at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    /// "history" or "interest".
    pub kind: String,
    pub id: String,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// The sentence shown to the user.
    pub reason: String,
    /// The feature behind it.
    pub feature: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
}

/// Contributions below this are too small to be "the reason".
pub(crate) const MIN_CONTRIBUTION: f32 = 0.05;

/// The lowest similarity at which a claim made for every pair at or above it is true at least
/// `precision` of the time. `pairs` are (similarity, whether the claim is true); `None` when no
/// threshold reaches that precision.
pub fn calibrate_threshold(pairs: &[(f32, bool)], precision: f32) -> Option<f32> {
    let mut sorted: Vec<(f32, bool)> = pairs.iter().filter(|p| p.0.is_finite()).copied().collect();
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut hits = 0usize;
    let mut threshold = None;
    for (i, (sim, truth)) in sorted.iter().enumerate() {
        hits += usize::from(*truth);
        let last_of_tie = sorted.get(i + 1).is_none_or(|next| next.0 < *sim);
        if last_of_tie && hits as f32 >= precision * (i + 1) as f32 {
            threshold = Some(*sim);
        }
    }
    threshold
}

/// A "matches your interest" or "similar to" claim is calibrated to be true at least this often.
pub const CLAIM_PRECISION: f32 = 0.6;
/// all-MiniLM-L6-v2's cosine from which an item "matches your interest": `calibrate_threshold`
/// at `CLAIM_PRECISION` over 50 interests the project wrote (tests/fixtures/stated-interests.json)
/// against the 180 demo items of their kind, true when the item is in the interest's category
/// (0.310, where 41% of the true pairs are claimed; 0.28 would be right half the time). Each
/// model has its own (`SimilarityScale`, in the profile's config).
pub const STATED_MATCH_MIN: f32 = SimilarityScale::MINILM.stated_match;
/// all-MiniLM-L6-v2's cosine from which an item is "similar to" something the user took, or
/// "close to" their recent or overall taste: `calibrate_threshold` at `CLAIM_PRECISION` over
/// pairs of demo items of one kind (the first of each pair at an even index; the odd ones check
/// it), true when both are in one category (0.481). Below it, cosine still ranks (the features
/// count) but a person would not call the two alike.
pub const SIMILAR_MIN: f32 = SimilarityScale::MINILM.similar;

/// An event the interest model attends to is named in its reason when its weight is at least
/// this many times an even share (1 / events): below twice even, the model was not looking at
/// anything in particular.
const NAMED_ATTENTION: f32 = 2.0;

/// The learned interest model's reason for a candidate, from its `attention` over the
/// profile's recent items (`(index into recent, weight)`, heaviest first): "because you
/// recently looked at X and Y", naming at most two events it looked at clearly more than at
/// the rest; `None` when it looked at none.
pub fn model_explanation(
    profile: &InterestProfile,
    attention: &[(usize, f32)],
) -> Option<Explanation> {
    let even = 1.0 / attention.len().max(1) as f32;
    let named: Vec<&crate::profile::HistoryEntry> = attention
        .iter()
        .take(2)
        .filter(|(_, w)| *w >= NAMED_ATTENTION * even)
        .filter_map(|(i, _)| profile.recent.get(*i))
        .collect();
    let first = named.first()?;
    let reason = match named.get(1) {
        None => format!("because you recently {} {}", first.kind.verb(), first.title),
        Some(second) if second.kind.verb() == first.kind.verb() => format!(
            "because you recently {} {} and {}",
            first.kind.verb(),
            first.title,
            second.title
        ),
        Some(second) => format!(
            "because you recently {} {} and {} {}",
            first.kind.verb(),
            first.title,
            second.kind.verb(),
            second.title
        ),
    };
    Some(Explanation {
        reason,
        feature: crate::recommender::INTEREST_MODEL_FEATURE.into(),
        source: Some(Source {
            kind: "history".into(),
            id: first.id.clone(),
            title: first.title.clone(),
        }),
    })
}

/// The explanation of `candidate`'s place: `contributions`, `z` and `raw` are its row of the
/// feature matrix (columns `names`), `evidence` where its content features came from. The
/// strongest contribution whose claim is true in absolute terms gives the reason: within a list
/// every z-score above 0 is "above average", which says nothing of whether two things are alike.
pub fn explain(
    profile: &InterestProfile,
    candidate: &Candidate,
    names: &[String],
    contributions: &[f32],
    z: &[f32],
    raw: &[f32],
    evidence: &Evidence,
) -> Explanation {
    let category = candidate.category.as_deref();
    let dismissed = profile.dismissed.contains(&candidate.id);
    let consumed = profile.consumed.contains(&candidate.id);
    let history = |i: usize| {
        profile.recent.get(i).map(|e| Source {
            kind: "history".into(),
            id: e.id.clone(),
            title: e.title.clone(),
        })
    };
    if dismissed {
        return Explanation {
            reason: "you dismissed this before".into(),
            feature: "dismissed".into(),
            source: None,
        };
    }
    if consumed {
        return Explanation {
            reason: "you already have this".into(),
            feature: "consumed".into(),
            source: None,
        };
    }
    // "More like this" contributions (positive weight, above-average feature), strongest first,
    // the first whose claim holds; then the strongest "less like that" one (negative weight,
    // below-average feature); the server's score is the fallback.
    let mut more: Vec<(usize, f32)> = Vec::new();
    let mut less: Option<(usize, f32)> = None;
    for (j, (n, c)) in names.iter().zip(contributions).enumerate() {
        if n.as_str() == "server" || *c <= MIN_CONTRIBUTION {
            continue;
        }
        if z[j] > 0.0 {
            more.push((j, *c));
        } else if less.is_none_or(|(_, b)| *c > b) {
            less = Some((j, *c));
        }
    }
    more.sort_by(|a, b| b.1.total_cmp(&a.1));
    let scale = profile.config.similarity;
    let similar_min = scale.similar_for(&candidate.text);
    let similar = |x: f32| x >= similar_min;
    for (j, _) in &more {
        let name = names[*j].as_str();
        let claim = match name {
            "sequence" => Some(match evidence.sequence_source.and_then(history) {
                Some(s) => (
                    format!("popular with people who chose {}", s.title),
                    "sequence",
                    Some(s),
                ),
                None => (
                    "often chosen next by people like you".into(),
                    "sequence",
                    None,
                ),
            }),
            "nn_recent" => evidence
                .nearest
                .filter(|(_, sim)| similar(*sim))
                .and_then(|(i, _)| profile.recent.get(i).map(|e| (e.kind, history(i))))
                .map(|(kind, s)| match s {
                    Some(s) => (
                        format!("similar to {} you {}", s.title, kind.verb()),
                        "nn_recent",
                        Some(s),
                    ),
                    None => (
                        "similar to something you looked at".into(),
                        "nn_recent",
                        None,
                    ),
                }),
            "stated" => evidence
                .interest
                .filter(|(id, cos)| {
                    let text = profile.interests.iter().find(|i| i.id == *id);
                    *cos >= scale.stated_for(text.map_or("", |i| i.text.as_str()))
                })
                .map(
                    |(id, _)| match profile.interests.iter().find(|i| i.id == id) {
                        Some(i) => (
                            format!("matches your interest \"{}\"", i.text),
                            "stated",
                            Some(Source {
                                kind: "interest".into(),
                                id: i.id.to_string(),
                                title: i.text.clone(),
                            }),
                        ),
                        None => ("matches an interest you stated".into(), "stated", None),
                    },
                ),
            "short_term" => similar(raw[*j]).then(|| {
                (
                    "close to what you have been looking at lately".into(),
                    "short_term",
                    evidence.nearest.and_then(|(i, _)| history(i)),
                )
            }),
            "session" => similar(raw[*j]).then(|| {
                (
                    "like what you are looking at right now".into(),
                    "session",
                    None,
                )
            }),
            "centroid" => evidence
                .best_interest
                .filter(|(_, cos)| similar(*cos))
                .and_then(|(i, _)| profile.centroids.get(i))
                .map(|c| {
                    (
                        format!("fits your interest in things like {}", c.label),
                        "centroid",
                        (!c.label_id.is_empty()).then(|| Source {
                            kind: "history".into(),
                            id: c.label_id.clone(),
                            title: c.label.clone(),
                        }),
                    )
                }),
            "long_term" => {
                similar(raw[*j]).then(|| ("fits your overall taste".into(), "long_term", None))
            }
            "category" => Some(match category {
                Some(c) => (format!("you often choose {c}"), "category", None),
                None => ("in a category you like".into(), "category", None),
            }),
            site if site.starts_with("site:") => Some((
                format!("ranked up by the site's {}", &site[5..]),
                "site",
                None,
            )),
            _ => None,
        };
        if let Some((reason, feature, source)) = claim {
            return Explanation {
                reason,
                feature: feature.into(),
                source,
            };
        }
    }
    if let Some((j, _)) = less {
        let reason = match names[j].as_str() {
            "long_term" => "a change from your usual picks",
            "negative" => "unlike what you dismissed",
            _ => "recommended by the site",
        };
        return Explanation {
            reason: reason.into(),
            feature: names[j].clone(),
            source: None,
        };
    }
    Explanation {
        reason: "recommended by the site".into(),
        feature: "server".into(),
        source: None,
    }
}

#[cfg(test)]
mod tests {
    use super::calibrate_threshold;

    #[test]
    fn the_threshold_is_the_lowest_with_enough_true_claims_above_it() {
        let pairs = [
            (0.9, true),
            (0.8, true),
            (0.7, false),
            (0.6, true),
            (0.5, false),
            (0.4, false),
            (f32::NAN, true),
        ];
        assert_eq!(calibrate_threshold(&pairs, 0.6), Some(0.5));
        assert_eq!(calibrate_threshold(&pairs, 0.9), Some(0.8));
        assert_eq!(calibrate_threshold(&pairs, 1.01), None);
        // Tied similarities are claimed together or not at all.
        assert_eq!(calibrate_threshold(&[(0.5, true), (0.5, false)], 0.6), None);
    }
}
