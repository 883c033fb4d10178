//! Lines in, shared by the commands that read stdin: a bounded line reader (a line too long or
//! not UTF-8 is that line's error), each line's error object `{"id", "error": {"kind",
//! "message"}}` (the run goes on after a bad line), and the core's request (`requests`) with
//! its warnings on stderr.

use std::io::{self, BufRead, Read};

use cloister::limits::MAX_LINE_BYTES;
use cloister::profile::Event;
use cloister::rank::Candidate;
pub use cloister::requests::{parse, RequestError as LineError};
use cloister::training::NumberedLine;
use cloister::{Encoder, Recommender};
use serde_json::{json, Value};

/// The line's output: `{"id", "error": {"kind", "message"}}`.
pub fn error_value(e: &LineError, id: Value) -> Value {
    json!({"id": id, "error": {"kind": e.kind, "message": e.message}})
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

/// The core's request (`requests::with_request`), then the texts the model could not read as
/// warnings on stderr.
pub fn with_request<T>(
    rec: &mut Recommender,
    encoder: &Encoder,
    history: Vec<Event>,
    candidates: Vec<Candidate>,
    step: impl FnOnce(&mut Recommender, Vec<Candidate>) -> Result<T, LineError>,
) -> Result<T, LineError> {
    let result = cloister::requests::with_request(rec, encoder, history, candidates, step);
    for warning in rec.take_warnings() {
        eprintln!("cloister: warning: {warning}");
    }
    result
}

/// The lines of `input` as the core's training readers take them; an I/O error ends them and
/// is kept in `failed` for the caller to report.
pub struct Numbered<'a, R> {
    lines: Lines<R>,
    pub failed: &'a mut Option<io::Error>,
}

pub fn numbered<R: BufRead>(input: R, failed: &mut Option<io::Error>) -> Numbered<'_, R> {
    Numbered {
        lines: lines(input),
        failed,
    }
}

impl<R: BufRead> Iterator for Numbered<'_, R> {
    type Item = NumberedLine;

    fn next(&mut self) -> Option<NumberedLine> {
        match self.lines.next()? {
            Ok(line) => Some((line.number, line.text)),
            Err(e) => {
                *self.failed = Some(e);
                None
            }
        }
    }
}
