//! The interest model's forward pass on burn tensors: for each (history, candidates) pair of a
//! batch, attention from every candidate to the history, read out per hidden unit.
//!
//! `phi` gives each candidate's readout vector (`[hidden]`); the model's score is its dot
//! product with the gate. Keeping the gate outside the pass is what lets a user's feedback adapt
//! the model in closed form (`adapt`) without running the pass backwards on the device.

use burn::tensor::activation::softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};

use super::history::EVENT_FEATURES;
use super::params::{InterestModelError, InterestModelParams};

/// Attention logit of a padded history slot: exp underflows to exactly 0.
const PAD_LOGIT: f32 = -1e9;

/// One ranking request: the user's history (rows of the batch table, oldest first, with
/// `EVENT_FEATURES` values each) and the candidates (rows of the table).
#[derive(Debug, Clone, PartialEq)]
pub struct Pair {
    pub history: Vec<usize>,
    pub features: Vec<f32>,
    pub candidates: Vec<usize>,
}

/// Pairs that index one table of unit embeddings, `[rows, dim]` row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelBatch {
    pub table: Vec<f32>,
    pub pairs: Vec<Pair>,
}

/// The weights as tensors on one device (tracked leaves when the device is an autodiff one).
pub struct WeightTensors {
    pub projections: Tensor<2>,
    pub event: Tensor<2>,
    pub gate: Tensor<1>,
}

impl WeightTensors {
    pub fn new(p: &InterestModelParams, device: &Device) -> Self {
        let t2 = |v: &[f32], r: usize, c: usize| {
            Tensor::<2>::from_data(TensorData::new(v.to_vec(), [r, c]), device)
        };
        Self {
            projections: t2(&p.projections, p.dim, 4 * p.hidden),
            event: t2(&p.event, EVENT_FEATURES, 2 * p.hidden),
            gate: Tensor::<1>::from_data(TensorData::new(p.gate.clone(), [p.hidden]), device),
        }
    }

    /// The same tensors as gradient-tracked leaves (for `train`).
    pub fn require_grad(self) -> Self {
        Self {
            projections: self.projections.require_grad(),
            event: self.event.require_grad(),
            gate: self.gate.require_grad(),
        }
    }
}

/// Pairs laid out as tensors: histories padded to the longest, candidates to the most.
pub struct PairTensors {
    hist_index: Tensor<1, Int>,
    /// `[pairs, 1, longest history]`: 0 for a real event, `PAD_LOGIT` for padding.
    hist_bias: Tensor<3>,
    hist_features: Tensor<2>,
    cand_index: Tensor<1, Int>,
    pub pairs: usize,
    pub history: usize,
    pub candidates: usize,
}

impl PairTensors {
    /// Lays `pairs` out on `device`. Every pair needs at least one history event.
    pub fn new(batch: &[Pair], device: &Device) -> Self {
        let pairs = batch.len();
        let history = batch.iter().map(|p| p.history.len()).max().unwrap_or(1);
        let candidates = batch
            .iter()
            .map(|p| p.candidates.len())
            .max()
            .unwrap_or(1)
            .max(1);
        let history = history.max(1);
        let mut hist_index = vec![0i64; pairs * history];
        let mut hist_bias = vec![PAD_LOGIT; pairs * history];
        let mut hist_features = vec![0f32; pairs * history * EVENT_FEATURES];
        let mut cand_index = vec![0i64; pairs * candidates];
        for (b, p) in batch.iter().enumerate() {
            for (j, &row) in p.history.iter().enumerate() {
                hist_index[b * history + j] = row as i64;
                hist_bias[b * history + j] = 0.0;
            }
            let start = b * history * EVENT_FEATURES;
            hist_features[start..start + p.features.len()].copy_from_slice(&p.features);
            for (j, &row) in p.candidates.iter().enumerate() {
                cand_index[b * candidates + j] = row as i64;
            }
        }
        Self {
            hist_index: Tensor::from_data(TensorData::new(hist_index, [pairs * history]), device),
            hist_bias: Tensor::from_data(TensorData::new(hist_bias, [pairs, 1, history]), device),
            hist_features: Tensor::from_data(
                TensorData::new(hist_features, [pairs * history, EVENT_FEATURES]),
                device,
            ),
            cand_index: Tensor::from_data(
                TensorData::new(cand_index, [pairs * candidates]),
                device,
            ),
            pairs,
            history,
            candidates,
        }
    }
}

