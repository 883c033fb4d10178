//! The evaluation's typed result and its renderings: docs/evaluation.md and the JSON summary
//! `cloister eval` prints. Every figure comes from the run; the one set of figures from
//! elsewhere (the Python reference) is marked as such where it is printed.

use std::collections::HashSet;

use serde_json::{json, Value};

use super::metrics::{mean, paired_bootstrap};
use super::protocol::EvalConfig;
use super::server::ServerModel;
use crate::rank::fit::PriorRecipe;
use crate::rank::{OnlineConfig, Prior, Weights};
use crate::vector::dot;

/// How ml-100k ratings become Cloister events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
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
}

/// One row of a results table.
#[derive(Debug, Clone)]
pub struct MethodRow {
    pub name: String,
    pub ndcg10: f64,
    pub recall10: f64,
    /// Mean per-user NDCG@10 difference against the table's first row (the server order), with
    /// its paired-bootstrap 95% interval; `None` on that row itself.
    pub vs_server: Option<(f64, f64, f64)>,
    /// The same against the second row (the text-free control); `None` on the first two rows.
    pub vs_control: Option<(f64, f64, f64)>,
    pub ild10: f64,
    pub coverage10: f64,
    pub novelty10: f64,
}

/// What the catalogue looks like to the metrics: item vectors and how many users had each item.
pub struct Catalogue<'a> {
    pub embeddings: &'a [Vec<f32>],
    pub popularity: &'a [f64],
    pub users: usize,
}

