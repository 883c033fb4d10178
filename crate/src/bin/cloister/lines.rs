//! JSON lines, shared by `rerank` and `fit-prior`: a line's parse, its error object
//! `{"id", "error": {"kind", "message"}}` (the run goes on after a bad line), and one request
//! run against the recommender with its texts encoded and held.

use cloister::profile::Event;
use cloister::rank::candidate::validate_candidates;
use cloister::rank::Candidate;
use cloister::{Encoder, EncoderError, InputError, Recommender};
use serde::Deserialize;
use serde_json::{json, Value};

/// A per-line failure: a kind a program can switch on and a message a person can read.
pub struct LineError {
    pub kind: &'static str,
    pub message: String,
}

impl From<InputError> for LineError {
    fn from(e: InputError) -> Self {
        Self {
            kind: e.kind.as_str(),
            message: e.message,
        }
    }
}

impl From<EncoderError> for LineError {
    fn from(e: EncoderError) -> Self {
        Self {
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}

impl LineError {
    /// The line's output: `{"id", "error": {"kind", "message"}}`.
    pub fn to_value(&self, id: Value) -> Value {
        json!({"id": id, "error": {"kind": self.kind, "message": self.message}})
    }
}

/// The line's `id` (null when absent or unparsable) and the request, or why not: `invalid_json`
/// when the line is not JSON, `invalid_request` when it is not this command's request.
pub fn parse<T: for<'de> Deserialize<'de>>(line: &str) -> (Value, Result<T, LineError>) {
    let value: Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => {
            let error = LineError {
                kind: "invalid_json",
                message: e.to_string(),
            };
            return (Value::Null, Err(error));
        }
    };
    let id = value.get("id").cloned().unwrap_or(Value::Null);
    let parsed = serde_json::from_value::<T>(value).map_err(|e| LineError {
        kind: "invalid_request",
        message: e.to_string(),
    });
    (id, parsed)
}

/// Validates `history` and `candidates`, encodes every text the recommender lacks (held in its
/// cache for the whole request), folds the history in, then runs `step` on the validated
/// candidates. The hold ends whatever happens.
pub fn with_request<T>(
    rec: &mut Recommender,
    encoder: &Encoder,
    history: Vec<Event>,
    candidates: Vec<Candidate>,
    step: impl FnOnce(&mut Recommender, Vec<Candidate>) -> Result<T, LineError>,
) -> Result<T, LineError> {
    let history = history
        .into_iter()
        .map(Event::validate)
        .collect::<Result<Vec<_>, _>>()?;
    let candidates = validate_candidates(candidates)?;
    let pending = rec.hold_request(&history, &candidates);
    let result = encode_and_record(rec, encoder, &pending.missing, history)
        .and_then(|()| step(rec, candidates));
    rec.release(pending.hold);
    result
}

/// Encodes `missing` into the recommender's cache, then folds `history` in.
fn encode_and_record(
    rec: &mut Recommender,
    encoder: &Encoder,
    missing: &[String],
    history: Vec<Event>,
) -> Result<(), LineError> {
    if !missing.is_empty() {
        let refs: Vec<&str> = missing.iter().map(String::as_str).collect();
        let embeddings = encoder.embed(&refs)?;
        rec.put_embeddings(missing, &embeddings)?;
    }
    for event in history {
        rec.record(event)?;
    }
    Ok(())
}
