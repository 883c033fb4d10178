//! The learned interest model with the real encoder (issue 18): trained with burn's autodiff on
//! one half of a catalogue, it ranks items of the other half, which it never saw in training,
//! by what the user's history says.

mod common;

use cloister::interest_model::train::{fit, Slate, TRAIN_RECIPE};
use cloister::interest_model::{InterestModel, ModelBatch, Pair, EVENT_FEATURES};

/// Six topics, eight items each: the project's own short catalogue lines.
const TOPICS: [&str; 6] = [
    "a detective hunts a killer through the fog of a harbour town",
    "a hearty vegetable soup with lentils, carrots and cumin",
    "a trail running shoe with a grippy sole for muddy hills",
    "a string quartet plays late Beethoven in a small chapel",
    "a beginner's guide to growing tomatoes on a balcony",
    "a spaceship crew wakes from cryosleep far off course",
];
const VARIANTS: [&str; 8] = [
    "Book review:",
    "New this week:",
    "Staff pick:",
    "Customers loved it:",
    "On sale:",
    "Back in stock:",
    "Editor's choice:",
    "Just added:",
];

fn item(topic: usize, variant: usize) -> usize {
    topic * VARIANTS.len() + variant
}

/// A user's history of 3 items of `topic` (variants `from`..), then a slate of one item per
/// topic, all of variant parity `parity`; the item taken is the one of `topic`.
fn slate(topic: usize, from: usize, pick: usize, shift: usize) -> Slate {
    let history: Vec<usize> = (0..3).map(|k| item(topic, (from + k) % 8)).collect();
    let candidates: Vec<usize> = (0..TOPICS.len())
        .map(|t| item((t + shift) % TOPICS.len(), pick))
        .collect();
    let target = candidates
        .iter()
        .position(|&c| c == item(topic, pick))
        .unwrap();
    Slate {
        features: vec![0.0; history.len() * EVENT_FEATURES],
        history,
        candidates,
        target,
        offset: Vec::new(),
    }
}

#[test]
fn a_model_trained_on_half_the_catalogue_ranks_the_other_half_by_the_history() {
    let encoder = common::encoder("model.int8.bpk");
    let texts: Vec<String> = TOPICS
        .iter()
        .flat_map(|t| VARIANTS.iter().map(move |v| format!("{v} {t}")))
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let embedded = encoder.embed(&refs).unwrap();
    let table: Vec<Vec<f32>> = embedded.rows().map(<[f32]>::to_vec).collect();

    // Training: even variants only, as candidates and as the item taken.
    let mut train = Vec::new();
    for topic in 0..TOPICS.len() {
        for from in 0..8 {
            for pick in [0, 2, 4, 6] {
                train.push(slate(topic, from, pick, from % TOPICS.len()));
            }
        }
    }
    let recipe = cloister::interest_model::train::TrainRecipe {
        epochs: 30,
        batch: 16,
        lr: 1e-2,
        ..TRAIN_RECIPE
    };
    let params = fit(&table, &train, &recipe, &mut |_| {});
    let model = InterestModel::new(params.clone(), burn::tensor::Device::flex());

    // Test: odd variants, never a candidate or a target in training.
    let test: Vec<Slate> = (0..TOPICS.len())
        .flat_map(|topic| [1, 3, 5, 7].map(|pick| slate(topic, pick + 1, pick, topic)))
        .collect();
    let batch = ModelBatch {
        table: table.iter().flatten().copied().collect(),
        pairs: test
            .iter()
            .map(|s| Pair {
                history: s.history.clone(),
                features: s.features.clone(),
                candidates: s.candidates.clone(),
            })
            .collect(),
    };
    let readouts = model.phi(&batch).unwrap();
    let hits = readouts
        .iter()
        .zip(&test)
        .filter(|(r, s)| {
            let scores: Vec<f32> = r
                .as_ref()
                .unwrap()
                .iter()
                .map(|p| cloister::vector::dot(p, &params.gate))
                .collect();
            let best = (0..scores.len())
                .max_by(|&a, &b| scores[a].total_cmp(&scores[b]))
                .unwrap();
            best == s.target
        })
        .count();
    // Chance is 1 in 6 (4 of 24).
    assert!(
        hits >= 20,
        "{hits} of {} unseen slates ranked right",
        test.len()
    );
}

