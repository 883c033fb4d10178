//! The recommender core end to end: behaviour (the ranking moves the right way), robustness
//! (bad input is a typed error and changes nothing), and bounded memory.

mod common;

use cloister::compact_embedding::{encode_compact, COMPACT_CHARS};
use cloister::encoder::Embeddings;
use cloister::rank::candidate::ServerEmbedding;
use cloister::rank::{Explore, Related};
use cloister::{
    Candidate, Event, EventKind, InputErrorKind, Item, Prior, Recommender, RerankOptions,
};
use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};

/// The clock events are checked against: 2026-11-29.
const NOW: i64 = 1_796_000_000_000;

/// Unit vectors around `clusters` random centres: items in one cluster are similar.
struct Space {
    centres: Vec<Vec<f32>>,
    rng: StdRng,
}

impl Space {
    fn new(clusters: usize, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let centres = (0..clusters)
            .map(|_| unit(&gauss(&mut rng, 384, 1.0)))
            .collect();
        Self { centres, rng }
    }

    fn vector(&mut self, cluster: usize) -> Vec<f32> {
        let noise = gauss(&mut self.rng, 384, 0.02);
        unit(
            &self.centres[cluster]
                .iter()
                .zip(noise)
                .map(|(c, n)| c + n)
                .collect::<Vec<_>>(),
        )
    }
}

fn gauss(rng: &mut StdRng, n: usize, sd: f32) -> Vec<f32> {
    let normal = Normal::new(0.0, sd).unwrap();
    (0..n).map(|_| normal.sample(rng)).collect()
}

fn unit(v: &[f32]) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / n).collect()
}

/// A recommender whose cache knows `texts` -> vectors.
fn with_vectors(texts: &[String], vectors: Vec<Vec<f32>>) -> Recommender {
    let mut rec = Recommender::new(&Prior::default(), "test-model");
    rec.put_embeddings(
        texts,
        &Embeddings {
            data: vectors.concat(),
        },
    )
    .unwrap();
    rec
}

fn event(id: &str, text: &str, kind: EventKind, at: i64) -> Event {
    Event {
        item: Item {
            id: id.into(),
            text: text.into(),
            category: None,
        },
        kind,
        value: None,
        at,
    }
}

fn candidate(id: &str, text: &str, server_score: f64) -> Candidate {
    Candidate::new(id, text, server_score)
}

/// Two clusters: history in cluster 0; candidates c0.. in cluster 0 and c1.. in cluster 1,
/// with the server preferring cluster 1 slightly.
fn two_cluster_setup() -> (Recommender, Vec<Candidate>) {
    let mut space = Space::new(2, 7);
    let mut texts = Vec::new();
    let mut vectors = Vec::new();
    for i in 0..10 {
        texts.push(format!("history {i}"));
        vectors.push(space.vector(0));
    }
    let mut candidates = Vec::new();
    for i in 0..10 {
        let cluster = i % 2;
        texts.push(format!("candidate {i}"));
        vectors.push(space.vector(cluster));
        candidates.push(candidate(
            &format!("c{i}"),
            &format!("candidate {i}"),
            if cluster == 1 { 1.0 } else { 0.9 },
        ));
    }
    let mut rec = with_vectors(&texts, vectors);
    for i in 0..10 {
        rec.record(
            event(
                &format!("h{i}"),
                &format!("history {i}"),
                EventKind::Purchase,
                i,
            ),
            NOW,
        )
        .unwrap();
    }
    (rec, candidates)
}

#[test]
fn history_pulls_similar_items_up_and_dismissal_pushes_an_item_down() {
    let (mut rec, candidates) = two_cluster_setup();
    let ranked = rec
        .rerank(candidates.clone(), &RerankOptions::default())
        .unwrap();
    let top5: Vec<&str> = ranked.ranking.items[..5]
        .iter()
        .map(|i| i.id.as_str())
        .collect();
    for id in &top5 {
        let n: usize = id[1..].parse().unwrap();
        assert_eq!(n % 2, 0, "cluster-0 items should lead, got {top5:?}");
    }
    assert!(
        ranked.ranking.items[0]
            .explanation
            .reason
            .contains("history")
            || ranked.ranking.items[0].explanation.source.is_some(),
        "{:?}",
        ranked.ranking.items[0].explanation
    );
    let first = ranked.ranking.items[0].id.clone();
    let text = candidates
        .iter()
        .find(|c| c.id == first)
        .unwrap()
        .text
        .clone();
    rec.record(event(&first, &text, EventKind::Dismiss, 100), NOW)
        .unwrap();
    let again = rec.rerank(candidates, &RerankOptions::default()).unwrap();
    let pos = again
        .ranking
        .items
        .iter()
        .position(|i| i.id == first)
        .unwrap();
    assert!(pos >= 5, "dismissed item still at {pos}");
    assert_eq!(again.ranking.items[pos].explanation.feature, "dismissed");
}

#[test]
fn an_item_already_bought_moves_down_and_says_why() {
    let (mut rec, candidates) = two_cluster_setup();
    let first = rec
        .rerank(candidates.clone(), &RerankOptions::default())
        .unwrap()
        .ranking
        .items[0]
        .id
        .clone();
    let text = candidates
        .iter()
        .find(|c| c.id == first)
        .unwrap()
        .text
        .clone();
    rec.record(event(&first, &text, EventKind::Purchase, 50), NOW)
        .unwrap();
    let again = rec.rerank(candidates, &RerankOptions::default()).unwrap();
    let pos = again
        .ranking
        .items
        .iter()
        .position(|i| i.id == first)
        .unwrap();
    assert!(pos > 0, "a bought item should not stay first");
    assert_eq!(
        again.ranking.items[pos].explanation.reason,
        "you already have this"
    );
}

#[test]
fn sequence_match_uses_related_against_the_private_history() {
    let (mut rec, mut candidates) = two_cluster_setup();
    // c1 is in the "wrong" cluster but often follows h9, the latest purchase.
    candidates[1].related = vec![Related {
        id: "h9".into(),
        weight: 5.0,
    }];
    let ranked = rec.rerank(candidates, &RerankOptions::default()).unwrap();
    let c1 = ranked.ranking.items.iter().find(|i| i.id == "c1").unwrap();
    let seq = c1.contributions.get("sequence").unwrap();
    assert!(seq > 0.0, "sequence contribution {seq}");
    assert_eq!(c1.explanation.feature, "sequence");
    assert_eq!(c1.explanation.source.as_ref().unwrap().id, "h9");
}

