//! Candidate lists whose site-feature names vary across candidates (the `candidates` target's
//! JSON seeds never did): bytes pick each candidate's names from a pool, its values (extremes
//! beyond f32 included) and its `related` count. A list is refused with a typed error or
//! ranked; a ranked list names at most MAX_SITE_FEATURES distinct features and every score and
//! contribution is finite.
#![no_main]
use cloister::limits::MAX_SITE_FEATURES;
use cloister::rank::Related;
use cloister::{Candidate, Prior, Recommender, RerankOptions};
use libfuzzer_sys::fuzz_target;

/// Values a byte can pick, the awkward ones included.
const VALUES: [f64; 8] = [0.0, -1.0, 1.0, 1e-300, 3.0e38, -3.4e38, 1e39, f64::NAN];

fuzz_target!(|data: &[u8]| {
    let mut bytes = data.iter().copied();
    let mut next = || bytes.next().unwrap_or(0);
    let n = usize::from(next() % 64) + 1;
    let candidates: Vec<Candidate> = (0..n)
        .map(|i| {
            let mut c = Candidate::new(
                format!("c{i}"),
                String::new(),
                VALUES[usize::from(next() % 8)],
            );
            let mut v = vec![0f32; 384];
            v[i % 384] = 1.0;
            c.embedding = Some(v.into());
            c.model = Some("fuzz".into());
            for _ in 0..usize::from(next() % 40) {
                let name = format!("f{}", next() % 96);
                c.features.insert(name, VALUES[usize::from(next() % 8)]);
            }
            c.related = (0..usize::from(next() % 80))
                .map(|r| Related {
                    id: format!("r{r}"),
                    weight: VALUES[usize::from(next() % 8)],
                })
                .collect();
            c
        })
        .collect();
    let mut rec = Recommender::new(&Prior::default(), "fuzz");
    let Ok(ranked) = rec.rerank(candidates, &RerankOptions::default()) else {
        return;
    };
    let site = ranked
        .ranking
        .features
        .names
        .iter()
        .filter(|n| n.starts_with("site:"))
        .count();
    assert!(site <= MAX_SITE_FEATURES, "{site} site columns");
    for item in &ranked.ranking.items {
        assert!(item.score.is_finite(), "score {}", item.score);
        assert!(item.contributions.iter().all(|(_, v)| v.is_finite()));
    }
});
