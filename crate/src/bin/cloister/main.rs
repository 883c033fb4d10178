//! The `cloister` command line: a thin edge over the library. Each subcommand has a module that
//! parses its files and calls the core; no model or ranking logic lives here.

mod bench;
mod convert;
mod embed;
mod eval;
mod fit_prior;
mod lines;
mod rerank;

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use cloister::encoder::{self, device::cpu_device, Backend, Encoder, EncoderOptions};
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
    /// Model file (default: the converted int8 record under models/, or with `--precision fp32`
    /// the fetched model.safetensors)
    #[arg(long)]
    model: Option<PathBuf>,
    /// tokenizer.json (default: the fetched one under models/)
    #[arg(long)]
    tokenizer: Option<PathBuf>,
    /// Which weights `--model` holds (checked against the file).
    #[arg(long, value_enum, default_value = "int8")]
    precision: PrecisionArg,
}

impl ModelArgs {
    fn model_path(&self) -> PathBuf {
        self.model
            .clone()
            .unwrap_or_else(|| default_model(self.precision))
    }

    /// The encoder on the CPU with its default options.
    fn load(&self) -> Result<Encoder, CliError> {
        self.load_with(EncoderOptions::default())
    }

    fn load_with(&self, options: EncoderOptions) -> Result<Encoder, CliError> {
        let model_path = self.model_path();
        let tokenizer_path = self
            .tokenizer
            .clone()
            .unwrap_or_else(|| model_dir().join("tokenizer.json"));
        let bytes = read(&model_path)?;
        let found = encoder::detect_format(&bytes)?;
        let wanted = self.precision.precision();
        if found != wanted {
            return Err(CliError::Usage(format!(
                "{} holds {} weights but --precision {} was asked for",
                model_path.display(),
                found.as_str(),
                wanted.as_str()
            )));
        }
        let tokenizer_bytes = read(&tokenizer_path)?;
        Ok(Encoder::load_with_options(
            bytes,
            &tokenizer_bytes,
            cpu_device(),
            Backend::Cpu,
            options,
        )?)
    }
}

#[derive(Subcommand)]
enum Command {
    /// Convert the fp32 safetensors checkpoint to the int8 (per-block 32) burnpack record,
    /// and record its sha256 and size in the manifest.
    Convert(convert::ConvertArgs),
    /// Read UTF-8 text, one item per line, on stdin; write one JSON array of 384 floats per line.
    Embed {
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Re-rank candidate lists: JSON lines `{"id", "history", "candidates", "feedback"?}` on
    /// stdin, `{"id", "items": [{"id", "score", "contributions", "explanation"}]}` per line on
    /// stdout.
    Rerank(rerank::RerankArgs),
    /// Learn the prior from lines `{"history", "candidates", "target", "user"?}` on stdin.
    FitPrior(fit_prior::FitPriorArgs),
    /// Offline evaluation of the re-ranker (fetches the dataset at run time; writes a report).
    Eval(eval::EvalArgs),
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

fn model_dir() -> PathBuf {
    project_root().join("models/all-MiniLM-L6-v2")
}

fn default_model(precision: PrecisionArg) -> PathBuf {
    match precision {
        PrecisionArg::Int8 => model_dir().join("model.int8.bpk"),
        PrecisionArg::Fp32 => model_dir().join("model.safetensors"),
    }
}

#[derive(Debug)]
enum CliError {
    Io(PathBuf, io::Error),
    Encoder(EncoderError),
    Usage(String),
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Io(path, e) => write!(f, "{}: {e}", path.display()),
            Self::Encoder(e) => write!(f, "{e}"),
            Self::Usage(message) => write!(f, "{message}"),
        }
    }
}

impl From<EncoderError> for CliError {
    fn from(e: EncoderError) -> Self {
        Self::Encoder(e)
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
    let result = match Cli::parse().command {
        Command::Convert(args) => convert::run(args),
        Command::Embed { model } => embed::run(&model),
        Command::Rerank(args) => rerank::run(args),
        Command::FitPrior(args) => fit_prior::run(args),
        Command::Eval(args) => eval::run(args),
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
