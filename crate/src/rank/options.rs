//! Ranking options: what `rerank` takes, the form the edges receive them in, and their
//! defaults (one place for each).

use serde::{Deserialize, Serialize};

use crate::error::{InputError, InputErrorKind};

/// Spread of Thompson exploration when the caller asks for it without a scale.
pub const DEFAULT_EXPLORE_SCALE: f32 = 0.3;
/// Largest exploration scale accepted.
pub const MAX_EXPLORE_SCALE: f32 = 10.0;

/// Thompson sampling over the weights: the ranking uses one draw from the weights' posterior, a
/// diagonal Gaussian around the current weights with prior sd `scale` and a precision that grows
/// with what the user's feedback said about each weight (`OnlineWeights::information`), so
/// exploration fades where the evidence is. Same seed, same order.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Explore {
    pub seed: u64,
    pub scale: f32,
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct RerankOptions {
    /// Length of the list that will be shown. Diversity and exploration act within it; the
    /// ranking still orders every candidate.
    pub k: Option<usize>,
    /// MMR trade-off: 0 = by score only, 1 = as different from each other as possible.
    pub diversity: f32,
    pub explore: Option<Explore>,
}

impl RerankOptions {
    pub fn validate(&self) -> Result<(), InputError> {
        let bad = |message: &str| Err(InputError::new(InputErrorKind::InvalidOption, message));
        if !(self.diversity.is_finite() && (0.0..=1.0).contains(&self.diversity)) {
            return bad("diversity must be between 0 and 1");
        }
        if self.k == Some(0) {
            return bad("k must be at least 1");
        }
        if let Some(e) = self.explore {
            if !(e.scale.is_finite() && (0.0..=MAX_EXPLORE_SCALE).contains(&e.scale)) {
                return bad("explore.scale must be 0 to 10");
            }
        }
        Ok(())
    }
}

/// `explore` as a caller writes it: `true` (the defaults), `false`, or `{ seed?, scale? }`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum ExploreSetting {
    Flag(bool),
    Settings {
        seed: Option<u64>,
        scale: Option<f32>,
    },
}

/// Ranking options as the package's `rerank(candidates, options)` receives them.
#[derive(Debug, Clone, Copy, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RerankSettings {
    pub k: Option<usize>,
    #[serde(default)]
    pub diversity: f32,
    pub explore: Option<ExploreSetting>,
}

impl RerankSettings {
    /// The options, with `clock_seed` (the edge's clock) as the seed of exploration asked for
    /// without one.
    pub fn resolve(self, clock_seed: u64) -> RerankOptions {
        let explore = match self.explore {
            None | Some(ExploreSetting::Flag(false)) => None,
            Some(ExploreSetting::Flag(true)) => Some(Explore {
                seed: clock_seed,
                scale: DEFAULT_EXPLORE_SCALE,
            }),
            Some(ExploreSetting::Settings { seed, scale }) => Some(Explore {
                seed: seed.unwrap_or(clock_seed),
                scale: scale.unwrap_or(DEFAULT_EXPLORE_SCALE),
            }),
        };
        RerankOptions {
            k: self.k,
            diversity: self.diversity,
            explore,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(json: &str) -> RerankOptions {
        serde_json::from_str::<RerankSettings>(json)
            .unwrap()
            .resolve(42)
    }

    #[test]
    fn explore_forms_resolve_to_one_default() {
        assert_eq!(resolve("{}").explore, None);
        assert_eq!(resolve(r#"{"explore":false}"#).explore, None);
        let on = Explore {
            seed: 42,
            scale: DEFAULT_EXPLORE_SCALE,
        };
        assert_eq!(resolve(r#"{"explore":true}"#).explore, Some(on));
        assert_eq!(resolve(r#"{"explore":{}}"#).explore, Some(on));
        let set = resolve(r#"{"k":5,"explore":{"seed":7,"scale":1.5}}"#);
        assert_eq!(
            set.explore,
            Some(Explore {
                seed: 7,
                scale: 1.5
            })
        );
        assert_eq!(set.k, Some(5));
        assert!(serde_json::from_str::<RerankSettings>(r#"{"kk":1}"#).is_err());
    }

    #[test]
    fn out_of_range_options_are_refused() {
        assert!(resolve(r#"{"k":0}"#).validate().is_err());
        assert!(resolve(r#"{"diversity":1.5}"#).validate().is_err());
        assert!(resolve(r#"{"explore":{"scale":11}}"#).validate().is_err());
        assert!(resolve(r#"{"k":3,"diversity":0.5,"explore":true}"#)
            .validate()
            .is_ok());
    }
}
