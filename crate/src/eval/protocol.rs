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
use super::metrics::{mean, ndcg_at, recall_at};
use super::movielens::Dataset;
use super::report::{
    summarise, weights_note, Catalogue, Evaluation, EventMode, MethodResult, Tuning,
};
use crate::profile::{Event, EventKind, InterestProfile, Item, ProfileConfig};
use crate::rank::features::compute;
use crate::rank::fit::{PriorRecipe, TrainList, PRIOR_RECIPE};
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
            .map(|&c| {
                let related = tr.before[c]
                    .iter()
                    .map(|(p, w)| Related {
                        id: p.to_string(),
                        weight: *w as f64,
                    })
                    .collect();
                Candidate::new(c.to_string(), String::new(), scores[c] as f64)
                    .with_category(self.data.categories[c].clone())
                    .with_related(related)
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
        version: String::new(),
        fitted: None,
    });
    for s in steps {
        let z: Vec<&[f32]> = s.z.iter().map(Vec::as_slice).collect();
        let _ = w.update(&s.names, &z, &[s.target]);
    }
    w.current
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

/// Built-in features that read the profile (the "content only" control uses just these).
const CONTENT_FEATURES: [&str; 7] = [
    "short_term",
    "long_term",
    "nn_recent",
    "centroid",
    "stated",
    "negative",
    "category",
];

/// The servers of one stage: EASE and transitions fitted on every user, and the same fitted
/// without each fold of users (what a user's replayed slates come from).
struct Servers {
    main: Ease,
    transitions: Transitions,
    folds: Vec<Ease>,
    fold_transitions: Vec<Transitions>,
}

impl Servers {
    fn fit(cfg: &EvalConfig, st: &Stage, n_items: usize, lambda: f64) -> Self {
        let (folds, fold_transitions) = folds_of(cfg, st, n_items, lambda);
        Self {
            main: Ease::fit(st.hist.iter().map(Vec::as_slice), n_items, lambda),
            transitions: Transitions::fit(st.hist.iter().map(Vec::as_slice), n_items, cfg.related),
            folds,
            fold_transitions,
        }
    }

    /// Every user's run on `st` with `replay` replayed events, against the main server.
    fn runs(&self, ctx: &Ctx, st: &Stage, replay: usize) -> Vec<UserRun> {
        (0..st.hist.len())
            .map(|u| {
                let f = u % ctx.cfg.folds;
                run_user(
                    ctx,
                    &st.hist[u],
                    &st.stars[u],
                    st.target[u],
                    &self.folds[f],
                    &self.fold_transitions[f],
                    Some((&self.main, &self.transitions)),
                    replay,
                )
            })
            .collect()
    }
}