/// The metrics of each method; every method is compared with the first (the server order) and
/// the second (the text-free control) by a paired bootstrap over users (`resamples`, `seed`).
pub fn summarise(
    results: &[MethodResult],
    catalogue: &Catalogue,
    resamples: usize,
    seed: u64,
) -> Vec<MethodRow> {
    let (server, control) = (&results[0], &results[1]);
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
                vs_server: (i > 0)
                    .then(|| paired_bootstrap(&r.ndcg, &server.ndcg, resamples, seed)),
                vs_control: (i > 1)
                    .then(|| paired_bootstrap(&r.ndcg, &control.ndcg, resamples, seed)),
                ild10: ild,
                coverage10: distinct as f64 / catalogue.embeddings.len() as f64,
                novelty10: novelty,
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

/// NDCG@10 of both priors after the last `events` replayed feedback events.
#[derive(Debug, Clone)]
pub struct CurvePoint {
    pub events: usize,
    pub plain: f64,
    pub meta: f64,
    /// Against the same prior with no feedback (paired, 95%).
    pub plain_gain: (f64, f64, f64),
    pub meta_gain: (f64, f64, f64),
    /// Meta prior minus plain prior at this point.
    pub meta_minus_plain: (f64, f64, f64),
}

impl CurvePoint {
    pub fn new(
        events: usize,
        plain: &MethodResult,
        meta: &MethodResult,
        plain0: &MethodResult,
        meta0: &MethodResult,
        cfg: &EvalConfig,
    ) -> Self {
        let b = |a: &MethodResult, c: &MethodResult| {
            paired_bootstrap(&a.ndcg, &c.ndcg, cfg.resamples, cfg.seed + 2)
        };
        Self {
            events,
            plain: mean(&plain.ndcg),
            meta: mean(&meta.ndcg),
            plain_gain: b(plain, plain0),
            meta_gain: b(meta, meta0),
            meta_minus_plain: b(meta, plain),
        }
    }
}

/// The prior blend refitted without one feature.
#[derive(Debug, Clone)]
pub struct AblationRow {
    pub feature: String,
    pub ndcg10: f64,
    /// Full blend minus this one (paired, 95%): above 0 = the feature earns its place.
    pub gain: (f64, f64, f64),
}

impl AblationRow {
    pub fn new(
        feature: &str,
        without: &MethodResult,
        full: &MethodResult,
        cfg: &EvalConfig,
    ) -> Self {
        Self {
            feature: feature.into(),
            ndcg10: mean(&without.ndcg),
            gain: paired_bootstrap(&full.ndcg, &without.ndcg, cfg.resamples, cfg.seed + 3),
        }
    }
}

/// The learned interest model's own measurements.
#[derive(Debug, Clone)]
pub struct InterestModelReport {
    /// The prior blend with the model's column minus without it (test, then cold start).
    pub gain: AblationRow,
    pub cold_gain: AblationRow,
    /// The model alone after n gate steps: plain training ("prior" columns) against the
    /// meta-learned initialisation.
    pub curve: Vec<CurvePoint>,
    /// Each fold's training recipe, time and losses.
    pub folds: Vec<String>,
    /// Size of one fold's model file (JSON, base64 floats).
    pub file_bytes: usize,
    /// Users whose test item is odd; the blend plus the model fitted without odd items, and
    /// plus the model fitted on all items, each against the blend (gain = with minus without);
    /// their NDCG@10.
    pub transfer: (usize, AblationRow, AblationRow, f64, f64),
}

/// What one fold's held-out users were ranked with, fitted on the other folds.
#[derive(Debug, Clone)]
pub struct FoldChoice {
    pub fold: usize,
    pub train_users: usize,
    pub train_lists: usize,
    pub variant: String,
    /// (event mapping / related size, validation NDCG@10 of the blend on the other folds).
    pub variant_grid: Vec<(String, f64)>,
    pub plain: String,
    pub meta: String,
    pub control: String,
    pub adapt_plain: String,
    pub adapt_meta: String,
    pub adapt_map: String,
    pub grid_plain: Vec<(String, f64)>,
    pub grid_meta: Vec<(String, f64)>,
    pub grid_map: Vec<(String, f64)>,
}

#[derive(Debug, Clone)]
pub struct ServerTuning {
    pub lambda: f64,
    /// (lambda, validation NDCG@10 of EASE's full ranking); empty for ItemKNN.
    pub lambda_grid: Vec<(f64, f64)>,
}

/// One protocol's results.
pub struct ProtocolReport {
    pub name: String,
    pub server: ServerModel,
    pub candidates: usize,
    pub server_tuning: ServerTuning,
    /// Share of users whose test target is among the server's candidates.
    pub candidate_recall: f64,
    pub mean_replay_slates: f64,
    pub test: Vec<MethodRow>,
    pub cold: Vec<MethodRow>,
    pub curve: Vec<CurvePoint>,
    pub ablation: Vec<AblationRow>,
    /// Built-in features this data never sets (constant 0 in every list).
    pub unexercised: Vec<String>,
    pub interest_model: InterestModelReport,
    /// The per-user MAP refit diagnostic minus the prior blend (test, then cold start).
    pub map_gain: (AblationRow, AblationRow),
    pub folds: Vec<FoldChoice>,
    /// The prior `cloister eval --prior-out` writes (from every user's validation list and
    /// replayed slates, as each fold's prior).
    pub prior: Prior,
}

/// Everything one `cloister eval` run produced.
pub struct Evaluation {
    pub seconds: f64,
    pub seed: u64,
    pub users: usize,
    pub items: usize,
    pub ratings: usize,
    pub config: EvalConfig,
    pub recipe: PriorRecipe,
    pub online: OnlineConfig,
    pub protocols: Vec<ProtocolReport>,
}

fn grid<T: std::fmt::Display>(points: &[(T, f64)]) -> String {
    points
        .iter()
        .map(|(x, m)| format!("{x}: {m:.4}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn ci((d, lo, hi): (f64, f64, f64)) -> String {
    format!("{d:+.4} [{lo:+.4}, {hi:+.4}]")
}

fn table(rows: &[MethodRow]) -> String {
    let mut md = String::from(
        "| method | NDCG@10 | Recall@10 | dNDCG@10 vs server order [95% CI] | dNDCG@10 vs text-free control [95% CI] | ILD@10 | coverage@10 | novelty@10 |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        md += &format!(
            "| {} | {:.4} | {:.4} | {} | {} | {:.3} | {:.3} | {:.2} |\n",
            r.name,
            r.ndcg10,
            r.recall10,
            r.vs_server.map(ci).unwrap_or_else(|| "(control)".into()),
            r.vs_control.map(ci).unwrap_or_else(|| "(control)".into()),
            r.ild10,
            r.coverage10,
            r.novelty10
        );
    }
    md
}

fn rows_json(rows: &[MethodRow]) -> Vec<Value> {
    rows.iter()
        .map(|r| {
            json!({"method": r.name, "ndcg10": r.ndcg10, "recall10": r.recall10,
                   "vs_server": r.vs_server.map(|(d, lo, hi)| json!({"d": d, "ci": [lo, hi]})),
                   "vs_control": r.vs_control.map(|(d, lo, hi)| json!({"d": d, "ci": [lo, hi]})),
                   "ild10": r.ild10, "coverage10": r.coverage10, "novelty10": r.novelty10})
        })
        .collect()
}

/// Why a feature stays although the ablation measures no gain for it here.
pub fn kept_because(feature: &str) -> &'static str {
    match feature {
        "server" => "the server's own order: the re-ranker refines it, never replaces it",
        "stated" => "cold start from interests stated in free text (no text interests in ml-100k)",
        "negative" => "what the user dismissed or rated low: the only content signal of dislike",
        "dismissed" => "safety: an item the user dismissed must not come back on top",
        "consumed" => "safety: a bought item should not be sold again",
        "exposed" => "items shown again and again without a click sink (no impressions in ml-100k)",
        "centroid" => "the user's interests: each candidate scored by its best one, an abandoned one fading; explanations name it",
        "nn_recent" => "explanations name the recent item a candidate is like",
        "category" => "explanations and the demo's category-level taste",
        "sequence" => "the server's transitions matched to the private history",
        "session" => {
            "the current session, by `at`: a visit's intent, which an event count cannot see"
        }
        "short_term" => "the recent taste; nn_recent and session carry much of the same signal",
        "long_term" => "the contrast with short_term lets a blend follow a drifting taste",
        site if site.starts_with("site:") => {
            "a site's own feature: the site decides whether to send it, the prior weighs it"
        }
        _ => "",
    }
}

/// One row of an adaptation table: n, plain and its gain, meta and its gain, meta - plain.
fn curve_row(p: &CurvePoint) -> String {
    format!(
        "| {} | {:.4} | {} | {:.4} | {} | {} |\n",
        p.events,
        p.plain,
        ci(p.plain_gain),
        p.meta,
        ci(p.meta_gain),
        ci(p.meta_minus_plain)
    )
}

impl ProtocolReport {
    fn markdown(&self, level: &str) -> String {
        let mut md = String::new();
        let server = match self.server {
            ServerModel::Ease => format!(
                "EASE, lambda {} chosen by the server on validation ({})",
                self.server_tuning.lambda,
                grid(&self.server_tuning.lambda_grid)
            ),
            ServerModel::ItemKnn => format!(
                "ItemKNN (cosine of co-occurrence, shrink {})",
                super::server::KNN_SHRINK
            ),
        };
        md += &format!(
            "{level} {name}\n- Server: {server}; it sends its top-{k} unseen items (the test target is among \
             them for {recall:.3} of users). Replayed feedback: {slates:.1} slates per user on average.\n\n",
            name = self.name,
            k = self.candidates,
            recall = self.candidate_recall,
            slates = self.mean_replay_slates,
        );
        md += &format!(
            "{level}# Test: all users, each ranked with what was fitted on the other folds\n{}\n",
            table(&self.test)
        );
        md += &format!(
            "{level}# Cold start: only the user's last events are known (to the server as well)\n{}\n",
            table(&self.cold)
        );
        md += &format!(
            "{level}# Adaptation on held-out users: NDCG@10 after the last n history events are fed back\n\
             | n events | prior | gain vs n=0 [95% CI] | meta prior | gain vs n=0 [95% CI] | meta - prior [95% CI] |\n\
             |---|---|---|---|---|---|\n"
        );
        for p in &self.curve {
            md += &curve_row(p);
        }
        let (map_test, map_cold) = &self.map_gain;
        md += &format!(
            "\nIs a better update rule the missing piece? A diagnostic, not the product: after each feedback \
             event, the user's weights are refitted by Newton's method on all of that user's feedback so far \
             (the same shown items and choices), under a Gaussian prior around the prior blend whose precision \
             (in lists) each fold chooses on the other folds' validation users (last table). If a better update \
             rule were what the product lacks, this would show it. Minus the prior blend, \
             paired 95% CI: test {} (prior blend {:.4}), cold start {} (prior blend {:.4}).\n",
            ci(map_test.gain),
            map_test.ndcg10,
            ci(map_cold.gain),
            map_cold.ndcg10,
        );
        md += &format!(
            "\n{level}# Ablation: the prior blend refitted without each feature (full blend {:.4})\n\
             | feature dropped | NDCG@10 without it | gain of the feature [95% CI] | kept because |\n|---|---|---|---|\n",
            self.test[3].ndcg10
        );
        for a in &self.ablation {
            let why = if a.gain.1 > 0.0 {
                "measured gain".to_string()
            } else {
                kept_because(&a.feature).to_string()
            };
            md += &format!(
                "| {} | {:.4} | {} | {} |\n",
                a.feature,
                a.ndcg10,
                ci(a.gain),
                why
            );
        }
        for f in &self.unexercised {
            md += &format!(
                "| {f} | (never set by this data) | not measurable here | {} |\n",
                kept_because(f)
            );
        }
        let im = &self.interest_model;
        md += &format!(
            "\n{level}# The learned interest model\n\
             Attention from each candidate to the user's last {hist} recent items (their text embeddings, \
             with kind, strength, age and position). Its score is added to the prior blend's, and it is \
             trained per fold, with burn's autodiff (`interest_model::train`), on the other folds' replayed \
             slates with the fold's prior blend as the offset: it learns what the blend misses. Plain \
             training = listwise softmax; meta-learned = first-order MAML over users from it, each user's \
             support replayed through the device's gate steps. Model file {kb:.0} KB.\n\n\
             - Prior blend + meta model (gate adapted on the device) minus the prior blend, paired 95% CI: \
             test {} ({:.4} without), cold start {} ({:.4} without).\n\n\
             Prior blend + model after n gate steps on the held-out users' replayed slates:\n\n\
             | n gate steps | plain training | gain vs n=0 [95% CI] | meta-learned | gain vs n=0 [95% CI] | meta - plain [95% CI] |\n\
             |---|---|---|---|---|---|\n",
            ci(im.gain.gain),
            im.gain.ndcg10,
            ci(im.cold_gain.gain),
            im.cold_gain.ndcg10,
            hist = crate::interest_model::MAX_HISTORY,
            kb = im.file_bytes as f64 / 1000.0,
        );
        for p in &im.curve {
            md += &curve_row(p);
        }
        let (n, half, all, half_ndcg, all_ndcg) = &im.transfer;
        md += &format!(
            "\nTransfer to items never seen in training: each fold also fits the plain model on its slates \
             without odd-numbered items (no odd item is a candidate or the item taken; histories keep them, \
             as inputs). On the {n} test users whose item is odd, the prior blend scores {:.4}; plus that \
             model {half_ndcg:.4}, gain {}; plus the model fitted on all items {all_ndcg:.4}, gain {}.\n",
            half.ndcg10,
            ci(half.gain),
            ci(all.gain),
        );
        md += "\nPer fold: ";
        md += &im
            .folds
            .iter()
            .enumerate()
            .map(|(f, n)| format!("fold {f}: {n}"))
            .collect::<Vec<_>>()
            .join(". ");
        md += "\n";
        md += &format!(
            "\n{level}# What each fold's users were ranked with (fitted on the other folds' validation users)\n\
             | fold | users / lists fitted on | variant chosen (validation NDCG@10 per variant) | prior | meta prior | control | adaptation: prior (grid) | adaptation: meta prior (grid) | MAP refit diagnostic (grid) |\n\
             |---|---|---|---|---|---|---|---|---|\n"
        );
        for f in &self.folds {
            md += &format!(
                "| {} | {} / {} | {} ({}) | {} | {} | {} | {} ({}) | {} ({}) | {} ({}) |\n",
                f.fold,
                f.train_users,
                f.train_lists,
                f.variant,
                grid(&f.variant_grid),
                f.plain,
                f.meta,
                f.control,
                f.adapt_plain,
                grid(&f.grid_plain),
                f.adapt_meta,
                grid(&f.grid_meta),
                f.adapt_map,
                grid(&f.grid_map)
            );
        }
        md
    }

    fn summary(&self) -> Value {
        json!({
            "name": self.name, "candidate_recall": self.candidate_recall,
            "test": rows_json(&self.test), "cold_start": rows_json(&self.cold),
            "curve": self.curve.iter().map(|p| json!({"events": p.events, "prior": p.plain,
                "meta_prior": p.meta, "prior_gain": p.plain_gain.0, "meta_gain": p.meta_gain.0}))
                .collect::<Vec<_>>(),
            "ablation": self.ablation.iter().map(|a| json!({"feature": a.feature,
                "ndcg10_without": a.ndcg10, "gain": a.gain.0, "ci": [a.gain.1, a.gain.2]}))
                .collect::<Vec<_>>(),
        })
    }

    /// The adaptation curve as an SVG line chart (NDCG@10 against feedback events).
    pub fn curve_svg(&self) -> String {
        let (w, h, left, right, top, bottom) = (640.0, 360.0, 64.0, 16.0, 40.0, 48.0);
        let xs: Vec<f64> = self.curve.iter().map(|p| p.events as f64).collect();
        let ys: Vec<f64> = self.curve.iter().flat_map(|p| [p.plain, p.meta]).collect();
        let x_max = xs.iter().copied().fold(1.0, f64::max);
        let (mut y_min, mut y_max) = ys
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &y| {
                (lo.min(y), hi.max(y))
            });
        let pad = ((y_max - y_min) * 0.15).max(0.002);
        y_min -= pad;
        y_max += pad;
        let px = |x: f64| left + (x / x_max) * (w - left - right);
        let py = |y: f64| top + (1.0 - (y - y_min) / (y_max - y_min)) * (h - top - bottom);
        let line = |f: &dyn Fn(&CurvePoint) -> f64| {
            self.curve
                .iter()
                .map(|p| format!("{:.1},{:.1}", px(p.events as f64), py(f(p))))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let mut svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" \
             font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"{w}\" height=\"{h}\" fill=\"white\"/>\n\
             <text x=\"{left}\" y=\"20\" font-size=\"14\">{} : NDCG@10 of held-out users after n feedback events</text>\n",
            self.name
        );
        for k in 0..=4 {
            let y = y_min + (y_max - y_min) * k as f64 / 4.0;
            svg += &format!(
                "<line x1=\"{left}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#ddd\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{y:.4}</text>\n",
                w - right,
                py(y),
                py(y),
                left - 6.0,
                py(y) + 4.0
            );
        }
        for p in &self.curve {
            svg += &format!(
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n",
                px(p.events as f64),
                h - bottom + 18.0,
                p.events
            );
        }
        svg += &format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">feedback events replayed (n)</text>\n",
            (left + w - right) / 2.0,
            h - 8.0
        );
        for (name, colour, f) in [
            (
                "prior",
                "#1f77b4",
                &(|p: &CurvePoint| p.plain) as &dyn Fn(&CurvePoint) -> f64,
            ),
            (
                "meta prior",
                "#d62728",
                &(|p: &CurvePoint| p.meta) as &dyn Fn(&CurvePoint) -> f64,
            ),
        ] {
            svg += &format!(
                "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>\n",
                line(f)
            );
            for p in &self.curve {
                svg += &format!(
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{colour}\"/>\n",
                    px(p.events as f64),
                    py(f(p))
                );
            }
            let last = self.curve.last().map(f).unwrap_or(0.0);
            svg += &format!(
                "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"{colour}\" text-anchor=\"end\">{name}</text>\n",
                w - right,
                py(last) - 8.0
            );
        }
        svg += "</svg>\n";
        svg
    }
}