/// Found by the `candidates` fuzz target: a list of one candidate ranks, but feedback on it is
/// a typed `invalid_feedback` error (a softmax over one item has nothing to learn) and leaves
/// the weights as they were. The input is kept in crate/fuzz/regressions/candidates-one-item.
#[test]
fn feedback_on_a_one_item_list_is_a_typed_error_and_changes_nothing() {
    let (mut rec, candidates) = two_cluster_setup();
    let ranked = rec
        .rerank(
            candidates[..1].to_vec(),
            &RerankOptions {
                k: Some(1),
                diversity: 0.7,
                explore: None,
            },
        )
        .unwrap();
    assert_eq!(ranked.ranking.items.len(), 1);
    let before = rec.weights().clone();
    let err = rec
        .feedback(
            &ranked.impression_id,
            &[ranked.ranking.items[0].id.clone()],
            &[],
        )
        .unwrap_err();
    assert_eq!(err.kind, InputErrorKind::InvalidFeedback);
    assert_eq!(rec.weights(), &before);
}

#[test]
fn feedback_moves_weights_and_ranking_towards_what_was_chosen() {
    let (mut rec, candidates) = two_cluster_setup();
    let before = rec.weights().weight("server");
    let ranked = rec
        .rerank(
            candidates.clone(),
            &RerankOptions {
                k: Some(10),
                ..Default::default()
            },
        )
        .unwrap();
    // The user keeps choosing the server's favourites (cluster 1), against the profile.
    for _ in 0..30 {
        rec.feedback(&ranked.impression_id, &["c1".into(), "c3".into()], &[])
            .unwrap();
    }
    assert!(rec.weights().weight("server") > before);
    let after = rec.rerank(candidates, &RerankOptions::default()).unwrap();
    let pos = |r: &cloister::recommender::Reranked, id: &str| {
        r.ranking.items.iter().position(|i| i.id == id).unwrap()
    };
    assert!(pos(&after, "c1") < pos(&ranked, "c1"), "c1 did not move up");
    for w in rec.weights().current.values() {
        assert!(w.is_finite());
    }
}

