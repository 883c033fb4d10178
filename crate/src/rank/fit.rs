//! Learning the prior offline: a conditional-logit (listwise softmax) regression over many
//! users' lists, and a first-order MAML fit whose prior ranks a user's next item well after
//! the user's own online steps.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use super::weights::{OnlineConfig, OnlineWeights, Prior, Weights, MAX_WEIGHT};
use crate::vector::dot;

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
        let w: Vec<f32> = l
            .names
            .iter()
            .map(|n| weights.get(n).copied().unwrap_or(0.0))
            .collect();
        let s: Vec<f64> = l.z.iter().map(|row| dot(&w, row) as f64).collect();
        let max = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lse = max + s.iter().map(|x| (x - max).exp()).sum::<f64>().ln();
        total += s[l.target] - lse;
    }
    total / lists.len().max(1) as f64
}

/// Maximises the mean log-likelihood minus `l2 / n * |w|^2 / 2` by Newton's method (the
/// objective is concave and has few parameters), halving a step that does not improve it.
pub fn fit_softmax(lists: &[TrainList], l2: f64, iterations: usize) -> Weights {
    fit_softmax_around(lists, &Weights::new(), l2, iterations)
}

/// The same fit with the L2 pull towards `center` instead of 0: `l2 / n * |w - center|^2 / 2`
/// (a feature `center` does not name is pulled to 0). With `center` a prior and `lists` one
/// user's feedback, this is the user's MAP weights under a Gaussian prior of precision `l2`
/// (in units of one list). The fit starts from `center`.
pub fn fit_softmax_around(
    lists: &[TrainList],
    center: &Weights,
    l2: f64,
    iterations: usize,
) -> Weights {
    refit_softmax(lists, center, center, l2, iterations)
}

