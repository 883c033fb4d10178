//! Ranking weights: a global prior the site ships, and `OnlineWeights` that adapt on the device
//! from the user's feedback with a listwise softmax SGD step, pulled back towards the prior.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::features::BUILTIN_FEATURES;
use crate::error::{InputError, InputErrorKind};
use crate::limits::{MAX_ID_BYTES, MAX_PRIOR_BYTES, MAX_PRIOR_WEIGHTS};
use crate::vector::dot;

/// Weight per feature name.
pub type Weights = BTreeMap<String, f32>;

/// Largest magnitude a weight may have; larger priors are rejected, updates are clipped.
pub const MAX_WEIGHT: f32 = 50.0;
/// Largest change per weight carried from an old prior onto a new one. One step at the default
/// learning rate (0.03) moves a weight by a few hundredths, so 1.0 is dozens of steps the same
/// way: a user keeps their taste, while a site's correction (a sign fixed) still takes effect.
pub const MAX_CARRIED_OFFSET: f32 = 1.0;
/// Bytes of a prior's version.
pub const MAX_PRIOR_VERSION_BYTES: usize = 64;
/// The version of `Prior::default()`.
pub const BUILTIN_PRIOR_VERSION: &str = "builtin-2";

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnlineConfig {
    /// SGD learning rate.
    pub lr: f32,
    /// L2 pull of the weights back towards the prior.
    pub l2: f32,
    /// Largest L2 norm of one update.
    pub max_step: f32,
}

impl Default for OnlineConfig {
    fn default() -> Self {
        Self {
            lr: 0.03,
            l2: 0.1,
            max_step: 0.25,
        }
    }
}

/// The prior file (`PRIOR.json`) written by `cloister fit-prior`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prior {
    /// Weight per feature: a built-in feature's name or `site:<name>`; a name given twice is
    /// an error.
    #[serde(deserialize_with = "super::candidate::unique_keys")]
    pub weights: Weights,
    #[serde(default)]
    pub online: OnlineConfig,
    /// The site's name for this prior ("2026-11-29", "v3"): when a returning user's saved
    /// weights were adapted from another version, what they learned is carried onto this one.
    /// Up to 64 printable ASCII bytes; empty when not given.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// How the prior was made (method, data size, validation score), for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fitted: Option<serde_json::Value>,
}

impl Default for Prior {
    /// For sites without a prior of their own: the weights `cloister eval --prior-out` fitted
    /// on MovieLens-100k validation lists in its 2026-11-30 run (protocol A: 128 `related`
    /// entries up to 3 steps apart, click events), rounded, except where the data cannot say:
    /// `long_term` fits -0.30, a contrast with `short_term` that cancels most of the content
    /// signal for a user whose taste never changes (a new visitor's), so the default damps it
    /// to -0.2; `centroid` fits -0.08 and its ablation measures nothing either way (-0.0005
    /// [-0.0024, +0.0013]), so it is +0.1 by hand: a user's interests lift what matches them
    /// and explanations can name the interest; `session` fits -0.05 with no measured effect and
    /// is left out. `stated`, `negative` and `dismissed` cannot be learned there (no such
    /// events) and are set by hand, as is `consumed` (-1: a bought item moves down; a site of
    /// re-bought goods sets it to 0) and `exposed` (-0.15: an item shown again and again
    /// without a click slowly sinks; not fitted on data). Sites should fit their own with
    /// `cloister fit-prior`.
    fn default() -> Self {
        let weights = [
            ("server", 0.38),
            ("short_term", 0.42),
            ("long_term", -0.2),
            ("nn_recent", 0.21),
            ("centroid", 0.1),
            ("stated", 0.8),
            ("negative", -0.3),
            ("category", 0.07),
            ("sequence", 0.46),
            ("dismissed", -2.0),
            ("consumed", -1.0),
            ("exposed", -0.15),
        ];
        Self {
            weights: weights.iter().map(|(n, w)| (n.to_string(), *w)).collect(),
            online: OnlineConfig::default(),
            version: BUILTIN_PRIOR_VERSION.into(),
            fitted: None,
        }
    }
}

impl Prior {
    pub fn from_json(text: &str) -> Result<Self, InputError> {
        if text.len() > MAX_PRIOR_BYTES {
            return Err(InputError::new(
                InputErrorKind::InvalidPrior,
                format!(
                    "the prior is {} bytes; at most {MAX_PRIOR_BYTES}",
                    text.len()
                ),
            ));
        }
        let prior: Prior = serde_json::from_str(text).map_err(|e| {
            InputError::new(InputErrorKind::InvalidPrior, format!("prior JSON: {e}"))
        })?;
        prior.validate()
    }

