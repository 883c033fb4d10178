//! `cloister eval`: fetches ml-100k, embeds its item texts and runs the offline protocol;
//! writes the report (and on request the prior validation chose).

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use cloister::eval::{movielens, protocol};

use crate::fit_prior::write_prior;
use crate::{project_root, CliError, ModelArgs};

#[derive(Args)]
pub struct EvalArgs {
    /// Only ml-100k (MovieLens-100k from the recbole==1.2.1 wheel) is supported.
    #[arg(long, default_value = "ml-100k")]
    dataset: String,
    /// The Markdown report (default: docs/evaluation.md).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Also write the prior fitted on validation here (PRIOR.json format).
    #[arg(long)]
    prior_out: Option<PathBuf>,
    /// Run only the protocols whose name starts with this (e.g. `A`); the report then holds
    /// only those.
    #[arg(long)]
    protocol: Option<String>,
    #[command(flatten)]
    model: ModelArgs,
}

/// ml-100k and its item texts' embeddings by the chosen encoder.
pub fn load(
    dataset: &str,
    model: &ModelArgs,
) -> Result<(movielens::Dataset, Vec<Vec<f32>>), CliError> {
    if dataset != "ml-100k" {
        return Err(CliError::Usage(format!(
            "unknown dataset '{dataset}': only ml-100k is supported"
        )));
    }
    let dir = movielens::cache_dir();
    movielens::fetch(&dir).map_err(CliError::Usage)?;
    let data = movielens::load(&dir).map_err(CliError::Usage)?;
    let encoder = model.load()?;
    let started = Instant::now();
    let texts: Vec<&str> = data.texts.iter().map(String::as_str).collect();
    let embedded = encoder.embed(&texts)?;
    let emb: Vec<Vec<f32>> = embedded.rows().map(<[f32]>::to_vec).collect();
    eprintln!(
        "eval: {} item texts embedded in {:.1} s",
        emb.len(),
        started.elapsed().as_secs_f64()
    );
    Ok((data, emb))
}

pub fn run(args: EvalArgs) -> Result<(), CliError> {
    let (data, emb) = load(&args.dataset, &args.model)?;
    let mut config = protocol::EvalConfig::default();
    if let Some(prefix) = &args.protocol {
        config
            .setups
            .retain(|s| s.name.starts_with(prefix.as_str()));
        if config.setups.is_empty() {
            return Err(CliError::Usage(format!(
                "no protocol's name starts with '{prefix}'"
            )));
        }
    }
    let evaluation = protocol::run(&data, &emb, &config, &mut |m| eprintln!("eval: {m}"));
    let out = args
        .out
        .unwrap_or_else(|| project_root().join("docs/evaluation.md"));
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent).map_err(|e| CliError::Io(parent.to_path_buf(), e))?;
    }
    // The adaptation chart sits beside the report: evaluation.md -> evaluation-adaptation.svg.
    let stem = out
        .file_stem()
        .map_or_else(|| "evaluation".into(), |s| s.to_string_lossy().into_owned());
    let svg_name = format!("{stem}-adaptation.svg");
    crate::write(&out.with_file_name(&svg_name), evaluation.curve_svg())?;
    crate::write(&out, evaluation.markdown(&svg_name))?;
    if let Some(path) = args.prior_out {
        write_prior(&path, &evaluation.prior())?;
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&evaluation.summary()).expect("summary serialises")
    );
    eprintln!("eval: report written to {}", out.display());
    Ok(())
}
