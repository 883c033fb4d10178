//! The re-ranking protocols on ml-100k, with Cloister's own profile, features and weights doing
//! the work, and Cloister's settings tuned only on users it is not tested on.
//!
//! Per user, events by (timestamp, file row): last = test target, second-to-last = validation
//! target. A protocol names a "server" (EASE or ItemKNN) that sends its top unseen items with
//! their scores and, when the protocol allows, per candidate `related`: the items that most
//! often come shortly before it in other users' sequences (public co-occurrence). Users are
//! split into folds; for the users of one fold, every prior and every setting of Cloister
//! (event mapping, `related` size, time half-lives, learning rate, skip strength) comes from the
//! validation targets of the other folds' users, so every tested user is new to what was
//! fitted.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Instant;

use burn::tensor::Device;
use rayon::prelude::*;

use super::metrics::{mean, ndcg_at, recall_at};
use super::movielens::Dataset;
use super::report::{
    summarise, weights_note, AblationRow, Catalogue, CurvePoint, EventMode, FoldChoice,
    InterestModelReport, MethodResult, ProtocolReport, ServerTuning,
};
use super::server::{top_k, ItemItem, ServerModel};
use crate::interest_model::train::{
    fit as fit_model, fit_meta as fit_model_meta, Slate, TRAIN_RECIPE,
};
use crate::interest_model::{
    event_features, recent_window, replay_choices, GateStep, InterestModel, InterestModelParams,
    Pair, ProjectedTable,
};
use crate::limits::MAX_RELATED;
use crate::profile::{Event, EventKind, InterestProfile, Item, ProfileConfig};
use crate::rank::features::{compute, standardise};
use crate::rank::fit::{refit_softmax, PriorRecipe, TrainList, PRIOR_RECIPE};
use crate::rank::impression::IMPRESSION_ITEMS;
use crate::rank::{Candidate, OnlineConfig, OnlineWeights, Prior, Related, Weights};
use crate::related::Transitions;
use crate::vector::dot;

/// One protocol: which server, how many candidates it sends, what the device may be sent.
#[derive(Debug, Clone)]
pub struct Setup {
    pub name: String,
    pub server: ServerModel,
    pub candidates: usize,
    /// `related` entries per candidate to try (validation picks per fold); `[0]` = none sent.
    pub related_grid: Vec<usize>,
    /// Event mappings to try (validation picks per fold).
    pub modes: Vec<EventMode>,
}

#[derive(Debug, Clone)]
pub struct EvalConfig {
    pub setups: Vec<Setup>,
    pub lambdas: Vec<f64>,
    /// History events replayed as on-device feedback before ranking.
    pub replay: usize,
    pub folds: usize,
    /// A `related` entry counts a predecessor up to this many events before the candidate.
    pub transition_window: usize,
    pub cold_events: usize,
    pub resamples: usize,
    pub seed: u64,
    pub lr_grid: Vec<f32>,
    /// Strengths of "skipped above the chosen item" negatives to try.
    pub skip_grid: Vec<f32>,
    /// Prior precisions (in lists) of the MAP refit to try beside the SGD steps.
    pub map_grid: Vec<f64>,
    /// Short-term half-lives in days to try (`None`: decay by events only).
    pub short_days_grid: Vec<Option<u32>>,
    /// Interest half-lives in days to try (`None`: interests never fade).
    pub interest_days_grid: Vec<Option<u32>>,
    /// Feedback events after which the adaptation curve is measured.
    pub curve: Vec<usize>,
}

impl Default for EvalConfig {
    fn default() -> Self {
        Self {
            setups: vec![
                Setup {
                    name: "A: EASE top-100 with related".into(),
                    server: ServerModel::Ease,
                    candidates: 100,
                    related_grid: vec![0, 32, 64, MAX_RELATED],
                    modes: vec![EventMode::Rate, EventMode::Implicit],
                },
                Setup {
                    name: "B: ItemKNN top-50, star ratings, no related".into(),
                    server: ServerModel::ItemKnn,
                    candidates: 50,
                    related_grid: vec![0],
                    modes: vec![EventMode::Rate],
                },
            ],
            lambdas: vec![50.0, 100.0, 200.0, 400.0, 800.0],
            replay: 30,
            folds: 5,
            transition_window: 3,
            cold_events: 5,
            resamples: 2000,
            seed: 20261124,
            lr_grid: vec![0.0, 0.01, 0.03, 0.1],
            skip_grid: vec![0.0, 0.05, 0.5],
            map_grid: vec![3.0, 10.0, 30.0, 100.0],
            short_days_grid: vec![None, Some(1), Some(7), Some(30)],
            interest_days_grid: vec![None, Some(14), Some(60)],
            curve: vec![0, 1, 3, 5, 10, 20, 30],
        }
    }
}

/// One evaluation stage: history and target per user.
struct Stage {
    hist: Vec<Vec<usize>>,
    stars: Vec<Vec<f32>>,
    /// Event times in ms (ml-100k's are whole seconds).
    at: Vec<Vec<i64>>,
    target: Vec<usize>,
}

/// The text-free control's columns: the server's score, genre match, item popularity.
const CONTROL_FEATURES: [&str; 3] = ["server", "genre_match", "popularity"];

/// A candidate list scored by features, ready to rank with any weights.
struct List {
    names: Vec<String>,
    z: Vec<Vec<f32>>,
    /// The text-free control's standardised columns (`CONTROL_FEATURES`).
    control: Vec<Vec<f32>>,
    items: Vec<usize>,
    target: Option<usize>,
    /// What the learned interest model reads: the profile's recent items (item indices, oldest
    /// first) and their event features.
    history: Vec<usize>,
    history_features: Vec<f32>,
}

fn order_by(names: &[String], z: &[Vec<f32>], weights: &Weights) -> Vec<usize> {
    order_by_scores(&blend_scores(names, z, weights))
}

fn control_names() -> Vec<String> {
    CONTROL_FEATURES.iter().map(|s| s.to_string()).collect()
}

impl List {
    fn train(&self) -> Option<TrainList> {
        self.target.map(|t| TrainList {
            names: self.names.clone(),
            z: self.z.clone(),
            target: t,
        })
    }

    fn control_train(&self) -> Option<TrainList> {
        self.target.map(|t| TrainList {
            names: control_names(),
            z: self.control.clone(),
            target: t,
        })
    }

    fn order(&self, weights: &Weights) -> Vec<usize> {
        order_by(&self.names, &self.z, weights)
    }

    fn pair(&self) -> Pair {
        Pair {
            history: self.history.clone(),
            features: self.history_features.clone(),
            candidates: self.items.clone(),
        }
    }

    fn slate(&self) -> Option<Slate> {
        self.target.map(|target| Slate {
            history: self.history.clone(),
            features: self.history_features.clone(),
            candidates: self.items.clone(),
            target,
            offset: Vec::new(),
        })
    }
}

/// Each row's blend score under `weights`.
fn blend_scores(names: &[String], z: &[Vec<f32>], weights: &Weights) -> Vec<f32> {
    let w: Vec<f32> = names
        .iter()
        .map(|n| weights.get(n).copied().unwrap_or(0.0))
        .collect();
    z.iter().map(|r| dot(&w, r)).collect()
}

