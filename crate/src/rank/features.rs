//! Features of each candidate against the profile, standardised within the list.

use std::collections::{BTreeSet, HashMap};

use crate::profile::InterestProfile;
use crate::rank::candidate::Candidate;
use crate::vector::{dot, norm};

/// Built-in feature names, in column order. Site features follow as `site:<name>`.
pub const BUILTIN_FEATURES: [&str; 13] = [
    "server",     // the server's own score
    "short_term", // cosine to the position-decayed recent taste
    "long_term",  // cosine to the all-history mean
    "nn_recent",  // max cosine to any of the last items
    "centroid",   // best interest: max of cosine x the interest's strength now (0..1)
    "stated",     // max weighted cosine to a stated interest
    "negative",   // cosine to what the user dismissed or rated low
    "category",   // share of recent activity in the candidate's category
    "sequence",   // server's "often consumed right after" matched to the private history
    "dismissed",  // 1 if the user dismissed this very item
    "consumed",   // 1 if the user already bought (or read) this very item
    "exposed",    // ln(1 + times shown without being chosen, beyond the first FREE_EXPOSURES)
    "session",    // cosine to the current session's items (events by `at`, gaps <= 30 min)
];

/// Showings that say nothing yet: a page that renders twice shows the same items twice.
pub const FREE_EXPOSURES: u32 = 2;

/// Half-life, in recent items, of the sequence match: the last item counts most. On ml-100k
/// (protocol A, 128 `related`, click events) the validation NDCG@10 of the fitted blend,
/// averaged over the 5 folds, is 0.131 at 3 items, 0.128 at 1.5 and 0.127 at 10.
const SEQUENCE_HALF_LIFE: f32 = 3.0;

/// Where a candidate's content features came from, for explanations.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evidence {
    /// Index into `profile.recent` of the most similar recent item, and the similarity.
    pub nearest: Option<(usize, f32)>,
    /// Id of the best-matching stated interest, and the cosine.
    pub interest: Option<(u64, f32)>,
    /// Index into `profile.recent` of the history item that the `related` match hit hardest.
    pub sequence_source: Option<usize>,
    /// Index into `profile.centroids` of the interest the candidate scores by, and the cosine.
    pub best_interest: Option<(usize, f32)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FeatureMatrix {
    pub names: Vec<String>,
    /// Raw values, one row per candidate.
    pub raw: Vec<Vec<f32>>,
    /// Standardised within the list (mean 0, sd 1; constant columns are 0).
    pub z: Vec<Vec<f32>>,
    pub evidence: Vec<Evidence>,
}

/// Columns read from the candidate's embedding (the rest come from its id, category, score,
/// `related` and site features).
const TEXT_FEATURES: [&str; 7] = [
    "short_term",
    "long_term",
    "nn_recent",
    "centroid",
    "stated",
    "negative",
    "session",
];

