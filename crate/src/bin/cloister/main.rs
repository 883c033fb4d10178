//! The `cloister` command line: a thin edge over the library. Each subcommand has a module that
//! parses its files and calls the core; no model or ranking logic lives here.

mod bench;
mod convert;
mod embed;
mod eval;
mod fit_prior;
mod lines;
mod rerank;
mod train;

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use cloister::encoder::{self, Encoder, EncoderOptions};
use cloister::model_files::{ModelFileError, ModelSource};
use cloister::{EncoderError, InputError};

#[derive(Parser)]
#[command(
    name = "cloister",
    version,
    about = "On-device embeddings and re-ranking (native CLI)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum PrecisionArg {
    Int8,
    Fp32,
}

impl PrecisionArg {
    fn precision(self) -> encoder::Precision {
        match self {
            Self::Int8 => encoder::Precision::Int8,
            Self::Fp32 => encoder::Precision::Fp32,
        }
    }
}

/// The model every command that encodes loads.
#[derive(Args, Clone)]
struct ModelArgs {
    /// `english` (all-MiniLM-L6-v2, the default) or `multilingual` (multilingual-e5-small),
    /// pinned files under models/; or the path of a model file (the converted int8 record, or
    /// with `--precision fp32` an English model.safetensors)
    #[arg(long)]
    model: Option<String>,
    /// tokenizer.json (default: the named model's, under models/)
    #[arg(long)]
    tokenizer: Option<PathBuf>,
    /// Which weights `--model` holds (checked against the file).
    #[arg(long, value_enum, default_value = "int8")]
    precision: PrecisionArg,
}

impl ModelArgs {
    fn source(&self) -> ModelSource {
        ModelSource::new(
            self.model.as_deref(),
            self.tokenizer.clone(),
            self.precision.precision(),
        )
    }

    fn model_path(&self) -> PathBuf {
        self.source().model_path(&project_root())
    }

    /// The encoder on the CPU with its default options.
    fn load(&self) -> Result<Encoder, CliError> {
        self.load_with(EncoderOptions::default())
    }

    fn load_with(&self, options: EncoderOptions) -> Result<Encoder, CliError> {
        Ok(self.source().load(&project_root(), options)?)
    }
}

#[derive(Subcommand)]
enum Command {
    /// Convert the fp32 safetensors checkpoint to the int8 (per-block 32) burnpack record,
    /// and record its sha256 and size in the manifest.
    Convert(convert::ConvertArgs),
    /// Read UTF-8 text, one item per line, on stdin; write one JSON array of 384 floats per line,
    /// or with --compact one `{"embedding": "<base64>", "model": "<sha256>"}` per line: the two
    /// fields a candidate needs to be ranked without encoding on the device.
    Embed {
        #[command(flatten)]
        model: ModelArgs,
        /// The compact form: 384 int8 values and a scale in 520 base64 characters, with the
        /// model file's sha256 (about 600 bytes a line instead of about 3.5 KB).
        #[arg(long)]
        compact: bool,
    },
    /// Re-rank candidate lists: JSON lines `{"id", "history", "candidates", "feedback"?}` on
    /// stdin, `{"id", "items": [{"id", "score", "contributions", "explanation"}]}` per line on
    /// stdout.
    Rerank(rerank::RerankArgs),
    /// Learn the prior from lines `{"history", "candidates", "target", "user"?}` on stdin.
    FitPrior(fit_prior::FitPriorArgs),
    /// Offline evaluation of the re-ranker (fetches the dataset at run time; writes a report).
    Eval(eval::EvalArgs),
    /// Fit the learned interest model (burn autodiff, first-order MAML) on training lines from
    /// stdin (`--lines`, fit-prior's format) or on ml-100k's replayed slates, and write its
    /// file; prints the file's sha256.
    Train(train::TrainArgs),
    /// Native throughput at batch 1 and 32, re-ranking latency, and the shipped sizes; or with
    /// `--load`, the profile, ranker and online weights under volume.
    Bench(bench::BenchArgs),
}

/// Where the project's files are: `$CLOISTER_HOME`, else the parent of the directory holding
/// this binary (so `dist/cloister` finds `models/`), else the working directory.
fn project_root() -> PathBuf {
    if let Some(home) = std::env::var_os("CLOISTER_HOME") {
        return PathBuf::from(home);
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Some(root) = exe.parent().and_then(Path::parent) {
            if root.join("models/manifest.json").exists() {
                return root.to_path_buf();
            }
        }
    }
    PathBuf::from(".")
}

#[derive(Debug)]
enum CliError {
    Io(PathBuf, io::Error),
    Encoder(EncoderError),
    /// A default model or tokenizer file does not match its pin.
    Integrity(String),
    Usage(String),
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Io(path, e) => write!(f, "{}: {e}", path.display()),
            Self::Encoder(e) => write!(f, "{e}"),
            Self::Integrity(message) | Self::Usage(message) => write!(f, "{message}"),
        }
    }
}

impl From<EncoderError> for CliError {
    fn from(e: EncoderError) -> Self {
        Self::Encoder(e)
    }
}

impl From<ModelFileError> for CliError {
    fn from(e: ModelFileError) -> Self {
        match e {
            ModelFileError::Io { path, source } => Self::Io(path, source),
            ModelFileError::Encoder(e) => Self::Encoder(e),
            ModelFileError::Integrity(message) => Self::Integrity(message),
            ModelFileError::Usage(message) => Self::Usage(message),
        }
    }
}

impl From<InputError> for CliError {
    fn from(e: InputError) -> Self {
        Self::Usage(format!("{}: {}", e.kind, e.message))
    }
}

fn read(path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|e| CliError::Io(path.to_path_buf(), e))
}

fn write(path: &Path, bytes: impl AsRef<[u8]>) -> Result<(), CliError> {
    std::fs::write(path, bytes).map_err(|e| CliError::Io(path.to_path_buf(), e))
}

/// Size of `bytes` after gzip at the best level (what a server sends).
fn gzip_size(bytes: &[u8]) -> u64 {
    use flate2::{write::GzEncoder, Compression};
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(bytes).expect("writing to memory");
    encoder.finish().expect("writing to memory").len() as u64
}

fn main() -> ExitCode {
    // Rust ignores SIGPIPE, so a closed stdout (`cloister bench | head -1`) made every later
    // print panic. Ending on SIGPIPE, as other Unix tools do, is what a pipeline expects.
    #[cfg(unix)]
    // SAFETY: first thing in main, before any thread starts; SIG_DFL is a valid action.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let result = match Cli::parse().command {
        Command::Convert(args) => convert::run(args),
        Command::Embed { model, compact } => embed::run(&model, compact),
        Command::Rerank(args) => rerank::run(args),
        Command::FitPrior(args) => fit_prior::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Train(args) => train::run(args),
        Command::Bench(args) => bench::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cloister: {e}");
            ExitCode::FAILURE
        }
    }
}