/// Cloister's settings that validation picks per fold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Variant {
    pub mode: EventMode,
    pub related: usize,
    /// The short-term taste's half-life in days (`ProfileConfig::short_half_life_days`).
    pub short_days: Option<u32>,
    /// An interest's half-life in days (`ProfileConfig::interest_half_life_days`).
    pub interest_days: Option<u32>,
}

impl Variant {
    /// `mode` and `related` at the product's own time settings (`ProfileConfig::default`).
    fn product(mode: EventMode, related: usize) -> Self {
        let product = ProfileConfig::default();
        let days = |d: Option<f32>| d.map(|d| d as u32);
        Self {
            mode,
            related,
            short_days: days(product.short_half_life_days),
            interest_days: days(product.interest_half_life_days),
        }
    }

    fn profile_config(&self) -> ProfileConfig {
        ProfileConfig {
            short_half_life_days: self.short_days.map(|d| d as f32),
            interest_half_life_days: self.interest_days.map(|d| d as f32),
            ..ProfileConfig::default()
        }
    }

    fn describe(&self) -> String {
        let days = |d: Option<u32>| d.map_or("none".to_string(), |d| format!("{d} d"));
        format!(
            "{} / {} / short {} / interests {}",
            self.mode.event_kind(),
            self.related,
            days(self.short_days),
            days(self.interest_days)
        )
    }
}

struct Ctx<'a> {
    data: &'a Dataset,
    emb: &'a [Vec<f32>],
    cfg: &'a EvalConfig,
    setup: &'a Setup,
    variant: Variant,
    genre_index: &'a BTreeMap<String, usize>,
}

/// Half-life, in events, of the control's genre histogram (the reference's value).
const GENRE_HALF_LIFE: f32 = 10.0;

impl Ctx<'_> {
    fn event(&self, item: usize, stars: f32, at: i64) -> Event {
        let (kind, value) = match self.variant.mode {
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
            at,
        }
    }

    fn observe(&self, profile: &mut InterestProfile, item: usize, stars: f32, at: i64) {
        profile
            .observe(&self.event(item, stars, at), &self.emb[item])
            .expect("item embeddings are unit vectors");
    }

    fn genres(&self, item: usize) -> impl Iterator<Item = usize> + '_ {
        self.data.genres[item].iter().map(|g| self.genre_index[g])
    }

    /// The text-free control's raw columns for `items` after history `seen`.
    fn control_columns(
        &self,
        items: &[usize],
        scores: &[f32],
        seen: &[usize],
        popularity: &[f32],
    ) -> Vec<Vec<f32>> {
        let keep = 0.5f32.powf(1.0 / GENRE_HALF_LIFE);
        let mut hist = vec![0f32; self.genre_index.len()];
        for &i in seen {
            hist.iter_mut().for_each(|h| *h *= keep);
            for g in self.genres(i) {
                hist[g] += 1.0;
            }
        }
        let hist_norm = hist.iter().map(|h| h * h).sum::<f32>().sqrt().max(1e-6);
        items
            .iter()
            .map(|&c| {
                let gs: Vec<usize> = self.genres(c).collect();
                let dotp: f32 = gs.iter().map(|&g| hist[g]).sum();
                let cos = dotp / (hist_norm * (gs.len().max(1) as f32).sqrt());
                vec![scores[c], cos, popularity[c].ln_1p()]
            })
            .collect()
    }

    /// The server's list for a history, with features against `profile`.
    fn list(
        &self,
        profile: &InterestProfile,
        scores: &[f32],
        seen: &[usize],
        target: usize,
        server: &Server,
    ) -> List {
        let items = top_k(scores, seen, self.setup.candidates);
        let candidates: Vec<Candidate> = items
            .iter()
            .map(|&c| {
                let related = server.transitions.before[c]
                    .iter()
                    .take(self.variant.related)
                    .map(|(p, w)| Related {
                        id: p.to_string(),
                        weight: *w as f64,
                    })
                    .collect();
                Candidate::new(c.to_string(), String::new(), scores[c] as f64)
                    .with_category(self.data.categories[c].clone())
                    .with_feature("popularity", (server.popularity[c] as f64).ln_1p())
                    .with_related(related)
            })
            .collect();
        let embs: Vec<&[f32]> = items.iter().map(|&c| self.emb[c].as_slice()).collect();
        let f = compute(profile, &candidates, &embs);
        let control = standardise(
            &self.control_columns(&items, scores, seen, &server.popularity),
            CONTROL_FEATURES.len(),
        );
        let target = items.iter().position(|&c| c == target);
        let window = recent_window(&profile.recent);
        let now = window.iter().map(|e| e.at).max().unwrap_or(0);
        List {
            names: f.names,
            z: f.z,
            control,
            items,
            target,
            history_features: event_features(&window, now),
            history: window
                .iter()
                .map(|e| e.id.parse().expect("evaluation item ids are indices"))
                .collect(),
        }
    }
}

/// Per-user material of one stage: the final list and the replayed feedback slates.
struct UserRun {
    list: List,
    /// The slates of the replayed events, oldest first, each with the item the user took.
    steps: Vec<TrainList>,
    /// The same slates in the text-free control's columns.
    control_steps: Vec<TrainList>,
    /// The same slates as the interest model reads them.
    slates: Vec<Slate>,
}

impl UserRun {
    /// Every list the site has for this user, to fit a prior on: the validation list (where
    /// the server sent the target) and the slates of the replayed history events.
    fn site_lists(&self) -> impl Iterator<Item = TrainList> + '_ {
        self.list
            .train()
            .into_iter()
            .chain(self.steps.iter().cloned())
    }

    /// The replayed slates with `prior`'s blend scores as their offsets.
    fn offset_slates(&self, prior: &Weights) -> Vec<Slate> {
        self.slates
            .iter()
            .zip(&self.steps)
            .map(|(s, t)| Slate {
                offset: blend_scores(&t.names, &t.z, prior),
                ..s.clone()
            })
            .collect()
    }
}

/// One server: its item-to-item model, its transitions and its item popularity.
struct Server {
    model: ItemItem,
    transitions: Transitions,
    popularity: Vec<f32>,
}

impl Server {
    fn fit<'a>(
        setup: &Setup,
        cfg: &EvalConfig,
        hists: impl Iterator<Item = &'a [usize]> + Clone,
        n_items: usize,
        lambda: f64,
    ) -> Self {
        let related = setup.related_grid.iter().copied().max().unwrap_or(0);
        let model = match setup.server {
            ServerModel::Ease => ItemItem::ease(hists.clone(), n_items, lambda),
            ServerModel::ItemKnn => ItemItem::item_knn(hists.clone(), n_items),
        };
        let mut popularity = vec![0f32; n_items];
        for h in hists.clone() {
            for &i in h.iter().collect::<HashSet<_>>() {
                popularity[i] += 1.0;
            }
        }
        Self {
            model,
            transitions: Transitions::fit(hists, n_items, related, cfg.transition_window),
            popularity,
        }
    }
}

/// The servers of one stage: fitted on every user, and without each fold of users (what a
/// user's replayed slates, and the cold-start lists, come from).
struct Servers {
    main: Server,
    folds: Vec<Server>,
}

impl Servers {
    fn fit(setup: &Setup, cfg: &EvalConfig, st: &Stage, n_items: usize, lambda: f64) -> Self {
        let users = st.hist.len();
        let folds = (0..cfg.folds)
            .map(|f| {
                let others: Vec<&[usize]> = (0..users)
                    .filter(|u| u % cfg.folds != f)
                    .map(|u| st.hist[u].as_slice())
                    .collect();
                Server::fit(setup, cfg, others.into_iter(), n_items, lambda)
            })
            .collect();
        Self {
            main: Server::fit(
                setup,
                cfg,
                st.hist.iter().map(Vec::as_slice),
                n_items,
                lambda,
            ),
            folds,
        }
    }
}

