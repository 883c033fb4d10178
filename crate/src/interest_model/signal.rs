//! The interest model as a ranking signal: reads the profile's recent window and the
//! candidates' vectors, and gives each candidate its readout and its score under a gate.

use std::collections::VecDeque;

use super::forward::{InterestModel, ModelBatch, Pair};
use super::history::{event_features, recent_window};
use super::params::InterestModelError;
use crate::profile::HistoryEntry;
use crate::vector::dot;

/// Per candidate: the readout (`hidden` values; zeros for a candidate with no vector yet) and
/// the score under the gate (0 for such a candidate).
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    pub phi: Vec<Vec<f32>>,
    pub scores: Vec<f32>,
}

/// The model's signal for `vectors` (one per candidate, empty when not encoded yet) against the
/// profile's recent items; `None` when there is no history to read. The ranking moment is the
/// newest event's time: ages are relative to what the user did last.
pub fn signal(
    model: &InterestModel,
    recent: &VecDeque<HistoryEntry>,
    vectors: &[&[f32]],
    gate: &[f32],
) -> Result<Option<Signal>, InterestModelError> {
    let window = recent_window(recent);
    if window.is_empty() {
        return Ok(None);
    }
    let dim = model.params.dim;
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
    let readouts = model.phi(&ModelBatch {
        table,
        pairs: vec![pair],
    })?;
    let found = readouts.into_iter().next().flatten().unwrap_or_default();
    let hidden = model.params.hidden;
    let phi: Vec<Vec<f32>> = rows
        .iter()
        .map(|r| r.map_or_else(|| vec![0.0; hidden], |k| found[k].clone()))
        .collect();
    let scores = phi
        .iter()
        .zip(&rows)
        .map(|(p, r)| if r.is_some() { dot(p, gate) } else { 0.0 })
        .collect();
    Ok(Some(Signal { phi, scores }))
}
