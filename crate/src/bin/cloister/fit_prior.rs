//! `cloister fit-prior`: training lines to a prior file, by the core's one recipe.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, BufRead};
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use cloister::limits::MAX_PRIOR_WEIGHTS;
use cloister::profile::Event;
use cloister::rank::fit::{TrainList, PRIOR_RECIPE};
use cloister::rank::{Candidate, OnlineConfig, Prior};
use cloister::{Encoder, InputErrorKind, Recommender};
use serde::Deserialize;
use serde_json::Value;

use crate::lines::{lines, parse, with_request, LineError};
use crate::{CliError, ModelArgs};

#[derive(Args)]
pub struct FitPriorArgs {
    /// First-order MAML (each user's last line is the query) for fast on-device adaptation.
    #[arg(long)]
    meta: bool,
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    model: ModelArgs,
}

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

pub fn run(args: FitPriorArgs) -> Result<(), CliError> {
    let encoder = args.model.load()?;
    let started = Instant::now();
    let training = read_training(&encoder, io::stdin().lock())
        .map_err(|e| CliError::Io(PathBuf::from("<stdin>"), e))?;
    if training.tasks.is_empty() {
        return Err(CliError::Usage(format!(
            "no usable training lines ({} without the target among the candidates, {} bad)",
            training.skipped, training.failed
        )));
    }
    let lists: Vec<TrainList> = training.tasks.iter().flatten().cloned().collect();
    let mut extra = serde_json::Map::new();
    extra.insert("users".into(), training.tasks.len().into());
    extra.insert(
        "skipped_target_not_in_candidates".into(),
        training.skipped.into(),
    );
    let meta_tasks = args.meta.then_some(training.tasks.as_slice());
    let prior = PRIOR_RECIPE.fit(&lists, meta_tasks, OnlineConfig::default(), extra);
    write_prior(&args.out, &prior)?;
    eprintln!(
        "cloister fit-prior: {} lists from {} users ({} skipped, {} bad) -> {} in {:.1} s",
        lists.len(),
        training.tasks.len(),
        training.skipped,
        training.failed,
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A prior file as `rerank --prior` and the JS package read it.
pub fn write_prior(path: &std::path::Path, prior: &Prior) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(prior).expect("prior serialises") + "\n";
    crate::write(path, text)
}

/// Adds a list's feature names to those of the training set, unless that would take the set
/// past what a prior may hold (`MAX_PRIOR_WEIGHTS`): then the list is that line's error, and
/// the fit stays small (its cost grows with the square of the names).
fn admit_names(names: &mut BTreeSet<String>, list: &[String]) -> Result<(), LineError> {
    let new = list.iter().filter(|n| !names.contains(*n)).count();
    if names.len() + new > MAX_PRIOR_WEIGHTS {
        return Err(LineError {
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

/// Training lines to feature lists, grouped by user; a list whose features would take the set
/// past what a prior holds is that line's error.
fn read_training(encoder: &Encoder, input: impl BufRead) -> io::Result<Training<TrainList>> {
    let mut names: BTreeSet<String> = BTreeSet::new();
    read_training_lines(
        "fit-prior",
        encoder,
        &Prior::default(),
        input,
        |rec, candidates, target| {
            let list = rec.train_list(candidates, target)?;
            if let Some(list) = &list {
                admit_names(&mut names, &list.names)?;
            }
            Ok(list)
        },
    )
}

/// Training lines grouped by user, and the lines left out.
pub struct Training<T> {
    pub tasks: Vec<Vec<T>>,
    /// Lines whose target was not among their candidates (or that gave nothing to learn).
    pub skipped: usize,
    /// Lines that failed (reported on stderr).
    pub failed: usize,
}

/// Reads training lines (`{ user?, history, candidates, target }`): per line a fresh user on
/// `prior` records the history, then `step` turns the candidates and target into what the
/// command learns from (`None`: the line teaches nothing). `command` names the command in the
/// per-line errors on stderr.
pub fn read_training_lines<T>(
    command: &str,
    encoder: &Encoder,
    prior: &Prior,
    input: impl BufRead,
    mut step: impl FnMut(&mut Recommender, Vec<Candidate>, &str) -> Result<Option<T>, LineError>,
) -> io::Result<Training<T>> {
    let mut rec = Recommender::new(prior, encoder.model_sha256());
    rec.set_model_family(encoder.family());
    let mut by_user: BTreeMap<String, Vec<T>> = BTreeMap::new();
    let (mut skipped, mut failed) = (0, 0);
    for line in lines(input) {
        let line = line?;
        let n = line.number;
        let text = match line.text {
            Ok(text) if text.trim().is_empty() => continue,
            Ok(text) => text,
            Err(e) => {
                failed += 1;
                eprintln!("{command}: line {n}: {}: {}", e.kind, e.message);
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
        match result {
            Ok((user, Some(learned))) => by_user.entry(user).or_default().push(learned),
            Ok((_, None)) => skipped += 1,
            Err(e) => {
                failed += 1;
                eprintln!("{command}: line {n} (id {id}): {}: {}", e.kind, e.message);
            }
        }
    }
    Ok(Training {
        tasks: by_user.into_values().collect(),
        skipped,
        failed,
    })
}
