//! `cloister embed`: text lines on stdin to JSON vectors on stdout, one output line per input
//! line, in chunks so a long input needs bounded memory and output starts early. A line that
//! cannot be read (too long, not UTF-8) gets `{"line", "error": {"kind", "message"}}` instead.
//! With `--compact` a vector is `{"embedding", "model"}`, the compact form and the model's sha256.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use serde_json::json;

use cloister::compact_embedding::encode_compact;

use crate::lines::{lines, LineError};
use crate::{CliError, ModelArgs};

/// Lines embedded per call.
const CHUNK: usize = 256;

pub fn run(model: &ModelArgs, compact: bool) -> Result<(), CliError> {
    let encoder = model.load()?;
    let sha256 = encoder.model_sha256().to_string();
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let stdout_error = |e| CliError::Io(PathBuf::from("<stdout>"), e);
    let mut chunk: Vec<(usize, Result<String, LineError>)> = Vec::with_capacity(CHUNK);
    let mut failed = 0usize;
    let mut flush = |chunk: &mut Vec<(usize, Result<String, LineError>)>,
                     out: &mut BufWriter<_>|
     -> Result<(), CliError> {
        let texts: Vec<&str> = chunk
            .iter()
            .filter_map(|(_, t)| t.as_ref().ok().map(String::as_str))
            .collect();
        let embeddings = if texts.is_empty() {
            None
        } else {
            Some(encoder.embed(&texts)?)
        };
        let mut rows = embeddings.iter().flat_map(|e| e.rows());
        for (number, text) in chunk.drain(..) {
            match text {
                Ok(_) => {
                    let row = rows.next().expect("one row per readable line");
                    if compact {
                        // The encoder's rows are unit vectors: always encodable.
                        let embedding = encode_compact(row).expect("a unit vector of width 384");
                        let value = json!({"embedding": embedding, "model": sha256});
                        serde_json::to_writer(&mut *out, &value)
                    } else {
                        serde_json::to_writer(&mut *out, row)
                    }
                    .map_err(|e| stdout_error(e.into()))?;
                }
                Err(e) => {
                    failed += 1;
                    let value =
                        json!({"line": number, "error": {"kind": e.kind, "message": e.message}});
                    serde_json::to_writer(&mut *out, &value).map_err(|e| stdout_error(e.into()))?;
                }
            }
            out.write_all(b"\n").map_err(stdout_error)?;
        }
        Ok(())
    };
    for line in lines(io::stdin().lock()) {
        let line = line.map_err(|e| CliError::Io(PathBuf::from("<stdin>"), e))?;
        chunk.push((line.number, line.text));
        if chunk.len() == CHUNK {
            flush(&mut chunk, &mut out)?;
        }
    }
    flush(&mut chunk, &mut out)?;
    out.flush().map_err(stdout_error)?;
    if failed > 0 {
        eprintln!(
            "cloister embed: {failed} lines could not be read (error objects in their place)"
        );
    }
    Ok(())
}