impl Evaluation {
    /// The prior validation chose for the first protocol, as a prior file (`--prior-out`).
    pub fn prior(&self) -> Prior {
        self.protocols[0].prior.clone()
    }

    /// The summary `cloister eval` prints.
    pub fn summary(&self) -> Value {
        json!({
            "protocols": self.protocols.iter().map(ProtocolReport::summary).collect::<Vec<_>>(),
            "seconds": self.seconds,
        })
    }

    /// The adaptation chart of the first protocol (docs/evaluation-adaptation.svg).
    pub fn curve_svg(&self) -> String {
        self.protocols[0].curve_svg()
    }

    /// docs/evaluation.md; `svg_name` = the adaptation chart's file name beside it.
    pub fn markdown(&self, svg_name: &str) -> String {
        let days = |grid: &[Option<u32>]| {
            grid.iter()
                .map(|d| d.map_or("none".to_string(), |d| d.to_string()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let c = &self.config;
        let r = &self.recipe;
        let o = &self.online;
        let mut md = format!(
"# Offline evaluation: re-ranking MovieLens-100k on the device

Generated by `dist/cloister eval --dataset ml-100k` ({secs:.0} s on this machine, seed {seed}). Every
number below comes from that run, except the lines marked as coming from elsewhere; re-run it to
reproduce them.

## Protocol
- Data: MovieLens-100k from the PyPI wheel `recbole==1.2.1`, fetched at run time into the user's cache
  (GroupLens terms: research use; never committed, never shipped). {users} users, {items} items,
  {ratings} ratings. Item text `\"{{title}} ({{year}}). Genres: g1, g2\"`, embedded by Cloister's own int8 encoder.
- Split: per user, events by (timestamp, file row); last = test target, second-to-last = validation target.
  Every user is tested once, on the last event; a target the server did not send scores 0.
- New users: users are split into {folds} folds. The users of a fold are ranked with priors, meta priors and
  settings (event mapping, `related` size, learning rate, skip strength, and the profile's half-lives in
  days: the short-term taste's from {{{short_days}}}, then the interests' from {{{interest_days}}}, one
  after the other at the best event mapping and `related` size) fitted and chosen only on the validation
  targets of the other folds' users. Nothing is chosen on test.
- Servers: the server's own model is fitted on every user's history (it is the site's model, on the site's
  logs); the replayed slates come from the same model fitted without the user's fold, so a past item is not
  scored by a model that memorised it.
- Candidates carry, when the protocol allows, `related`: for each candidate, the items that most often come
  up to {window} events before it in other users' sequences, weight P(candidate follows that item); the device
  matches them against its private history (recency-weighted, half-life 3 items). Each entry costs about
  20 bytes of JSON per candidate (`{{\"id\":\"1234\",\"weight\":0.0123}}`), so 20 entries add about 0.4 KB per candidate.
- Priors, by the recipe `cloister fit-prior` uses (`rank::fit::PRIOR_RECIPE`): `fit-prior` = {plain_method};
  `fit-prior --meta` = {meta_method}, with each user's replayed slates as a task.
- Text-free control: the same conditional-logit regression on three columns a site has without any text:
  the server's score, genre match (cosine of the candidate's genres with the user's genre histogram, decayed
  with half-life 10 events) and popularity (log of 1 + users who had the item). Fitted per fold like the priors.
- What the prior, the content-only blend, the control and the ablation are fitted on: per fold, the other
  folds' users' validation lists and the slates of their replayed history events (every list the site has
  for them). Against the validation lists alone, on each fold's held-out validation users (never test),
  this gained +0.0024 NDCG@10 [-0.0024, +0.0073] in protocol A and +0.0036 [-0.0011, +0.0086] in B
  (run of 2026-12-07, not this one). The event mapping, `related` size and half-lives are still compared
  on the validation lists.
- On-device adaptation, as the product does it: the user's last {replay} history events are replayed in order;
  at each, the server's slate is ranked by the current weights and its top {shown} are shown; when the user's
  next item is among them, one `OnlineWeights` step is taken with it chosen and the items shown above it as
  skipped negatives (L2 pull {l2} to the prior, step norm <= {max_step}). Learning rate from {{{lrs}}} and skip
  strength from {{{skips}}}, chosen per fold on the other folds' validation users.
- A diagnostic beside it (not the product): the same replay, but after each feedback event the user's weights
  are the MAP fit (Newton's method) on all of that user's feedback so far, under a Gaussian prior around the
  prior blend of precision {{{maps}}} (in lists), chosen the same way. It asks whether the product's update
  rule, rather than the feedback itself, is what limits adaptation.
- Metrics: NDCG@10 and Recall@10 (one target per user); 95% CIs of per-user NDCG@10 differences by paired
  bootstrap over users ({resamples} resamples), against the server order and against the text-free control,
  on the same candidates. ILD@10 = mean pairwise (1 - cosine) of the top 10; coverage@10 = share of the
  catalogue in anyone's top 10; novelty@10 = mean -log2 of an item's share of users.
- Cold start: only the user's last {cold} events are known, to the server as well (its model fitted without
  the user's fold ranks from those {cold} events); the device has the same {cold} events.

Not produced by this run: `shared/eval-reference/results.md` (a Python implementation of protocol A's
set-up, tuned and fitted on all users) reports 0.0723 for the server order, 0.0918 for a softmax blend of
MiniLM features and 0.1218 for that blend with an item-to-item transition feature.

![Adaptation curve]({svg_name})

",
            secs = self.seconds,
            seed = self.seed,
            users = self.users,
            items = self.items,
            ratings = self.ratings,
            folds = c.folds,
            window = c.transition_window,
            plain_method = r.plain_method(),
            meta_method = r.meta_method(),
            replay = c.replay,
            shown = crate::rank::impression::IMPRESSION_ITEMS,
            l2 = o.l2,
            max_step = o.max_step,
            lrs = c.lr_grid.iter().map(f32::to_string).collect::<Vec<_>>().join(", "),
            skips = c.skip_grid.iter().map(f32::to_string).collect::<Vec<_>>().join(", "),
            maps = c.map_grid.iter().map(f64::to_string).collect::<Vec<_>>().join(", "),
            short_days = days(&c.short_days_grid),
            interest_days = days(&c.interest_days_grid),
            resamples = c.resamples,
            cold = c.cold_events,
        );
        for p in &self.protocols {
            md += &p.markdown("##");
            md += "\n";
        }
        md
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