    /// At most `MAX_PRIOR_WEIGHTS` weights, each named after a feature (built-in, or `site:`
    /// and a name of 1 to `MAX_ID_BYTES` bytes), finite and within `MAX_WEIGHT`; online
    /// settings in range.
    pub fn validate(self) -> Result<Self, InputError> {
        let bad = |message: String| Err(InputError::new(InputErrorKind::InvalidPrior, message));
        if self.weights.len() > MAX_PRIOR_WEIGHTS {
            return bad(format!(
                "{} weights; at most {MAX_PRIOR_WEIGHTS}",
                self.weights.len()
            ));
        }
        for (name, w) in &self.weights {
            let site = name
                .strip_prefix("site:")
                .is_some_and(|n| !n.is_empty() && n.len() <= MAX_ID_BYTES);
            if !site && !BUILTIN_FEATURES.contains(&name.as_str()) {
                let shown: String = name.chars().take(40).collect();
                return bad(format!(
                    "weight '{shown}' names no feature: use a built-in feature or \
                     'site:<name>' (name of 1 to {MAX_ID_BYTES} bytes)"
                ));
            }
            if !w.is_finite() || w.abs() > MAX_WEIGHT {
                return bad(format!("weight '{name}' = {w}: |w| <= {MAX_WEIGHT}"));
            }
        }
        if self.version.len() > MAX_PRIOR_VERSION_BYTES
            || !self
                .version
                .bytes()
                .all(|b| b.is_ascii_graphic() || b == b' ')
        {
            let shown: String = self.version.chars().take(40).collect();
            return bad(format!(
                "version '{shown}': up to {MAX_PRIOR_VERSION_BYTES} printable ASCII characters"
            ));
        }
        let o = self.online;
        let ok = |x: f32, hi: f32| x.is_finite() && (0.0..=hi).contains(&x);
        if !(ok(o.lr, 10.0) && ok(o.l2, 100.0) && ok(o.max_step, 100.0)) {
            return Err(InputError::new(
                InputErrorKind::InvalidPrior,
                format!("online settings out of range: {o:?}"),
            ));
        }
        Ok(self)
    }
}

/// Which of the shown items (in the order shown) the user chose, and which they dismissed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Feedback {
    pub shown: Vec<String>,
    #[serde(default)]
    pub chosen: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dismissed: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnlineWeights {
    pub prior: Weights,
    /// The version of `prior` (empty for a prior without one, and in states saved before
    /// versions existed).
    #[serde(default)]
    pub prior_version: String,
    pub current: Weights,
    pub config: OnlineConfig,
    /// Feedback steps taken.
    pub steps: u64,
    /// Per weight, the Fisher information the feedback carried about it (the diagonal of the
    /// listwise log-likelihood's curvature, summed over steps): the posterior's precision
    /// beyond the prior's. A feature that never varied among shown items stays uncertain.
    #[serde(default)]
    pub information: Weights,
}

impl OnlineWeights {
    pub fn new(prior: &Prior) -> Self {
        Self {
            prior: prior.weights.clone(),
            prior_version: prior.version.clone(),
            current: prior.weights.clone(),
            config: prior.online,
            steps: 0,
            information: Weights::new(),
        }
    }

    /// The posterior's standard deviation per weight (columns `names`): a diagonal Gaussian
    /// with prior sd `prior_sd` around the prior, and the feedback's information added to its
    /// precision.
    pub fn posterior_sd(&self, names: &[String], prior_sd: f32) -> Vec<f32> {
        let prior_precision = 1.0 / (prior_sd * prior_sd).max(1e-12);
        names
            .iter()
            .map(|n| {
                let info = self.information.get(n).copied().unwrap_or(0.0).max(0.0);
                (1.0 / (prior_precision + info)).sqrt()
            })
            .collect()
    }

    /// Whether these weights started from `prior` (same version and weights).
    pub fn started_from(&self, prior: &Prior) -> bool {
        self.prior_version == prior.version && self.prior == prior.weights
    }

    /// The same user on a new prior: what they learned (current minus their old prior, each
    /// weight clipped to `MAX_CARRIED_OFFSET`) is added to the new prior; the site's online
    /// settings apply from now on. A weight only one of the two priors names counts as 0 in
    /// the other.
    pub fn carried_onto(&self, prior: &Prior) -> OnlineWeights {
        let mut current = prior.weights.clone();
        let names: std::collections::BTreeSet<&String> =
            self.current.keys().chain(self.prior.keys()).collect();
        for name in names {
            let learned = self.current.get(name).copied().unwrap_or(0.0)
                - self.prior.get(name).copied().unwrap_or(0.0);
            let offset = learned.clamp(-MAX_CARRIED_OFFSET, MAX_CARRIED_OFFSET);
            if offset != 0.0 && offset.is_finite() {
                let w = current.entry(name.clone()).or_insert(0.0);
                *w = (*w + offset).clamp(-MAX_WEIGHT, MAX_WEIGHT);
            }
        }
        OnlineWeights {
            prior: prior.weights.clone(),
            prior_version: prior.version.clone(),
            current,
            config: prior.online,
            steps: self.steps,
            information: self.information.clone(),
        }
    }

