//! The candidate JSON decoder and the re-ranker: any decoded list is ranked or refused with a
//! typed error; a ranking is a permutation of the input; feedback keeps the weights finite.
#![no_main]
use cloister::rank::Explore;
use cloister::{Candidate, Event, Prior, Recommender, RerankOptions};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, json)) = data.split_first() else {
        return;
    };
    let Ok(candidates) = serde_json::from_slice::<Vec<Candidate>>(json) else {
        return;
    };
    let mut rec = Recommender::new(&Prior::default(), "fuzz");
    // A little history so every feature has something to look at.
    let history: Vec<Event> = serde_json::from_str(
        r#"[{"item":{"id":"h1","text":"a cookbook of braises","category":"food"},"kind":"purchase","at":1},
            {"item":{"id":"h2","text":"jazz guitar method"},"kind":"click","at":2}]"#,
    )
    .unwrap();
    let pending = rec.hold_request(&history, &candidates);
    rec.put_embeddings(&pending.missing, &common::fake_embeddings(&pending.missing))
        .expect("valid embeddings");
    for e in history {
        rec.record(e, i64::MAX).unwrap();
    }
    let n = candidates.len();
    let options = RerankOptions {
        k: (flags & 1 == 1).then_some(usize::from(flags >> 4)),
        diversity: f32::from(flags & 0x0e) / 14.0,
        explore: (flags & 0x80 != 0).then_some(Explore {
            seed: u64::from(flags),
            scale: 0.5,
        }),
    };
    let Ok(reranked) = rec.rerank(candidates, &options) else {
        return;
    };
    let mut order = reranked.ranking.order.clone();
    order.sort_unstable();
    assert_eq!(
        order,
        (0..n).collect::<Vec<_>>(),
        "a ranking is a permutation of the input"
    );
    if let Some(first) = reranked.ranking.items.first() {
        let before = rec.weights().clone();
        match rec.feedback(&reranked.impression_id, &[first.id.clone()], &[]) {
            Ok(weights) => assert!(
                weights.values().all(|w| w.is_finite()),
                "finite weights after feedback"
            ),
            // A refused step (one-item list, a step that would not be finite) changes nothing.
            Err(_) => assert_eq!(
                rec.weights(),
                &before,
                "a refused feedback step changed the weights"
            ),
        }
        assert!(rec.weights().current.values().all(|w| w.is_finite()));
    }
});