#[test]
fn stated_interest_works_at_cold_start() {
    let mut space = Space::new(3, 11);
    let texts: Vec<String> = ["interest", "a", "b", "c"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let vectors = vec![
        space.vector(2),
        space.vector(0),
        space.vector(1),
        space.vector(2),
    ];
    let interest = vectors[0].clone();
    let mut rec = with_vectors(&texts, vectors);
    // A stated interest is a query: its embedding is cached in that role.
    rec.put_query_embeddings(&texts[..1], &Embeddings { data: interest })
        .unwrap();
    let candidates = vec![
        candidate("a", "a", 3.0),
        candidate("b", "b", 2.0),
        candidate("c", "c", 1.0),
    ];
    let cold = rec
        .rerank(candidates.clone(), &RerankOptions::default())
        .unwrap();
    let order: Vec<&str> = cold.ranking.items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(
        order,
        ["a", "b", "c"],
        "no history, no interests: server order"
    );
    let id = rec.state_interest("interest", 1.0).unwrap();
    let warm = rec
        .rerank(candidates.clone(), &RerankOptions::default())
        .unwrap();
    assert_eq!(warm.ranking.items[0].id, "c");
    assert!(warm.ranking.items[0]
        .explanation
        .reason
        .contains("interest"));
    assert!(rec.remove_interest(id));
    let again = rec.rerank(candidates, &RerankOptions::default()).unwrap();
    assert_eq!(again.ranking.items[0].id, "a");
}

#[test]
fn bad_candidate_lists_are_typed_errors() {
    let (mut rec, candidates) = two_cluster_setup();
    let kind =
        |r: Result<cloister::recommender::Reranked, cloister::InputError>| r.err().unwrap().kind;
    assert_eq!(
        kind(rec.rerank(vec![], &RerankOptions::default())),
        InputErrorKind::EmptyCandidates
    );
    let mut dup = candidates.clone();
    dup[1].id = dup[0].id.clone();
    assert_eq!(
        kind(rec.rerank(dup, &RerankOptions::default())),
        InputErrorKind::DuplicateCandidate
    );
    for bad in [f64::NAN, f64::INFINITY] {
        let mut c = candidates.clone();
        c[3].server_score = bad;
        assert_eq!(
            kind(rec.rerank(c, &RerankOptions::default())),
            InputErrorKind::InvalidCandidate
        );
    }
    let mut c = candidates.clone();
    c[0].id = String::new();
    assert_eq!(
        kind(rec.rerank(c, &RerankOptions::default())),
        InputErrorKind::InvalidCandidate
    );
    let mut c = candidates.clone();
    c[0].features.insert("margin".into(), f64::NAN);
    assert_eq!(
        kind(rec.rerank(c, &RerankOptions::default())),
        InputErrorKind::InvalidCandidate
    );
    let mut c = candidates.clone();
    c[0].text = "never encoded".into();
    assert_eq!(
        kind(rec.rerank(c, &RerankOptions::default())),
        InputErrorKind::MissingEmbedding
    );
    assert_eq!(
        kind(rec.rerank(
            candidates.clone(),
            &RerankOptions {
                diversity: f32::NAN,
                ..Default::default()
            }
        )),
        InputErrorKind::InvalidOption
    );
    assert_eq!(
        kind(rec.rerank(
            candidates.clone(),
            &RerankOptions {
                k: Some(0),
                ..Default::default()
            }
        )),
        InputErrorKind::InvalidOption
    );
    let weights = rec.weights().clone();
    assert!(rec.feedback("imp-999", &["c1".into()], &[]).is_err());
    assert_eq!(rec.weights(), &weights, "a failed feedback changes nothing");
}

#[test]
fn server_side_embeddings_are_used_only_when_valid_for_this_model() {
    let (mut rec, mut candidates) = two_cluster_setup();
    let good = unit(&vec![1.0; 384]);
    candidates[0].text = "text the device never saw".into();
    candidates[0].embedding = Some(good.clone().into());
    candidates[0].model = Some("test-model".into());
    assert!(rec
        .rerank(candidates.clone(), &RerankOptions::default())
        .is_ok());
    // Wrong model, wrong length, not unit, non-finite: ignored, so the text is needed.
    for (emb, model) in [
        (good.clone(), "other-model"),
        (good[..383].to_vec(), "test-model"),
        (vec![1.0; 384], "test-model"),
        (
            {
                let mut v = good.clone();
                v[0] = f32::NAN;
                v
            },
            "test-model",
        ),
    ] {
        let mut c = candidates.clone();
        c[0].embedding = Some(emb.into());
        c[0].model = Some(model.into());
        let pending = rec.hold_request(&[], &c);
        rec.release(pending.hold);
        assert_eq!(
            pending.missing,
            vec!["text the device never saw".to_string()]
        );
        assert_eq!(
            rec.rerank(c, &RerankOptions::default()).err().unwrap().kind,
            InputErrorKind::MissingEmbedding
        );
    }
}

/// Server-side candidates: `n` items on two clusters, each with its embedding in the form
/// `form` makes of it, named by `model`; the device has encoded none of their texts.
fn server_candidates(
    n: usize,
    model: &str,
    form: impl Fn(&[f32]) -> serde_json::Value,
) -> Vec<Candidate> {
    let mut space = Space::new(2, 11);
    (0..n)
        .map(|i| {
            let v = space.vector(i % 2);
            serde_json::from_value(serde_json::json!({
                "id": format!("s{i}"),
                "text": format!("server item {i}"),
                "server_score": 1.0 - i as f64 * 0.01,
                "embedding": form(&v),
                "model": model,
            }))
            .unwrap()
        })
        .collect()
}

#[test]
fn compact_and_float_server_embeddings_rank_the_same_and_need_no_encoder() {
    let floats = server_candidates(40, "test-model", |v| serde_json::json!(v));
    let compact = server_candidates(40, "test-model", |v| {
        serde_json::json!(encode_compact(v).unwrap())
    });
    let history: Vec<String> = (0..5).map(|i| format!("history {i}")).collect();
    let mut space = Space::new(2, 11);
    let vectors: Vec<Vec<f32>> = (0..5).map(|_| space.vector(1)).collect();
    let rank = |candidates: &[Candidate]| {
        let mut rec = with_vectors(&history, vectors.clone());
        for (i, text) in history.iter().enumerate() {
            rec.record(
                event(&format!("h{i}"), text, EventKind::Click, i as i64),
                NOW,
            )
            .unwrap();
        }
        let pending = rec.hold_request(&[], candidates);
        assert!(pending.missing.is_empty() && pending.queries.is_empty());
        let ranked = rec
            .rerank(candidates.to_vec(), &RerankOptions::default())
            .unwrap();
        rec.release(pending.hold);
        let ids: Vec<String> = ranked.shown().iter().map(|r| r.id.clone()).collect();
        let scores: Vec<f32> = ranked.shown().iter().map(|r| r.score).collect();
        (ids, scores)
    };
    let (float_ids, float_scores) = rank(&floats);
    let (compact_ids, compact_scores) = rank(&compact);
    assert_eq!(float_ids, compact_ids, "the same order from both forms");
    for (a, b) in float_scores.iter().zip(&compact_scores) {
        assert!((a - b).abs() < 1e-3, "{a} vs {b}");
    }
    // The history's cluster (1) leads: the server embeddings were read, not ignored.
    assert!(float_ids[..10]
        .iter()
        .all(|id| id[1..].parse::<usize>().unwrap() % 2 == 1));
}

#[test]
fn a_click_on_an_item_the_server_embedded_needs_no_encoder() {
    let candidates = server_candidates(10, "test-model", |v| {
        serde_json::json!(encode_compact(v).unwrap())
    });
    let mut rec = Recommender::new(&Prior::default(), "test-model");
    let pending = rec.hold_request(&[], &candidates);
    assert!(pending.missing.is_empty());
    rec.rerank(candidates.clone(), &RerankOptions::default())
        .unwrap();
    rec.release(pending.hold);
    for (i, kind) in [(3, EventKind::Click), (5, EventKind::Purchase)] {
        let click = event(&candidates[i].id, &candidates[i].text, kind, NOW - 1_000);
        let pending = rec.hold_request(std::slice::from_ref(&click), &[]);
        assert!(pending.missing.is_empty(), "{:?}", pending.missing);
        rec.record(click, NOW).unwrap();
        rec.release(pending.hold);
    }
    assert_eq!(rec.profile().recent.len(), 2);
}

#[test]
fn a_compact_embedding_that_is_malformed_or_for_another_model_is_ignored_with_a_note() {
    let (mut rec, candidates) = two_cluster_setup();
    let good = encode_compact(&unit(&vec![1.0; 384])).unwrap();
    let cases = [
        (good.clone(), "other-model", "another model"),
        (
            good[..100].to_string(),
            "test-model",
            "520 base64 characters",
        ),
        (
            format!("{}!{}", &good[..10], &good[11..]),
            "test-model",
            "standard padded base64",
        ),
        (
            "A".repeat(COMPACT_CHARS - 8) + "AAAAAA==",
            "test-model",
            "scale or values are invalid",
        ),
    ];
    for (text, model, note) in cases {
        let mut c = candidates.clone();
        c[0].embedding = Some(ServerEmbedding::compact(text));
        c[0].model = Some(model.into());
        let pending = rec.hold_request(&[], &c);
        assert_eq!(pending.missing, Vec::<String>::new(), "its text is cached");
        let ranked = rec.rerank(c, &RerankOptions::default()).unwrap();
        rec.release(pending.hold);
        let item = ranked.ranking.items.iter().find(|r| r.id == "c0").unwrap();
        assert!(
            item.notes.iter().any(|n| n.contains(note)),
            "{note}: {:?}",
            item.notes
        );
    }
    // A string in a list of floats' place, a number in a string's: a typed parse error.
    let bad: Result<Candidate, _> = serde_json::from_value(serde_json::json!({
        "id": "x", "server_score": 1.0, "embedding": 7
    }));
    assert!(bad.is_err());
}

#[test]
fn ten_thousand_candidates_rank_and_more_are_refused() {
    let mut space = Space::new(20, 3);
    let texts: Vec<String> = (0..10_000).map(|i| format!("item {i}")).collect();
    let vectors: Vec<Vec<f32>> = (0..10_000).map(|i| space.vector(i % 20)).collect();
    let mut rec = with_vectors(&texts, vectors);
    let candidates: Vec<Candidate> = (0..10_000)
        .map(|i| candidate(&format!("{i}"), &texts[i], (i % 97) as f64))
        .collect();
    let ranked = rec
        .rerank(
            candidates.clone(),
            &RerankOptions {
                k: Some(20),
                diversity: 0.5,
                explore: Some(Explore {
                    seed: 1,
                    scale: 0.3,
                }),
            },
        )
        .unwrap();
    let mut ids: Vec<&str> = ranked.ranking.items.iter().map(|i| i.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 10_000, "a permutation of the input");
    let mut more = candidates;
    more.push(candidate("extra", "item 0", 1.0));
    assert_eq!(
        rec.rerank(more, &RerankOptions::default())
            .err()
            .unwrap()
            .kind,
        InputErrorKind::TooManyCandidates
    );
}

#[test]
fn exploration_is_reproducible_by_seed_and_diversity_spreads_the_top() {
    let mut space = Space::new(4, 5);
    let texts: Vec<String> = (0..40).map(|i| format!("t{i}")).collect();
    // Items 0..10 are near-duplicates with the best server scores.
    let vectors: Vec<Vec<f32>> = (0..40)
        .map(|i| {
            if i < 10 {
                space.vector(0)
            } else {
                space.vector(1 + i % 3)
            }
        })
        .collect();
    let mut rec = with_vectors(&texts, vectors.clone());
    let candidates: Vec<Candidate> = (0..40)
        .map(|i| candidate(&format!("{i}"), &texts[i], 40.0 - i as f64))
        .collect();
    let opts = |seed| RerankOptions {
        k: Some(10),
        diversity: 0.0,
        explore: Some(Explore { seed, scale: 1.0 }),
    };
    // Reproducible from the same state (a rerank counts what it showed).
    let mut twin = rec.clone();
    let a = rec
        .rerank(candidates.clone(), &opts(42))
        .unwrap()
        .ranking
        .order;
    let b = twin
        .rerank(candidates.clone(), &opts(42))
        .unwrap()
        .ranking
        .order;
    assert_eq!(a, b, "same seed, same order");
    let plain = rec
        .rerank(
            candidates.clone(),
            &RerankOptions {
                k: Some(5),
                ..Default::default()
            },
        )
        .unwrap();
    let diverse = rec
        .rerank(
            candidates,
            &RerankOptions {
                k: Some(5),
                diversity: 0.7,
                explore: None,
            },
        )
        .unwrap();
    let near_dupes = |order: &[usize]| order[..5].iter().filter(|&&i| i < 10).count();
    assert_eq!(near_dupes(&plain.ranking.order), 5);
    assert!(
        near_dupes(&diverse.ranking.order) <= 2,
        "{:?}",
        &diverse.ranking.order[..5]
    );
}

#[test]
fn hundred_thousand_events_stay_in_bounded_memory_and_round_trip() {
    let mut space = Space::new(8, 9);
    let texts: Vec<String> = (0..500).map(|i| format!("item {i}")).collect();
    let vectors: Vec<Vec<f32>> = (0..500).map(|i| space.vector(i % 8)).collect();
    let mut rec = with_vectors(&texts, vectors);
    let kinds = [
        EventKind::View,
        EventKind::Click,
        EventKind::Purchase,
        EventKind::Dismiss,
        EventKind::Like,
    ];
    let mut sizes = Vec::new();
    for n in 0..100_000usize {
        let mut e = event(
            &format!("{}", n % 500),
            &texts[n % 500],
            kinds[n % kinds.len()],
            n as i64,
        );
        e.item.category = Some(format!("cat-{}", n % 300));
        rec.record(e, NOW).unwrap();
        if n % 20_000 == 19_999 {
            sizes.push((rec.profile().approx_bytes(), rec.to_bytes().len()));
        }
    }
    assert_eq!(rec.profile().events, 100_000);
    let (mem, bytes) = *sizes.last().unwrap();
    assert!(mem < 200_000, "profile holds {mem} bytes");
    assert!(bytes < 300_000, "saved state is {bytes} bytes");
    let (lo, hi) = sizes[1..]
        .iter()
        .fold((usize::MAX, 0), |(lo, hi), (m, _)| (lo.min(*m), hi.max(*m)));
    assert!(
        hi - lo < hi / 100,
        "no growth after the windows filled: {sizes:?}"
    );
    let saved = rec.to_bytes();
    let mut restored = Recommender::new(&Prior::default(), "test-model");
    restored.restore(&saved).unwrap();
    assert_eq!(restored.saved_state(), rec.saved_state());
}

#[test]
fn a_corrupt_state_is_refused_and_keeps_the_current_one() {
    let (rec, _) = two_cluster_setup();
    let saved = rec.to_bytes();
    let mut other = Recommender::new(&Prior::default(), "test-model");
    other.restore(&saved).unwrap();
    let before = other.saved_state();
    let mut bad = saved.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x20;
    assert_eq!(other.restore(&bad).err().unwrap().kind(), "store_corrupt");
    assert!(other.restore(&saved[..saved.len() - 3]).is_err());
    assert_eq!(other.saved_state(), before, "nothing lost");
}

#[test]
fn a_one_megabyte_text_is_cut_and_still_recorded() {
    let huge = "word ".repeat(210_000);
    let cut = {
        let mut t = huge.clone();
        cloister::profile::event::truncate_utf8(&mut t, cloister::profile::event::MAX_TEXT_BYTES);
        t
    };
    let mut rec = with_vectors(std::slice::from_ref(&cut), vec![unit(&vec![0.5; 384])]);
    // The caller embeds the validated (cut) text; recording the raw event finds it.
    rec.record(event("big", &huge, EventKind::Click, 1), NOW)
        .unwrap();
    assert!(rec.profile().recent[0].title.chars().count() <= 81);
}

#[test]
fn forget_clears_the_user_and_keeps_the_prior() {
    let (mut rec, candidates) = two_cluster_setup();
    let r = rec
        .rerank(candidates.clone(), &RerankOptions::default())
        .unwrap();
    rec.feedback(&r.impression_id, &["c1".into()], &[]).unwrap();
    rec.forget();
    assert!(rec.profile().is_empty());
    assert_eq!(rec.weights().current, rec.weights().prior);
    assert!(rec.feedback(&r.impression_id, &["c1".into()], &[]).is_err());
    let pending = rec.hold_request(&[], &candidates);
    rec.release(pending.hold);
    assert_eq!(pending.missing.len(), candidates.len(), "cache emptied");
}

/// `n` candidates `{prefix}{i}` for i in `range`, each with its own text and vector.
fn distinct_list(prefix: &str, range: std::ops::Range<usize>) -> Vec<Candidate> {
    range
        .map(|i| candidate(&format!("{prefix}{i}"), &format!("{prefix} text {i}"), 1.0))
        .collect()
}

/// What a browser edge does for one `rerank`: hold the list's texts, encode the missing ones
/// (here: random vectors), rank, release. Returns the number of texts that needed encoding.
fn rerank_like_an_edge(
    rec: &mut Recommender,
    space: &mut Space,
    candidates: Vec<Candidate>,
) -> Result<usize, cloister::InputError> {
    let pending = rec.hold_request(&[], &candidates);
    let vectors: Vec<f32> = pending
        .missing
        .iter()
        .flat_map(|_| space.vector(0))
        .collect();
    rec.put_embeddings(&pending.missing, &Embeddings { data: vectors })?;
    let result = rec.rerank(candidates, &RerankOptions::default());
    rec.release(pending.hold);
    result.map(|_| pending.missing.len())
}

#[test]
fn overlapping_ten_thousand_item_lists_keep_what_the_next_request_reuses() {
    let mut space = Space::new(1, 11);
    let mut rec = Recommender::new(&Prior::default(), "test-model");
    // A: a0..a9999. B: the first half of A (the oldest entries, first out if reads did not
    // count) and 5,000 new texts.
    let a = distinct_list("a", 0..10_000);
    assert_eq!(
        rerank_like_an_edge(&mut rec, &mut space, a).unwrap(),
        10_000
    );
    let b: Vec<Candidate> = distinct_list("a", 0..5_000)
        .into_iter()
        .chain(distinct_list("b", 0..5_000))
        .collect();
    assert_eq!(
        rerank_like_an_edge(&mut rec, &mut space, b).unwrap(),
        5_000,
        "the 5,000 reused texts were still cached"
    );
    // C: B's new half and the second half of A, which B did not read: the least recently
    // used, so those are the ones evicted and encoded again.
    let c: Vec<Candidate> = distinct_list("b", 0..5_000)
        .into_iter()
        .chain(distinct_list("a", 5_000..10_000))
        .collect();
    let encoded = rerank_like_an_edge(&mut rec, &mut space, c).unwrap();
    assert!(
        (1..=5_000).contains(&encoded),
        "only texts of A's unread half are encoded again: {encoded}"
    );
    assert!(rec.cached_texts() <= cloister::recommender::CACHE_CAPACITY);
}

#[test]
fn a_request_larger_than_the_cache_keeps_all_its_texts_while_it_runs() {
    let mut space = Space::new(1, 12);
    let mut rec = Recommender::new(&Prior::default(), "test-model");
    let history: Vec<Event> = (0..3_000)
        .map(|i| {
            event(
                &format!("h{i}"),
                &format!("history text {i}"),
                EventKind::Click,
                i,
            )
        })
        .collect();
    let candidates = distinct_list("c", 0..10_000);
    let pending = rec.hold_request(&history, &candidates);
    assert_eq!(pending.missing.len(), 13_000);
    let vectors: Vec<f32> = pending
        .missing
        .iter()
        .flat_map(|_| space.vector(0))
        .collect();
    rec.put_embeddings(&pending.missing, &Embeddings { data: vectors })
        .unwrap();
    for e in history {
        rec.record(e, NOW).unwrap();
    }
    rec.rerank(candidates, &RerankOptions::default())
        .expect("13,000 held texts in a 12,288-text cache");
    rec.release(pending.hold);
    rerank_like_an_edge(&mut rec, &mut space, distinct_list("d", 0..10)).unwrap();
    assert!(
        rec.cached_texts() <= cloister::recommender::CACHE_CAPACITY,
        "shrinks once released"
    );
}

#[test]
fn the_profile_document_round_trips_and_a_bad_one_changes_nothing() {
    let (rec, _) = two_cluster_setup();
    let document = rec.export_document();
    let mut other = Recommender::new(&Prior::default(), "test-model");
    other.import_document(&document).unwrap();
    assert_eq!(other.saved_state(), rec.saved_state());
    let before = other.saved_state();
    let value: serde_json::Value = serde_json::from_str(&document).unwrap();
    let mut wrong_format = value.clone();
    wrong_format["format"] = "something-else".into();
    let mut newer = value.clone();
    newer["version"] = 99.into();
    let mut bad_vector = value.clone();
    bad_vector["state"]["profile"]["short_term"] = "AAAA".into();
    for (doc, kind) in [
        (wrong_format.to_string(), "store_corrupt"),
        (newer.to_string(), "store_version"),
        (bad_vector.to_string(), "store_corrupt"),
        ("{".to_string(), "store_corrupt"),
    ] {
        let mut target = rec.clone();
        assert_eq!(
            target.import_document(&doc).unwrap_err().kind(),
            kind,
            "{doc:.80}"
        );
        assert_eq!(target.saved_state(), rec.saved_state(), "nothing changed");
    }
    assert_eq!(other.saved_state(), before);
}

#[test]
fn the_profile_map_places_history_interests_and_cached_candidates() {
    let (mut rec, candidates) = two_cluster_setup();
    let pending = rec.hold_queries(["an interest"]);
    assert_eq!((pending.missing.len(), pending.queries.len()), (0, 1));
    let mut space = Space::new(1, 13);
    rec.put_query_embeddings(
        &pending.queries,
        &Embeddings {
            data: space.vector(0),
        },
    )
    .unwrap();
    rec.state_interest("an interest", 1.0).unwrap();
    rec.release(pending.hold);
    let pairs: Vec<(String, String)> = candidates
        .iter()
        .map(|c| (c.id.clone(), c.text.clone()))
        .chain([("unseen".to_string(), "a text never encoded".to_string())])
        .collect();
    let points = rec.profile_map(&pairs);
    let count = |kind| points.iter().filter(|p| p.kind == kind).count();
    assert_eq!(count("history"), 10);
    assert_eq!(count("interest"), 1);
    assert_eq!(
        count("candidate"),
        candidates.len(),
        "the unseen text has no point"
    );
    assert!(points.iter().all(|p| p.x.is_finite() && p.y.is_finite()));
}

#[test]
fn the_fuzz_seed_document_imports() {
    // crate/fuzz/seeds/profile_json/document.json starts the profile_json fuzzer on the
    // accepting path; it must stay a document this build takes.
    let mut rec = Recommender::new(&Prior::default(), "test-model");
    rec.import_document(include_str!("../fuzz/seeds/profile_json/document.json"))
        .unwrap();
    assert_eq!(rec.profile().interests[0].text, "sci-fi");
}

// Issue 15: E5 reads a text differently as a query ("query: ") and as a passage ("passage: ").
#[test]
fn queries_and_passages_of_the_same_text_are_cached_apart_and_a_search_is_a_query() {
    let mut rec = Recommender::new(&Prior::default(), "m");
    let search = Event {
        item: Item {
            id: "s".into(),
            text: "red shoes".into(),
            category: None,
        },
        kind: EventKind::Search,
        value: None,
        at: 1_000,
    };
    let view = Event {
        kind: EventKind::View,
        item: Item {
            id: "v".into(),
            ..search.item.clone()
        },
        ..search.clone()
    };
    let pending = rec.hold_request(&[search.clone(), view.clone()], &[]);
    assert_eq!(pending.missing, ["red shoes"]);
    assert_eq!(pending.queries, ["red shoes"]);
    rec.put_query_embeddings(&pending.queries, &Embeddings { data: axis(0) })
        .unwrap();
    // The passage is not there yet: the view cannot be recorded, the search can.
    let err = rec.record(view.clone(), 2_000).unwrap_err();
    assert_eq!(err.kind, InputErrorKind::MissingEmbedding);
    rec.record(search, 2_000).unwrap();
    rec.put_embeddings(&pending.missing, &Embeddings { data: axis(1) })
        .unwrap();
    rec.record(view, 2_000).unwrap();
    rec.release(pending.hold);
    assert_eq!(rec.cached_texts(), 2);
}

#[test]
fn texts_the_model_cannot_read_become_one_warning_naming_the_share_and_the_fix() {
    let mut rec = Recommender::new(&Prior::default(), "m");
    let texts = vec![
        "铸铁煎锅".to_string(),
        "red shoes".to_string(),
        "羊毛毛衣".to_string(),
    ];
    rec.note_unreadable(&texts, &[1.0, 0.0, 0.75], "all-MiniLM-L6-v2");
    rec.note_unreadable(&texts[1..2], &[0.0], "all-MiniLM-L6-v2");
    let warnings = rec.take_warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].starts_with("2 of 3 texts are mostly unknown to all-MiniLM-L6-v2"));
    assert!(warnings[0].contains("100%") && warnings[0].contains("model: 'multilingual'"));
    assert!(rec.take_warnings().is_empty(), "taken once");
}