/// Replays the last `replay` history events against the user's out-of-fold server (each
/// slate = what that server would have sent then), then builds the final list: from the main
/// server, or for cold start from the out-of-fold one, which knows only these events.
fn run_user(
    ctx: &Ctx,
    st: &Stage,
    u: usize,
    from: usize,
    servers: &Servers,
    cold: bool,
    replay: usize,
) -> UserRun {
    let hist = &st.hist[u][from..];
    let stars = &st.stars[u][from..];
    let at = &st.at[u][from..];
    let fold_server = &servers.folds[u % ctx.cfg.folds];
    let n = hist.len();
    let start = n.saturating_sub(replay).max(1).min(n);
    let mut profile = InterestProfile::new(ctx.variant.profile_config());
    for j in 0..start {
        ctx.observe(&mut profile, hist[j], stars[j], at[j]);
    }
    let mut score = fold_server.model.scores(&hist[..start]);
    let mut steps = Vec::new();
    let mut control_steps = Vec::new();
    let mut slates = Vec::new();
    for j in start..n {
        if replay > 0 {
            let l = ctx.list(&profile, &score, &hist[..j], hist[j], fold_server);
            if let (Some(t), Some(c), Some(s)) = (l.train(), l.control_train(), l.slate()) {
                steps.push(t);
                control_steps.push(c);
                slates.push(s);
            }
        }
        ctx.observe(&mut profile, hist[j], stars[j], at[j]);
        for (s, b) in score.iter_mut().zip(fold_server.model.row(hist[j])) {
            *s += b;
        }
    }
    let list = if cold {
        ctx.list(&profile, &score, hist, st.target[u], fold_server)
    } else {
        let main = &servers.main;
        ctx.list(&profile, &main.model.scores(hist), hist, st.target[u], main)
    };
    UserRun {
        list,
        steps,
        control_steps,
        slates,
    }
}

/// How the held-out user's weights adapt to the replayed feedback. Each replayed slate is
/// ranked by the current weights and its top `IMPRESSION_ITEMS` are shown; when the user's item
/// is among them, that is one piece of feedback. `last` (in `adapt`) = how many of the most
/// recent slates are replayed.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Adaptation {
    /// The product's loop: one `OnlineWeights` step per feedback, the item chosen and the
    /// items shown above it as skipped negatives of strength `skip` (the product's `feedback`).
    Steps { online: OnlineConfig, skip: f32 },
    /// The diagnostic: after each feedback the weights are the MAP fit on every feedback so
    /// far, under a Gaussian prior around the prior weights of this precision (in lists).
    MapRefit { precision: f64 },
}

impl Adaptation {
    fn describe(&self) -> String {
        match self {
            Self::Steps { online, skip } => format!("lr {} skip {skip}", online.lr),
            Self::MapRefit { precision } => format!("MAP refit, prior precision {precision}"),
        }
    }
}

/// The diagnostic row's name in the report.
const MAP_REFIT_METHOD: &str =
    "prior + per-user MAP refit on the same feedback (diagnostic, not the product)";

/// What slate `s` shows under `weights` (its top `IMPRESSION_ITEMS`), and where the user's
/// item is among them; None when it is not shown (no feedback).
fn shown_with_target(s: &TrainList, weights: &Weights) -> Option<(Vec<usize>, usize)> {
    let shown: Vec<usize> = order_by(&s.names, &s.z, weights)
        .into_iter()
        .take(IMPRESSION_ITEMS)
        .collect();
    let pos = shown.iter().position(|&i| i == s.target)?;
    Some((shown, pos))
}

fn adapt(prior: &Weights, a: Adaptation, steps: &[TrainList], last: usize) -> Weights {
    let replayed = &steps[steps.len().saturating_sub(last)..];
    match a {
        Adaptation::MapRefit { precision } => {
            let mut w = prior.clone();
            let mut seen: Vec<TrainList> = Vec::new();
            for s in replayed {
                let Some((shown, pos)) = shown_with_target(s, &w) else {
                    continue;
                };
                seen.push(TrainList {
                    names: s.names.clone(),
                    z: shown.iter().map(|&i| s.z[i].clone()).collect(),
                    target: pos,
                });
                // Two Newton steps from the fit before this list: it moved the optimum little.
                w = refit_softmax(&seen, prior, &w, precision, 2);
            }
            w
        }
        Adaptation::Steps { online, skip } => {
            let mut w = OnlineWeights::new(&Prior {
                weights: prior.clone(),
                online,
                version: String::new(),
                fitted: None,
            });
            if online.lr == 0.0 {
                return w.current;
            }
            for s in replayed {
                let Some((shown, pos)) = shown_with_target(s, &w.current) else {
                    continue;
                };
                let z: Vec<&[f32]> = shown.iter().map(|&i| s.z[i].as_slice()).collect();
                let negatives: Vec<(usize, f32)> = if skip > 0.0 {
                    (0..pos).map(|i| (i, skip)).collect()
                } else {
                    Vec::new()
                };
                let _ = w.update_with(&s.names, &z, &[pos], &negatives);
            }
            w.current
        }
    }
}

/// Scores one method: `order(u)` = user u's candidate order, best first.
fn evaluate(name: &str, lists: &[&List], order: impl Fn(usize) -> Vec<usize>) -> MethodResult {
    let mut r = MethodResult {
        name: name.into(),
        ndcg: vec![],
        recall: vec![],
        top10: vec![],
    };
    for (u, l) in lists.iter().enumerate() {
        let order = order(u);
        let rank = l.target.and_then(|t| order.iter().position(|&i| i == t));
        r.ndcg.push(ndcg_at(rank, 10));
        r.recall.push(recall_at(rank, 10));
        r.top10
            .push(order.iter().take(10).map(|&i| l.items[i]).collect());
    }
    r
}

fn stage(data: &Dataset, back: usize) -> Stage {
    let mut s = Stage {
        hist: vec![],
        stars: vec![],
        at: vec![],
        target: vec![],
    };
    for events in &data.users {
        let n = events.len() - back;
        s.hist
            .push(events[..n - 1].iter().map(|r| r.item).collect());
        s.stars
            .push(events[..n - 1].iter().map(|r| r.rating).collect());
        s.at.push(events[..n - 1].iter().map(|r| r.timestamp * 1000).collect());
        s.target.push(events[n - 1].item);
    }
    s
}

