//! Impressions: what was shown for each recent `rerank` (the head of the list and its features),
//! kept bounded and saved with the profile so feedback after a reload still finds them, and
//! the policy that turns feedback on one into the rows of an online step.

use std::collections::{HashSet, VecDeque};

use serde::{Deserialize, Serialize};

use crate::error::{InputError, InputErrorKind};
use crate::profile::interest::f32_base64;

/// Impressions kept for feedback; older ones can no longer be answered.
pub const MAX_IMPRESSIONS: usize = 16;
/// Items per impression kept (the head of the list): a page shows far fewer, and 16 x 50 items
/// of 12 features are about 51 KB in the saved state.
pub const IMPRESSION_ITEMS: usize = 50;
/// How hard an item shown above the chosen one, and skipped, is pushed down: half a dismissal,
/// since a skip may only mean "not now". Not tuned on data yet.
pub const SKIP_STRENGTH: f32 = 0.5;
/// How hard a dismissed item is pushed down.
pub const DISMISS_STRENGTH: f32 = 1.0;

/// The rows of one online step: chosen rows, and turned-away rows with their strength.
pub type FeedbackRows = (Vec<usize>, Vec<(usize, f32)>);

/// One `rerank`'s head: ids in ranked order, the first `shown` of them on screen, and each
/// item's standardised features (row-major, `names.len()` columns).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Impression {
    pub id: String,
    pub ids: Vec<String>,
    pub shown: usize,
    pub names: Vec<String>,
    #[serde(with = "f32_base64")]
    pub z: Vec<f32>,
    /// The learned interest model's readouts of the kept items (row-major, its hidden width
    /// each) and the scores they were added to: what a choice's gate step needs. Empty when no
    /// model ranked (and in impressions saved before there was one).
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "f32_base64")]
    pub model_phi: Vec<f32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "f32_base64")]
    pub model_offset: Vec<f32>,
}

impl Impression {
    pub fn row(&self, i: usize) -> &[f32] {
        let width = self.names.len();
        &self.z[i * width..(i + 1) * width]
    }

    /// A saved impression must be one this build could have written.
    pub fn is_well_formed(&self) -> bool {
        let width = self.names.len();
        self.ids.len() <= IMPRESSION_ITEMS
            && self.shown <= self.ids.len()
            && width <= crate::limits::MAX_PRIOR_WEIGHTS
            && self.z.len() == self.ids.len() * width
            && self.z.iter().all(|x| x.is_finite())
            && self.id.len() <= 64
            && self
                .ids
                .iter()
                .all(|i| i.len() <= crate::limits::MAX_ID_BYTES)
            && self.ids.iter().collect::<HashSet<_>>().len() == self.ids.len()
            && self.model_rows_are_well_formed()
    }

    fn model_rows_are_well_formed(&self) -> bool {
        let n = self.ids.len();
        (self.model_phi.is_empty() && self.model_offset.is_empty())
            || (n > 0
                && self.model_offset.len() == n
                && self.model_phi.len().is_multiple_of(n)
                && self.model_phi.len() / n <= crate::limits::MAX_MODEL_HIDDEN
                && !self.model_phi.is_empty())
    }

    /// The rows of an online step for feedback on this impression (see `feedback_rows`).
    pub fn feedback_rows(
        &self,
        chosen: &[String],
        dismissed: &[String],
    ) -> Result<FeedbackRows, InputError> {
        feedback_rows(&self.ids, chosen, dismissed)
    }
}

/// The rows of an online step for feedback on items shown in the order `shown`: the chosen
/// rows, and the turned-away ones with their strength (each dismissed item; each item ranked
/// above a chosen one and not chosen). Every id must have been shown, none named twice.
pub fn feedback_rows(
    shown: &[String],
    chosen: &[String],
    dismissed: &[String],
) -> Result<FeedbackRows, InputError> {
    let mut seen = HashSet::new();
    let mut position = |id: &String| -> Result<usize, InputError> {
        if !seen.insert(id.clone()) {
            return Err(InputError::new(
                InputErrorKind::InvalidFeedback,
                format!("'{id}' is named twice in this feedback"),
            ));
        }
        shown.iter().position(|x| x == id).ok_or_else(|| {
            InputError::new(
                InputErrorKind::InvalidFeedback,
                format!("'{id}' was not shown"),
            )
        })
    };
    let chosen = chosen
        .iter()
        .map(&mut position)
        .collect::<Result<Vec<_>, _>>()?;
    let mut negatives = dismissed
        .iter()
        .map(|id| position(id).map(|i| (i, DISMISS_STRENGTH)))
        .collect::<Result<Vec<_>, _>>()?;
    negatives.extend(skipped_above(&chosen, &negatives));
    Ok((chosen, negatives))
}

/// Rows ranked above the lowest chosen row that were neither chosen nor already turned away.
pub fn skipped_above(chosen: &[usize], negatives: &[(usize, f32)]) -> Vec<(usize, f32)> {
    let Some(&lowest) = chosen.iter().max() else {
        return Vec::new();
    };
    (0..lowest)
        .filter(|i| !chosen.contains(i) && !negatives.iter().any(|(n, _)| n == i))
        .map(|i| (i, SKIP_STRENGTH))
        .collect()
}