/// Computes every candidate's features. `embeddings[i]` is candidate i's unit vector, or empty
/// for an item whose text is not encoded yet (the encoder is still loading): its text features
/// take the list's mean over the items that have one, neutral after standardisation, so it is
/// ranked by what exists (server score, category, `related`, site features) and claims no
/// similarity.
pub fn compute(
    profile: &InterestProfile,
    candidates: &[Candidate],
    embeddings: &[&[f32]],
) -> FeatureMatrix {
    let site_names: BTreeSet<&str> = candidates
        .iter()
        .flat_map(|c| c.features.keys().map(String::as_str))
        .collect();
    let mut names: Vec<String> = BUILTIN_FEATURES.iter().map(|s| s.to_string()).collect();
    names.extend(site_names.iter().map(|n| format!("site:{n}")));

    let short = unit_or_none(&profile.short_term);
    let session = unit_or_none(&profile.session());
    let long = unit_or_none(&profile.long_term());
    let negative = unit_or_none(&profile.negative);
    // Each interest's unit mean and weight now: a candidate scores by its best interest, and an
    // abandoned interest counts for less as it fades.
    let centroids: Vec<(usize, Vec<f32>, f32)> = profile
        .centroids
        .iter()
        .zip(profile.interest_weights())
        .enumerate()
        .filter_map(|(i, (k, w))| unit_or_none(&k.mean).map(|m| (i, m, w)))
        .collect();
    let window: Vec<(usize, &crate::profile::HistoryEntry)> = {
        let skip = profile
            .recent
            .len()
            .saturating_sub(profile.config.nn_window);
        profile.recent.iter().enumerate().skip(skip).collect()
    };
    // Most recent position of each recent id, for the sequence match.
    let newest = profile.recent.len();
    let mut recency: HashMap<&str, usize> = HashMap::new();
    for (i, e) in profile.recent.iter().enumerate() {
        recency.insert(e.id.as_str(), i);
    }
    let dismissed: std::collections::HashSet<&str> =
        profile.dismissed.iter().map(String::as_str).collect();
    let consumed: std::collections::HashSet<&str> =
        profile.consumed.iter().map(String::as_str).collect();
    let exposures: HashMap<&str, u32> = profile
        .exposures
        .iter()
        .map(|(id, n)| (id.as_str(), *n))
        .collect();
    let keep = 0.5f32.powf(1.0 / SEQUENCE_HALF_LIFE);

    let mut raw = Vec::with_capacity(candidates.len());
    let mut evidence = Vec::with_capacity(candidates.len());
    for (c, e) in candidates.iter().zip(embeddings) {
        let mut ev = Evidence::default();
        let nearest = window
            .iter()
            .map(|(i, h)| (*i, dot(&h.embedding, e)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        ev.nearest = nearest;
        let interest = profile
            .interests
            .iter()
            .map(|s| (s.id, dot(&s.embedding, e), s.weight))
            .max_by(|a, b| (a.1 * a.2).total_cmp(&(b.1 * b.2)));
        ev.interest = interest.map(|(id, cos, _)| (id, cos));
        let mut sequence = 0f32;
        let mut best_source: Option<(usize, f32)> = None;
        for r in &c.related {
            if let Some(&pos) = recency.get(r.id.as_str()) {
                let contribution = r.weight as f32 * keep.powi((newest - 1 - pos) as i32);
                sequence += contribution;
                if best_source.is_none_or(|(_, b)| contribution > b) {
                    best_source = Some((pos, contribution));
                }
            }
        }
        ev.sequence_source = best_source.map(|(i, _)| i);
        let best_interest = centroids
            .iter()
            .map(|(i, m, w)| (*i, dot(m, e), *w))
            .max_by(|a, b| (a.1 * a.2).total_cmp(&(b.1 * b.2)));
        ev.best_interest = best_interest.map(|(i, cos, _)| (i, cos));
        let mut row = vec![
            c.server_score as f32,
            short.as_ref().map_or(0.0, |s| dot(s.as_slice(), e)),
            long.as_ref().map_or(0.0, |l| dot(l.as_slice(), e)),
            nearest.map_or(0.0, |(_, s)| s),
            best_interest.map_or(0.0, |(_, cos, w)| cos * w),
            interest.map_or(0.0, |(_, cos, w)| cos * w),
            negative.as_ref().map_or(0.0, |n| dot(n.as_slice(), e)),
            c.category
                .as_deref()
                .map_or(0.0, |cat| profile.category_affinity(cat)),
            sequence,
            if dismissed.contains(c.id.as_str()) {
                1.0
            } else {
                0.0
            },
            if consumed.contains(c.id.as_str()) {
                1.0
            } else {
                0.0
            },
            exposures
                .get(c.id.as_str())
                .map_or(0.0, |&n| (n.saturating_sub(FREE_EXPOSURES) as f32).ln_1p()),
            session.as_ref().map_or(0.0, |s| dot(s.as_slice(), e)),
        ];
        row.extend(
            site_names
                .iter()
                .map(|n| c.features.get(*n).copied().unwrap_or(0.0) as f32),
        );
        // Inputs were validated finite; a non-finite product (overflow) must not poison scores.
        for x in &mut row {
            if !x.is_finite() {
                *x = 0.0;
            }
        }
        raw.push(row);
        evidence.push(ev);
    }
    let missing: Vec<bool> = embeddings.iter().map(|e| e.is_empty()).collect();
    if missing.iter().any(|&m| m) {
        impute_text_features(&mut raw, &mut evidence, &missing);
    }
    let mut z = standardise(&raw, names.len());
    // Exposure keeps its own scale: standardised, an item shown 3 times and one shown 30 times
    // look alike whenever the same few items are on every page, and nothing would ever sink.
    let exposed = BUILTIN_FEATURES.iter().position(|n| *n == "exposed");
    if let Some(j) = exposed {
        for (zi, ri) in z.iter_mut().zip(&raw) {
            zi[j] = ri[j];
        }
    }
    FeatureMatrix {
        names,
        raw,
        z,
        evidence,
    }
}

/// Sets the text features of the `missing` rows to the mean of the other rows (0 when none has
/// an embedding) and drops their content evidence.
fn impute_text_features(raw: &mut [Vec<f32>], evidence: &mut [Evidence], missing: &[bool]) {
    let present = missing.iter().filter(|&&m| !m).count();
    for name in TEXT_FEATURES {
        let j = BUILTIN_FEATURES
            .iter()
            .position(|n| *n == name)
            .expect("a built-in feature");
        let mean = if present == 0 {
            0.0
        } else {
            raw.iter()
                .zip(missing)
                .filter(|(_, &m)| !m)
                .map(|(row, _)| row[j] as f64)
                .sum::<f64>()
                / present as f64
        };
        for (row, _) in raw.iter_mut().zip(missing).filter(|(_, &m)| m) {
            row[j] = mean as f32;
        }
    }
    for (ev, _) in evidence.iter_mut().zip(missing).filter(|(_, &m)| m) {
        ev.nearest = None;
        ev.interest = None;
        ev.best_interest = None;
    }
}

fn unit_or_none(v: &[f32]) -> Option<Vec<f32>> {
    let n = norm(v);
    (n > 1e-6).then(|| v.iter().map(|x| x / n).collect())
}

/// Column-wise z-scores; a column with (near) zero spread becomes all zeros.
pub fn standardise(raw: &[Vec<f32>], width: usize) -> Vec<Vec<f32>> {
    let n = raw.len().max(1) as f64;
    let mut mean = vec![0f64; width];
    let mut var = vec![0f64; width];
    for row in raw {
        for (j, x) in row.iter().enumerate() {
            mean[j] += *x as f64 / n;
        }
    }
    for row in raw {
        for (j, x) in row.iter().enumerate() {
            var[j] += (*x as f64 - mean[j]).powi(2) / n;
        }
    }
    raw.iter()
        .map(|row| {
            row.iter()
                .enumerate()
                .map(|(j, x)| {
                    let sd = var[j].sqrt();
                    if sd < 1e-9 {
                        0.0
                    } else {
                        ((*x as f64 - mean[j]) / sd) as f32
                    }
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::standardise;

    #[test]
    fn standardise_centres_and_scales_and_zeroes_constants() {
        let z = standardise(&[vec![1.0, 5.0], vec![3.0, 5.0]], 2);
        assert_eq!(z, vec![vec![-1.0, 0.0], vec![1.0, 0.0]]);
    }
}
