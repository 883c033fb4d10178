//! A reason a person can read for each ranked item, from its largest positive contribution.

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
const MIN_CONTRIBUTION: f32 = 0.05;

/// The explanation of `candidate`'s place: `contributions` and `z` are its row of the feature
/// matrix (columns `names`), `evidence` where its content features came from.
pub fn explain(
    profile: &InterestProfile,
    candidate: &Candidate,
    names: &[String],
    contributions: &[f32],
    z: &[f32],
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
    // The strongest "more like this" contribution (positive weight, above-average feature)
    // wins; then "less like that" ones (negative weight, below-average feature); the server's
    // score is the fallback.
    let strongest = |positive_weight: bool| {
        names
            .iter()
            .zip(contributions)
            .zip(z)
            .filter(|((n, c), zj)| {
                n.as_str() != "server"
                    && **c > MIN_CONTRIBUTION
                    && ((**zj > 0.0) == positive_weight)
            })
            .max_by(|a, b| a.0 .1.total_cmp(b.0 .1))
            .map(|((n, _), _)| n.as_str())
    };
    if let Some(name) = strongest(false).filter(|_| strongest(true).is_none()) {
        let reason = match name {
            "long_term" => "a change from your usual picks",
            "negative" => "unlike what you dismissed",
            _ => "recommended by the site",
        };
        return Explanation {
            reason: reason.into(),
            feature: name.into(),
            source: None,
        };
    }
    let (reason, feature, source) = match strongest(true) {
        Some("sequence") => match evidence.sequence_source.and_then(history) {
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
        },
        Some("nn_recent") => match evidence
            .nearest
            .and_then(|(i, _)| profile.recent.get(i).map(|e| (e.kind, history(i))))
        {
            Some((kind, Some(s))) => (
                format!("similar to {} you {}", s.title, kind.verb()),
                "nn_recent",
                Some(s),
            ),
            _ => (
                "similar to something you looked at".into(),
                "nn_recent",
                None,
            ),
        },
        Some("stated") => match evidence
            .interest
            .and_then(|(id, _)| profile.interests.iter().find(|i| i.id == id))
        {
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
        Some("short_term") => (
            "close to what you have been looking at lately".into(),
            "short_term",
            evidence.nearest.and_then(|(i, _)| history(i)),
        ),
        Some("session") => (
            "like what you are looking at right now".into(),
            "session",
            None,
        ),
        Some("centroid") => (
            "fits one of your long-running interests".into(),
            "centroid",
            None,
        ),
        Some("category") => match category {
            Some(c) => (format!("you often choose {c}"), "category", None),
            None => ("in a category you like".into(), "category", None),
        },
        Some("long_term") => ("fits your overall taste".into(), "long_term", None),
        Some(name) if name.starts_with("site:") => (
            format!("ranked up by the site's {}", &name[5..]),
            "site",
            None,
        ),
        _ => ("recommended by the site".into(), "server", None),
    };
    Explanation {
        reason,
        feature: feature.into(),
        source,
    }
}