/// The table `[rows, dim]` as a tensor.
pub fn table_tensor(table: &[f32], dim: usize, device: &Device) -> Tensor<2> {
    let rows = table.len() / dim.max(1);
    Tensor::from_data(TensorData::new(table.to_vec(), [rows, dim]), device)
}

/// Each candidate's readout vector, `[pairs, candidates, hidden]`: attention from the
/// candidate's query to the history's keys (text plus event features), the weighted values,
/// times the candidate's output projection. `projected` = the table times the projections,
/// `[rows, 4 * hidden]` (made once per table: a catalogue's rows are shared by many pairs).
pub fn phi(projected: Tensor<2>, event: Tensor<2>, bt: &PairTensors) -> Tensor<3> {
    let (attention, value, output) = attend(projected, event, bt);
    attention.matmul(value) * output
}

/// The pass up to the readout: attention `[pairs, candidates, history]` (each row sums to 1
/// over the real events), values `[pairs, history, hidden]`, output projections
/// `[pairs, candidates, hidden]`.
fn attend(
    projected: Tensor<2>,
    event: Tensor<2>,
    bt: &PairTensors,
) -> (Tensor<3>, Tensor<3>, Tensor<3>) {
    let [_, width] = projected.dims();
    let h = width / 4;
    let (b, l, c) = (bt.pairs, bt.history, bt.candidates);
    let rows = projected.dims()[0];
    let part = |i: usize| projected.clone().slice([0..rows, i * h..(i + 1) * h]);
    let event = bt.hist_features.clone().matmul(event);
    let key = (part(1).select(0, bt.hist_index.clone()) + event.clone().slice([0..b * l, 0..h]))
        .reshape([b, l, h]);
    let value = (part(2).select(0, bt.hist_index.clone()) + event.slice([0..b * l, h..2 * h]))
        .reshape([b, l, h]);
    let query = part(0).select(0, bt.cand_index.clone()).reshape([b, c, h]);
    let output = part(3).select(0, bt.cand_index.clone()).reshape([b, c, h]);
    let logits =
        query.matmul(key.swap_dims(1, 2)) * (1.0 / (h as f32).sqrt()) + bt.hist_bias.clone();
    (softmax(logits, 2), value, output)
}

/// A loaded interest model on a device, for ranking.
pub struct InterestModel {
    pub params: InterestModelParams,
    weights: WeightTensors,
    device: Device,
}

impl std::fmt::Debug for InterestModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InterestModel")
            .field("dim", &self.params.dim)
            .field("hidden", &self.params.hidden)
            .field("source", &self.params.source)
            .finish()
    }
}

/// A table of embeddings already multiplied by the model's projections.
pub struct ProjectedTable {
    projected: Tensor<2>,
    rows: usize,
}

/// Readouts per pair, per candidate (`None`: the pair has no history or no candidates).
pub type Readouts = Vec<Option<Vec<Vec<f32>>>>;

impl InterestModel {
    pub fn new(params: InterestModelParams, device: Device) -> Self {
        let weights = WeightTensors::new(&params, &device);
        Self {
            params,
            weights,
            device,
        }
    }

    /// Projects a table of embeddings, `[rows, dim]` row-major.
    pub fn project(&self, table: &[f32]) -> Result<ProjectedTable, InterestModelError> {
        let dim = self.params.dim;
        if !table.len().is_multiple_of(dim) {
            return Err(InterestModelError::WrongDimension {
                model: dim,
                encoder: table.len(),
            });
        }
        Ok(ProjectedTable {
            projected: table_tensor(table, dim, &self.device)
                .matmul(self.weights.projections.clone()),
            rows: table.len() / dim,
        })
    }

