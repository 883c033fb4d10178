//! `cloister._native`: the Python wheel's thin edge over the core, for a site's servers (and
//! Ray and Spark workers, through `cloister.ray` and `cloister.spark`). It converts types and
//! releases the GIL around the encoder; the model files, their pins, the compact form and the
//! `related` count and the prior's fit are the core's, as the CLI and the browser package use
//! them.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use cloister::compact_embedding::{encode_compact, read_pinned_compact};
use cloister::encoder::{EncoderOptions, Precision};
use cloister::model_files::{ModelFileError, ModelSource};
use cloister::related::{related_lists, Interaction};
use cloister::EMBEDDING_DIM;
use numpy::{PyArray1, PyArray2, PyArrayMethods};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// A core error as a Python exception whose message starts with the core's stable kind.
fn model_error(e: ModelFileError) -> PyErr {
    match e {
        ModelFileError::Io { .. } => PyOSError::new_err(e.to_string()),
        ModelFileError::Encoder(e) => PyRuntimeError::new_err(format!("{}: {e}", e.kind())),
        ModelFileError::Integrity(m) => PyValueError::new_err(format!("integrity: {m}")),
        ModelFileError::Usage(m) => PyValueError::new_err(format!("invalid_option: {m}")),
    }
}

/// The project root the model files are under: `root`, else `$CLOISTER_HOME`, else the
/// working directory (where `build.sh` put `models/`).
fn project_root(root: Option<PathBuf>) -> PathBuf {
    root.or_else(|| std::env::var_os("CLOISTER_HOME").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Sizes the CPU backend's thread pool once per process (rayon's global pool cannot be resized):
/// a later call asking for another size is an error, not a silent no-op.
fn set_threads(threads: Option<usize>) -> PyResult<()> {
    let Some(n) = threads else { return Ok(()) };
    if n == 0 {
        return Err(PyValueError::new_err(
            "invalid_option: threads must be at least 1",
        ));
    }
    match rayon::ThreadPoolBuilder::new().num_threads(n).build_global() {
        Ok(()) => Ok(()),
        Err(_) if rayon::current_num_threads() == n => Ok(()),
        Err(_) => Err(PyValueError::new_err(format!(
            "invalid_option: this process already runs the encoder on {} threads; one size per process",
            rayon::current_num_threads()
        ))),
    }
}

/// The sentence encoder on the native int8 kernel: the vectors the browser package makes.
#[pyclass(frozen, module = "cloister._native")]
struct Encoder {
    inner: cloister::Encoder,
}

#[pymethods]
impl Encoder {
    /// `model`: 'english' (all-MiniLM-L6-v2), 'multilingual' (multilingual-e5-small), both
    /// checked against their sha256 pins under `root`/models, or a model file's path (with
    /// `tokenizer`). `threads`: the CPU threads of this process (default: all cores).
    #[new]
    #[pyo3(signature = (model = "english", *, tokenizer = None, root = None, threads = None, precision = "int8"))]
    fn new(
        model: &str,
        tokenizer: Option<PathBuf>,
        root: Option<PathBuf>,
        threads: Option<usize>,
        precision: &str,
    ) -> PyResult<Self> {
        set_threads(threads)?;
        let precision = match precision {
            "int8" => Precision::Int8,
            "fp32" => Precision::Fp32,
            other => {
                return Err(PyValueError::new_err(format!(
                    "invalid_option: precision must be 'int8' or 'fp32', got '{other}'"
                )))
            }
        };
        let source = ModelSource::new(Some(model), tokenizer, precision);
        let inner = source
            .load(&project_root(root), EncoderOptions::default())
            .map_err(model_error)?;
        Ok(Self { inner })
    }

    /// The model file's sha256: what a compact or float embedding is pinned to.
    #[getter]
    fn model_sha256(&self) -> &str {
        self.inner.model_sha256()
    }

    /// 'all-MiniLM-L6-v2' or 'multilingual-e5-small'.
    #[getter]
    fn model_name(&self) -> &'static str {
        self.inner.family().name()
    }

    #[getter]
    fn dim(&self) -> usize {
        EMBEDDING_DIM
    }

    /// Unit vectors, `float32 [len(texts), 384]`, encoded with the GIL released. An empty text
    /// is a ValueError naming its row (a catalogue row needs text).
    fn embed<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<String>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        if let Some(row) = texts.iter().position(|t| t.trim().is_empty()) {
            return Err(PyValueError::new_err(format!(
                "invalid_item: row {row} has no text"
            )));
        }
        let n = texts.len();
        let data = if n == 0 {
            Vec::new()
        } else {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            py.detach(|| self.inner.embed(&refs))
                .map_err(|e| PyRuntimeError::new_err(format!("{}: {e}", e.kind())))?
                .data
        };
        PyArray1::from_vec(py, data).reshape([n, EMBEDDING_DIM])
    }

    /// Per text, what a candidate carries to be ranked without encoding on the device:
    /// `{"embedding": <compact>, "model": <sha256>}` (384 int8 values and a scale in 520
    /// base64 characters), or for a row without text `{"error": {"kind", "message"}}`: the
    /// other rows go on.
    fn embed_compact<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<String>,
    ) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let rows: Vec<usize> = (0..texts.len())
            .filter(|&i| !texts[i].trim().is_empty())
            .collect();
        let refs: Vec<&str> = rows.iter().map(|&i| texts[i].as_str()).collect();
        let encoded: Vec<String> = if refs.is_empty() {
            Vec::new()
        } else {
            py.detach(|| self.inner.embed(&refs))
                .map_err(|e| PyRuntimeError::new_err(format!("{}: {e}", e.kind())))?
                .rows()
                .map(|row| encode_compact(row).expect("the encoder's rows are unit vectors"))
                .collect()
        };
        let mut encoded = encoded.into_iter();
        let mut out = Vec::with_capacity(texts.len());
        for text in &texts {
            let d = PyDict::new(py);
            if text.trim().is_empty() {
                let error = PyDict::new(py);
                error.set_item("kind", "invalid_item")?;
                error.set_item("message", "a catalogue row needs text")?;
                d.set_item("error", error)?;
            } else {
                d.set_item("embedding", encoded.next().expect("one per text"))?;
                d.set_item("model", self.inner.model_sha256())?;
            }
            out.push(d);
        }
        Ok(out)
    }

    /// Stored compact embeddings read back as unit vectors, `float32 [n, 384]`, for this
    /// encoder's model: `models` is one sha256 for every row or one per row. A row with no
    /// embedding, another model's, or a malformed one is NaN in the array and
    /// `(row, kind, message)` in the errors; the other rows go on.
    #[allow(clippy::type_complexity)]
    fn decode_compact<'py>(
        &self,
        py: Python<'py>,
        embeddings: Vec<Option<String>>,
        models: RowModels,
    ) -> PyResult<(
        Bound<'py, PyArray2<f32>>,
        Vec<(usize, &'static str, String)>,
    )> {
        let n = embeddings.len();
        if let RowModels::Each(m) = &models {
            if m.len() != n {
                return Err(PyValueError::new_err(format!(
                    "invalid_input: {n} embeddings and {} models",
                    m.len()
                )));
            }
        }
        let expected = self.inner.model_sha256();
        let mut data = vec![f32::NAN; n * EMBEDDING_DIM];
        let mut errors = Vec::new();
        for (row, text) in embeddings.iter().enumerate() {
            let model = match &models {
                RowModels::One(m) => Some(m.as_str()),
                RowModels::Each(m) => m[row].as_deref(),
            };
            match read_pinned_compact(text.as_deref(), model, expected) {
                Ok(v) => data[row * EMBEDDING_DIM..(row + 1) * EMBEDDING_DIM].copy_from_slice(&v),
                Err(e) => errors.push((row, e.kind.as_str(), e.message)),
            }
        }
        Ok((
            PyArray1::from_vec(py, data).reshape([n, EMBEDDING_DIM])?,
            errors,
        ))
    }
}

