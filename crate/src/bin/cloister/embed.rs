//! `cloister embed`: text lines on stdin to JSON vectors on stdout, in chunks so a long input
//! needs bounded memory and output starts early.

use std::io::{self, BufRead, BufWriter, Write};
use std::path::PathBuf;

use crate::{CliError, ModelArgs};

/// Lines embedded per call.
const CHUNK: usize = 256;

pub fn run(model: &ModelArgs) -> Result<(), CliError> {
    let encoder = model.load()?;
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let stdout_error = |e| CliError::Io(PathBuf::from("<stdout>"), e);
    let mut lines = Vec::new();
    let flush = |lines: &mut Vec<String>, out: &mut BufWriter<_>| -> Result<(), CliError> {
        if lines.is_empty() {
            return Ok(());
        }
        let texts: Vec<&str> = lines.iter().map(String::as_str).collect();
        let embeddings = encoder.embed(&texts)?;
        for row in embeddings.rows() {
            serde_json::to_writer(&mut *out, row).map_err(|e| stdout_error(e.into()))?;
            out.write_all(b"\n").map_err(stdout_error)?;
        }
        lines.clear();
        Ok(())
    };
    for line in io::stdin().lock().split(b'\n') {
        let line = line.map_err(|e| CliError::Io(PathBuf::from("<stdin>"), e))?;
        let mut text = String::from_utf8(line)
            .map_err(|_| CliError::Usage("stdin is not valid UTF-8".into()))?;
        if text.ends_with('\r') {
            text.pop();
        }
        lines.push(text);
        if lines.len() == CHUNK {
            flush(&mut lines, &mut out)?;
        }
    }
    flush(&mut lines, &mut out)?;
    out.flush().map_err(stdout_error)
}
