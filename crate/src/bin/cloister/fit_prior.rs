//! `cloister fit-prior`: training lines to a prior file, by the core's one recipe.

use std::io;
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use cloister::rank::Prior;
use cloister::training::fit_prior;
use serde_json::Value;

use crate::lines::{numbered, LineError};
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

pub fn run(args: FitPriorArgs) -> Result<(), CliError> {
    let encoder = args.model.load()?;
    let started = Instant::now();
    let mut io_error = None;
    let fitted = fit_prior(
        &encoder,
        numbered(io::stdin().lock(), &mut io_error),
        args.meta,
        report("fit-prior"),
    );
    if let Some(e) = io_error {
        return Err(CliError::Io(PathBuf::from("<stdin>"), e));
    }
    let (prior, lists, training) = fitted.map_err(CliError::Usage)?;
    for warning in &training.warnings {
        eprintln!("cloister: warning: {warning}");
    }
    write_prior(&args.out, &prior)?;
    eprintln!(
        "cloister fit-prior: {} lists from {} users ({} skipped, {} bad) -> {} in {:.1} s",
        lists,
        training.tasks.len(),
        training.skipped,
        training.failed,
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Reports a bad training line on stderr, as `command: line N (id ID): kind: message`.
pub fn report(command: &str) -> impl FnMut(usize, &Value, &LineError) + '_ {
    move |n, id, e| {
        if id.is_null() {
            eprintln!("{command}: line {n}: {}: {}", e.kind, e.message);
        } else {
            eprintln!("{command}: line {n} (id {id}): {}: {}", e.kind, e.message);
        }
    }
}

/// A prior file as `rerank --prior` and the JS package read it.
pub fn write_prior(path: &std::path::Path, prior: &Prior) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(prior).expect("prior serialises") + "\n";
    crate::write(path, text)
}
