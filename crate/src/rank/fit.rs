//! Learning the prior offline: a conditional-logit (listwise softmax) regression over many
//! users' lists, and a Reptile meta-fit whose prior adapts well after a few online steps.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use super::weights::{OnlineConfig, OnlineWeights, Prior, Weights};

/// One training list: standardised features of its candidates and the index of the target.
#[derive(Debug, Clone)]
pub struct TrainList {
    pub names: Vec<String>,
    pub z: Vec<Vec<f32>>,
    pub target: usize,
}

/// Mean log-likelihood of the targets under `weights` (higher is better).
pub fn log_likelihood(lists: &[TrainList], weights: &Weights) -> f64 {
    let mut total = 0f64;
    for l in lists {
        let w: Vec<f32> = l.names.iter().map(|n| weights.get(n).copied().unwrap_or(0.0)).collect();
        let s: Vec<f64> = l.z.iter().map(|row| super::weights::dot(&w, row) as f64).collect();
        let max = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lse = max + s.iter().map(|x| (x - max).exp()).sum::<f64>().ln();
        total += s[l.target] - lse;
    }
    total / lists.len().max(1) as f64
}

/// Full-batch gradient ascent on the mean log-likelihood minus `l2 / n * |w|^2 / 2`.
/// Features are z-scores, so a fixed step converges; stops when the gradient is tiny.
pub fn fit_softmax(lists: &[TrainList], l2: f64, iterations: usize) -> Weights {
    let names: Vec<String> = lists
        .iter()
        .flat_map(|l| l.names.iter().cloned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let index: BTreeMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
    let n = lists.len().max(1) as f64;
    let mut w = vec![0f64; names.len()];
    let step = 1.0;
    for _ in 0..iterations {
        let mut grad = vec![0f64; names.len()];
        for l in lists {
            let cols: Vec<usize> = l.names.iter().map(|n| index[n.as_str()]).collect();
            let s: Vec<f64> = l
                .z
                .iter()
                .map(|row| row.iter().zip(&cols).map(|(x, &j)| *x as f64 * w[j]).sum())
                .collect();
            let max = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = s.iter().map(|x| (x - max).exp()).collect();
            let total: f64 = e.iter().sum();
            for (i, row) in l.z.iter().enumerate() {
                let t = if i == l.target { 1.0 } else { 0.0 };
                let coef = t - e[i] / total;
                for (x, &j) in row.iter().zip(&cols) {
                    grad[j] += coef * *x as f64;
                }
            }
        }
        let mut norm = 0f64;
        for j in 0..w.len() {
            let g = grad[j] / n - l2 / n * w[j];
            w[j] += step * g;
            norm += g * g;
        }
        if norm.sqrt() < 1e-6 {
            break;
        }
    }
    names.into_iter().zip(w).map(|(n, x)| (n, x as f32)).collect()
}

/// Reptile (first-order meta-learning): for each task (one user's lists), take `inner_steps`
/// online SGD steps from the current prior, then move the prior a fraction `meta_lr` towards
/// the adapted weights. The result is a prior from which the on-device updates do well.
pub fn fit_reptile(
    tasks: &[Vec<TrainList>],
    init: &Weights,
    online: OnlineConfig,
    inner_steps: usize,
    meta_lr: f32,
    epochs: usize,
    seed: u64,
) -> Weights {
    let mut prior = init.clone();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut order: Vec<usize> = (0..tasks.len()).collect();
    for _ in 0..epochs {
        order.shuffle(&mut rng);
        for &t in &order {
            let mut adapted = OnlineWeights::new(&Prior { weights: prior.clone(), online, fitted: None });
            for step in 0..inner_steps {
                let list = &tasks[t][step % tasks[t].len()];
                let z: Vec<&[f32]> = list.z.iter().map(Vec::as_slice).collect();
                if adapted.update(&list.names, &z, &[list.target]).is_err() {
                    break;
                }
            }
            for (name, w) in &adapted.current {
                let p = prior.entry(name.clone()).or_insert(0.0);
                *p += meta_lr * (w - *p);
            }
        }
    }
    prior
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lists where the target always has the largest value of feature "good".
    fn lists() -> Vec<TrainList> {
        (0..50)
            .map(|k| {
                let z: Vec<Vec<f32>> = (0..5)
                    .map(|i| vec![if i == k % 5 { 1.5 } else { -0.4 }, ((i * 7 + k) % 5) as f32 - 2.0])
                    .collect();
                TrainList { names: vec!["good".into(), "noise".into()], z, target: k % 5 }
            })
            .collect()
    }

    #[test]
    fn softmax_fit_finds_the_informative_feature() {
        let w = fit_softmax(&lists(), 1.0, 300);
        assert!(w["good"] > 1.0, "{w:?}");
        assert!(w["good"].abs() > 3.0 * w["noise"].abs(), "{w:?}");
        assert!(log_likelihood(&lists(), &w) > log_likelihood(&lists(), &Weights::new()));
    }

    #[test]
    fn reptile_moves_the_prior_towards_what_adapts_well() {
        let tasks: Vec<Vec<TrainList>> = lists().chunks(5).map(|c| c.to_vec()).collect();
        let init: Weights = [("good".to_string(), 0.0), ("noise".to_string(), 0.0)].into();
        let w = fit_reptile(&tasks, &init, OnlineConfig { lr: 0.3, l2: 0.0, max_step: 1.0 }, 3, 0.5, 5, 7);
        assert!(w["good"] > 0.3, "{w:?}");
    }
}