/// The model a stored embedding names: one for every row, or one per row.
#[derive(FromPyObject)]
enum RowModels {
    One(String),
    Each(Vec<Option<String>>),
}

/// The `related` lists of an interaction log (columns of equal length): for each item, its
/// `keep` most frequent predecessors within `window` events of one user, with P(item follows
/// that one). Returns `(lists, errors)`: `{item: [(id, weight), ...]}`, and per bad row
/// `(row, kind, message)` (a user's rows out of time order, no item, a negative time, an item
/// outside `catalogue`), which are left out while the count goes on.
#[pyfunction]
#[pyo3(signature = (users, items, times, *, keep = cloister::limits::MAX_RELATED, window = 3, catalogue = None))]
#[allow(clippy::type_complexity)]
fn related(
    py: Python<'_>,
    users: Vec<String>,
    items: Vec<String>,
    times: Vec<i64>,
    keep: usize,
    window: usize,
    catalogue: Option<Vec<String>>,
) -> PyResult<(
    BTreeMap<String, Vec<(String, f64)>>,
    Vec<(usize, &'static str, String)>,
)> {
    if users.len() != items.len() || items.len() != times.len() {
        return Err(PyValueError::new_err(format!(
            "invalid_input: users, items and times have {}, {} and {} rows",
            users.len(),
            items.len(),
            times.len()
        )));
    }
    let (lists, errors) = py.detach(|| {
        let known: Option<HashSet<&str>> = catalogue
            .as_ref()
            .map(|c| c.iter().map(String::as_str).collect());
        let log = (0..users.len()).map(|i| Interaction {
            user: &users[i],
            item: &items[i],
            at: times[i],
        });
        related_lists(log, known.as_ref(), keep, window)
    });
    Ok((
        lists
            .into_iter()
            .map(|(id, r)| (id, r.into_iter().map(|e| (e.id, e.weight)).collect()))
            .collect(),
        errors
            .into_iter()
            .map(|e| (e.row, e.error.kind.as_str(), e.error.message))
            .collect(),
    ))
}

/// What `fit_prior` reports besides the prior.
#[pyclass(frozen, get_all, module = "cloister._native")]
struct FitReport {
    /// Lists fitted, users they came from, lines whose target was not among their candidates.
    lists: usize,
    users: usize,
    skipped: usize,
    /// Per bad line: `(line number from 1, kind, message)`.
    errors: Vec<(usize, &'static str, String)>,
    /// Texts the model could not read, and the like.
    warnings: Vec<String>,
}

/// The prior `cloister fit-prior` writes, from training lines (JSON text, fit-prior's format:
/// `{"user"?, "history", "candidates", "target"}`), by the same recipe (with `meta`, first-order
/// MAML over each user's lines). Returns the PRIOR.json text, byte for byte the CLI's, and a
/// `FitReport`. A bad line is reported there and the rest are used; no usable line at all is a
/// ValueError.
#[pyfunction]
#[pyo3(signature = (encoder, lines, *, meta = false))]
fn fit_prior(
    py: Python<'_>,
    encoder: &Encoder,
    lines: Vec<String>,
    meta: bool,
) -> PyResult<(String, FitReport)> {
    let mut errors = Vec::new();
    let fitted = py.detach(|| {
        cloister::training::fit_prior(
            &encoder.inner,
            lines.into_iter().enumerate().map(|(i, l)| (i + 1, Ok(l))),
            meta,
            |n, _, e| errors.push((n, e.kind, e.message.clone())),
        )
    });
    let (prior, lists, training) =
        fitted.map_err(|m| PyValueError::new_err(format!("invalid_input: {m}")))?;
    let text = serde_json::to_string_pretty(&prior).expect("a prior serialises") + "\n";
    Ok((
        text,
        FitReport {
            lists,
            users: training.tasks.len(),
            skipped: training.skipped,
            errors,
            warnings: training.warnings,
        },
    ))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Encoder>()?;
    m.add_class::<FitReport>()?;
    m.add_function(wrap_pyfunction!(related, m)?)?;
    m.add_function(wrap_pyfunction!(fit_prior, m)?)?;
    m.add("EMBEDDING_DIM", EMBEDDING_DIM)?;
    Ok(())
}