fn axis(i: usize) -> Vec<f32> {
    let mut v = vec![0.0; 384];
    v[i] = 1.0;
    v
}

// Issue 15: opening a profile with another model embeds its kept texts again with that model.
#[test]
fn another_models_profile_is_carried_over_by_embedding_its_kept_texts_again() {
    use cloister::encoder::ModelFamily;
    use cloister::error::StoreError;
    use cloister::recommender::Carried;
    let now = 1_700_000_000_000i64;
    let texts: Vec<String> = (0..5).map(|i| format!("item {i}")).collect();
    let mut english = with_vectors(&texts, (0..5).map(axis).collect());
    english
        .put_query_embeddings(&["cast iron".to_string()], &Embeddings { data: axis(9) })
        .unwrap();
    english.state_interest("cast iron", 2.0).unwrap();
    for (i, text) in texts.iter().take(3).enumerate() {
        let at = now - 60_000 * (10 - i as i64);
        english
            .record(event(&format!("i{i}"), text, EventKind::Click, at), now)
            .unwrap();
    }
    let mut rated = event("i3", &texts[3], EventKind::Rate, now - 30_000);
    rated.value = Some(5.0);
    english.record(rated, now).unwrap();
    english
        .record(event("d", &texts[4], EventKind::Dismiss, now - 20_000), now)
        .unwrap();
    let bytes = english.to_bytes();

    let mut e5 = Recommender::new(&Prior::default(), "e5-file");
    e5.set_model_family(ModelFamily::E5);
    let carried = e5.carry_from_other_model(&bytes, now).unwrap();
    // The dismissal is not in the history (a negative has no entry there): it carries as a
    // dismissed id.
    let expected = Carried {
        events: 4,
        interests: 1,
        without_text: 0,
    };
    assert_eq!(carried, expected);
    assert_eq!((e5.deferred_events(), e5.deferred_interests()), (4, 1));
    assert!(
        e5.profile().recent.is_empty() && e5.profile().interests.is_empty(),
        "no vector of the other model crosses"
    );
    assert_eq!(e5.profile().dismissed, english.profile().dismissed);

    // This model's own vectors for the same texts lie elsewhere (axes 20..).
    let pending = e5.hold_deferred();
    assert_eq!(pending.missing, texts[..4].to_vec());
    assert_eq!(pending.queries, vec!["cast iron".to_string()]);
    e5.put_embeddings(
        &pending.missing,
        &Embeddings {
            data: (20..24).flat_map(axis).collect(),
        },
    )
    .unwrap();
    e5.put_query_embeddings(&pending.queries, &Embeddings { data: axis(29) })
        .unwrap();
    e5.release(pending.hold);
    assert_eq!(e5.fold_deferred(now), 5);
    assert_eq!((e5.deferred_events(), e5.deferred_interests()), (0, 0));
    let (old, new) = (&english.profile().recent, &e5.profile().recent);
    assert_eq!(new.len(), 4);
    for (i, (o, n)) in old.iter().zip(new).enumerate() {
        assert_eq!(
            (&n.id, n.kind, n.at, n.signal, n.value),
            (&o.id, o.kind, o.at, o.signal, o.value)
        );
        assert_eq!(n.embedding, axis(20 + i), "{}: this model's vector", n.id);
    }
    let interest = &e5.profile().interests[0];
    assert_eq!(
        (interest.text.as_str(), interest.weight),
        ("cast iron", 2.0)
    );
    assert_eq!(interest.embedding, axis(29));

    // What waits is saved: a reload before the encoder arrives keeps it.
    let mut waiting = Recommender::new(&Prior::default(), "e5-file");
    waiting.set_model_family(ModelFamily::E5);
    waiting.carry_from_other_model(&bytes, now).unwrap();
    let mut reloaded = Recommender::new(&Prior::default(), "e5-file");
    reloaded.set_model_family(ModelFamily::E5);
    reloaded.restore(&waiting.to_bytes()).unwrap();
    assert_eq!(
        (reloaded.deferred_events(), reloaded.deferred_interests()),
        (4, 1)
    );

    // A state of this model's own is restored, not carried; a corrupt one is refused; neither
    // changes anything.
    let before = e5.saved_state();
    let err = e5.carry_from_other_model(&e5.to_bytes(), now).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
    let mut broken = bytes.clone();
    let last = broken.len() - 1;
    broken[last] ^= 0xff;
    assert!(e5.carry_from_other_model(&broken, now).is_err());
    assert_eq!(e5.saved_state(), before);
}

