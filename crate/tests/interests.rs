//! Several interests per user (issue 14, item 2): each with its own recency and strength, a
//! candidate scored by its best one, and an abandoned one fading with time.

use cloister::encoder::Embeddings;
use cloister::{Candidate, Event, EventKind, Item, Prior, Recommender, RerankOptions};

/// 2026-11-01, and a day.
const START: i64 = 1_793_491_200_000;
const DAY: i64 = 86_400_000;

/// A unit vector along `axis`, tilted a little towards the next axis.
fn vector(axis: usize, tilt: f32) -> Vec<f32> {
    let mut v = vec![0.0f32; 384];
    v[axis] = 1.0;
    v[axis + 1] = tilt;
    let n = (1.0 + tilt * tilt).sqrt();
    v.iter().map(|x| x / n).collect()
}

/// Interest "a" lives near axis 0, "b" near axis 5; the rest of the catalogue on axes 10..58.
fn item(id: &str, i: usize) -> (String, Vec<f32>) {
    let v = match &id[..1] {
        "a" => vector(0, 0.05 * i as f32),
        "b" => vector(5, 0.05 * i as f32),
        _ => vector(10 + 2 * i, 0.1),
    };
    (id.to_string(), v)
}

fn click(rec: &mut Recommender, id: &str, i: usize, at: i64) {
    let (id, v) = item(id, i);
    let text = format!("item {id}");
    rec.put_embeddings(std::slice::from_ref(&text), &Embeddings { data: v })
        .unwrap();
    let event = Event {
        item: Item {
            id,
            text,
            category: None,
        },
        kind: EventKind::Click,
        value: None,
        at,
    };
    rec.record(event, at + DAY).unwrap();
}

/// 6 unseen items of each interest and 24 others the server prefers.
fn candidates() -> Vec<Candidate> {
    let mut list = Vec::new();
    for i in 0..24 {
        list.push((format!("x{i}"), i, 40.0 - i as f64));
    }
    for i in 0..6 {
        list.push((format!("a{}", 10 + i), 10 + i, 10.0 - i as f64));
        list.push((format!("b{}", 10 + i), 10 + i, 10.0 - i as f64));
    }
    list.into_iter()
        .map(|(id, i, score)| {
            let (id, v) = item(&id, i);
            let mut c = Candidate::new(id.clone(), format!("item {id}"), score);
            c.embedding = Some(v.into());
            c.model = Some("m".into());
            c
        })
        .collect()
}

/// How many items of each interest ("a", "b") the top 10 holds.
fn top10(rec: &mut Recommender) -> (usize, usize, Vec<String>) {
    let ranked = rec
        .rerank(
            candidates(),
            &RerankOptions {
                k: Some(10),
                ..Default::default()
            },
        )
        .unwrap();
    let ids: Vec<&str> = ranked.shown().iter().map(|i| i.id.as_str()).collect();
    let count = |p: &str| ids.iter().filter(|id| id.starts_with(p)).count();
    let reasons = ranked
        .shown()
        .iter()
        .map(|i| format!("{}: {}", i.id, i.explanation.reason))
        .collect();
    (count("a"), count("b"), reasons)
}

#[test]
fn two_interests_both_reach_the_top_10_and_an_abandoned_one_fades() {
    let mut rec = Recommender::new(&Prior::default(), "m");
    // A week of both: two items of each interest a day.
    for day in 0..7i64 {
        for j in 0..4i64 {
            let id = if j % 2 == 0 { "a" } else { "b" };
            let i = ((day * 2 + j / 2) % 10) as usize;
            click(
                &mut rec,
                &format!("{id}{i}"),
                i,
                START + day * DAY + j * 3_600_000,
            );
        }
    }
    let weights = rec.profile().interest_weights();
    assert_eq!(weights.len(), 2, "two interests formed: {weights:?}");
    let (a, b, reasons) = top10(&mut rec);
    println!(
        "after a week of both: top 10 holds {a} of a, {b} of b\n{}",
        reasons.join("\n")
    );
    assert!(
        a >= 3 && b >= 3,
        "both interests reach the top 10: {a} a, {b} b"
    );

    // Three weeks of only "a".
    for day in 7..28i64 {
        for j in 0..2i64 {
            let i = (day * 2 + j) as usize % 10;
            click(
                &mut rec,
                &format!("a{i}"),
                i,
                START + day * DAY + j * 3_600_000,
            );
        }
    }
    let weights = rec.profile().interest_weights();
    let (a2, b2, reasons) = top10(&mut rec);
    println!(
        "after three weeks of only a: interest weights {weights:?}; top 10 holds {a2} of a, \
         {b2} of b\n{}",
        reasons.join("\n")
    );
    let b_weight = weights
        .iter()
        .zip(&rec.profile().centroids)
        .find(|(_, c)| c.label_id.starts_with('b'))
        .map(|(w, _)| *w)
        .unwrap();
    assert!(b_weight < 0.25, "the abandoned interest fades: {b_weight}");
    assert!(b2 < b, "and sinks in the ranking: {b} -> {b2}");
    assert!(a2 >= a, "while the other holds: {a} -> {a2}");
}

#[test]
fn an_item_is_explained_by_the_interest_it_scores_by() {
    // A prior that ranks by interests alone, so the interest is the reason.
    let prior = Prior::from_json(r#"{"weights":{"centroid":1}}"#).unwrap();
    let mut rec = Recommender::new(&prior, "m");
    click(&mut rec, "a1", 1, START);
    click(&mut rec, "b1", 1, START + DAY);
    click(&mut rec, "b2", 2, START + 2 * DAY);
    let ranked = rec
        .rerank(
            candidates(),
            &RerankOptions {
                k: Some(8),
                ..Default::default()
            },
        )
        .unwrap();
    // The six "b" items (the interest with twice the mass) first, then "a" ones.
    for item in ranked.shown() {
        let e = &item.explanation;
        assert_eq!(e.feature, "centroid", "{e:?}");
        // Each names the newest item of its own interest.
        let named = &e.source.as_ref().expect("the interest's item").id;
        assert_eq!(
            &named[..1],
            &item.id[..1],
            "{} explained by {named}",
            item.id
        );
        assert!(
            e.reason
                .starts_with("fits your interest in things like item"),
            "{e:?}"
        );
    }
    assert!(ranked.shown().iter().any(|i| i.id.starts_with('a')));
    assert!(
        ranked.shown()[0].id.starts_with('b'),
        "the stronger interest leads"
    );
}