mod recommender {
    use cloister::interest_model::InterestModelParams;
    use cloister::{Candidate, Prior, Recommender, RerankOptions};

    const NOW: i64 = 1_796_000_000_000;

    /// A unit vector mostly along `axis`.
    fn vector(axis: usize, tilt: f32) -> Vec<f32> {
        let mut v = vec![0.0f32; 384];
        v[axis % 384] = 1.0;
        v[(axis + 7) % 384] = tilt;
        let n = (1.0 + tilt * tilt).sqrt();
        v.iter().map(|x| x / n).collect()
    }

    fn list() -> Vec<Candidate> {
        (0..12)
            .map(|i| {
                let mut c = Candidate::new(format!("c{i}"), format!("text {i}"), 1.0);
                c.embedding = Some(vector(i * 3, 0.2).into());
                c.model = Some("m".into());
                c
            })
            .collect()
    }

    fn recommender() -> Recommender {
        let mut rec = Recommender::new(&Prior::default(), "m");
        let vectors: Vec<Vec<f32>> = (0..6).map(|i| vector(i * 5, 0.3)).collect();
        super::common::click_history(&mut rec, &vectors, NOW);
        rec
    }

    fn model_scores(rec: &mut Recommender) -> Vec<(String, f32)> {
        let ranked = rec
            .rerank(list(), &RerankOptions::default())
            .unwrap()
            .ranking;
        let mut scores: Vec<(String, f32)> = ranked
            .items
            .iter()
            .map(|i| (i.id.clone(), i.contributions.get("interest_model").unwrap()))
            .collect();
        scores.sort_by(|a, b| a.0.cmp(&b.0));
        scores
    }

    #[test]
    fn a_loaded_model_ranks_and_adapts_to_choices_which_survive_a_reload_and_vanish_on_forget() {
        let file = InterestModelParams::init(384, 7).to_json();
        let mut rec = recommender();

        // Bad files are typed errors, and the ranking goes on without the model.
        let err = rec.set_interest_model(b"{\"format\": 1").unwrap_err();
        assert_eq!(err.kind(), "interest_model_corrupt");
        let narrow = InterestModelParams::init(8, 1).to_json();
        let err = rec.set_interest_model(narrow.as_bytes()).unwrap_err();
        assert_eq!(err.kind(), "interest_model_wrong_dimension");
        let without = rec.rerank(list(), &RerankOptions::default()).unwrap();
        assert!(without.ranking.items[0]
            .contributions
            .get("interest_model")
            .is_none());

        let sha = rec.set_interest_model(file.as_bytes()).unwrap();
        assert_eq!(sha.len(), 64);
        let before = model_scores(&mut rec);
        assert!(before.iter().any(|(_, s)| s.abs() > 1e-6), "{before:?}");

        // The user keeps taking the item the shipped model scores lowest.
        let target = lowest(&before);
        for _ in 0..40 {
            let shown = rec.rerank(list(), &RerankOptions::default()).unwrap();
            rec.feedback(&shown.impression_id, std::slice::from_ref(&target), &[])
                .unwrap();
        }
        let gate = rec
            .interest_gate()
            .expect("choices adapted the gate")
            .clone();
        assert_eq!(gate.model, sha);
        let after = model_scores(&mut rec);
        // The target's score against the others' mean: the model moved toward the choices.
        let margin = |scores: &[(String, f32)]| {
            let t = scores.iter().find(|(id, _)| *id == target).unwrap().1;
            let others: Vec<f32> = scores
                .iter()
                .filter(|(id, _)| *id != target)
                .map(|(_, s)| *s)
                .collect();
            t - others.iter().sum::<f32>() / others.len() as f32
        };
        assert!(
            margin(&after) > margin(&before) + 0.01,
            "{} -> {}",
            margin(&before),
            margin(&after)
        );

        // A reload restores the adapted gate; another recommender with the same file scores alike.
        let saved = rec.to_bytes();
        let mut reloaded = Recommender::new(&Prior::default(), "m");
        reloaded.set_interest_model(file.as_bytes()).unwrap();
        reloaded.restore(&saved).unwrap();
        assert_eq!(reloaded.interest_gate(), Some(&gate));
        assert_eq!(model_scores(&mut reloaded), after);
        assert!(rec.export_document().contains("interest_gate"));

        // Forget: the gate is gone, the model's scores are the shipped ones again.
        reloaded.forget();
        assert_eq!(reloaded.interest_gate(), None);
        let mut fresh = recommender();
        fresh.set_interest_model(file.as_bytes()).unwrap();
        assert_eq!(model_scores(&mut fresh), before);
    }