// Issue 15: a profile records its model; another model's vectors are never mixed in.
#[test]
fn a_state_saved_with_another_model_is_refused_and_changes_nothing() {
    use cloister::encoder::ModelFamily;
    use cloister::error::StoreError;
    let mut multilingual = Recommender::new(&Prior::default(), "e5-file");
    multilingual.set_model_family(ModelFamily::E5);
    multilingual
        .put_query_embeddings(&["铸铁煎锅".to_string()], &Embeddings { data: axis(0) })
        .unwrap();
    multilingual.state_interest("铸铁煎锅", 1.0).unwrap();
    let bytes = multilingual.to_bytes();
    let document = multilingual.export_document();
    assert!(
        document.contains("\"name\": \"multilingual-e5-small\""),
        "{document}"
    );

    let mut english = Recommender::new(&Prior::default(), "minilm-file");
    let before = english.saved_state();
    let err = english.restore(&bytes).unwrap_err();
    assert!(matches!(err, StoreError::OtherModel { .. }), "{err}");
    assert_eq!(err.kind(), "store_other_model");
    assert!(err.to_string().contains("multilingual-e5-small"), "{err}");
    assert!(english.import_document(&document).is_err());
    assert_eq!(english.saved_state(), before, "nothing changed");

    // The same model from another file (re-converted, or fp32 against int8) is the same space;
    // a state saved before the model was recorded is all-MiniLM-L6-v2's.
    let mut again = Recommender::new(&Prior::default(), "e5-file-reconverted");
    again.set_model_family(ModelFamily::E5);
    again.restore(&bytes).unwrap();
    assert_eq!(again.profile().interests.len(), 1);
    let mut old: serde_json::Value = serde_json::from_str(&english.export_document()).unwrap();
    old["state"].as_object_mut().unwrap().remove("model");
    english.import_document(&old.to_string()).unwrap();
}

