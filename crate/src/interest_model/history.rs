//! What the interest model reads of one history event besides its text: kind, strength, age and
//! position.

use std::collections::VecDeque;

use crate::profile::{EventKind, HistoryEntry};

/// History events the model attends over, newest last. The profile keeps more (`recent_len`);
/// 30 is the replay window of the evaluation, past which the validation gain of the hand-made
/// recency features had flattened (docs/evaluation.md).
pub const MAX_HISTORY: usize = 30;

/// Per event: one-hot kind, signal, ln(1 + age in days), position from the newest (0..1).
pub const EVENT_FEATURES: usize = EventKind::ALL.len() + 3;

const DAY_MS: f64 = 86_400_000.0;
/// Ages past ten years read as ten years: an absurd `at` must not dominate the keys.
const MAX_AGE_DAYS: f64 = 3650.0;
/// Signals are event weights (a 5-star rating, a purchase: about 1 to 3); clamped so that a
/// site's odd value cannot dominate either.
const MAX_SIGNAL: f32 = 4.0;

/// The last `MAX_HISTORY` of the profile's recent items, oldest first: what the model reads.
pub fn recent_window(recent: &VecDeque<HistoryEntry>) -> Vec<&HistoryEntry> {
    recent
        .iter()
        .skip(recent.len().saturating_sub(MAX_HISTORY))
        .collect()
}

/// The entries' features, `[n, EVENT_FEATURES]` row-major. `now` is the ranking moment in ms;
/// an event after it counts as age 0.
pub fn event_features(kept: &[&HistoryEntry], now: i64) -> Vec<f32> {
    let n = kept.len();
    let mut out = vec![0f32; n * EVENT_FEATURES];
    for (i, e) in kept.iter().enumerate() {
        let row = &mut out[i * EVENT_FEATURES..(i + 1) * EVENT_FEATURES];
        let kind = EventKind::ALL
            .iter()
            .position(|k| *k == e.kind)
            .expect("every kind is in ALL");
        row[kind] = 1.0;
        let k = EventKind::ALL.len();
        row[k] = if e.signal.is_finite() {
            e.signal.clamp(-MAX_SIGNAL, MAX_SIGNAL)
        } else {
            0.0
        };
        let age_days = (now.saturating_sub(e.at).max(0) as f64 / DAY_MS).min(MAX_AGE_DAYS);
        row[k + 1] = age_days.ln_1p() as f32;
        row[k + 2] = (n - 1 - i) as f32 / MAX_HISTORY as f32;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: EventKind, signal: f32, at: i64) -> HistoryEntry {
        HistoryEntry {
            id: "x".into(),
            title: String::new(),
            category: None,
            kind,
            signal,
            seq: 0,
            at,
            embedding: vec![],
            text: String::new(),
            value: None,
        }
    }

    #[test]
    fn features_hold_kind_signal_age_and_position_and_bound_absurd_values() {
        let day = DAY_MS as i64;
        let entries = [
            entry(EventKind::Rate, 2.0, 0),
            entry(EventKind::Purchase, f32::NAN, 9 * day),
            entry(EventKind::Click, 1e9, i64::MAX),
        ];
        let kept: Vec<&HistoryEntry> = entries.iter().collect();
        let f = event_features(&kept, 10 * day);
        let k = EventKind::ALL.len();
        let row = |i: usize| &f[i * EVENT_FEATURES..(i + 1) * EVENT_FEATURES];
        assert_eq!(
            row(0)[EventKind::ALL
                .iter()
                .position(|x| *x == EventKind::Rate)
                .unwrap()],
            1.0
        );
        assert_eq!(row(0)[k], 2.0);
        assert!((row(0)[k + 1] - 11f32.ln()).abs() < 1e-6);
        assert_eq!(row(0)[k + 2], 2.0 / MAX_HISTORY as f32);
        assert_eq!(row(1)[k], 0.0, "NaN signal reads as 0");
        assert!((row(1)[k + 1] - 2f32.ln()).abs() < 1e-6);
        assert_eq!(row(2)[k], MAX_SIGNAL);
        assert_eq!(row(2)[k + 1], 0.0, "an event after now has age 0");
        assert_eq!(row(2)[k + 2], 0.0);
        // Only the last MAX_HISTORY entries are read.
        let many: VecDeque<HistoryEntry> =
            vec![entry(EventKind::Click, 1.0, 0); MAX_HISTORY + 5].into();
        assert_eq!(recent_window(&many).len(), MAX_HISTORY);
    }
}
