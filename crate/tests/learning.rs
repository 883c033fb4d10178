//! Learning from the user's own feedback (issue 14): impressions that survive a reload,
//! dismissals and skipped items that move the weights, exposure that slowly sinks an item, and
//! saved state that is checked before it is trusted.

mod common;

use cloister::encoder::Embeddings;
use cloister::{
    Candidate, Event, EventKind, InputErrorKind, Item, Prior, Recommender, RerankOptions,
};

/// The clock events are checked against: 2026-11-29.
const NOW: i64 = 1_796_000_000_000;

/// A unit vector pointing mostly along axis `axis`, a little along `axis + 1`.
fn vector(axis: usize, tilt: f32) -> Vec<f32> {
    let mut v = vec![0.0f32; 384];
    v[axis % 384] = 1.0;
    v[(axis + 1) % 384] = tilt;
    let n = (1.0 + tilt * tilt).sqrt();
    v.iter().map(|x| x / n).collect()
}

/// Twelve candidates carrying their own embeddings: c0..c5 near axis 0, c6..c11 near axis 5;
/// server scores fall with the index.
fn list() -> Vec<Candidate> {
    (0..12)
        .map(|i| {
            let axis = if i < 6 { 0 } else { 5 };
            let mut c = Candidate::new(format!("c{i}"), format!("text {i}"), 12.0 - i as f64);
            c.embedding = Some(vector(axis, i as f32 * 0.05).into());
            c.model = Some("m".into());
            c
        })
        .collect()
}

fn recommender() -> Recommender {
    let mut rec = Recommender::new(&Prior::default(), "m");
    let vectors: Vec<Vec<f32>> = (0..4)
        .map(|i| vector(if i < 2 { 0 } else { 5 }, 0.1))
        .collect();
    common::click_history(&mut rec, &vectors, NOW);
    rec
}

fn top(k: usize) -> RerankOptions {
    RerankOptions {
        k: Some(k),
        ..Default::default()
    }
}

#[test]
fn feedback_after_a_reload_finds_its_impression() {
    let mut rec = recommender();
    let shown = rec.rerank(list(), &top(5)).unwrap();
    let saved = rec.to_bytes();

    // A new page: a fresh recommender restores the saved state and answers the old impression.
    let mut reloaded = Recommender::new(&Prior::default(), "m");
    reloaded.restore(&saved).unwrap();
    let chosen = shown.shown()[2].id.clone();
    let delta = reloaded
        .feedback(&shown.impression_id, &[chosen], &[])
        .unwrap();
    assert!(delta.values().any(|d| d.abs() > 1e-6), "{delta:?}");
    assert_eq!(reloaded.weights().steps, 1);
    // The next impression does not reuse the old one's id.
    let next = reloaded.rerank(list(), &top(5)).unwrap();
    assert_ne!(next.impression_id, shown.impression_id);
}

#[test]
fn a_dismissed_item_moves_the_weights_against_what_it_stood_for() {
    let mut rec = recommender();
    let before = rec.weights().current.clone();
    // Nothing was shown yet: a dismissal updates the profile only.
    let texts = vec!["text 0".to_string()];
    rec.put_embeddings(
        &texts,
        &Embeddings {
            data: vector(0, 0.0),
        },
    )
    .unwrap();
    let dismiss = Event {
        item: Item {
            id: "c0".into(),
            text: "text 0".into(),
            category: None,
        },
        kind: EventKind::Dismiss,
        value: None,
        at: NOW,
    };
    rec.record(dismiss.clone(), NOW).unwrap();
    assert_eq!(rec.weights().current, before);
    // Shown, then dismissed: one online step that lowers what the dismissed item scores on.
    let shown = rec.rerank(list(), &top(5)).unwrap();
    let target = shown.shown()[1].id.clone();
    let row = row_of(&shown, &target);
    let mut via_feedback = rec.clone();
    let mut dismissing = rec.clone();
    dismissing
        .record(
            Event {
                item: Item {
                    id: target.clone(),
                    text: "text 0".into(),
                    category: None,
                },
                ..dismiss
            },
            NOW,
        )
        .unwrap();
    assert_eq!(dismissing.weights().steps, 1);
    // Against the mean of what was shown with it, the dismissed item now scores lower.
    let mean = mean_row(&shown);
    let gap: Vec<(String, f32)> = row
        .iter()
        .zip(&mean)
        .map(|((n, x), m)| (n.clone(), x - m))
        .collect();
    assert!(change(&before, &dismissing, &gap) < 0.0);
    // The same through feedback's `dismissed`.
    via_feedback
        .feedback(&shown.impression_id, &[], &[target])
        .unwrap();
    assert!(change(&before, &via_feedback, &gap) < 0.0);
}