#[test]
fn before_the_encoder_items_without_an_embedding_rank_by_what_exists() {
    // Ten candidates: the even ones came with a server embedding, the odd ones did not and
    // their texts were never encoded.
    let mut space = Space::new(2, 5);
    let history: Vec<String> = (0..4).map(|i| format!("history {i}")).collect();
    let vectors: Vec<Vec<f32>> = (0..4).map(|_| space.vector(0)).collect();
    let mut rec = with_vectors(&history, vectors);
    for (i, text) in history.iter().enumerate() {
        rec.record(
            event(&format!("h{i}"), text, EventKind::Click, i as i64),
            NOW,
        )
        .unwrap();
    }
    let candidates: Vec<Candidate> = (0..10)
        .map(|i| {
            let c = candidate(
                &format!("c{i}"),
                &format!("fresh text {i}"),
                1.0 - 0.05 * i as f64,
            )
            .with_category("books");
            if i % 2 == 0 {
                c.with_embedding(space.vector(if i < 4 { 0 } else { 1 }), "test-model")
            } else {
                c
            }
        })
        .collect();
    assert_eq!(
        rec.rerank(candidates.clone(), &RerankOptions::default())
            .err()
            .map(|e| e.kind),
        Some(InputErrorKind::MissingEmbedding),
        "the full ranking needs every text"
    );
    let ranked = rec
        .rerank_available(candidates, &RerankOptions::default())
        .unwrap();
    assert_eq!(ranked.unembedded, 5);
    let order: Vec<&str> = ranked.ranking.items.iter().map(|r| r.id.as_str()).collect();
    // The two embedded items near the history lead; the unembedded keep the server's order
    // among themselves, and none claims a similarity it could not measure.
    assert_eq!(&order[..2], &["c0", "c2"], "{order:?}");
    let odd: Vec<&str> = order
        .iter()
        .copied()
        .filter(|id| id[1..].parse::<usize>().unwrap() % 2 == 1)
        .collect();
    assert_eq!(odd, ["c1", "c3", "c5", "c7", "c9"]);
    for item in &ranked.ranking.items {
        if item.id[1..].parse::<usize>().unwrap() % 2 == 1 {
            assert!(
                !matches!(
                    item.explanation.feature.as_str(),
                    "nn_recent" | "short_term" | "stated" | "centroid"
                ),
                "{} claims {}",
                item.id,
                item.explanation.feature
            );
        }
    }
}