/// Step 1, on validation only: EASE's lambda, the event mapping, the priors and each prior's
/// online learning rate.
fn tune(data: &Dataset, emb: &[Vec<f32>], cfg: &EvalConfig, log: &mut dyn FnMut(String)) -> Tuning {
    let n_items = data.texts.len();
    let valid = stage(data, 1);
    let recipe = PriorRecipe {
        seed: cfg.seed,
        ..PRIOR_RECIPE
    };

    // EASE lambda by full-ranking NDCG@10 over unseen items.
    let lambda_grid: Vec<(f64, f64)> = cfg
        .lambdas
        .iter()
        .map(|&lambda| {
            let ease = Ease::fit(valid.hist.iter().map(Vec::as_slice), n_items, lambda);
            let ndcg: Vec<f64> = (0..valid.hist.len())
                .map(|u| {
                    let top = top_k(&ease.scores(&valid.hist[u]), &valid.hist[u], 10);
                    ndcg_at(top.iter().position(|&i| i == valid.target[u]), 10)
                })
                .collect();
            (lambda, mean(&ndcg))
        })
        .collect();
    let lambda = best(&lambda_grid);
    log(format!(
        "EASE lambda {lambda} (valid full-ranking NDCG@10: {lambda_grid:?})"
    ));
    let servers = Servers::fit(cfg, &valid, n_items, lambda);

    // The event mapping, by the plain blend fitted in-sample.
    let mode_grid: Vec<(EventMode, f64)> = [EventMode::Rate, EventMode::Implicit]
        .into_iter()
        .map(|mode| {
            let ctx = Ctx {
                data,
                emb,
                cfg,
                mode,
            };
            let lists: Vec<List> = servers
                .runs(&ctx, &valid, 0)
                .into_iter()
                .map(|r| r.list)
                .collect();
            let train: Vec<TrainList> = lists.iter().filter_map(List::train).collect();
            let w = recipe.fit_plain(&train);
            let refs: Vec<&List> = lists.iter().collect();
            (
                mode,
                mean(&evaluate("", &refs, |_| w.clone(), String::new()).ndcg),
            )
        })
        .collect();
    let mode = best(&mode_grid);
    log(format!(
        "event mapping {mode:?} (valid NDCG@10 of the fitted blend, in-sample: {mode_grid:?})"
    ));

    // The priors, and the learning rate each adapts best with.
    let ctx = Ctx {
        data,
        emb,
        cfg,
        mode,
    };
    let runs = servers.runs(&ctx, &valid, cfg.replay);
    log(format!(
        "validation lists and {} replay steps built",
        runs.iter().map(|r| r.steps.len()).sum::<usize>()
    ));
    let train: Vec<TrainList> = runs.iter().filter_map(|r| r.list.train()).collect();
    let online = OnlineConfig::default();
    let plain = recipe.fit_plain(&train);
    let content = recipe.fit_plain(&mask(&train, &CONTENT_FEATURES));
    let tasks: Vec<Vec<TrainList>> = runs
        .iter()
        .filter(|r| !r.steps.is_empty())
        .map(|r| r.steps.clone())
        .collect();
    let meta = recipe.fit_meta(&tasks, &plain, online);
    let lists: Vec<&List> = runs.iter().map(|r| &r.list).collect();
    let lr_grid = |prior: &Weights| -> Vec<(f32, f64)> {
        cfg.lr_grid
            .iter()
            .map(|&lr| {
                let online = OnlineConfig { lr, ..online };
                let adapted = evaluate(
                    "",
                    &lists,
                    |u| adapt(prior, online, &runs[u].steps),
                    String::new(),
                );
                (lr, mean(&adapted.ndcg))
            })
            .collect()
    };
    let (lr_grid_plain, lr_grid_meta) = (lr_grid(&plain), lr_grid(&meta));
    let (lr_plain, lr_meta) = (best(&lr_grid_plain), best(&lr_grid_meta));
    log(format!("online lr: plain prior {lr_plain} ({lr_grid_plain:?}); meta prior {lr_meta} ({lr_grid_meta:?})"));
    Tuning {
        lambda,
        lambda_grid,
        mode,
        mode_grid,
        recipe,
        online,
        plain,
        meta,
        content,
        lists: train.len(),
        lr_plain,
        lr_meta,
        lr_grid_plain,
        lr_grid_meta,
    }
}

/// The choice with the highest score; the first on a tie.
fn best<T: Copy>(grid: &[(T, f64)]) -> T {
    let mut best = grid[0];
    for &point in &grid[1..] {
        if point.1 > best.1 {
            best = point;
        }
    }
    best.0
}

/// Step 2: every method on the test targets, servers refitted on train + validation.
fn test_stage(
    ctx: &Ctx,
    tuning: &Tuning,
    test: &Stage,
    servers: &Servers,
) -> (Vec<MethodResult>, f64) {
    let runs = servers.runs(ctx, test, ctx.cfg.replay);
    let lists: Vec<&List> = runs.iter().map(|r| &r.list).collect();
    let t = tuning;
    let on_plain = OnlineConfig {
        lr: t.lr_plain,
        ..t.online
    };
    let on_meta = OnlineConfig {
        lr: t.lr_meta,
        ..t.online
    };
    let replayed = |lr: f32| format!("lr {lr}, last {} events replayed", ctx.cfg.replay);
    let methods = vec![
        evaluate(
            "server order (EASE)",
            &lists,
            |_| server_weights(),
            String::new(),
        ),
        evaluate(
            "content only (profile features, no server score)",
            &lists,
            |_| t.content.clone(),
            weights_note(&t.content),
        ),
        evaluate(
            "prior blend (fit-prior)",
            &lists,
            |_| t.plain.clone(),
            weights_note(&t.plain),
        ),
        evaluate(
            "meta prior blend (fit-prior --meta)",
            &lists,
            |_| t.meta.clone(),
            weights_note(&t.meta),
        ),
        evaluate(
            "prior + on-device online adaptation",
            &lists,
            |u| adapt(&t.plain, on_plain, &runs[u].steps),
            replayed(t.lr_plain),
        ),
        evaluate(
            "meta prior + on-device online adaptation",
            &lists,
            |u| adapt(&t.meta, on_meta, &runs[u].steps),
            replayed(t.lr_meta),
        ),
    ];
    let recall = mean(
        &lists
            .iter()
            .map(|l| if l.target.is_some() { 1.0 } else { 0.0 })
            .collect::<Vec<_>>(),
    );
    (methods, recall)
}