/// The mean standardised row of the items on screen.
fn mean_row(ranked: &cloister::recommender::Reranked) -> Vec<f32> {
    let rows: Vec<Vec<(String, f32)>> = ranked
        .shown()
        .iter()
        .map(|i| row_of(ranked, &i.id))
        .collect();
    (0..rows[0].len())
        .map(|j| rows.iter().map(|r| r[j].1).sum::<f32>() / rows.len() as f32)
        .collect()
}

/// An item's standardised features in a ranking, by column name.
fn row_of(ranked: &cloister::recommender::Reranked, id: &str) -> Vec<(String, f32)> {
    let list = list();
    let i = list.iter().position(|c| c.id == id).unwrap();
    let f = &ranked.ranking.features;
    f.names
        .iter()
        .cloned()
        .zip(f.z[i].iter().copied())
        .collect()
}

/// How much the weights' change since `before` moves the score of `row`.
fn change(before: &cloister::rank::Weights, rec: &Recommender, row: &[(String, f32)]) -> f32 {
    row.iter()
        .map(|(n, z)| (rec.weights().weight(n) - before.get(n).copied().unwrap_or(0.0)) * z)
        .sum()
}

#[test]
fn items_skipped_above_the_chosen_one_count_against_what_they_share() {
    let mut rec = recommender();
    let shown = rec.rerank(list(), &top(8)).unwrap();
    let ids: Vec<String> = shown.shown().iter().map(|i| i.id.clone()).collect();
    // The user passes over the first three items and takes the fourth: each skipped one now
    // scores lower against the chosen one than before.
    let before = rec.weights().current.clone();
    rec.feedback(&shown.impression_id, &[ids[3].clone()], &[])
        .unwrap();
    let chosen = row_of(&shown, &ids[3]);
    for skipped in &ids[..3] {
        let row = row_of(&shown, skipped);
        let gap: Vec<(String, f32)> = row
            .iter()
            .zip(&chosen)
            .map(|((n, s), (_, c))| (n.clone(), s - c))
            .collect();
        assert!(change(&before, &rec, &gap) < 0.0, "{skipped}");
    }
}

#[test]
fn an_item_shown_again_and_again_without_a_click_slowly_sinks() {
    let mut rec = recommender();
    let first = rec.rerank(list(), &top(3)).unwrap();
    let leader = first.shown()[0].id.clone();
    let first_three: Vec<String> = first.shown().iter().map(|i| i.id.clone()).collect();
    let score = |page: &cloister::recommender::Reranked| {
        page.ranking
            .items
            .iter()
            .find(|i| i.id == leader)
            .map(|i| i.score)
            .unwrap()
    };
    let mut scores = vec![score(&first)];
    let mut left_at = None;
    for page in 1..50 {
        let ranked = rec.rerank(list(), &top(3)).unwrap();
        scores.push(score(&ranked));
        let now: Vec<&str> = ranked.shown().iter().map(|i| i.id.as_str()).collect();
        if left_at.is_none() && first_three.iter().any(|id| !now.contains(&id.as_str())) {
            left_at = Some(page);
        }
    }
    // The first showings are free (a page may render twice); after that the leader's score
    // falls with every page it is shown on, and the top 3 starts to change.
    assert!(scores[..3].windows(2).all(|w| w[0] == w[1]), "{scores:?}");
    assert!(scores[3..].windows(2).all(|w| w[1] < w[0]), "{scores:?}");
    let left_at = left_at.expect("the first page's top 3 never changed");
    assert!(left_at > 2, "changed after {left_at} pages");
    // Choosing it wipes its exposure.
    let page = rec.rerank(list(), &top(12)).unwrap();
    rec.feedback(&page.impression_id, std::slice::from_ref(&leader), &[])
        .unwrap();
    assert_eq!(rec.profile().exposure(&leader), 0);
}