    /// Readout vectors of `pairs` over a projected table. A pair with no history gets `None`:
    /// there is nothing to attend to, and the model says nothing about its candidates.
    pub fn phi_projected(
        &self,
        table: &ProjectedTable,
        pairs: &[Pair],
    ) -> Result<Readouts, InterestModelError> {
        self.check(table, pairs)?;
        let live: Vec<usize> = (0..pairs.len())
            .filter(|&i| !pairs[i].history.is_empty() && !pairs[i].candidates.is_empty())
            .collect();
        let mut out: Readouts = vec![None; pairs.len()];
        if live.is_empty() {
            return Ok(out);
        }
        let sub: Vec<Pair> = live.iter().map(|&i| pairs[i].clone()).collect();
        let bt = PairTensors::new(&sub, &self.device);
        let values = phi(table.projected.clone(), self.weights.event.clone(), &bt)
            .into_data()
            .try_into_vec::<f32>()
            .map_err(|e| InterestModelError::Backend(format!("{e:?}")))?;
        let h = self.params.hidden;
        for (k, &i) in live.iter().enumerate() {
            let n = pairs[i].candidates.len();
            let base = k * bt.candidates * h;
            out[i] = Some(
                (0..n)
                    .map(|j| values[base + j * h..base + (j + 1) * h].to_vec())
                    .collect(),
            );
        }
        Ok(out)
    }

    /// How much each candidate of one pair attends to each history event (rows sum to 1): what
    /// an explanation names ("because you recently read X and Y"). `None` without history.
    pub fn attention(
        &self,
        table: &ProjectedTable,
        pair: &Pair,
    ) -> Result<Option<Vec<Vec<f32>>>, InterestModelError> {
        self.check(table, std::slice::from_ref(pair))?;
        if pair.history.is_empty() || pair.candidates.is_empty() {
            return Ok(None);
        }
        let bt = PairTensors::new(std::slice::from_ref(pair), &self.device);
        let (attention, _, _) = attend(table.projected.clone(), self.weights.event.clone(), &bt);
        let values = attention
            .into_data()
            .try_into_vec::<f32>()
            .map_err(|e| InterestModelError::Backend(format!("{e:?}")))?;
        let l = bt.history;
        Ok(Some(
            (0..pair.candidates.len())
                .map(|j| values[j * l..j * l + pair.history.len()].to_vec())
                .collect(),
        ))
    }

    /// Every pair indexes the table and carries one feature row per event.
    fn check(&self, table: &ProjectedTable, pairs: &[Pair]) -> Result<(), InterestModelError> {
        for p in pairs {
            if p.history
                .iter()
                .chain(&p.candidates)
                .any(|&r| r >= table.rows)
                || p.features.len() != p.history.len() * EVENT_FEATURES
            {
                return Err(InterestModelError::WrongShape(
                    "a pair points outside its table".into(),
                ));
            }
        }
        Ok(())
    }

    /// Readout vectors of a batch's pairs over its own table.
    pub fn phi(&self, batch: &ModelBatch) -> Result<Readouts, InterestModelError> {
        let table = self.project(&batch.table)?;
        self.phi_projected(&table, &batch.pairs)
    }
}

/// One ranking's pass on the device, not yet read back: per candidate its readout and its
/// attention over the history, joined in one tensor so that WebGPU reads back once.
pub struct PendingPass {
    joined: Tensor<3>,
    candidates: usize,
    history: usize,
    hidden: usize,
}

/// Per candidate of one ranking: its readout (`hidden` values) and its attention over the
/// history (one weight per event, summing to 1).
#[derive(Debug, Clone, PartialEq)]
pub struct PassReadouts {
    pub phi: Vec<Vec<f32>>,
    pub attention: Vec<Vec<f32>>,
}

impl InterestModel {
    /// Starts the pass of a one-pair batch (a ranking); `None` when the pair has no history or
    /// no candidates. The caller reads it back: `read` on the CPU, `read_async` on WebGPU.
    pub fn start_pass(
        &self,
        batch: &ModelBatch,
    ) -> Result<Option<PendingPass>, InterestModelError> {
        let [pair] = batch.pairs.as_slice() else {
            return Err(InterestModelError::WrongShape(
                "a ranking pass reads one pair".into(),
            ));
        };
        let table = self.project(&batch.table)?;
        self.check(&table, std::slice::from_ref(pair))?;
        if pair.history.is_empty() || pair.candidates.is_empty() {
            return Ok(None);
        }
        let bt = PairTensors::new(std::slice::from_ref(pair), &self.device);
        let (attention, value, output) = attend(table.projected, self.weights.event.clone(), &bt);
        let phi = attention.clone().matmul(value) * output;
        Ok(Some(PendingPass {
            joined: Tensor::cat(vec![phi, attention], 2),
            candidates: pair.candidates.len(),
            history: pair.history.len(),
            hidden: self.params.hidden,
        }))
    }
}

