//! `cloister rerank`: one request per JSON line, one answer per line, a new user each line.

use std::io::{self, BufRead, BufWriter, Write};
use std::path::PathBuf;

use clap::Args;
use cloister::profile::Event;
use cloister::rank::{Candidate, Feedback, Prior, RerankOptions};
use cloister::{Encoder, Recommender};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::lines::{error_value, lines, parse, with_request, LineError};
use crate::{CliError, ModelArgs};

#[derive(Args)]
pub struct RerankArgs {
    /// Prior weights (JSON from fit-prior); default: the built-in prior.
    #[arg(long)]
    prior: Option<PathBuf>,
    /// Length of the shown list (diversity and the impression act within it).
    #[arg(long)]
    k: Option<usize>,
    #[command(flatten)]
    model: ModelArgs,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RerankRequest {
    #[allow(dead_code)]
    id: Value,
    #[serde(default)]
    history: Vec<Event>,
    candidates: Vec<Candidate>,
    #[serde(default)]
    feedback: Vec<Feedback>,
}

pub fn load_prior(path: Option<PathBuf>) -> Result<Prior, CliError> {
    match path {
        None => Ok(Prior::default()),
        Some(path) => {
            let text = std::fs::read_to_string(&path).map_err(|e| CliError::Io(path.clone(), e))?;
            Prior::from_json(&text).map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))
        }
    }
}

pub fn run(args: RerankArgs) -> Result<(), CliError> {
    if args.k == Some(0) {
        return Err(CliError::Usage("--k must be at least 1".into()));
    }
    let prior = load_prior(args.prior)?;
    let encoder = args.model.load()?;
    let stdout = io::stdout();
    let (ok, failed) = rerank_lines(
        &encoder,
        &prior,
        args.k,
        io::stdin().lock(),
        BufWriter::new(stdout.lock()),
    )
    .map_err(|e| CliError::Io(PathBuf::from("<stdio>"), e))?;
    eprintln!("cloister rerank: {ok} ranked, {failed} failed");
    Ok(())
}

fn rerank_line(
    rec: &mut Recommender,
    encoder: &Encoder,
    request: RerankRequest,
    k: Option<usize>,
) -> Result<Value, LineError> {
    let feedback = request.feedback;
    let ranked = with_request(
        rec,
        encoder,
        request.history,
        request.candidates,
        |rec, candidates| {
            rec.replay_feedback(&candidates, &feedback)?;
            let options = RerankOptions {
                k,
                ..Default::default()
            };
            Ok(rec.rerank(candidates, &options)?)
        },
    )?;
    Ok(json!({ "items": ranked.ranking.items }))
}

/// Answers every line of `input` on `out`, one output line per input line (a blank or
/// unreadable line gets an error object too, so answers line up with requests); returns
/// (ranked, failed).
fn rerank_lines(
    encoder: &Encoder,
    prior: &Prior,
    k: Option<usize>,
    input: impl BufRead,
    mut out: impl Write,
) -> io::Result<(usize, usize)> {
    let mut rec = Recommender::new(prior, encoder.model_sha256());
    rec.set_model_family(encoder.family());
    let (mut ok, mut failed) = (0, 0);
    for line in lines(input) {
        let line = line?;
        rec.reset_user(prior);
        let (id, result) = match &line.text {
            Err(e) => (Value::Null, Err(e.clone())),
            Ok(text) if text.trim().is_empty() => (
                Value::Null,
                Err(LineError {
                    kind: "empty_line",
                    message: format!("line {} is blank", line.number),
                }),
            ),
            Ok(text) => {
                let (id, parsed) = parse::<RerankRequest>(text);
                (
                    id,
                    parsed.and_then(|r| rerank_line(&mut rec, encoder, r, k)),
                )
            }
        };
        let value = match result {
            Ok(mut v) => {
                ok += 1;
                v.as_object_mut().expect("object").insert("id".into(), id);
                v
            }
            Err(e) => {
                failed += 1;
                error_value(&e, id)
            }
        };
        serde_json::to_writer(&mut out, &value)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok((ok, failed))
}