#[test]
fn a_corrupt_saved_impression_is_refused_and_nothing_changes() {
    let mut rec = recommender();
    rec.rerank(list(), &top(5)).unwrap();
    let mut state = rec.saved_state();
    state.impressions.kept[0].z.truncate(3);
    let document = serde_json::json!({
        "format": "cloister-profile",
        "version": 1,
        "state": state,
    })
    .to_string();
    let mut other = recommender();
    let before = other.saved_state();
    let err = other.import_document(&document).unwrap_err();
    assert_eq!(err.kind(), "store_corrupt", "{err}");
    assert!(err.to_string().contains("impression"), "{err}");
    assert_eq!(other.saved_state(), before);
    // Feedback on a lost or unknown impression is a typed error.
    let err = other.feedback("imp-999", &["c0".into()], &[]).unwrap_err();
    assert_eq!(err.kind, InputErrorKind::UnknownImpression);
}

#[test]
fn a_returning_user_keeps_what_they_learned_when_the_site_ships_a_new_prior() {
    let v1 = Prior {
        version: "v1".into(),
        ..Prior::default()
    };
    let mut first_visit = Recommender::new(&v1, "m");
    let texts = vec!["history 0".to_string()];
    first_visit
        .put_embeddings(
            &texts,
            &Embeddings {
                data: vector(0, 0.1),
            },
        )
        .unwrap();
    for _ in 0..5 {
        let shown = first_visit.rerank(list(), &top(8)).unwrap();
        let pick = shown.shown()[5].id.clone();
        first_visit
            .feedback(&shown.impression_id, &[pick], &[])
            .unwrap();
    }
    let learned = first_visit.weights().clone();
    let saved = first_visit.to_bytes();

    // Same prior: the state comes back as it was.
    let mut same = Recommender::new(&v1, "m");
    same.restore(&saved).unwrap();
    assert_eq!(same.weights(), &learned);

    // A new prior: its weights, plus the user's offset from the old one.
    let mut v2 = Prior {
        version: "v2".into(),
        ..Prior::default()
    };
    v2.weights.insert("server".into(), 0.9);
    let mut returning = Recommender::new(&v2, "m");
    returning.restore(&saved).unwrap();
    let w = returning.weights();
    assert_eq!(w.prior, v2.weights);
    assert_eq!(w.prior_version, "v2");
    for (name, new_prior) in &v2.weights {
        let offset = learned.current[name] - learned.prior[name];
        let expected = new_prior + offset.clamp(-1.0, 1.0);
        assert!((w.current[name] - expected).abs() < 1e-6, "{name}");
    }
    assert!(w.current != w.prior, "the offset was carried");
    // forget() returns to the site's current prior, not the saved one.
    returning.forget();
    assert_eq!(returning.weights().current, v2.weights);
    assert_eq!(returning.weights().prior_version, "v2");
}

/// Twelve candidates on twelve different axes (so every feature tells them apart); server
/// scores fall with the index.
fn spread_list() -> Vec<Candidate> {
    (0..12)
        .map(|i| {
            let mut c = Candidate::new(format!("c{i}"), format!("text {i}"), 12.0 - i as f64);
            c.embedding = Some(vector(i, 0.3).into());
            c.model = Some("m".into());
            c
        })
        .collect()
}

/// Over 32 seeds: how many of the top `k` differ from the top `k` without exploration, on
/// average, and the propensities of the first seed's ranking. Ranks with the pure core
/// `rerank`, so measuring shows nothing to the profile (no exposures).
fn exploration_churn(
    profile: &cloister::profile::InterestProfile,
    weights: &cloister::rank::OnlineWeights,
    k: usize,
) -> (f32, Vec<(String, f32)>) {
    let list = spread_list();
    let vectors: Vec<&[f32]> = list
        .iter()
        .map(|c| c.embedding.as_ref().and_then(|e| e.vector()).unwrap())
        .collect();
    let rank = |explore: Option<cloister::rank::Explore>| {
        let options = RerankOptions {
            k: Some(k),
            explore,
            ..Default::default()
        };
        cloister::rank::rerank(profile, &list, &vectors, weights, &options).unwrap()
    };
    let greedy: Vec<String> = rank(None).items[..k].iter().map(|i| i.id.clone()).collect();
    let mut changed = 0usize;
    let mut propensities = Vec::new();
    for seed in 0..32u64 {
        let ranked = rank(Some(cloister::rank::Explore { seed, scale: 0.3 }));
        changed += ranked.items[..k]
            .iter()
            .filter(|i| !greedy.contains(&i.id))
            .count();
        if seed == 0 {
            // The same seed on the same state ranks the same way.
            let again = rank(Some(cloister::rank::Explore { seed, scale: 0.3 }));
            assert_eq!(again.order, ranked.order);
            propensities = ranked
                .items
                .iter()
                .map(|i| {
                    (
                        i.id.clone(),
                        i.propensity.expect("explore gives propensities"),
                    )
                })
                .collect();
        }
    }
    (changed as f32 / 32.0, propensities)
}

