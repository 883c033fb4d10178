//! A Chinese relevance check: 120 queries the project wrote, each with one right item among
//! 120 Chinese items in 12 categories (crate/tests/fixtures/zh-relevance.json). Accuracy@1 of
//! the multilingual model against the English one on the same queries and items, with a
//! paired bootstrap interval on the difference. docs/multilingual.md reports this test's output.

mod common;

use cloister::encoder::device::cpu_device;
use cloister::encoder::TextRole;
use cloister::{Backend, Encoder};
use common::cosine;
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    items: Vec<Item>,
    queries: Vec<Query>,
}

#[derive(Deserialize)]
struct Item {
    id: String,
    category: String,
    text: String,
}

#[derive(Deserialize)]
struct Query {
    query: String,
    target: String,
}

/// Per query: whether the top item is the target, and whether it is in the target's category.
fn judge(encoder: &Encoder, fixture: &Fixture) -> Vec<(bool, bool)> {
    let items: Vec<&str> = fixture.items.iter().map(|i| i.text.as_str()).collect();
    let queries: Vec<&str> = fixture.queries.iter().map(|q| q.query.as_str()).collect();
    let item_vectors = encoder.embed_as(&items, TextRole::Passage).unwrap();
    let query_vectors = encoder.embed_as(&queries, TextRole::Query).unwrap();
    fixture
        .queries
        .iter()
        .enumerate()
        .map(|(q, query)| {
            let best = (0..items.len())
                .max_by(|&a, &b| {
                    let sa = cosine(query_vectors.row(q), item_vectors.row(a));
                    let sb = cosine(query_vectors.row(q), item_vectors.row(b));
                    sa.total_cmp(&sb)
                })
                .unwrap();
            let target = fixture.items.iter().find(|i| i.id == query.target).unwrap();
            let top = &fixture.items[best];
            (top.id == target.id, top.category == target.category)
        })
        .collect()
}

/// 95% paired bootstrap interval of mean(a - b) (2,000 resamples, fixed seed).
fn paired_interval(a: &[bool], b: &[bool]) -> (f64, f64, f64) {
    let diff: Vec<f64> = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(u8::from(x)) - f64::from(u8::from(y)))
        .collect();
    let n = diff.len();
    let mean = diff.iter().sum::<f64>() / n as f64;
    let mut state = 0x2026_1130_u64;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as usize % n
    };
    let mut means: Vec<f64> = (0..2000)
        .map(|_| (0..n).map(|_| diff[next()]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    (mean, means[49], means[1949])
}

#[test]
fn the_multilingual_model_finds_the_right_chinese_item_where_the_english_model_cannot() {
    let fixture: Fixture =
        serde_json::from_str(include_str!("fixtures/zh-relevance.json")).unwrap();
    assert!(fixture.queries.len() >= 100 && fixture.items.len() >= 100);
    let english = common::encoder("model.int8.bpk");
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../models/multilingual-e5-small");
    let read = |name: &str| {
        std::fs::read(root.join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}; run ./build.sh (it converts the model)"))
    };
    let multilingual = Encoder::load(
        read("model.int8.bpk"),
        &read("tokenizer.json"),
        cpu_device(),
        Backend::Cpu,
    )
    .unwrap();
    let en = judge(&english, &fixture);
    let multi = judge(&multilingual, &fixture);
    let share = |v: &[(bool, bool)], f: fn(&(bool, bool)) -> bool| {
        v.iter().filter(|x| f(x)).count() as f64 / v.len() as f64
    };
    let (item_en, item_multi) = (share(&en, |x| x.0), share(&multi, |x| x.0));
    let (cat_en, cat_multi) = (share(&en, |x| x.1), share(&multi, |x| x.1));
    let a: Vec<bool> = multi.iter().map(|x| x.0).collect();
    let b: Vec<bool> = en.iter().map(|x| x.0).collect();
    let (diff, low, high) = paired_interval(&a, &b);
    println!(
        "| model | accuracy@1 (item) | top item in the right category |\n\
         |---|---|---|\n\
         | all-MiniLM-L6-v2 (English) | {item_en:.3} | {cat_en:.3} |\n\
         | multilingual-e5-small | {item_multi:.3} | {cat_multi:.3} |\n\
         difference in accuracy@1: {diff:+.3} [{low:+.3}, {high:+.3}] (paired bootstrap, \
         {} queries, {} items; chance is {:.3})",
        fixture.queries.len(),
        fixture.items.len(),
        1.0 / fixture.items.len() as f64
    );
    assert!(
        low > 0.0,
        "the multilingual model is not better: {diff} [{low}, {high}]"
    );
    assert!(item_multi >= 0.6, "accuracy@1 {item_multi}");
}

/// The multilingual model's similarity thresholds hold in Chinese too: calibrated on this
/// fixture's categories (query to item, item to item) at `CLAIM_PRECISION`, they are the ones
/// `SimilarityScale::E5` ships for text mostly in Chinese characters.
#[test]
fn the_multilingual_thresholds_are_the_chinese_calibration() {
    use cloister::rank::explain::{calibrate_threshold, CLAIM_PRECISION};
    use cloister::similarity::SimilarityScale;
    let fixture: Fixture =
        serde_json::from_str(include_str!("fixtures/zh-relevance.json")).unwrap();
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../models/multilingual-e5-small");
    let read = |name: &str| std::fs::read(root.join(name)).unwrap();
    let e5 = Encoder::load(
        read("model.int8.bpk"),
        &read("tokenizer.json"),
        cpu_device(),
        Backend::Cpu,
    )
    .unwrap();
    let items: Vec<&str> = fixture.items.iter().map(|i| i.text.as_str()).collect();
    let queries: Vec<&str> = fixture.queries.iter().map(|q| q.query.as_str()).collect();
    let item_vectors = e5.embed_as(&items, TextRole::Passage).unwrap();
    let query_vectors = e5.embed_as(&queries, TextRole::Query).unwrap();
    let category = |id: &str| &fixture.items.iter().find(|i| i.id == id).unwrap().category;
    let mut stated = Vec::new();
    for (q, query) in fixture.queries.iter().enumerate() {
        for (i, item) in fixture.items.iter().enumerate() {
            let cos = cosine(query_vectors.row(q), item_vectors.row(i)) as f32;
            stated.push((cos, &item.category == category(&query.target)));
        }
    }
    let mut similar = Vec::new();
    for a in 0..items.len() {
        for b in (0..items.len()).filter(|&b| b != a) {
            let cos = cosine(item_vectors.row(a), item_vectors.row(b)) as f32;
            similar.push((cos, fixture.items[a].category == fixture.items[b].category));
        }
    }
    let stated = calibrate_threshold(&stated, CLAIM_PRECISION).unwrap();
    let similar = calibrate_threshold(&similar, CLAIM_PRECISION).unwrap();
    println!("Chinese, calibrated at precision {CLAIM_PRECISION}: stated {stated:.3}, similar {similar:.3}");
    assert!(
        (stated - SimilarityScale::E5.stated_match_han).abs() < 0.01,
        "{stated}"
    );
    assert!(
        (similar - SimilarityScale::E5.similar_han).abs() < 0.01,
        "{similar}"
    );
}