/// Step 3, cold start: only each user's last `cold_events` test-stage events are known, to the
/// out-of-fold server as well.
fn cold_stage(ctx: &Ctx, tuning: &Tuning, test: &Stage, servers: &Servers) -> Vec<MethodResult> {
    let cold = ctx.cfg.cold_events;
    let runs: Vec<UserRun> = (0..test.hist.len())
        .map(|u| {
            let h = &test.hist[u];
            let from = h.len().saturating_sub(cold);
            let f = u % ctx.cfg.folds;
            run_user(
                ctx,
                &h[from..],
                &test.stars[u][from..],
                test.target[u],
                &servers.folds[f],
                &servers.fold_transitions[f],
                None,
                cold,
            )
        })
        .collect();
    let lists: Vec<&List> = runs.iter().map(|r| &r.list).collect();
    let t = tuning;
    let on_plain = OnlineConfig {
        lr: t.lr_plain,
        ..t.online
    };
    let on_meta = OnlineConfig {
        lr: t.lr_meta,
        ..t.online
    };
    vec![
        evaluate(
            &format!("server order (EASE on the {cold} events)"),
            &lists,
            |_| server_weights(),
            String::new(),
        ),
        evaluate("prior blend", &lists, |_| t.plain.clone(), String::new()),
        evaluate(
            "meta prior blend",
            &lists,
            |_| t.meta.clone(),
            String::new(),
        ),
        evaluate(
            "prior + online adaptation",
            &lists,
            |u| adapt(&t.plain, on_plain, &runs[u].steps),
            format!("lr {}", t.lr_plain),
        ),
        evaluate(
            "meta prior + online adaptation",
            &lists,
            |u| adapt(&t.meta, on_meta, &runs[u].steps),
            format!("lr {}", t.lr_meta),
        ),
    ]
}

/// Runs the whole protocol: tune on validation, then the test and cold-start stages, then the
/// metrics. `emb[i]` = unit embedding of item i's text.
pub fn run(
    data: &Dataset,
    emb: &[Vec<f32>],
    cfg: &EvalConfig,
    log: &mut dyn FnMut(String),
) -> Evaluation {
    let started = Instant::now();
    let mut log = |msg: String| log(format!("[{:>5.0}s] {msg}", started.elapsed().as_secs_f64()));
    let n_items = data.texts.len();
    let tuning = tune(data, emb, cfg, &mut log);

    let test = stage(data, 0);
    let servers = Servers::fit(cfg, &test, n_items, tuning.lambda);
    let ctx = Ctx {
        data,
        emb,
        cfg,
        mode: tuning.mode,
    };
    let (methods, candidate_recall) = test_stage(&ctx, &tuning, &test, &servers);
    log("test stage ranked".into());
    let cold = cold_stage(&ctx, &tuning, &test, &servers);
    log("cold start ranked".into());

    let mut popularity = vec![0f64; n_items];
    for h in &test.hist {
        for &i in h.iter().collect::<HashSet<_>>() {
            popularity[i] += 1.0;
        }
    }
    let catalogue = Catalogue {
        embeddings: emb,
        popularity: &popularity,
        users: data.users.len(),
    };
    Evaluation {
        test: summarise(&methods, &catalogue, cfg.resamples, cfg.seed),
        cold: summarise(&cold, &catalogue, cfg.resamples, cfg.seed + 1),
        seconds: started.elapsed().as_secs_f64(),
        seed: cfg.seed,
        users: data.users.len(),
        items: n_items,
        ratings: data.users.iter().map(Vec::len).sum(),
        candidates: cfg.candidates,
        related: cfg.related,
        replay: cfg.replay,
        folds: cfg.folds,
        cold_events: cfg.cold_events,
        resamples: cfg.resamples,
        candidate_recall,
        tuning,
    }
}