    pub fn weight(&self, name: &str) -> f32 {
        self.current.get(name).copied().unwrap_or(0.0)
    }

    /// The weight vector in the given column order.
    pub fn vector(&self, names: &[String]) -> Vec<f32> {
        names.iter().map(|n| self.weight(n)).collect()
    }

    /// One listwise softmax step: raise the chosen items' share of the softmax over the shown
    /// ones. `z` holds the shown items' standardised features (columns = `names`), `chosen`
    /// indexes into `z`. Returns the change per weight; nothing changes on an error or when
    /// the step would not be finite.
    pub fn update(
        &mut self,
        names: &[String],
        z: &[&[f32]],
        chosen: &[usize],
    ) -> Result<Weights, InputError> {
        self.update_with(names, z, chosen, &[])
    }

    /// The listwise step with explicit negatives as well: `negatives` are `(row, strength)`,
    /// items the user turned away from (a dismissal, an item skipped above the chosen one).
    /// Each adds the gradient of `-strength * log(1 - sigmoid(s_n - mean s))`: its score is
    /// pushed below the list's mean, hard while it is above, softly once it is below. Either
    /// list may be empty, not both.
    pub fn update_with(
        &mut self,
        names: &[String],
        z: &[&[f32]],
        chosen: &[usize],
        negatives: &[(usize, f32)],
    ) -> Result<Weights, InputError> {
        if z.len() < 2 {
            return Err(InputError::new(
                InputErrorKind::InvalidFeedback,
                "feedback needs at least 2 shown items",
            ));
        }
        if (chosen.is_empty() && negatives.is_empty())
            || chosen.iter().any(|&i| i >= z.len())
            || negatives
                .iter()
                .any(|&(i, a)| i >= z.len() || !a.is_finite() || a < 0.0 || chosen.contains(&i))
        {
            return Err(InputError::new(
                InputErrorKind::InvalidFeedback,
                "chosen and turned-away items must name distinct shown items",
            ));
        }
        let w = self.vector(names);
        let scores: Vec<f32> = z.iter().map(|row| dot(&w, row)).collect();
        let mut grad = vec![0f32; names.len()];
        let mut information = vec![0f32; names.len()];
        if !chosen.is_empty() {
            let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let exp: Vec<f32> = scores.iter().map(|s| (s - max).exp()).collect();
            let total: f32 = exp.iter().sum();
            let target = 1.0 / chosen.len() as f32;
            let mut mean_under_p = vec![0f32; names.len()];
            for (i, row) in z.iter().enumerate() {
                let t = if chosen.contains(&i) { target } else { 0.0 };
                let p = exp[i] / total;
                for (((g, x), m), f) in grad
                    .iter_mut()
                    .zip(row.iter())
                    .zip(&mut mean_under_p)
                    .zip(&mut information)
                {
                    *g += (t - p) * x;
                    *m += p * x;
                    *f += p * x * x;
                }
            }
            // The softmax's curvature along weight j: the variance of feature j under p.
            for (f, m) in information.iter_mut().zip(&mean_under_p) {
                *f -= m * m;
            }
        }
        if !negatives.is_empty() {
            let n = z.len() as f32;
            let mean_score = scores.iter().sum::<f32>() / n;
            let mut mean_row = vec![0f32; names.len()];
            for row in z {
                for (m, x) in mean_row.iter_mut().zip(row.iter()) {
                    *m += x / n;
                }
            }
            for &(i, strength) in negatives {
                let push = strength / (1.0 + (mean_score - scores[i]).exp());
                // The logistic loss's curvature: strength * sigmoid * (1 - sigmoid) * (x - m)^2.
                let curvature = push * (1.0 - push / strength.max(1e-12));
                for (((g, x), m), f) in grad
                    .iter_mut()
                    .zip(z[i].iter())
                    .zip(&mean_row)
                    .zip(&mut information)
                {
                    *g -= push * (x - m);
                    *f += curvature * (x - m) * (x - m);
                }
            }
        }
        let mut step: Vec<f32> = names
            .iter()
            .zip(&grad)
            .zip(&w)
            .map(|((name, g), wj)| {
                let prior = self.prior.get(name).copied().unwrap_or(0.0);
                self.config.lr * (g - self.config.l2 * (wj - prior))
            })
            .collect();
        let norm = step.iter().map(|s| s * s).sum::<f32>().sqrt();
        if !norm.is_finite() {
            return Err(InputError::new(
                InputErrorKind::InvalidFeedback,
                "feedback step is not finite",
            ));
        }
        if norm > self.config.max_step {
            let scale = self.config.max_step / norm;
            step.iter_mut().for_each(|s| *s *= scale);
        }
        let mut delta = Weights::new();
        for ((name, s), wj) in names.iter().zip(&step).zip(&w) {
            let new = (wj + s).clamp(-MAX_WEIGHT, MAX_WEIGHT);
            self.current.insert(name.clone(), new);
            delta.insert(name.clone(), new - wj);
        }
        for (name, f) in names.iter().zip(&information) {
            if f.is_finite() && *f > 0.0 {
                *self.information.entry(name.clone()).or_insert(0.0) += f;
            }
        }
        self.steps += 1;
        Ok(delta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        vec!["a".into(), "b".into()]
    }

    #[test]
    fn feedback_moves_weights_towards_the_chosen_items_features() {
        let mut w = OnlineWeights::new(&Prior {
            weights: [("a".to_string(), 0.0), ("b".to_string(), 0.0)].into(),
            online: OnlineConfig {
                lr: 0.5,
                l2: 0.0,
                max_step: 10.0,
            },
            version: String::new(),
            fitted: None,
        });
        let rows: Vec<Vec<f32>> = vec![vec![1.0, -1.0], vec![-1.0, 1.0]];
        let z: Vec<&[f32]> = rows.iter().map(Vec::as_slice).collect();
        let delta = w.update(&names(), &z, &[0]).unwrap();
        assert!(delta["a"] > 0.0 && delta["b"] < 0.0);
        assert_eq!(w.steps, 1);
    }

    #[test]
    fn feedback_narrows_the_posterior_of_the_weights_it_informs_only() {
        let mut w = OnlineWeights::new(&Prior::default());
        let names: Vec<String> = vec!["server".into(), "stated".into()];
        // `server` tells the items apart; `stated` is the same for all (says nothing).
        let rows: Vec<Vec<f32>> = vec![vec![1.0, 0.0], vec![-1.0, 0.0], vec![0.0, 0.0]];
        let z: Vec<&[f32]> = rows.iter().map(Vec::as_slice).collect();
        let before = w.posterior_sd(&names, 0.3);
        assert!((before[0] - 0.3).abs() < 1e-6 && (before[1] - 0.3).abs() < 1e-6);
        for _ in 0..10 {
            w.update_with(&names, &z, &[1], &[(0, 0.5)]).unwrap();
        }
        let after = w.posterior_sd(&names, 0.3);
        assert!(after[0] < 0.25, "{after:?}");
        assert!((after[1] - 0.3).abs() < 1e-6, "{after:?}");
    }

    #[test]
    fn steps_are_bounded_and_pulled_back_to_the_prior() {
        let mut w = OnlineWeights::new(&Prior {
            weights: [("a".to_string(), 1.0), ("b".to_string(), 0.0)].into(),
            online: OnlineConfig {
                lr: 100.0,
                l2: 0.0,
                max_step: 0.1,
            },
            version: String::new(),
            fitted: None,
        });
        let rows: Vec<Vec<f32>> = vec![vec![1.0, 1.0], vec![-1.0, -1.0]];
        let z: Vec<&[f32]> = rows.iter().map(Vec::as_slice).collect();
        let delta = w.update(&names(), &z, &[1]).unwrap();
        let norm = delta.values().map(|d| d * d).sum::<f32>().sqrt();
        assert!(norm <= 0.1 + 1e-6, "step norm {norm}");
        // With no gradient (identical rows), the L2 term alone moves back to the prior.
        let mut w2 = OnlineWeights::new(&Prior::default());
        w2.current.insert("server".into(), 3.0);
        w2.config = OnlineConfig {
            lr: 0.1,
            l2: 1.0,
            max_step: 10.0,
        };
        let names = vec!["server".to_string()];
        let rows: Vec<Vec<f32>> = vec![vec![0.0], vec![0.0]];
        let z: Vec<&[f32]> = rows.iter().map(Vec::as_slice).collect();
        w2.update(&names, &z, &[0]).unwrap();
        assert!(w2.weight("server") < 3.0 && w2.weight("server") > 1.0);
    }

    #[test]
    fn bad_feedback_changes_nothing() {
        let mut w = OnlineWeights::new(&Prior::default());
        let before = w.clone();
        let rows: Vec<Vec<f32>> = vec![vec![0.0; 2], vec![0.0; 2]];
        let z: Vec<&[f32]> = rows.iter().map(Vec::as_slice).collect();
        assert!(w.update(&names(), &z, &[]).is_err());
        assert!(w.update(&names(), &z, &[5]).is_err());
        assert!(w.update(&names(), &z[..1], &[0]).is_err());
        assert!(w.update_with(&names(), &z, &[], &[]).is_err());
        assert!(w.update_with(&names(), &z, &[0], &[(0, 1.0)]).is_err());
        assert!(w.update_with(&names(), &z, &[], &[(0, f32::NAN)]).is_err());
        assert_eq!(w, before);
    }

    #[test]
    fn a_turned_away_item_moves_weights_away_from_its_features() {
        let prior = Prior {
            weights: [("a".to_string(), 0.0), ("b".to_string(), 0.0)].into(),
            online: OnlineConfig {
                lr: 0.5,
                l2: 0.0,
                max_step: 10.0,
            },
            version: String::new(),
            fitted: None,
        };
        let rows: Vec<Vec<f32>> = vec![vec![1.0, 0.0], vec![-1.0, 0.0], vec![0.0, 1.0]];
        let z: Vec<&[f32]> = rows.iter().map(Vec::as_slice).collect();
        // A dismissal alone: the dismissed item's features lose weight.
        let mut alone = OnlineWeights::new(&prior);
        let delta = alone.update_with(&names(), &z, &[], &[(0, 1.0)]).unwrap();
        assert!(delta["a"] < 0.0, "{delta:?}");
        // Choosing row 2 with row 0 skipped above it moves `a` down more than the choice alone.
        let mut choice = OnlineWeights::new(&prior);
        let mut skipped = OnlineWeights::new(&prior);
        let only = choice.update(&names(), &z, &[2]).unwrap();
        let with_skip = skipped
            .update_with(&names(), &z, &[2], &[(0, 0.5)])
            .unwrap();
        assert!(with_skip["a"] < only["a"], "{with_skip:?} vs {only:?}");
        assert!(with_skip["b"] > 0.0);
    }

    #[test]
    fn a_new_prior_keeps_what_the_user_learned_within_a_bound() {
        let old = Prior {
            weights: [("a".to_string(), 1.0), ("b".to_string(), 0.0)].into(),
            online: OnlineConfig::default(),
            version: "v1".into(),
            fitted: None,
        };
        let mut w = OnlineWeights::new(&old);
        w.current.insert("a".into(), 1.5); // learned +0.5
        w.current.insert("b".into(), -3.0); // learned -3: carried as -1
        w.steps = 7;
        let new = Prior {
            weights: [("a".to_string(), 2.0), ("c".to_string(), 0.25)].into(),
            online: OnlineConfig {
                lr: 0.01,
                ..OnlineConfig::default()
            },
            version: "v2".into(),
            fitted: None,
        };
        assert!(w.started_from(&old) && !w.started_from(&new));
        let carried = w.carried_onto(&new);
        assert_eq!(carried.prior, new.weights);
        assert_eq!(carried.prior_version, "v2");
        assert_eq!(carried.current["a"], 2.5);
        assert_eq!(carried.current["b"], -MAX_CARRIED_OFFSET);
        assert_eq!(carried.current["c"], 0.25);
        assert_eq!(carried.config.lr, 0.01);
        assert_eq!(carried.steps, 7);
    }

    #[test]
    fn priors_are_validated() {
        assert!(Prior::from_json(r#"{"weights":{"server":1e9}}"#).is_err());
        assert!(Prior::from_json(r#"{"weights":{"":1}}"#).is_err());
        assert!(Prior::from_json(
            r#"{"weights":{"server":1},"online":{"lr":-1,"l2":0,"max_step":1}}"#
        )
        .is_err());
        assert!(Prior::from_json(r#"{"weights":{"server":1}}"#).is_ok());
        assert!(Prior::from_json(r#"{"weights":{"server":1},"version":"2026-11-29"}"#).is_ok());
        assert!(Prior::from_json(r#"{"weights":{"server":1},"version":5}"#).is_err());
        let long = format!(
            r#"{{"weights":{{"server":1}},"version":"{}"}}"#,
            "v".repeat(65)
        );
        assert!(Prior::from_json(&long).is_err());
        assert!(Prior::from_json(
            r#"{"weights":{"server":1},"version":"a
b"}"#
        )
        .is_err());
    }
}