#[test]
fn exploration_changes_the_top_k_early_and_less_once_feedback_has_accumulated() {
    let mut rec = recommender();
    let k = 4;
    let (early, propensities) = exploration_churn(rec.profile(), rec.weights(), k);
    // Every draw shows exactly k items, so the propensities add up to k.
    let total: f32 = propensities.iter().map(|(_, p)| p).sum();
    assert!((total - k as f32).abs() < 1e-3, "{total}");
    assert!(propensities.iter().all(|(_, p)| (0.0..=1.0).contains(p)));
    // Visits replayed (no exposures counted), each showing six items in a rotating order, of
    // which the user takes c5.
    let steps = 40;
    for step in 0..steps {
        let mut shown: Vec<String> = (0..6).map(|j| format!("c{}", (j + step) % 12)).collect();
        if !shown.contains(&"c5".to_string()) {
            shown[step % 6] = "c5".into();
        }
        let entry = cloister::rank::Feedback {
            shown,
            chosen: vec!["c5".into()],
            dismissed: vec![],
        };
        rec.replay_feedback(&spread_list(), &[entry]).unwrap();
    }
    let (late, propensities) = exploration_churn(rec.profile(), rec.weights(), k);
    // The same weights without what the feedback said about them: exploration as wide as a
    // new user's.
    let mut unsure = rec.weights().clone();
    unsure.information.clear();
    let (wide, _) = exploration_churn(rec.profile(), &unsure, k);
    println!(
        "items of the top {k} that exploration changes, mean over 32 seeds: {early:.2} for a new \
         user; after {steps} steps of feedback {late:.2} ({wide:.2} at the same weights without \
         the posterior's narrowing)"
    );
    assert!(
        early >= 0.5,
        "exploration must change the top k early: {early}"
    );
    assert!(
        late < early / 2.0,
        "and less once evidence is in: {early} -> {late}"
    );
    assert!(
        late < wide,
        "because the posterior narrowed: {late} vs {wide}"
    );
    // The greedy ranking's top item is now shown by almost every draw.
    let greedy_top = rec.rerank(spread_list(), &top(k)).unwrap().shown()[0]
        .id
        .clone();
    let p = propensities
        .iter()
        .find(|(id, _)| *id == greedy_top)
        .unwrap()
        .1;
    assert!(p > 0.9, "{greedy_top}: {p}");
}

#[test]
fn what_feedback_said_about_the_weights_survives_a_reload_and_a_corrupt_value_is_refused() {
    let mut rec = recommender();
    let shown = rec.rerank(list(), &top(5)).unwrap();
    let chosen = shown.shown()[1].id.clone();
    rec.feedback(&shown.impression_id, &[chosen], &[]).unwrap();
    assert!(rec.weights().information.values().any(|x| *x > 0.0));
    let mut reloaded = Recommender::new(&Prior::default(), "m");
    reloaded.restore(&rec.to_bytes()).unwrap();
    assert_eq!(reloaded.weights().information, rec.weights().information);

    let mut state = rec.saved_state();
    let name = state.weights.information.keys().next().unwrap().clone();
    state.weights.information.insert(name, -1.0);
    let document =
        serde_json::json!({ "format": "cloister-profile", "version": 1, "state": state })
            .to_string();
    let before = reloaded.saved_state();
    let err = reloaded.import_document(&document).unwrap_err();
    assert_eq!(err.kind(), "store_corrupt", "{err}");
    assert!(err.to_string().contains("information"), "{err}");
    assert_eq!(reloaded.saved_state(), before);
}
