//! Lines in, shared by the commands that read stdin: a bounded line reader (a line too long or
//! not UTF-8 is that line's error), and for `rerank` and `fit-prior` a line's parse, its error object
//! `{"id", "error": {"kind", "message"}}` (the run goes on after a bad line), and one request
//! run against the recommender with its texts encoded and held.

use std::io::{self, BufRead, Read};

use cloister::encoder::TextRole;
use cloister::limits::MAX_LINE_BYTES;
use cloister::profile::event::validate_events;
use cloister::profile::Event;
use cloister::rank::candidate::validate_candidates;
use cloister::rank::Candidate;
use cloister::recommender::Pending;
use cloister::{Encoder, EncoderError, InputError, Recommender};
use serde::Deserialize;
use serde_json::{json, Value};

/// A per-line failure: a kind a program can switch on and a message a person can read.
#[derive(Debug, Clone)]
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

/// One line of input: its number (from 1) and its text, or why it could not be read (too long,
/// not UTF-8). A bad line is that line's error; the lines after it are read as usual.
pub struct InputLine {
    pub number: usize,
    pub text: Result<String, LineError>,
}

/// Reads lines of at most `MAX_LINE_BYTES` (a longer one is skipped to its end, never held in
/// memory whole), with `\n` or `\r\n` endings.
pub struct Lines<R> {
    input: R,
    number: usize,
    buf: Vec<u8>,
}

pub fn lines<R: BufRead>(input: R) -> Lines<R> {
    Lines {
        input,
        number: 0,
        buf: Vec::new(),
    }
}

impl<R: BufRead> Lines<R> {
    /// Consumes the rest of an over-long line.
    fn skip_line(&mut self) -> io::Result<()> {
        loop {
            let chunk = self.input.fill_buf()?;
            if chunk.is_empty() {
                return Ok(());
            }
            match chunk.iter().position(|&b| b == b'\n') {
                Some(end) => {
                    self.input.consume(end + 1);
                    return Ok(());
                }
                None => {
                    let n = chunk.len();
                    self.input.consume(n);
                }
            }
        }
    }

    fn read_line(&mut self) -> io::Result<Option<InputLine>> {
        self.buf.clear();
        let limit = MAX_LINE_BYTES as u64 + 1;
        if (&mut self.input)
            .take(limit)
            .read_until(b'\n', &mut self.buf)?
            == 0
        {
            return Ok(None);
        }
        self.number += 1;
        let number = self.number;
        let ended = self.buf.last() == Some(&b'\n');
        if ended {
            self.buf.pop();
            if self.buf.last() == Some(&b'\r') {
                self.buf.pop();
            }
        } else if self.buf.len() > MAX_LINE_BYTES {
            self.skip_line()?;
            let error = LineError {
                kind: "line_too_long",
                message: format!("line {number} is longer than {MAX_LINE_BYTES} bytes"),
            };
            return Ok(Some(InputLine {
                number,
                text: Err(error),
            }));
        }
        let text = String::from_utf8(std::mem::take(&mut self.buf)).map_err(|e| LineError {
            kind: "invalid_utf8",
            message: format!(
                "line {number} is not UTF-8 (at byte {})",
                e.utf8_error().valid_up_to()
            ),
        });
        Ok(Some(InputLine { number, text }))
    }
}

impl<R: BufRead> Iterator for Lines<R> {
    type Item = io::Result<InputLine>;

    fn next(&mut self) -> Option<Self::Item> {
        self.read_line().transpose()
    }
}

/// The `id` of a request line, read without building the whole line as a JSON value.
#[derive(Deserialize)]
struct IdOnly {
    #[serde(default)]
    id: Value,
}

/// The line's `id` (null when absent or unreadable) and the request, or why not: `invalid_json`
/// when the line is not JSON, `invalid_request` when it is not this command's request
/// (unknown or repeated fields included).
pub fn parse<T: for<'de> Deserialize<'de>>(line: &str) -> (Value, Result<T, LineError>) {
    let id = serde_json::from_str::<IdOnly>(line)
        .map(|r| r.id)
        .unwrap_or(Value::Null);
    let parsed = serde_json::from_str::<T>(line).map_err(|e| {
        let kind = if e.is_syntax() || e.is_eof() {
            "invalid_json"
        } else {
            "invalid_request"
        };
        LineError {
            kind,
            message: e.to_string(),
        }
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
/// their role), warns on stderr of texts the model cannot read, then folds `history` in.
fn encode_and_record(
    rec: &mut Recommender,
    encoder: &Encoder,
    pending: &Pending,
    history: Vec<Event>,
    now: i64,
) -> Result<(), LineError> {
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
    for warning in rec.take_warnings() {
        eprintln!("cloister: warning: {warning}");
    }
    for event in history {
        rec.record(event, now)?;
    }
    Ok(())
}