    /// Queries and keys 8 x the first 32 coordinates, values and outputs those coordinates,
    /// gate 10: a candidate along a history item's axis attends to that item alone.
    fn sharp_model() -> String {
        let (dim, h) = (384, 32);
        let mut projections = vec![0f32; dim * 4 * h];
        for i in 0..h {
            for (part, scale) in [(0, 8.0), (1, 8.0), (2, 1.0), (3, 1.0)] {
                projections[i * 4 * h + part * h + i] = scale;
            }
        }
        let mut params = InterestModelParams::init(dim, 1);
        params.projections = projections;
        params.event = vec![0.0; params.event.len()];
        params.gate = vec![10.0; h];
        params.to_json()
    }

    #[test]
    fn the_model_explains_by_what_it_attends_to_and_scores_alike_off_the_ranking_path() {
        let mut rec = recommender();
        rec.set_interest_model(sharp_model().as_bytes()).unwrap();
        let ranked = rec
            .rerank(list(), &RerankOptions::default())
            .unwrap()
            .ranking;
        let by_id = |id: &str| ranked.items.iter().find(|i| i.id == id).unwrap();
        // c5 lies along history 3's axis: the model looks at it, and says so.
        let c5 = by_id("c5");
        assert_eq!(
            c5.explanation.feature, "interest_model",
            "{:?}",
            c5.explanation
        );
        assert_eq!(
            c5.explanation.reason,
            "because you recently looked at history 3"
        );
        assert_eq!(c5.explanation.source.as_ref().unwrap().id, "h3");
        // c10 is like nothing in the history: even attention names nothing, and its reason is
        // the blend's.
        let c10 = by_id("c10");
        assert_ne!(c10.explanation.feature, "interest_model");
        assert!(c10.contributions.get("interest_model").unwrap().abs() < 1e-4);

        // The inputs the wasm edge runs on another device give the ranking's own scores.
        let (inputs, gate) = rec.interest_inputs(list()).unwrap().unwrap();
        let (params, _) = rec.interest_model().unwrap();
        let model = cloister::interest_model::InterestModel::new(
            params.clone(),
            cloister::encoder::device::cpu_device(),
        );
        let pass = model
            .start_pass(&inputs.batch)
            .unwrap()
            .map(|p| p.read().unwrap());
        let signal = inputs.finish(pass, &gate);
        for (i, c) in list().iter().enumerate() {
            let ranked = by_id(&c.id).contributions.get("interest_model").unwrap();
            assert!(
                (signal.scores[i] - ranked).abs() < 1e-6,
                "{} {ranked}",
                c.id
            );
        }
    }

    fn lowest(scores: &[(String, f32)]) -> String {
        scores
            .iter()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap()
            .0
            .clone()
    }
}