/// `fit_softmax_around` started from `start` (e.g. the previous fit, when one more list
/// arrived: one or two Newton steps from there are enough).
pub fn refit_softmax(
    lists: &[TrainList],
    center: &Weights,
    start: &Weights,
    l2: f64,
    iterations: usize,
) -> Weights {
    let names: Vec<String> = lists
        .iter()
        .flat_map(|l| l.names.iter().cloned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let c: Vec<f64> = names
        .iter()
        .map(|n| center.get(n).copied().unwrap_or(0.0) as f64)
        .collect();
    let index: BTreeMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let d = names.len();
    let n = lists.len().max(1) as f64;
    // Each list's columns as (global index, local index), in global order: the sums below
    // run over a list's own columns only (a list names at most 43 of the d features), in the
    // order a dense pass over all d columns would add them.
    let cols: Vec<Vec<(usize, usize)>> = lists
        .iter()
        .map(|l| {
            let mut c: Vec<(usize, usize)> = l
                .names
                .iter()
                .enumerate()
                .map(|(local, n)| (index[n.as_str()], local))
                .collect();
            c.sort_unstable();
            c
        })
        .collect();
    // Objective, gradient and Hessian at w.
    let eval = |w: &[f64], want_hessian: bool| {
        let mut obj = 0f64;
        let mut grad = vec![0f64; d];
        let mut hess = vec![0f64; if want_hessian { d * d } else { 0 }];
        for (l, cols) in lists.iter().zip(&cols) {
            // Rows in the list's own columns, ordered as `cols`.
            let rows: Vec<Vec<f64>> =
                l.z.iter()
                    .map(|r| cols.iter().map(|&(_, local)| r[local] as f64).collect())
                    .collect();
            let s: Vec<f64> = rows
                .iter()
                .map(|x| x.iter().zip(cols).map(|(a, &(g, _))| a * w[g]).sum())
                .collect();
            let max = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = s.iter().map(|x| (x - max).exp()).collect();
            let total: f64 = e.iter().sum();
            obj += s[l.target] - max - total.ln();
            let k = cols.len();
            let mut mu = vec![0f64; k];
            for (x, ei) in rows.iter().zip(&e) {
                let p = ei / total;
                for j in 0..k {
                    mu[j] += p * x[j];
                }
                if want_hessian {
                    for a in 0..k {
                        let row = cols[a].0 * d;
                        for b in 0..k {
                            hess[row + cols[b].0] += p * x[a] * x[b];
                        }
                    }
                }
            }
            for j in 0..k {
                grad[cols[j].0] += rows[l.target][j] - mu[j];
            }
            if want_hessian {
                for a in 0..k {
                    let row = cols[a].0 * d;
                    for b in 0..k {
                        hess[row + cols[b].0] -= mu[a] * mu[b];
                    }
                }
            }
        }
        obj = obj / n
            - 0.5 * l2 / n
                * w.iter()
                    .zip(&c)
                    .map(|(x, m)| (x - m) * (x - m))
                    .sum::<f64>();
        for j in 0..d {
            grad[j] = grad[j] / n - l2 / n * (w[j] - c[j]);
        }
        for a in 0..hess.len() / d.max(1) {
            for b in 0..d {
                hess[a * d + b] /= n;
            }
            hess[a * d + a] += l2 / n + 1e-9;
        }
        (obj, grad, hess)
    };
    let mut w: Vec<f64> = names
        .iter()
        .map(|n| start.get(n).copied().unwrap_or(0.0) as f64)
        .collect();
    let (mut obj, _, _) = eval(&w, false);
    for _ in 0..iterations {
        let (_, grad, hess) = eval(&w, true);
        // Newton direction: (covariance + ridge) dir = grad; gradient if the solve fails.
        let dir = solve_spd(&hess, &grad, d).unwrap_or_else(|| grad.clone());
        let mut step = 1.0;
        let mut improved = false;
        for _ in 0..30 {
            let trial: Vec<f64> = w.iter().zip(&dir).map(|(a, b)| a + step * b).collect();
            let (o, _, _) = eval(&trial, false);
            if o >= obj {
                improved = o - obj > 1e-12;
                w = trial;
                obj = o;
                break;
            }
            step *= 0.5;
        }
        if !improved {
            break;
        }
    }
    names
        .into_iter()
        .zip(w)
        .map(|(n, x)| (n, x as f32))
        .collect()
}

/// Solves `a x = b` for a symmetric positive-definite `a` (d x d) by Cholesky.
fn solve_spd(a: &[f64], b: &[f64], d: usize) -> Option<Vec<f64>> {
    let mut l = vec![0f64; d * d];
    for i in 0..d {
        for j in 0..=i {
            let mut sum = a[i * d + j];
            for k in 0..j {
                sum -= l[i * d + k] * l[j * d + k];
            }
            if i == j {
                if sum <= 0.0 {
                    return None;
                }
                l[i * d + i] = sum.sqrt();
            } else {
                l[i * d + j] = sum / l[j * d + j];
            }
        }
    }
    let mut y = vec![0f64; d];
    for i in 0..d {
        let s: f64 = (0..i).map(|k| l[i * d + k] * y[k]).sum();
        y[i] = (b[i] - s) / l[i * d + i];
    }
    let mut x = vec![0f64; d];
    for i in (0..d).rev() {
        let s: f64 = (i + 1..d).map(|k| l[k * d + i] * x[k]).sum();
        x[i] = (y[i] - s) / l[i * d + i];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

/// First-order MAML: each task is one user's lists in time order; the last is the query and
/// the ones before it (at most `inner_steps`, the most recent) the support. From the current
/// prior, the support lists are fed back as on the device (one `OnlineWeights` step each);
/// the prior then takes a step of `meta_lr` up the query's log-likelihood gradient at the
/// adapted weights. The result is a prior that ranks the user's next item well after their
/// own feedback, which is what the device does. The last epoch's iterates are averaged
/// (Polyak) so the result does not hang on the last few tasks.
pub fn fit_first_order_maml(
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
    let mut order: Vec<usize> = (0..tasks.len()).filter(|&t| tasks[t].len() >= 2).collect();
    let mut average = Weights::new();
    for epoch in 0..epochs {
        order.shuffle(&mut rng);
        for &t in &order {
            let (query, support) = tasks[t].split_last().expect("tasks have 2 lists or more");
            let mut adapted = OnlineWeights::new(&Prior {
                weights: prior.clone(),
                online,
                version: String::new(),
                fitted: None,
            });
            for list in &support[support.len().saturating_sub(inner_steps)..] {
                let z: Vec<&[f32]> = list.z.iter().map(Vec::as_slice).collect();
                if adapted.update(&list.names, &z, &[list.target]).is_err() {
                    break;
                }
            }
            let w = adapted.vector(&query.names);
            let s: Vec<f32> = query.z.iter().map(|row| dot(&w, row)).collect();
            let max = s.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let e: Vec<f32> = s.iter().map(|x| (x - max).exp()).collect();
            let total: f32 = e.iter().sum();
            for (j, name) in query.names.iter().enumerate() {
                let expected: f32 = query.z.iter().zip(&e).map(|(r, p)| r[j] * p / total).sum();
                let g = query.z[query.target][j] - expected;
                if g.is_finite() {
                    let p = prior.entry(name.clone()).or_insert(0.0);
                    *p = (*p + meta_lr * g).clamp(-MAX_WEIGHT, MAX_WEIGHT);
                }
            }
            if epoch + 1 == epochs {
                for (name, w) in &prior {
                    *average.entry(name.clone()).or_insert(0.0) += w / order.len() as f32;
                }
            }
        }
    }
    if order.is_empty() {
        prior
    } else {
        average
    }
}

/// The one recipe for a prior, shared by `cloister fit-prior` and `cloister eval`: a listwise
/// softmax fit, and for `--meta` a first-order MAML pass started from it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PriorRecipe {
    /// L2 strength of the softmax fit, in units of one list.
    pub l2: f64,
    /// Newton iterations of the softmax fit (it converges in about ten).
    pub iterations: usize,
    /// Meta fit: support lists per task (the most recent before the query).
    pub inner_steps: usize,
    /// Meta fit: step size of the prior along each query's gradient.
    pub meta_lr: f32,
    /// Meta fit: passes over the tasks, each in a new seeded order.
    pub epochs: usize,
    pub seed: u64,
}

/// The recipe in use, the one docs/evaluation.md measures: up to 30 support lists because the
/// device is evaluated after up to 30 feedback events; meta lr 0.02 over 5 epochs.
pub const PRIOR_RECIPE: PriorRecipe = PriorRecipe {
    l2: 1.0,
    iterations: 50,
    inner_steps: 30,
    meta_lr: 0.02,
    epochs: 5,
    seed: 20261124,
};

impl PriorRecipe {
    /// Feature weights that best explain the targets of `lists`.
    pub fn fit_plain(&self, lists: &[TrainList]) -> Weights {
        fit_softmax(lists, self.l2, self.iterations)
    }

    /// A prior from which on-device steps do well on `tasks` (one per user), from `plain`.
    pub fn fit_meta(
        &self,
        tasks: &[Vec<TrainList>],
        plain: &Weights,
        online: OnlineConfig,
    ) -> Weights {
        fit_first_order_maml(
            tasks,
            plain,
            online,
            self.inner_steps,
            self.meta_lr,
            self.epochs,
            self.seed,
        )
    }

    /// The plain fit, in words.
    pub fn plain_method(&self) -> String {
        format!("listwise softmax regression (L2 {})", self.l2)
    }

    /// The meta fit, in words.
    pub fn meta_method(&self) -> String {
        format!(
            "first-order MAML from the softmax fit (each user's last list is the query, up to {} lists before it the support, meta lr {}, {} epochs, last epoch averaged, seed {})",
            self.inner_steps, self.meta_lr, self.epochs, self.seed
        )
    }

    /// The prior file: fitted on `lists`, then with `meta_tasks` a meta pass over them;
    /// `fitted` records how, with `extra` fields (data sizes, where the lists came from).
    pub fn fit(
        &self,
        lists: &[TrainList],
        meta_tasks: Option<&[Vec<TrainList>]>,
        online: OnlineConfig,
        extra: serde_json::Map<String, serde_json::Value>,
    ) -> Prior {
        let plain = self.fit_plain(lists);
        let (weights, method) = match meta_tasks {
            Some(tasks) => (self.fit_meta(tasks, &plain, online), self.meta_method()),
            None => (plain, self.plain_method()),
        };
        let mut fitted = serde_json::Map::new();
        fitted.insert("method".into(), method.into());
        fitted.insert("lists".into(), lists.len().into());
        fitted.insert(
            "mean_log_likelihood".into(),
            log_likelihood(lists, &weights).into(),
        );
        fitted.extend(extra);
        Prior {
            weights,
            online,
            version: String::new(),
            fitted: Some(fitted.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lists where the target always has the largest value of feature "good".
    fn lists() -> Vec<TrainList> {
        (0..50)
            .map(|k| {
                let z: Vec<Vec<f32>> = (0..5)
                    .map(|i| {
                        vec![
                            if i == k % 5 { 1.5 } else { -0.4 },
                            ((i * 7 + k) % 5) as f32 - 2.0,
                        ]
                    })
                    .collect();
                TrainList {
                    names: vec!["good".into(), "noise".into()],
                    z,
                    target: k % 5,
                }
            })
            .collect()
    }

    #[test]
    fn softmax_fit_finds_the_informative_feature() {
        let w = fit_softmax(&lists(), 1.0, 50);
        assert!(w["good"] > 1.0, "{w:?}");
        assert!(w["good"].abs() > 3.0 * w["noise"].abs(), "{w:?}");
        assert!(log_likelihood(&lists(), &w) > log_likelihood(&lists(), &Weights::new()));
    }

    #[test]
    fn the_fit_around_a_center_is_pulled_to_it_by_its_precision() {
        let center: Weights = [("good".to_string(), -0.5), ("noise".to_string(), 0.2)].into();
        let tight = fit_softmax_around(&lists(), &center, 1e6, 50);
        assert!((tight["good"] + 0.5).abs() < 1e-3 && (tight["noise"] - 0.2).abs() < 1e-3);
        // Around 0 it is the plain fit; around a center, a tighter prior stays closer to it.
        assert_eq!(
            fit_softmax_around(&lists(), &Weights::new(), 3.0, 50),
            fit_softmax(&lists(), 3.0, 50)
        );
        let mid = fit_softmax_around(&lists(), &center, 30.0, 50);
        let loose = fit_softmax_around(&lists(), &center, 3.0, 50);
        assert!(
            loose["good"] > mid["good"] && mid["good"] > tight["good"],
            "{loose:?} {mid:?}"
        );
        // Started from the previous fit, a refit reaches the same optimum.
        let refit = refit_softmax(&lists(), &center, &tight, 1.0, 50);
        let direct = fit_softmax_around(&lists(), &center, 1.0, 50);
        assert!(
            (refit["good"] - direct["good"]).abs() < 1e-4,
            "{refit:?} {direct:?}"
        );
    }

    #[test]
    fn meta_fit_moves_the_prior_towards_what_adapts_well() {
        let tasks: Vec<Vec<TrainList>> = lists().chunks(5).map(|c| c.to_vec()).collect();
        let init: Weights = [("good".to_string(), 0.0), ("noise".to_string(), 0.0)].into();
        let w = fit_first_order_maml(
            &tasks,
            &init,
            OnlineConfig {
                lr: 0.3,
                l2: 0.0,
                max_step: 1.0,
            },
            3,
            0.5,
            5,
            7,
        );
        assert!(w["good"] > 0.3, "{w:?}");
    }
}
