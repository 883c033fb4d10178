//! `rerank` and `fit-prior`: JSON lines in, JSON lines out. A bad line gets an error object
//! `{"id", "error": {"kind", "message"}}` and the run goes on.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};

use cloister::profile::Event;
use cloister::rank::fit::{fit_reptile, fit_softmax, log_likelihood, TrainList};
use cloister::rank::{Candidate, Feedback, OnlineConfig, Prior, RerankOptions};
use cloister::{Encoder, InputError, Recommender};
use serde::Deserialize;
use serde_json::{json, Value};

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

/// A per-line failure: a kind a program can switch on and a message a person can read.
pub struct LineError {
    kind: String,
    message: String,
}

impl From<InputError> for LineError {
    fn from(e: InputError) -> Self {
        Self {
            kind: e.kind.into(),
            message: e.message,
        }
    }
}

impl From<cloister::EncoderError> for LineError {
    fn from(e: cloister::EncoderError) -> Self {
        Self {
            kind: e.kind().into(),
            message: e.to_string(),
        }
    }
}

fn parse<T: for<'de> Deserialize<'de>>(line: &str) -> (Value, Result<T, LineError>) {
    let value: Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => {
            return (
                Value::Null,
                Err(LineError {
                    kind: "invalid_json".into(),
                    message: e.to_string(),
                }),
            )
        }
    };
    let id = value.get("id").cloned().unwrap_or(Value::Null);
    let parsed = serde_json::from_value::<T>(value).map_err(|e| LineError {
        kind: "invalid_request".into(),
        message: e.to_string(),
    });
    (id, parsed)
}

/// Validates history and candidates, encodes every text not yet cached, folds the history in.
fn prepare(
    rec: &mut Recommender,
    encoder: &Encoder,
    history: Vec<Event>,
    candidates: Vec<Candidate>,
) -> Result<Vec<Candidate>, LineError> {
    let history = history
        .into_iter()
        .map(Event::validate)
        .collect::<Result<Vec<_>, _>>()?;
    let candidates = cloister::rank::candidate::validate_candidates(candidates)?;
    let mut texts = rec.texts_for_events(&history);
    for t in rec.texts_for_candidates(&candidates) {
        if !texts.contains(&t) {
            texts.push(t);
        }
    }
    texts.retain(|t| !t.trim().is_empty());
    if !texts.is_empty() {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let embeddings = encoder.embed(&refs)?;
        rec.put_embeddings(&texts, &embeddings)?;
    }
    for event in history {
        rec.record(event)?;
    }
    Ok(candidates)
}

fn rerank_line(
    rec: &mut Recommender,
    encoder: &Encoder,
    request: RerankRequest,
    k: Option<usize>,
) -> Result<Value, LineError> {
    let candidates = prepare(rec, encoder, request.history, request.candidates)?;
    for f in &request.feedback {
        rec.feedback_on(&candidates, &f.shown, &f.chosen)?;
    }
    let options = RerankOptions {
        k,
        ..Default::default()
    };
    let ranked = rec.rerank(candidates, &options)?;
    let items = &ranked.ranking.items;
    Ok(json!({
        "ranking": items.iter().map(|i| &i.id).collect::<Vec<_>>(),
        "scores": items.iter().map(|i| i.score).collect::<Vec<_>>(),
        "explanations": items.iter().map(|i| &i.explanation).collect::<Vec<_>>(),
    }))
}

pub fn rerank(
    encoder: &Encoder,
    prior: &Prior,
    k: Option<usize>,
    input: impl BufRead,
    mut out: impl Write,
) -> std::io::Result<(usize, usize)> {
    let mut rec = Recommender::new(prior, encoder.model_sha256());
    let (mut ok, mut failed) = (0, 0);
    for line in input.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        rec.reset_user(prior);
        let (id, parsed) = parse::<RerankRequest>(&line);
        let result = parsed.and_then(|r| rerank_line(&mut rec, encoder, r, k));
        let value = match result {
            Ok(mut v) => {
                ok += 1;
                v.as_object_mut().expect("object").insert("id".into(), id);
                v
            }
            Err(e) => {
                failed += 1;
                json!({"id": id, "error": {"kind": e.kind, "message": e.message}})
            }
        };
        serde_json::to_writer(&mut out, &value)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok((ok, failed))
}

/// Reads training lines into lists grouped by user; reports bad lines on stderr.
pub fn read_training(
    encoder: &Encoder,
    input: impl BufRead,
) -> std::io::Result<(Vec<Vec<TrainList>>, usize, usize)> {
    let prior = Prior::default();
    let mut rec = Recommender::new(&prior, encoder.model_sha256());
    let mut by_user: BTreeMap<String, Vec<TrainList>> = BTreeMap::new();
    let (mut skipped, mut failed) = (0, 0);
    for (n, line) in input.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        rec.reset_user(&prior);
        let (id, parsed) = parse::<TrainRequest>(&line);
        let result = parsed.and_then(|r| {
            let user = r
                .user
                .as_ref()
                .map(|u| u.to_string())
                .unwrap_or_else(|| format!("line-{n}"));
            let candidates = prepare(&mut rec, encoder, r.history, r.candidates)?;
            Ok((user, rec.train_list(candidates, &r.target)?))
        });
        match result {
            Ok((user, Some(list))) => by_user.entry(user).or_default().push(list),
            Ok((_, None)) => skipped += 1,
            Err(e) => {
                failed += 1;
                eprintln!(
                    "fit-prior: line {} (id {id}): {}: {}",
                    n + 1,
                    e.kind,
                    e.message
                );
            }
        }
    }
    Ok((by_user.into_values().collect(), skipped, failed))
}

/// Fits the prior: the plain listwise softmax fit, or with `meta` a Reptile pass started from it.
pub fn fit_prior(tasks: &[Vec<TrainList>], meta: bool, skipped: usize) -> Prior {
    let lists: Vec<TrainList> = tasks.iter().flatten().cloned().collect();
    let plain = fit_softmax(&lists, 1.0, 50);
    let online = OnlineConfig::default();
    let (weights, method) = if meta {
        (
            fit_reptile(tasks, &plain, online, 3, 0.1, 3, 20261124),
            "reptile from the softmax fit (3 inner steps, meta lr 0.1, 3 epochs)",
        )
    } else {
        (plain, "listwise softmax regression (L2 1.0)")
    };
    let ll = log_likelihood(&lists, &weights);
    Prior {
        weights,
        online,
        fitted: Some(json!({
            "method": method,
            "lists": lists.len(),
            "users": tasks.len(),
            "skipped_target_not_in_candidates": skipped,
            "mean_log_likelihood": ll,
        })),
    }
}
