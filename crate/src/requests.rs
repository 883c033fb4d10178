//! One request against the native encoder, as the CLI's JSON lines and the Python wheel send
//! them: parse a line (its `id` kept even when the rest is wrong), validate history and
//! candidates, encode what the recommender lacks, fold the history in, then run a step.

use serde::Deserialize;
use serde_json::Value;

use crate::encoder::TextRole;
use crate::profile::event::validate_events;
use crate::profile::Event;
use crate::rank::candidate::validate_candidates;
use crate::rank::Candidate;
use crate::recommender::Pending;
use crate::{Encoder, EncoderError, InputError, Recommender};

/// A per-request failure: a kind a program can switch on and a message a person can read.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestError {
    pub kind: &'static str,
    pub message: String,
}

impl From<InputError> for RequestError {
    fn from(e: InputError) -> Self {
        Self {
            kind: e.kind.as_str(),
            message: e.message,
        }
    }
}

impl From<EncoderError> for RequestError {
    fn from(e: EncoderError) -> Self {
        Self {
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}

/// The `id` of a request line, read without building the whole line as a JSON value.
#[derive(Deserialize)]
struct IdOnly {
    #[serde(default)]
    id: Value,
}

/// The line's `id` (null when absent or unreadable) and the request, or why not: `invalid_json`
/// when the line is not JSON, `invalid_request` when it is not this request (unknown or
/// repeated fields included).
pub fn parse<T: for<'de> Deserialize<'de>>(line: &str) -> (Value, Result<T, RequestError>) {
    let id = serde_json::from_str::<IdOnly>(line)
        .map(|r| r.id)
        .unwrap_or(Value::Null);
    let parsed = serde_json::from_str::<T>(line).map_err(|e| {
        let kind = if e.is_syntax() || e.is_eof() {
            "invalid_json"
        } else {
            "invalid_request"
        };
        RequestError {
            kind,
            message: e.to_string(),
        }
    });
    (id, parsed)
}

/// Validates `history` and `candidates`, encodes every text the recommender lacks (held in its
/// cache for the whole request), folds the history in, then runs `step` on the validated
/// candidates. The hold ends whatever happens. Texts the model cannot read are noted in the
/// recommender's warnings (`take_warnings`) for the caller to report.
pub fn with_request<T>(
    rec: &mut Recommender,
    encoder: &Encoder,
    history: Vec<Event>,
    candidates: Vec<Candidate>,
    step: impl FnOnce(&mut Recommender, Vec<Candidate>) -> Result<T, RequestError>,
) -> Result<T, RequestError> {
    let now = now_ms();
    let history = validate_events(history, now)?;
    let candidates = validate_candidates(candidates)?;
    let pending = rec.hold_request(&history, &candidates);
    let result = encode_and_record(rec, encoder, &pending, history, now)
        .and_then(|()| step(rec, candidates));
    rec.release(pending.hold);
    result
}

/// The clock events are checked against, in milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Encodes what `pending` lacks into the recommender's cache (passages and queries each in
/// their role), notes texts the model cannot read, then folds `history` in.
fn encode_and_record(
    rec: &mut Recommender,
    encoder: &Encoder,
    pending: &Pending,
    history: Vec<Event>,
    now: i64,
) -> Result<(), RequestError> {
    for (texts, role) in [
        (&pending.missing, TextRole::Passage),
        (&pending.queries, TextRole::Query),
    ] {
        if texts.is_empty() {
            continue;
        }
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let embeddings = encoder.embed_as(&refs, role)?;
        match role {
            TextRole::Passage => rec.put_embeddings(texts, &embeddings)?,
            TextRole::Query => rec.put_query_embeddings(texts, &embeddings)?,
        }
        let shares = encoder.unknown_shares(&refs, role)?;
        rec.note_unreadable(texts, &shares, encoder.family().name());
    }
    for event in history {
        rec.record(event, now)?;
    }
    Ok(())
}
