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
