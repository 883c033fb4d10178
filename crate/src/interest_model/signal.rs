//! The interest model as a ranking signal: reads the profile's recent window and the
//! candidates' vectors, and gives each candidate its readout, its score under a gate and its
//! attention over the window (what an explanation names).

use std::collections::VecDeque;

use super::forward::{InterestModel, ModelBatch, Pair, PassReadouts};
use super::history::{event_features, recent_window};
use super::params::InterestModelError;
use crate::profile::HistoryEntry;
use crate::vector::dot;

/// Per candidate: the readout (`hidden` values; zeros for a candidate with no vector yet), the
/// score under the gate (0 for such a candidate) and the attention over the profile's recent
/// items (`(index into recent, weight)`, heaviest first; empty for such a candidate).
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    pub phi: Vec<Vec<f32>>,
    pub scores: Vec<f32>,
    pub attention: Vec<Vec<(usize, f32)>>,
}

/// One ranking laid out for the model: a one-pair batch, and where each candidate's row is.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalInputs {
    pub batch: ModelBatch,
    /// Per candidate: its index among the pair's candidates, `None` without a vector.
    rows: Vec<Option<usize>>,
    /// Index in the profile's recent items of the window's first event.
    window_start: usize,
}

impl SignalInputs {
    /// `vectors` (one per candidate, empty when not encoded yet) against the profile's recent
    /// items, for a model reading `dim`-wide embeddings; `None` when there is no history to
    /// read. The ranking moment is the newest event's time: ages are relative to what the user
    /// did last.
    pub fn new(
        dim: usize,
        recent: &VecDeque<HistoryEntry>,
        vectors: &[&[f32]],
    ) -> Result<Option<Self>, InterestModelError> {
        let window = recent_window(recent);
        if window.is_empty() {
            return Ok(None);
        }
        let wrong = |n: usize| InterestModelError::WrongDimension {
            model: dim,
            encoder: n,
        };
        let mut table = Vec::with_capacity((window.len() + vectors.len()) * dim);
        for e in &window {
            if e.embedding.len() != dim {
                return Err(wrong(e.embedding.len()));
            }
            table.extend_from_slice(&e.embedding);
        }
        let mut rows = Vec::with_capacity(vectors.len());
        let mut candidates = Vec::new();
        for v in vectors {
            if v.is_empty() {
                rows.push(None);
                continue;
            }
            if v.len() != dim {
                return Err(wrong(v.len()));
            }
            rows.push(Some(candidates.len()));
            candidates.push(window.len() + candidates.len());
            table.extend_from_slice(v);
        }
        let now = window.iter().map(|e| e.at).max().unwrap_or(0);
        let pair = Pair {
            history: (0..window.len()).collect(),
            features: event_features(&window, now),
            candidates,
        };
        Ok(Some(Self {
            batch: ModelBatch {
                table,
                pairs: vec![pair],
            },
            rows,
            window_start: recent.len() - window.len(),
        }))
    }

    /// The signal from the pass's read-back (`None`: no candidate had a vector) under `gate`.
    pub fn finish(&self, pass: Option<PassReadouts>, gate: &[f32]) -> Signal {
        let hidden = gate.len();
        let pass = pass.unwrap_or(PassReadouts {
            phi: Vec::new(),
            attention: Vec::new(),
        });
        let mut signal = Signal {
            phi: Vec::with_capacity(self.rows.len()),
            scores: Vec::with_capacity(self.rows.len()),
            attention: Vec::with_capacity(self.rows.len()),
        };
        for row in &self.rows {
            match row.and_then(|k| Some((pass.phi.get(k)?, pass.attention.get(k)?))) {
                Some((phi, attention)) => {
                    signal.scores.push(dot(phi, gate));
                    signal.phi.push(phi.clone());
                    let mut weights: Vec<(usize, f32)> = attention
                        .iter()
                        .enumerate()
                        .map(|(i, &a)| (self.window_start + i, a))
                        .collect();
                    weights.sort_by(|a, b| b.1.total_cmp(&a.1));
                    signal.attention.push(weights);
                }
                None => {
                    signal.scores.push(0.0);
                    signal.phi.push(vec![0.0; hidden]);
                    signal.attention.push(Vec::new());
                }
            }
        }
        signal
    }
}

/// The model's signal for `vectors` against the profile's recent items, read back
/// synchronously (the CPU backend); `None` when there is no history to read. An edge that runs
/// the pass elsewhere (WebGPU) builds the `SignalInputs`, awaits `PendingPass::read_async` and
/// finishes them itself.
pub fn signal(
    model: &InterestModel,
    recent: &VecDeque<HistoryEntry>,
    vectors: &[&[f32]],
    gate: &[f32],
) -> Result<Option<Signal>, InterestModelError> {
    let Some(inputs) = SignalInputs::new(model.params.dim, recent, vectors)? else {
        return Ok(None);
    };
    let pass = match model.start_pass(&inputs.batch)? {
        Some(pending) => Some(pending.read()?),
        None => None,
    };
    Ok(Some(inputs.finish(pass, gate)))
}
