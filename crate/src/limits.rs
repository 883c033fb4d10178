//! Every bound on what one request may ask for and what the device keeps, in one place. Counts
//! beyond a bound are refused with a typed error; texts are cut (the encoder reads 256 tokens of
//! a text at most). docs/reliability.md gives the reason for each size.

/// Candidates in one list: 10,000 re-rank in about 30 ms; a longer list is the server's job
/// to page.
pub const MAX_CANDIDATES: usize = 10_000;
/// Site features on one candidate, and distinct site-feature names in one list (each distinct
/// name is a column for every candidate: 10,000 candidates x 43 columns stay a few MB).
pub const MAX_SITE_FEATURES: usize = 32;
/// `related` entries on one candidate. docs/evaluation.md measures gains up to about 100
/// predecessors per candidate (validation picks 128 of {0, 32, 64, 128}); with 256 in the grid
/// too (a scratch run, 2026-12-08) 256 scored below 128 on validation in all five folds, so more
/// is not worth sending. 128 entries are about 3 KB of JSON per candidate, and 10,000
/// candidates x 128 entries match in milliseconds.
pub const MAX_RELATED: usize = 128;
/// Bytes of an item text or a candidate text kept (cut at a character boundary beyond).
pub const MAX_TEXT_BYTES: usize = 4096;
/// Bytes of an id, a category or a site-feature name.
pub const MAX_ID_BYTES: usize = 256;
/// History events in one request: a CLI line's history, a `recordMany` call. Each new text
/// costs an encoder pass: 5,000 are about a minute on one core.
pub const MAX_HISTORY: usize = 5_000;
/// Events kept while the encoder loads (their texts wait to be embedded): saved with the state
/// after each change, so at most about 4 MB of text; a page records far fewer in the seconds
/// a model takes to arrive.
pub const MAX_DEFERRED_EVENTS: usize = 1_000;
/// Feedback entries in one CLI request, and items shown in one entry. Each shown item's
/// features are computed again: 256 x 200 rows are about half a second.
pub const MAX_FEEDBACK: usize = 256;
pub const MAX_SHOWN: usize = 200;
/// Weights in a prior: the 13 built-in features and the site's.
pub const MAX_PRIOR_WEIGHTS: usize = 256;
/// The widest learned interest model a file may declare (the shipped one is 32), and so the
/// widest gate and readout a saved state may hold.
pub const MAX_MODEL_HIDDEN: usize = 1024;
/// Bytes of a prior file: a prior of 256 weights and its notes is a few KB.
pub const MAX_PRIOR_BYTES: usize = 1 << 20;
/// How far an event's `at` may run ahead of the device's clock: a day covers any time zone
/// mistake and clock skew, while a timestamp in microseconds (1000x) or a year ahead is refused.
pub const MAX_FUTURE_MS: i64 = 24 * 60 * 60 * 1000;
/// Bytes of one JSON line the CLI reads: 10,000 candidates with 384-float embeddings and their
/// texts are about 40 MB.
pub const MAX_LINE_BYTES: usize = 64 << 20;

/// Whether `x` is a finite number that f32, the precision features are computed in, can hold.
/// A larger one (1e39) would become infinite there.
pub fn fits_f32(x: f64) -> bool {
    x.is_finite() && x.abs() <= f32::MAX as f64
}