impl PendingPass {
    /// Reads the pass back synchronously (the CPU backend).
    pub fn read(self) -> Result<PassReadouts, InterestModelError> {
        let values = self
            .joined
            .clone()
            .into_data()
            .try_into_vec::<f32>()
            .map_err(|e| InterestModelError::Backend(format!("{e:?}")))?;
        self.unpack(&values)
    }

    /// Reads the pass back, awaiting the device (required on WebGPU in a browser).
    pub async fn read_async(self) -> Result<PassReadouts, InterestModelError> {
        let values = self
            .joined
            .clone()
            .into_data_async()
            .await
            .map_err(|e| InterestModelError::Backend(format!("{e:?}")))?
            .try_into_vec::<f32>()
            .map_err(|e| InterestModelError::Backend(format!("{e:?}")))?;
        self.unpack(&values)
    }

    fn unpack(&self, values: &[f32]) -> Result<PassReadouts, InterestModelError> {
        let (h, l) = (self.hidden, self.history);
        let width = h + l;
        if values.len() != self.candidates * width {
            return Err(InterestModelError::Backend(format!(
                "read back {} values for {} candidates of width {width}",
                values.len(),
                self.candidates
            )));
        }
        let rows = values.chunks_exact(width);
        Ok(PassReadouts {
            phi: rows.clone().map(|r| r[..h].to_vec()).collect(),
            attention: rows.map(|r| r[h..].to_vec()).collect(),
        })
    }
}

/// A candidate's score: its readout times the gate.
pub fn score(phi: &[f32], gate: &[f32]) -> f32 {
    crate::vector::dot(phi, gate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interest_model::params::FORMAT;

    /// Width 8, hidden 8: queries and keys are 5 x the embedding, values and outputs the
    /// embedding itself, no event features, gate all ones.
    fn identity_model() -> InterestModel {
        let (dim, h) = (8, 8);
        let mut projections = vec![0f32; dim * 4 * h];
        for i in 0..dim {
            for (part, scale) in [(0, 5.0), (1, 5.0), (2, 1.0), (3, 1.0)] {
                projections[i * 4 * h + part * h + i] = scale;
            }
        }
        let params = InterestModelParams {
            format: FORMAT.into(),
            dim,
            hidden: h,
            projections,
            event: vec![0.0; EVENT_FEATURES * 2 * h],
            gate: vec![1.0; h],
            source: "test".into(),
            encoder: String::new(),
        };
        InterestModel::new(params, Device::flex())
    }

    fn axis(i: usize) -> Vec<f32> {
        let mut v = vec![0f32; 8];
        v[i] = 1.0;
        v
    }

    #[test]
    fn a_candidate_attends_to_the_history_item_it_is_like_and_scores_by_it() {
        let model = identity_model();
        // Rows: history e0, e1, e2; candidates e1, e5.
        let table: Vec<f32> = [0, 1, 2, 1, 5].iter().flat_map(|&i| axis(i)).collect();
        let pair = Pair {
            history: vec![0, 1, 2],
            features: vec![0.0; 3 * EVENT_FEATURES],
            candidates: vec![3, 4],
        };
        let projected = model.project(&table).unwrap();
        let attention = model.attention(&projected, &pair).unwrap().unwrap();
        assert!(attention[0][1] > 0.9, "{:?}", attention[0]);
        for row in &attention {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
        // Unlike anything in the history: spread evenly.
        assert!(attention[1].iter().all(|a| (a - 1.0 / 3.0).abs() < 1e-5));
        let readouts = model
            .phi(&ModelBatch {
                table,
                pairs: vec![pair.clone()],
            })
            .unwrap();
        let rows = readouts[0].as_ref().unwrap();
        let score = |j: usize| crate::vector::dot(&rows[j], &model.params.gate);
        assert!(
            score(0) > 0.9 && score(1).abs() < 1e-6,
            "{} {}",
            score(0),
            score(1)
        );
        // A pair outside its table is a typed error, an empty history says nothing.
        let outside = Pair {
            candidates: vec![9],
            ..pair.clone()
        };
        assert_eq!(
            model.attention(&projected, &outside).unwrap_err().kind(),
            "interest_model_wrong_shape"
        );
        let empty = Pair {
            history: vec![],
            features: vec![],
            ..pair
        };
        assert_eq!(model.attention(&projected, &empty).unwrap(), None);
        assert_eq!(
            model.phi_projected(&projected, &[empty]).unwrap(),
            vec![None]
        );
    }
}