#[test]
fn events_deferred_until_the_encoder_are_saved_and_folded_in_order() {
    let mut rec = Recommender::new(&Prior::default(), "test-model");
    for i in 0..3 {
        rec.defer(
            event(
                &format!("d{i}"),
                &format!("deferred {i}"),
                EventKind::Click,
                NOW - 10 + i,
            ),
            NOW,
        )
        .unwrap();
    }
    assert_eq!(
        rec.defer(event("x", "late", EventKind::Click, NOW * 1000), NOW)
            .unwrap_err()
            .kind,
        InputErrorKind::InvalidTime,
        "validated when deferred"
    );
    // Saved with the state: a reload (or another tab) gets them back.
    let bytes = rec.to_bytes();
    let mut again = Recommender::new(&Prior::default(), "test-model");
    again.restore(&bytes).unwrap();
    assert_eq!(again.deferred_events(), 3);
    // The encoder arrives with two of the three texts.
    let pending = again.hold_deferred();
    assert_eq!(
        pending.missing,
        vec!["deferred 0", "deferred 1", "deferred 2"]
    );
    let mut space = Space::new(1, 2);
    again
        .put_embeddings(
            &pending.missing[..2],
            &Embeddings {
                data: (0..2).flat_map(|_| space.vector(0)).collect(),
            },
        )
        .unwrap();
    assert_eq!(again.fold_deferred(NOW), 2);
    again.release(pending.hold);
    assert_eq!(again.deferred_events(), 1);
    assert_eq!(again.profile().events, 2);
    let ids: Vec<&str> = again
        .profile()
        .recent
        .iter()
        .map(|e| e.id.as_str())
        .collect();
    assert_eq!(ids, ["d0", "d1"]);
    // Bounded: the thousand-and-first waits nowhere.
    let mut full = Recommender::new(&Prior::default(), "test-model");
    for i in 0..cloister::limits::MAX_DEFERRED_EVENTS {
        full.defer(event(&format!("e{i}"), "t", EventKind::View, NOW), NOW)
            .unwrap();
    }
    assert_eq!(
        full.defer(event("one more", "t", EventKind::View, NOW), NOW)
            .unwrap_err()
            .kind,
        InputErrorKind::TooManyEvents
    );
    full.forget();
    assert_eq!(full.deferred_events(), 0, "forget forgets them too");
}