/// Zeroes every column not in `keep`.
fn mask(lists: &[TrainList], keep: impl Fn(&str) -> bool) -> Vec<TrainList> {
    lists
        .iter()
        .map(|l| {
            let cols: Vec<bool> = l.names.iter().map(|n| keep(n)).collect();
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

/// Built-in features that read the profile (the "content only" method uses just these).
const CONTENT_FEATURES: [&str; 8] = [
    "session",
    "short_term",
    "long_term",
    "nn_recent",
    "centroid",
    "stated",
    "negative",
    "category",
];

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

/// An interest model with the catalogue projected once.
struct ModelScorer {
    model: InterestModel,
    table: ProjectedTable,
}

/// A user's interest-model readouts: the final list's, and each replayed slate's with the
/// prior blend's scores (what the model's score is added to) and the index of the item taken.
struct UserReadouts {
    last: Option<Vec<Vec<f32>>>,
    /// The prior blend's scores of the final list.
    offset: Vec<f32>,
    steps: Vec<(Vec<Vec<f32>>, Vec<f32>, usize)>,
}

impl ModelScorer {
    fn new(params: InterestModelParams, catalogue: &[f32]) -> Self {
        let model = InterestModel::new(params, Device::flex());
        let table = model
            .project(catalogue)
            .expect("the catalogue has the model's width");
        Self { model, table }
    }

    fn readouts(&self, run: &UserRun, prior: &Weights) -> UserReadouts {
        let mut pairs: Vec<Pair> = run.slates.iter().map(Slate::pair).collect();
        pairs.push(run.list.pair());
        let mut r = self
            .model
            .phi_projected(&self.table, &pairs)
            .expect("the pairs index the catalogue");
        let last = r.pop().flatten();
        let steps = r
            .into_iter()
            .zip(&run.steps)
            .filter_map(|(r, s)| r.map(|r| (r, blend_scores(&s.names, &s.z, prior), s.target)))
            .collect();
        UserReadouts {
            last,
            offset: blend_scores(&run.list.names, &run.list.z, prior),
            steps,
        }
    }

    /// The final list's scores, the prior blend's plus the model's under the gate adapted on
    /// the last `n` replayed slates as the device adapts it (`interest_model::replay_choices`).
    fn scores(&self, r: &UserReadouts, n: usize) -> Vec<f32> {
        let steps: Vec<GateStep> = r.steps[r.steps.len().saturating_sub(n)..]
            .iter()
            .map(|(phi, offset, chosen)| GateStep {
                phi,
                offset,
                chosen: *chosen,
            })
            .collect();
        let gate = replay_choices(
            &self.model.params.gate,
            &steps,
            IMPRESSION_ITEMS,
            &TRAIN_RECIPE.adaptation,
        );
        match &r.last {
            Some(rows) => rows
                .iter()
                .zip(&r.offset)
                .map(|(p, o)| o + dot(p, &gate))
                .collect(),
            None => r.offset.clone(),
        }
    }
}

/// Best first by score; ties keep the server order (a stable sort).
fn order_by_scores(s: &[f32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..s.len()).collect();
    order.sort_by(|&a, &b| s[b].total_cmp(&s[a]));
    order
}

/// One fold's learned interest models, fitted on the other folds' replayed slates on top of
/// the fold's prior blend.
struct FoldInterestModels {
    plain: ModelScorer,
    meta: ModelScorer,
    /// Fitted like `plain` on the slates without odd items: no odd item is ever a candidate or
    /// the item taken in its training (the transfer test).
    half: ModelScorer,
    note: String,
}

/// Fits fold `f`'s interest models (plain, then meta from it) on the replayed slates of the
/// users outside it, each slate offset by `prior`'s blend scores.
fn fit_fold_interest(
    cfg: &EvalConfig,
    f: usize,
    runs: &[UserRun],
    prior: &Weights,
    emb: &[Vec<f32>],
    catalogue: &[f32],
) -> FoldInterestModels {
    let started = Instant::now();
    let train_users: Vec<usize> = (0..runs.len()).filter(|u| u % cfg.folds != f).collect();
    let tasks: Vec<Vec<Slate>> = train_users
        .iter()
        .map(|&u| runs[u].offset_slates(prior))
        .collect();
    let slates: Vec<Slate> = tasks.iter().flatten().cloned().collect();
    let mut losses = Vec::new();
    let plain = fit_model(emb, &slates, &TRAIN_RECIPE, &mut |m| losses.push(m));
    let meta = fit_model_meta(emb, &tasks, &plain, &TRAIN_RECIPE, &mut |m| losses.push(m));
    let seconds = started.elapsed().as_secs_f64();
    let half_slates: Vec<Slate> = slates
        .iter()
        .filter(|s| s.candidates[s.target] % 2 == 0)
        .map(|s| {
            let keep: Vec<usize> = (0..s.candidates.len())
                .filter(|&i| s.candidates[i] % 2 == 0)
                .collect();
            Slate {
                candidates: keep.iter().map(|&i| s.candidates[i]).collect(),
                offset: keep.iter().map(|&i| s.offset[i]).collect(),
                target: keep
                    .iter()
                    .position(|&i| i == s.target)
                    .expect("the target is even"),
                ..s.clone()
            }
        })
        .collect();
    let half = ModelScorer::new(
        fit_model(emb, &half_slates, &TRAIN_RECIPE, &mut |_| {}),
        catalogue,
    );
    let plain = ModelScorer::new(plain, catalogue);
    let meta = ModelScorer::new(meta, catalogue);
    // Validation: the other folds' validation targets (never a training slate's target).
    let mut ndcg = [Vec::new(), Vec::new(), Vec::new()];
    for &u in &train_users {
        let run = &runs[u];
        let rank = |s: &[f32]| {
            run.list
                .target
                .and_then(|t| order_by_scores(s).iter().position(|&i| i == t))
        };
        let rp = plain.readouts(run, prior);
        let rm = meta.readouts(run, prior);
        ndcg[0].push(ndcg_at(rank(&rp.offset), 10));
        ndcg[1].push(ndcg_at(rank(&plain.scores(&rp, 0)), 10));
        ndcg[2].push(ndcg_at(rank(&meta.scores(&rm, cfg.replay)), 10));
    }
    let note = format!(
        "{} ({seconds:.0} s; {}); validation NDCG@10: prior blend {:.4}, + plain model {:.4}, + meta model adapted {:.4}",
        meta.model.params.source,
        losses
            .iter()
            .map(|m| m.trim_start_matches("interest model: ").to_string())
            .collect::<Vec<_>>()
            .join("; "),
        mean(&ndcg[0]),
        mean(&ndcg[1]),
        mean(&ndcg[2]),
    );
    FoldInterestModels {
        plain,
        meta,
        half,
        note,
    }
}

/// One held-out user's orders by the prior blend plus the interest models.
struct ModelOrders {
    half: Vec<usize>,
    plain: Vec<usize>,
    meta: Vec<usize>,
    meta_adapted: Vec<usize>,
    /// (plain, meta) after the last n replayed slates, for each n of the curve.
    curve: Vec<(Vec<usize>, Vec<usize>)>,
}

fn model_orders(
    m: &FoldInterestModels,
    prior: &Weights,
    run: &UserRun,
    replay: usize,
    curve: &[usize],
) -> ModelOrders {
    let rp = m.plain.readouts(run, prior);
    let rm = m.meta.readouts(run, prior);
    let rh = m.half.readouts(run, prior);
    ModelOrders {
        half: order_by_scores(&m.half.scores(&rh, 0)),
        plain: order_by_scores(&m.plain.scores(&rp, 0)),
        meta: order_by_scores(&m.meta.scores(&rm, 0)),
        meta_adapted: order_by_scores(&m.meta.scores(&rm, replay)),
        curve: curve
            .iter()
            .map(|&n| {
                (
                    order_by_scores(&m.plain.scores(&rp, n)),
                    order_by_scores(&m.meta.scores(&rm, n)),
                )
            })
            .collect(),
    }
}

/// Everything fitted for one held-out fold, from the other folds' validation users only.
struct FoldModels {
    variant: Variant,
    plain: Weights,
    meta: Weights,
    content: Weights,
    control: Weights,
    adapt_plain: Adaptation,
    adapt_meta: Adaptation,
    /// The MAP refit diagnostic, its prior precision chosen like the product's settings.
    adapt_map: Adaptation,
    /// (feature dropped, prior fitted without it).
    ablation: Vec<(String, Weights)>,
    choice: FoldChoice,
    interest: FoldInterestModels,
}

impl FoldModels {
    /// The plain (or meta) prior after the last `last` of `steps` are fed back with the
    /// adaptation chosen for it.
    fn adapted(&self, meta: bool, steps: &[TrainList], last: usize) -> Weights {
        if meta {
            adapt(&self.meta, self.adapt_meta, steps, last)
        } else {
            adapt(&self.plain, self.adapt_plain, steps, last)
        }
    }
}

/// Fits fold `f`'s models on the validation runs of the users outside it.
#[allow(clippy::too_many_arguments)]
fn fit_fold(
    cfg: &EvalConfig,
    recipe: &PriorRecipe,
    f: usize,
    variant: Variant,
    variant_grid: Vec<(Variant, f64)>,
    runs: &[UserRun],
    ablated: &[String],
    emb: &[Vec<f32>],
    catalogue: &[f32],
) -> FoldModels {
    let train_users: Vec<usize> = (0..runs.len()).filter(|u| u % cfg.folds != f).collect();
    // Every list the site has for these users: each one's validation list and the slates its
    // replayed history events came with (about 28 times as many lists). On the folds' held-out
    // validation users (never test) this beat the validation lists alone by +0.0024 NDCG@10
    // [-0.0024, +0.0073] in protocol A and +0.0036 [-0.0011, +0.0086] in B (2026-12-07).
    let train: Vec<TrainList> = train_users
        .iter()
        .flat_map(|&u| runs[u].site_lists())
        .collect();
    let plain = recipe.fit_plain(&train);
    let content = recipe.fit_plain(&mask(&train, |n| CONTENT_FEATURES.contains(&n)));
    let control = recipe.fit_plain(
        &train_users
            .iter()
            .flat_map(|&u| {
                let run = &runs[u];
                run.list
                    .control_train()
                    .into_iter()
                    .chain(run.control_steps.clone())
            })
            .collect::<Vec<_>>(),
    );
    let base = OnlineConfig::default();
    // A task: the user's replayed slates (support), then their validation list (query).
    let tasks: Vec<Vec<TrainList>> = train_users
        .iter()
        .filter_map(|&u| {
            let query = runs[u].list.train()?;
            let mut task = runs[u].steps.clone();
            task.push(query);
            Some(task)
        })
        .collect();
    let meta = recipe.fit_meta(&tasks, &plain, base);
    let lists: Vec<&List> = train_users.iter().map(|&u| &runs[u].list).collect();
    let tune = |prior: &Weights, configs: &[Adaptation]| -> (Adaptation, Vec<(String, f64)>) {
        let grid: Vec<(Adaptation, f64)> = configs
            .iter()
            .map(|&a| {
                let r = evaluate("", &lists, |i| {
                    lists[i].order(&adapt(prior, a, &runs[train_users[i]].steps, cfg.replay))
                });
                (a, mean(&r.ndcg))
            })
            .collect();
        let shown = grid.iter().map(|(a, v)| (a.describe(), *v)).collect();
        (best(&grid), shown)
    };
    let mut product_configs = Vec::new();
    for &lr in &cfg.lr_grid {
        for &skip in &cfg.skip_grid {
            if lr == 0.0 && skip > 0.0 {
                continue;
            }
            product_configs.push(Adaptation::Steps {
                online: OnlineConfig { lr, ..base },
                skip,
            });
        }
    }
    let map_configs: Vec<Adaptation> = cfg
        .map_grid
        .iter()
        .map(|&precision| Adaptation::MapRefit { precision })
        .collect();
    let (adapt_plain, grid_plain) = tune(&plain, &product_configs);
    let (adapt_meta, grid_meta) = tune(&meta, &product_configs);
    let (adapt_map, grid_map) = tune(&plain, &map_configs);
    let ablation = ablated
        .iter()
        .map(|name| (name.clone(), recipe.fit_plain(&mask(&train, |n| n != name))))
        .collect();
    let choice = FoldChoice {
        fold: f,
        train_users: train_users.len(),
        train_lists: train.len(),
        variant: variant.describe(),
        variant_grid: variant_grid
            .iter()
            .map(|(v, s)| (v.describe(), *s))
            .collect(),
        plain: weights_note(&plain),
        meta: weights_note(&meta),
        control: weights_note(&control),
        adapt_plain: adapt_plain.describe(),
        adapt_meta: adapt_meta.describe(),
        adapt_map: adapt_map.describe(),
        grid_plain,
        grid_meta,
        grid_map,
    };
    let interest = fit_fold_interest(cfg, f, runs, &plain, emb, catalogue);
    FoldModels {
        variant,
        plain,
        meta,
        content,
        control,
        adapt_plain,
        adapt_meta,
        adapt_map,
        ablation,
        choice,
        interest,
    }
}

/// The runs of one stage for one variant, built on first use.
struct RunCache<'a> {
    data: &'a Dataset,
    emb: &'a [Vec<f32>],
    cfg: &'a EvalConfig,
    setup: &'a Setup,
    genre_index: &'a BTreeMap<String, usize>,
    runs: BTreeMap<(Variant, bool, usize), Vec<UserRun>>,
}

impl<'a> RunCache<'a> {
    fn new(
        data: &'a Dataset,
        emb: &'a [Vec<f32>],
        cfg: &'a EvalConfig,
        setup: &'a Setup,
        genre_index: &'a BTreeMap<String, usize>,
    ) -> Self {
        Self {
            data,
            emb,
            cfg,
            setup,
            genre_index,
            runs: BTreeMap::new(),
        }
    }

    fn ctx(&self, variant: Variant) -> Ctx<'a> {
        Ctx {
            data: self.data,
            emb: self.emb,
            cfg: self.cfg,
            setup: self.setup,
            variant,
            genre_index: self.genre_index,
        }
    }

    /// Every user's run: `cold` = only the last `cold_events` events, against the
    /// out-of-fold server; `replay` events replayed.
    fn get(
        &mut self,
        variant: Variant,
        st: &Stage,
        servers: &Servers,
        cold: bool,
        replay: usize,
    ) -> &[UserRun] {
        let key = (variant, cold, replay);
        if !self.runs.contains_key(&key) {
            let ctx = self.ctx(variant);
            // Users are independent: one per core, collected in user order (same result).
            let runs = (0..st.hist.len())
                .into_par_iter()
                .map(|u| {
                    let from = if cold {
                        st.hist[u].len().saturating_sub(self.cfg.cold_events)
                    } else {
                        0
                    };
                    run_user(&ctx, st, u, from, servers, cold, replay)
                })
                .collect();
            self.runs.insert(key, runs);
        }
        &self.runs[&key]
    }
}

/// Each genre's column in the control's genre histogram, in name order.
fn genre_index(data: &Dataset) -> BTreeMap<String, usize> {
    data.genres
        .iter()
        .flatten()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .enumerate()
        .map(|(i, g)| (g.clone(), i))
        .collect()
}

/// The server's regularisation, chosen by the server on the validation targets (EASE only).
fn server_lambda(
    setup: &Setup,
    cfg: &EvalConfig,
    valid: &Stage,
    n_items: usize,
) -> (f64, Vec<(f64, f64)>) {
    let users = valid.hist.len();
    match setup.server {
        ServerModel::Ease => {
            let grid: Vec<(f64, f64)> = cfg
                .lambdas
                .iter()
                .map(|&lambda| {
                    let ease =
                        ItemItem::ease(valid.hist.iter().map(Vec::as_slice), n_items, lambda);
                    let ndcg: Vec<f64> = (0..users)
                        .map(|u| {
                            let top = top_k(&ease.scores(&valid.hist[u]), &valid.hist[u], 10);
                            ndcg_at(top.iter().position(|&i| i == valid.target[u]), 10)
                        })
                        .collect();
                    (lambda, mean(&ndcg))
                })
                .collect();
            (best(&grid), grid)
        }
        ServerModel::ItemKnn => (0.0, Vec::new()),
    }
}

/// The interest model `cloister train` ships: fitted (plain, then first-order MAML) on the
/// replayed validation-stage slates of every user of `cfg.setups[0]`, with click events, the
/// most `related` entries and the product's profile settings (what most folds chose in
/// docs/evaluation.md), on top of the prior blend fitted on every user's validation list.
pub fn train_interest_model(
    data: &Dataset,
    emb: &[Vec<f32>],
    cfg: &EvalConfig,
    log: &mut dyn FnMut(String),
) -> InterestModelParams {
    let setup = &cfg.setups[0];
    let n_items = data.texts.len();
    let valid = stage(data, 1);
    let (lambda, _) = server_lambda(setup, cfg, &valid, n_items);
    let servers = Servers::fit(setup, cfg, &valid, n_items, lambda);
    let genre_index = genre_index(data);
    let variant = Variant::product(EventMode::Implicit, MAX_RELATED);
    let mut cache = RunCache::new(data, emb, cfg, setup, &genre_index);
    let runs = cache.get(variant, &valid, &servers, false, cfg.replay);
    let prior = PriorRecipe {
        seed: cfg.seed,
        ..PRIOR_RECIPE
    }
    .fit_plain(
        &runs
            .iter()
            .filter_map(|r| r.list.train())
            .collect::<Vec<_>>(),
    );
    let tasks: Vec<Vec<Slate>> = runs.iter().map(|r| r.offset_slates(&prior)).collect();
    let slates: Vec<Slate> = tasks.iter().flatten().cloned().collect();
    log(format!("{} users, {} slates", tasks.len(), slates.len()));
    let plain = fit_model(emb, &slates, &TRAIN_RECIPE, log);
    let mut meta = fit_model_meta(emb, &tasks, &plain, &TRAIN_RECIPE, log);
    meta.source = format!(
        "cloister train --dataset ml-100k ({}, replayed validation-stage slates of all {} users, on top of the prior blend {}): {}",
        setup.name,
        tasks.len(),
        weights_note(&prior),
        meta.source
    );
    meta
}

/// Runs one protocol: server tuning, the per-fold choices and fits on validation, then the
/// test, cold-start, adaptation-curve and ablation measurements on every user.
fn run_setup(
    data: &Dataset,
    emb: &[Vec<f32>],
    cfg: &EvalConfig,
    setup: &Setup,
    log: &mut dyn FnMut(String),
) -> ProtocolReport {
    let n_items = data.texts.len();
    let users = data.users.len();
    let valid = stage(data, 1);
    let test = stage(data, 0);
    let recipe = PriorRecipe {
        seed: cfg.seed,
        ..PRIOR_RECIPE
    };
    let genre_index = genre_index(data);

    // The server's own hyper-parameter (the site tunes its model on its own logs).
    let (lambda, lambda_grid) = server_lambda(setup, cfg, &valid, n_items);
    log(format!(
        "{}: server lambda {lambda} {lambda_grid:?}",
        setup.name
    ));
    let valid_servers = Servers::fit(setup, cfg, &valid, n_items, lambda);
    let test_servers = Servers::fit(setup, cfg, &test, n_items, lambda);
    log(format!("{}: servers fitted", setup.name));

    let mut valid_runs = RunCache::new(data, emb, cfg, setup, &genre_index);
    let mut test_runs = RunCache::new(data, emb, cfg, setup, &genre_index);

    // Per fold, the variant whose blend (fitted on the other folds' validation lists) ranks
    // those lists best: first the event mapping and `related` size at the product's time
    // settings, then the short-term half-life, then the interests' (one grid at a time).
    let fold_score = |runs: &[UserRun], f: usize| -> f64 {
        let others: Vec<&List> = (0..users)
            .filter(|u| u % cfg.folds != f)
            .map(|u| &runs[u].list)
            .collect();
        let train: Vec<TrainList> = others.iter().filter_map(|l| l.train()).collect();
        let w = recipe.fit_plain(&train);
        let r = evaluate("", &others, |i| others[i].order(&w));
        mean(&r.ndcg)
    };
    let variants: Vec<Variant> = setup
        .modes
        .iter()
        .flat_map(|&mode| {
            setup
                .related_grid
                .iter()
                .map(move |&related| Variant::product(mode, related))
        })
        .collect();
    let mut variant_scores: Vec<Vec<(Variant, f64)>> = vec![Vec::new(); cfg.folds];
    for &v in &variants {
        let runs = valid_runs.get(v, &valid, &valid_servers, false, 0);
        for (f, scores) in variant_scores.iter_mut().enumerate() {
            scores.push((v, fold_score(runs, f)));
        }
    }
    type Stage2 = fn(Variant, Option<u32>) -> Variant;
    let stages: [(&[Option<u32>], Stage2); 2] = [
        (&cfg.short_days_grid, |v, d| Variant { short_days: d, ..v }),
        (&cfg.interest_days_grid, |v, d| Variant {
            interest_days: d,
            ..v
        }),
    ];
    for (grid, with) in stages {
        for (f, scores) in variant_scores.iter_mut().enumerate() {
            let base = best(scores);
            for &d in grid {
                let v = with(base, d);
                if scores.iter().any(|(x, _)| *x == v) {
                    continue;
                }
                let runs = valid_runs.get(v, &valid, &valid_servers, false, 0);
                scores.push((v, fold_score(runs, f)));
            }
        }
    }
    log(format!(
        "{}: variants scored {:?}",
        setup.name,
        variant_scores
            .iter()
            .map(|g| g
                .iter()
                .map(|(v, x)| format!("{} {x:.4}", v.describe()))
                .collect::<Vec<_>>())
            .collect::<Vec<_>>()
    ));

    // Features the ablation drops: every built-in one the data exercises.
    let first = valid_runs.get(variants[0], &valid, &valid_servers, false, 0);
    let all_names = first[0].list.names.clone();

    // Each fold's runs, then the folds' fits side by side (one per core).
    let catalogue: Vec<f32> = emb.iter().flatten().copied().collect();
    let fold_keys: Vec<(Variant, bool, usize)> = variant_scores
        .iter()
        .map(|scores| (best(scores), false, cfg.replay))
        .collect();
    for &(variant, _, replay) in &fold_keys {
        valid_runs.get(variant, &valid, &valid_servers, false, replay);
    }
    let folds: Vec<FoldModels> = (0..cfg.folds)
        .into_par_iter()
        .map(|f| {
            let runs = &valid_runs.runs[&fold_keys[f]];
            let exercised: Vec<String> = all_names
                .iter()
                .enumerate()
                .filter(|(j, _)| {
                    runs.iter()
                        .any(|r| r.list.z.iter().any(|row| row[*j] != 0.0))
                })
                .map(|(_, n)| n.clone())
                .collect();
            fit_fold(
                cfg,
                &recipe,
                f,
                fold_keys[f].0,
                variant_scores[f].clone(),
                runs,
                &exercised,
                emb,
                &catalogue,
            )
        })
        .collect();
    log(format!("{}: {} folds fitted", setup.name, folds.len()));
    for (f, m) in folds.iter().enumerate() {
        log(format!(
            "{}: fold {f} interest model: {}",
            setup.name, m.interest.note
        ));
    }
    let ablated: Vec<String> = folds[0].ablation.iter().map(|(n, _)| n.clone()).collect();
    let unexercised: Vec<String> = all_names
        .iter()
        .filter(|n| !ablated.contains(n))
        .cloned()
        .collect();

    // Test and cold-start lists for each fold's variant.
    let fold_variants: BTreeSet<Variant> = folds.iter().map(|m| m.variant).collect();
    for &v in &fold_variants {
        test_runs.get(v, &test, &test_servers, false, cfg.replay);
        test_runs.get(v, &test, &test_servers, true, cfg.cold_events);
    }
    let user_runs = |cold: bool| -> Vec<&UserRun> {
        (0..users)
            .map(|u| {
                let m = &folds[u % cfg.folds];
                let replay = if cold { cfg.cold_events } else { cfg.replay };
                &test_runs.runs[&(m.variant, cold, replay)][u]
            })
            .collect()
    };
    let (warm_runs, cold_runs) = (user_runs(false), user_runs(true));
    log(format!("{}: test and cold-start lists built", setup.name));
    let fm = |u: usize| &folds[u % cfg.folds];

    let methods = |runs: &[&UserRun], server_name: &str, replay: usize| -> Vec<MethodResult> {
        let lists: Vec<&List> = runs.iter().map(|r| &r.list).collect();
        vec![
            evaluate(server_name, &lists, |u| (0..lists[u].items.len()).collect()),
            evaluate(
                "text-free control (conditional logit: server score, genre match, popularity)",
                &lists,
                |u| order_by(&control_names(), &lists[u].control, &fm(u).control),
            ),
            evaluate(
                "content only (profile features, no server score)",
                &lists,
                |u| lists[u].order(&fm(u).content),
            ),
            evaluate("prior blend (fit-prior)", &lists, |u| {
                lists[u].order(&fm(u).plain)
            }),
            evaluate("meta prior blend (fit-prior --meta)", &lists, |u| {
                lists[u].order(&fm(u).meta)
            }),
            evaluate("prior + on-device adaptation", &lists, |u| {
                lists[u].order(&fm(u).adapted(false, &runs[u].steps, replay))
            }),
            evaluate("meta prior + on-device adaptation", &lists, |u| {
                lists[u].order(&fm(u).adapted(true, &runs[u].steps, replay))
            }),
            evaluate(MAP_REFIT_METHOD, &lists, |u| {
                lists[u].order(&adapt(
                    &fm(u).plain,
                    fm(u).adapt_map,
                    &runs[u].steps,
                    replay,
                ))
            }),
        ]
    };
    let server_label = match setup.server {
        ServerModel::Ease => "EASE",
        ServerModel::ItemKnn => "ItemKNN",
    };
    let mut test_methods = methods(
        &warm_runs,
        &format!("server order ({server_label})"),
        cfg.replay,
    );
    let mut cold_methods = methods(
        &cold_runs,
        &format!(
            "server order ({server_label} on the {} events)",
            cfg.cold_events
        ),
        cfg.cold_events,
    );

    // The learned interest model on the held-out users: alone (plain training, meta-learned,
    // meta-learned with the gate adapted on the replay), and in the blend.
    let orders = |runs: &[&UserRun], replay: usize, curve: &[usize]| -> Vec<ModelOrders> {
        runs.par_iter()
            .enumerate()
            .map(|(u, run)| model_orders(&fm(u).interest, &fm(u).plain, run, replay, curve))
            .collect()
    };
    let warm_orders = orders(&warm_runs, cfg.replay, &cfg.curve);
    let cold_orders = orders(&cold_runs, cfg.cold_events, &[]);
    log(format!("{}: interest models scored", setup.name));
    let model_methods = |runs: &[&UserRun], o: &[ModelOrders]| -> Vec<MethodResult> {
        let lists: Vec<&List> = runs.iter().map(|r| &r.list).collect();
        vec![
            evaluate(
                "prior blend + interest model (plain training)",
                &lists,
                |u| o[u].plain.clone(),
            ),
            evaluate("prior blend + interest model (meta-learned)", &lists, |u| {
                o[u].meta.clone()
            }),
            evaluate(
                "prior blend + interest model (meta-learned, gate adapted on the device)",
                &lists,
                |u| o[u].meta_adapted.clone(),
            ),
        ]
    };
    test_methods.extend(model_methods(&warm_runs, &warm_orders));
    cold_methods.extend(model_methods(&cold_runs, &cold_orders));
    // The MAP refit diagnostic (index 7, after the product's methods) against the prior blend.
    let map_gain = (
        AblationRow::new("MAP refit", &test_methods[3], &test_methods[7], cfg),
        AblationRow::new("MAP refit", &cold_methods[3], &cold_methods[7], cfg),
    );
    let with_model = test_methods.len() - 1;
    let model_gain = AblationRow::new(
        "interest model",
        &test_methods[3],
        &test_methods[with_model],
        cfg,
    );
    let model_cold_gain = AblationRow::new(
        "interest model",
        &cold_methods[3],
        &cold_methods[with_model],
        cfg,
    );
    // Transfer: the users whose test item is odd, which the half model never saw as a candidate.
    let transfer = {
        let odd: Vec<usize> = (0..users).filter(|&u| test.target[u] % 2 == 1).collect();
        let lists: Vec<&List> = odd.iter().map(|&u| &warm_runs[u].list).collect();
        let blend = evaluate("", &lists, |i| lists[i].order(&fm(odd[i]).plain));
        let half = evaluate("", &lists, |i| warm_orders[odd[i]].half.clone());
        let full = evaluate("", &lists, |i| warm_orders[odd[i]].plain.clone());
        (
            odd.len(),
            AblationRow::new("half", &blend, &half, cfg),
            AblationRow::new("all", &blend, &full, cfg),
            mean(&half.ndcg),
            mean(&full.ndcg),
        )
    };
    let model_curve: Vec<CurvePoint> = {
        let lists: Vec<&List> = warm_runs.iter().map(|r| &r.list).collect();
        let at = |k: usize, meta: bool| {
            evaluate("", &lists, |u| {
                let (p, m) = &warm_orders[u].curve[k];
                if meta {
                    m.clone()
                } else {
                    p.clone()
                }
            })
        };
        let (plain0, meta0) = (at(0, false), at(0, true));
        cfg.curve
            .iter()
            .enumerate()
            .map(|(k, &n)| CurvePoint::new(n, &at(k, false), &at(k, true), &plain0, &meta0, cfg))
            .collect()
    };

    // The adaptation curve: each prior after the last n replayed events, against itself at 0.
    let lists: Vec<&List> = warm_runs.iter().map(|r| &r.list).collect();
    let curve_results: Vec<(usize, MethodResult, MethodResult)> = cfg
        .curve
        .iter()
        .map(|&n| {
            let plain = evaluate("", &lists, |u| {
                lists[u].order(&fm(u).adapted(false, &warm_runs[u].steps, n))
            });
            let meta = evaluate("", &lists, |u| {
                lists[u].order(&fm(u).adapted(true, &warm_runs[u].steps, n))
            });
            (n, plain, meta)
        })
        .collect();
    let (_, plain0, meta0) = &curve_results[0];
    let curve: Vec<CurvePoint> = curve_results
        .iter()
        .map(|(n, plain, meta)| CurvePoint::new(*n, plain, meta, plain0, meta0, cfg))
        .collect();

    // Ablation: the prior blend without each feature, against the full blend.
    let full = &test_methods[3];
    let ablation: Vec<AblationRow> = ablated
        .iter()
        .enumerate()
        .map(|(j, name)| {
            let r = evaluate("", &lists, |u| lists[u].order(&fm(u).ablation[j].1));
            AblationRow::new(name, &r, full, cfg)
        })
        .collect();

    let candidate_recall = mean(
        &lists
            .iter()
            .map(|l| if l.target.is_some() { 1.0 } else { 0.0 })
            .collect::<Vec<_>>(),
    );
    let mut popularity = vec![0f64; n_items];
    for h in &test.hist {
        for &i in h.iter().collect::<HashSet<_>>() {
            popularity[i] += 1.0;
        }
    }
    let catalogue = Catalogue {
        embeddings: emb,
        popularity: &popularity,
        users,
    };
    let replay_steps = warm_runs.iter().map(|r| r.steps.len()).sum::<usize>();

    // What `cloister eval --prior-out` ships: the blend fitted as each fold's prior is, on every
    // list the site has (each user's validation list and replayed slates), with the variant and
    // adaptation most folds chose.
    let common = |key: &dyn Fn(&FoldModels) -> String| -> usize {
        let keys: Vec<String> = folds.iter().map(key).collect();
        (0..folds.len())
            .max_by_key(|&i| {
                (
                    keys.iter().filter(|k| **k == keys[i]).count(),
                    folds.len() - i,
                )
            })
            .unwrap_or(0)
    };
    let shipped_variant = folds[common(&|m| format!("{:?}", m.variant))].variant;
    // The product's adaptation is tuned over its own steps only, never the MAP diagnostic.
    let Adaptation::Steps {
        online: shipped_online,
        ..
    } = folds[common(&|m| format!("{:?}", m.adapt_plain))].adapt_plain
    else {
        unreachable!("adapt_plain is chosen from the product's step settings")
    };
    let all_train: Vec<TrainList> = valid_runs
        .get(shipped_variant, &valid, &valid_servers, false, cfg.replay)
        .iter()
        .flat_map(UserRun::site_lists)
        .collect();
    let mut extra = serde_json::Map::new();
    extra.insert(
        "source".into(),
        format!(
            "cloister eval --dataset ml-100k, {}: every user's validation list and replayed slates ({})",
            setup.name,
            shipped_variant.describe()
        )
        .into(),
    );
    let prior = recipe.fit(&all_train, None, shipped_online, extra);

    ProtocolReport {
        prior,
        map_gain,
        name: setup.name.clone(),
        server: setup.server,
        candidates: setup.candidates,
        server_tuning: ServerTuning {
            lambda,
            lambda_grid,
        },
        candidate_recall,
        mean_replay_slates: replay_steps as f64 / users as f64,
        test: summarise(&test_methods, &catalogue, cfg.resamples, cfg.seed),
        cold: summarise(&cold_methods, &catalogue, cfg.resamples, cfg.seed + 1),
        curve,
        ablation,
        unexercised,
        interest_model: InterestModelReport {
            gain: model_gain,
            cold_gain: model_cold_gain,
            curve: model_curve,
            folds: folds.iter().map(|m| m.interest.note.clone()).collect(),
            transfer,
            file_bytes: folds[0].interest.meta.model.params.to_json().len(),
        },
        folds: folds.into_iter().map(|m| m.choice).collect(),
    }
}

/// Runs every protocol. `emb[i]` = unit embedding of item i's text.
pub fn run(
    data: &Dataset,
    emb: &[Vec<f32>],
    cfg: &EvalConfig,
    log: &mut dyn FnMut(String),
) -> super::report::Evaluation {
    let started = Instant::now();
    let mut log = |msg: String| log(format!("[{:>5.0}s] {msg}", started.elapsed().as_secs_f64()));
    let protocols: Vec<ProtocolReport> = cfg
        .setups
        .iter()
        .map(|s| run_setup(data, emb, cfg, s, &mut log))
        .collect();
    super::report::Evaluation {
        seconds: started.elapsed().as_secs_f64(),
        seed: cfg.seed,
        users: data.users.len(),
        items: data.texts.len(),
        ratings: data.users.iter().map(Vec::len).sum(),
        config: cfg.clone(),
        recipe: PriorRecipe {
            seed: cfg.seed,
            ..PRIOR_RECIPE
        },
        online: OnlineConfig::default(),
        protocols,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slate(target: usize) -> TrainList {
        TrainList {
            names: vec!["good".into()],
            z: (0..60)
                .map(|i| vec![if i == target { 1.0 } else { 0.0 }])
                .collect(),
            target,
        }
    }

    #[test]
    fn adaptation_learns_only_from_items_the_weights_would_have_shown() {
        let prior: Weights = [("good".to_string(), -1.0)].into();
        let online = OnlineConfig {
            lr: 0.1,
            ..OnlineConfig::default()
        };
        let a = Adaptation::Steps { online, skip: 0.0 };
        // With weight -1 the target (feature 1) ranks last of 60: never among the 50 shown.
        let steps = vec![slate(3); 5];
        assert_eq!(adapt(&prior, a, &steps, 5)["good"], -1.0);
        // From weight 0 it is shown (ties keep the order), chosen, and the weight rises.
        let zero: Weights = [("good".to_string(), 0.0)].into();
        let w = adapt(&zero, a, &steps, 5)["good"];
        assert!(w > 0.0, "{w}");
        // Only the last n slates count; lr 0 is the prior itself.
        assert_eq!(adapt(&zero, a, &steps, 0)["good"], 0.0);
        let off = Adaptation::Steps {
            online: OnlineConfig { lr: 0.0, ..online },
            skip: 0.0,
        };
        assert_eq!(adapt(&zero, off, &steps, 5)["good"], 0.0);
    }

    #[test]
    fn the_map_refit_moves_with_the_evidence_and_less_under_a_tighter_prior() {
        let zero: Weights = [("good".to_string(), 0.0)].into();
        let map = |precision| Adaptation::MapRefit { precision };
        let steps = vec![slate(3); 5];
        let loose = adapt(&zero, map(1.0), &steps, 5)["good"];
        let tight = adapt(&zero, map(1000.0), &steps, 5)["good"];
        assert!(loose > tight && tight > 0.0, "{loose} {tight}");
        assert!(tight < 0.01, "{tight}");
        // No feedback, no change; a target never shown teaches nothing.
        assert_eq!(adapt(&zero, map(1.0), &steps, 0)["good"], 0.0);
        let hidden: Weights = [("good".to_string(), -1.0)].into();
        assert_eq!(adapt(&hidden, map(1.0), &steps, 5)["good"], -1.0);
    }
}