/// The kept impressions, oldest first, and the number the next one takes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Impressions {
    pub kept: VecDeque<Impression>,
    pub next: u64,
}

impl Impressions {
    /// A new impression id: `imp-<n>`, never reused, as `next` is saved and merged.
    pub fn next_id(&mut self) -> String {
        self.next = self.next.max(1);
        let id = format!("imp-{}", self.next);
        self.next += 1;
        id
    }

    pub fn push(&mut self, impression: Impression) {
        self.kept.push_back(impression);
        while self.kept.len() > MAX_IMPRESSIONS {
            self.kept.pop_front();
        }
    }

    pub fn find(&self, id: &str) -> Result<&Impression, InputError> {
        self.kept.iter().find(|i| i.id == id).ok_or_else(|| {
            InputError::new(
                InputErrorKind::UnknownImpression,
                format!("no impression '{id}' (only the last {MAX_IMPRESSIONS} are kept)"),
            )
        })
    }

    /// The newest impression that showed `item` on screen, for a dismissal recorded as an event.
    pub fn newest_showing(&self, item: &str) -> Option<&Impression> {
        self.kept
            .iter()
            .rev()
            .find(|i| i.ids[..i.shown].iter().any(|x| x == item))
    }

    /// Takes a saved set (another tab's, or this one's after a reload) and keeps what this
    /// session has that it lacks: the union by id, newest `MAX_IMPRESSIONS` by number.
    pub fn merge(&mut self, saved: Impressions) {
        let mut all: Vec<Impression> = saved.kept.into_iter().collect();
        for own in self.kept.drain(..) {
            if !all.iter().any(|i| i.id == own.id) {
                all.push(own);
            }
        }
        let number = |i: &Impression| {
            i.id.strip_prefix("imp-")
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0)
        };
        all.sort_by_key(number);
        let skip = all.len().saturating_sub(MAX_IMPRESSIONS);
        self.kept = all.into_iter().skip(skip).collect();
        self.next = self.next.max(saved.next);
    }

    pub fn is_well_formed(&self) -> bool {
        self.kept.len() <= MAX_IMPRESSIONS && self.kept.iter().all(Impression::is_well_formed)
    }

    pub fn clear(&mut self) {
        self.kept.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn impression(n: u64, ids: &[&str]) -> Impression {
        Impression {
            id: format!("imp-{n}"),
            ids: ids.iter().map(|s| s.to_string()).collect(),
            shown: ids.len(),
            names: vec!["server".into()],
            z: ids.iter().enumerate().map(|(i, _)| i as f32).collect(),
            model_phi: Vec::new(),
            model_offset: Vec::new(),
        }
    }

    #[test]
    fn items_above_the_choice_count_as_skipped_and_dismissals_as_dismissed() {
        let imp = impression(1, &["a", "b", "c", "d"]);
        let (chosen, negatives) = imp.feedback_rows(&["c".into()], &["d".into()]).unwrap();
        assert_eq!(chosen, [2]);
        assert_eq!(
            negatives,
            [
                (3, DISMISS_STRENGTH),
                (0, SKIP_STRENGTH),
                (1, SKIP_STRENGTH)
            ]
        );
        assert!(imp.feedback_rows(&["c".into()], &["c".into()]).is_err());
        assert!(imp.feedback_rows(&["z".into()], &[]).is_err());
    }

    #[test]
    fn merging_keeps_the_union_by_id_and_never_reuses_a_number() {
        let mut mine = Impressions::default();
        for _ in 0..3 {
            let id = mine.next_id();
            let n = id[4..].parse().unwrap();
            mine.push(impression(n, &["a", "b"]));
        }
        let mut saved = Impressions::default();
        saved.push(impression(2, &["a", "b"]));
        saved.push(impression(7, &["a", "b"]));
        saved.next = 8;
        mine.merge(saved);
        let ids: Vec<&str> = mine.kept.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["imp-1", "imp-2", "imp-3", "imp-7"]);
        assert_eq!(mine.next_id(), "imp-8");
        for n in 10..40 {
            mine.push(impression(n, &["a"]));
        }
        assert_eq!(mine.kept.len(), MAX_IMPRESSIONS);
        assert!(mine.is_well_formed());
    }

    #[test]
    fn a_corrupt_impression_is_not_well_formed() {
        let mut imp = impression(1, &["a", "b"]);
        imp.z.pop();
        assert!(!imp.is_well_formed());
        let mut imp = impression(1, &["a", "a"]);
        imp.z = vec![0.0, 1.0];
        assert!(!imp.is_well_formed());
        let mut imp = impression(1, &["a", "b"]);
        imp.shown = 3;
        assert!(!imp.is_well_formed());
        let mut imp = impression(1, &["a", "b"]);
        imp.model_phi = vec![0.0; 4];
        assert!(!imp.is_well_formed(), "readouts without their offsets");
        imp.model_offset = vec![0.0; 2];
        assert!(imp.is_well_formed());
        imp.model_phi.pop();
        assert!(!imp.is_well_formed());
    }
}