#[test]
fn a_document_with_a_bad_waiting_event_is_refused_and_changes_nothing() {
    let mut rec = Recommender::new(&Prior::default(), "test-model");
    rec.defer(event("d0", "deferred", EventKind::Click, NOW), NOW)
        .unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&rec.export_document()).unwrap();
    assert_eq!(doc["state"]["deferred"][0]["item"]["id"], "d0");
    doc["state"]["deferred"][0]["at"] = serde_json::json!(-5);
    let mut other = Recommender::new(&Prior::default(), "test-model");
    assert!(other.import_document(&doc.to_string()).is_err());
    assert_eq!(other.deferred_events(), 0);
}

/// Embeddings handed in from outside the core (an encoder in another wasm instance answers the
/// ranking build through a JS function) are checked: one full row per text, finite values.
#[test]
fn embeddings_put_from_outside_must_be_whole_rows_of_finite_values() {
    let texts = vec!["a guide to tide pools".to_string()];
    let mut rec = Recommender::new(&Prior::default(), "m");
    let short = rec.put_embeddings(
        &texts,
        &Embeddings {
            data: vec![0.1; 383],
        },
    );
    assert_eq!(short.unwrap_err().kind, InputErrorKind::InvalidEmbedding);
    let long = rec.put_embeddings(
        &texts,
        &Embeddings {
            data: vec![0.1; 385],
        },
    );
    assert_eq!(long.unwrap_err().kind, InputErrorKind::InvalidEmbedding);
    let mut nan = vec![0.05; 384];
    nan[7] = f32::NAN;
    let bad = rec.put_embeddings(&texts, &Embeddings { data: nan });
    assert_eq!(bad.unwrap_err().kind, InputErrorKind::InvalidEmbedding);
    assert!(
        !rec.has_embedding(&texts[0]),
        "nothing cached from a refused batch"
    );
    rec.put_embeddings(
        &texts,
        &Embeddings {
            data: vec![0.05; 384],
        },
    )
    .unwrap();
    assert!(rec.has_embedding(&texts[0]));
}

#[test]
fn the_texts_a_pool_encodes_first_are_exactly_those_the_ranking_would_encode() {
    let mut rec = Recommender::new(&Prior::default(), "m");
    rec.put_embeddings(&["cached".to_string()], &Embeddings { data: axis(0) })
        .unwrap();
    // A query of the same text is cached apart: it does not count for a passage.
    rec.put_query_embeddings(&["query only".to_string()], &Embeddings { data: axis(1) })
        .unwrap();
    let mut candidates: Vec<Candidate> = ["new a", "cached", "  ", "new a", "query only", "new b"]
        .iter()
        .enumerate()
        .map(|(i, t)| candidate(&format!("c{i}"), t, 1.0))
        .collect();
    // A candidate the server sent with this model's embedding needs no encoding, nor does
    // another candidate of the same text.
    let mut sent = candidate("s", "sent along", 1.0);
    sent.embedding = Some(axis(5).into());
    sent.model = Some("m".into());
    candidates.push(sent);
    candidates.push(candidate("t", "sent along", 1.0));
    let uncached = rec.uncached_candidate_texts(&candidates);
    assert_eq!(uncached, ["new a", "query only", "new b"]);
    // The same as the ranking's own list of texts to encode.
    let pending = rec.hold_request(&[], &candidates);
    assert_eq!(pending.missing, uncached);
    rec.release(pending.hold);
    // Once they are cached (as the pool's reply is), nothing is left to encode.
    let vectors: Vec<f32> = (0..3).flat_map(|i| axis(i + 2)).collect();
    rec.put_embeddings(&uncached, &Embeddings { data: vectors })
        .unwrap();
    assert!(rec.uncached_candidate_texts(&candidates).is_empty());
    let pending = rec.hold_request(&[], &candidates);
    assert!(pending.missing.is_empty());
    rec.release(pending.hold);
}

#[test]
fn the_item_texts_a_pool_encodes_before_a_recording_are_exactly_those_it_would_encode() {
    let mut rec = Recommender::new(&Prior::default(), "m");
    rec.put_embeddings(&["cached".to_string()], &Embeddings { data: axis(0) })
        .unwrap();
    let events = vec![
        event("a", "new a", EventKind::Click, NOW - 5_000),
        event("b", "cached", EventKind::View, NOW - 4_000),
        event("a", "new a", EventKind::Purchase, NOW - 3_000),
        // A search reads its query in the query role: the recording encodes it itself.
        event("q", "a query", EventKind::Search, NOW - 2_000),
        event("c", "new c", EventKind::Click, NOW - 1_000),
    ];
    let uncached = rec.uncached_event_texts(&events);
    assert_eq!(uncached, ["new a", "new c"]);
    let pending = rec.hold_request(&events, &[]);
    assert_eq!(pending.missing, uncached);
    assert_eq!(pending.queries, ["a query"]);
    rec.release(pending.hold);
    // Once the pool's vectors are cached, the recording encodes only the query.
    let vectors: Vec<f32> = (0..2).flat_map(|i| axis(i + 2)).collect();
    rec.put_embeddings(&uncached, &Embeddings { data: vectors })
        .unwrap();
    assert!(rec.uncached_event_texts(&events).is_empty());
    let pending = rec.hold_request(&events, &[]);
    assert!(pending.missing.is_empty());
    assert_eq!(pending.queries, ["a query"]);
    rec.release(pending.hold);
}
