//! Training lines (`{id?, user?, history, candidates, target}`, one per slate a server sent, the
//! target the item taken) read against the native encoder: what `fit-prior` and `train --lines`
//! learn from, and the prior's fit on them, for the CLI and the Python wheel alike.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::Value;

use crate::error::InputErrorKind;
use crate::limits::MAX_PRIOR_WEIGHTS;
use crate::profile::Event;
use crate::rank::fit::{TrainList, PRIOR_RECIPE};
use crate::rank::{Candidate, OnlineConfig, Prior};
use crate::requests::{parse, with_request, RequestError};
use crate::{Encoder, Recommender};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TrainRequest {
    #[serde(default)]
    #[allow(dead_code)]
    id: Value,
    /// Lines of one user form one meta-learning task.
    #[serde(default)]
    user: Option<Value>,
    #[serde(default)]
    history: Vec<Event>,
    candidates: Vec<Candidate>,
    target: String,
}

/// Training lines grouped by user, and the lines left out.
pub struct Training<T> {
    pub tasks: Vec<Vec<T>>,
    /// Lines whose target was not among their candidates (or that gave nothing to learn).
    pub skipped: usize,
    /// Lines that failed (each reported through `on_error`).
    pub failed: usize,
    /// What the recommender noted while reading (texts the model could not read), each once.
    pub warnings: Vec<String>,
}

/// Distinct warnings a training run keeps: enough to name the problem, bounded for a huge log.
const MAX_WARNINGS: usize = 100;

/// One line of input: its number (from 1) and its text, or why it could not be read.
pub type NumberedLine = (usize, Result<String, RequestError>);

/// Reads training lines: per line a fresh user on `prior` records the history, then `step`
/// turns the candidates and target into what is learnt (`None`: the line teaches nothing).
/// A bad line goes to `on_error(number, id, error)` and the rest are read.
pub fn read_training_lines<T>(
    encoder: &Encoder,
    prior: &Prior,
    lines: impl IntoIterator<Item = NumberedLine>,
    mut step: impl FnMut(&mut Recommender, Vec<Candidate>, &str) -> Result<Option<T>, RequestError>,
    mut on_error: impl FnMut(usize, &Value, &RequestError),
) -> Training<T> {
    let mut rec = Recommender::new(prior, encoder.model_sha256());
    rec.set_model_family(encoder.family());
    let mut by_user: BTreeMap<String, Vec<T>> = BTreeMap::new();
    let (mut skipped, mut failed) = (0, 0);
    let mut warnings = Vec::new();
    for (n, text) in lines {
        let text = match text {
            Ok(text) if text.trim().is_empty() => continue,
            Ok(text) => text,
            Err(e) => {
                failed += 1;
                on_error(n, &Value::Null, &e);
                continue;
            }
        };
        rec.reset_user(prior);
        let (id, parsed) = parse::<TrainRequest>(&text);
        let result = parsed.and_then(|r| {
            let user = r
                .user
                .as_ref()
                .map(|u| u.to_string())
                .unwrap_or_else(|| format!("line-{n}"));
            let target = r.target;
            let learned = with_request(&mut rec, encoder, r.history, r.candidates, |rec, c| {
                step(rec, c, &target)
            })?;
            Ok((user, learned))
        });
        for w in rec.take_warnings() {
            if !warnings.contains(&w) && warnings.len() < MAX_WARNINGS {
                warnings.push(w);
            }
        }
        match result {
            Ok((user, Some(learned))) => by_user.entry(user).or_default().push(learned),
            Ok((_, None)) => skipped += 1,
            Err(e) => {
                failed += 1;
                on_error(n, &id, &e);
            }
        }
    }
    Training {
        tasks: by_user.into_values().collect(),
        skipped,
        failed,
        warnings,
    }
}

/// The prior `fit-prior` writes: the lines' feature lists, fitted by `PRIOR_RECIPE` (with
/// `meta`, first-order MAML over each user's lines). A line whose features would take the set
/// past what a prior holds is that line's error. `Err` when no line was usable, saying how many
/// were skipped and bad. Also returns the lists' count and the training summary.
pub fn fit_prior(
    encoder: &Encoder,
    lines: impl IntoIterator<Item = NumberedLine>,
    meta: bool,
    on_error: impl FnMut(usize, &Value, &RequestError),
) -> Result<(Prior, usize, Training<TrainList>), String> {
    let mut names: BTreeSet<String> = BTreeSet::new();
    let training = read_training_lines(
        encoder,
        &Prior::default(),
        lines,
        |rec, candidates, target| {
            let list = rec.train_list(candidates, target)?;
            if let Some(list) = &list {
                admit_names(&mut names, &list.names)?;
            }
            Ok(list)
        },
        on_error,
    );
    if training.tasks.is_empty() {
        return Err(format!(
            "no usable training lines ({} without the target among the candidates, {} bad)",
            training.skipped, training.failed
        ));
    }
    let lists: Vec<TrainList> = training.tasks.iter().flatten().cloned().collect();
    let mut extra = serde_json::Map::new();
    extra.insert("users".into(), training.tasks.len().into());
    extra.insert(
        "skipped_target_not_in_candidates".into(),
        training.skipped.into(),
    );
    let meta_tasks = meta.then_some(training.tasks.as_slice());
    let prior = PRIOR_RECIPE.fit(&lists, meta_tasks, OnlineConfig::default(), extra);
    Ok((prior, lists.len(), training))
}

/// Adds a list's feature names to those of the training set, unless that would take the set
/// past what a prior may hold (`MAX_PRIOR_WEIGHTS`): then the list is that line's error, and
/// the fit stays small (its cost grows with the square of the names).
fn admit_names(names: &mut BTreeSet<String>, list: &[String]) -> Result<(), RequestError> {
    let new = list.iter().filter(|n| !names.contains(*n)).count();
    if names.len() + new > MAX_PRIOR_WEIGHTS {
        return Err(RequestError {
            kind: InputErrorKind::TooManyFeatures.as_str(),
            message: format!(
                "this line's features would take the training set past {MAX_PRIOR_WEIGHTS} \
                 distinct features, the most a prior holds"
            ),
        });
    }
    names.extend(list.iter().cloned());
    Ok(())
}
