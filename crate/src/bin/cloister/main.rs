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
use cloister::encoder::{self, device::cpu_device, Backend, Encoder, EncoderOptions};
use cloister::manifest::{sha256_hex, Manifest};
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
    /// The file's name in `models/manifest.json`.
    fn pin_name(self) -> &'static str {
        match self {
            Self::Int8 => "model.int8.bpk",
            Self::Fp32 => "model.safetensors",
        }
    }

    fn precision(self) -> encoder::Precision {
        match self {
            Self::Int8 => encoder::Precision::Int8,
            Self::Fp32 => encoder::Precision::Fp32,
        }
    }
}

/// A shipped encoder, by the name `--model` and the JS package's `model` option take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ModelName {
    /// all-MiniLM-L6-v2 (the default).
    English,
    /// multilingual-e5-small, vocabulary pruned to Latin-script languages and Chinese.
    Multilingual,
}

impl ModelName {
    fn parse(value: &str) -> Option<Self> {
        match value {
            "english" => Some(Self::English),
            "multilingual" => Some(Self::Multilingual),
            _ => None,
        }
    }

    /// Where `build.sh` puts its files.
    fn dir(self) -> PathBuf {
        project_root().join(match self {
            Self::English => "models/all-MiniLM-L6-v2",
            Self::Multilingual => "models/multilingual-e5-small",
        })
    }

    /// Its manifest: source pins and the converted files' pins.
    fn manifest(self) -> PathBuf {
        project_root().join(match self {
            Self::English => "models/manifest.json",
            Self::Multilingual => "models/manifest.multilingual.json",
        })
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
    /// The named model, or None for an explicit path.
    fn name(&self) -> Option<ModelName> {
        match &self.model {
            None => Some(ModelName::English),
            Some(value) => ModelName::parse(value),
        }
    }

    fn model_path(&self) -> PathBuf {
        match (self.name(), &self.model) {
            (Some(name), _) => name.dir().join(self.precision.pin_name()),
            (None, Some(path)) => PathBuf::from(path),
            (None, None) => unreachable!("no --model is the English model"),
        }
    }

    /// The encoder on the CPU with its default options.
    fn load(&self) -> Result<Encoder, CliError> {
        self.load_with(EncoderOptions::default())
    }

    fn load_with(&self, options: EncoderOptions) -> Result<Encoder, CliError> {
        let model_path = self.model_path();
        let name = self.name();
        if name == Some(ModelName::Multilingual) && self.precision == PrecisionArg::Fp32 {
            return Err(CliError::Usage(
                "the multilingual model ships as 4-bit values only: it has no fp32 checkpoint"
                    .into(),
            ));
        }
        let tokenizer_path = self.tokenizer.clone().unwrap_or_else(|| {
            name.unwrap_or(ModelName::English)
                .dir()
                .join("tokenizer.json")
        });
        let bytes = read(&model_path)?;
        // The named files are the pinned ones: check them as the browser does (a flipped byte
        // in the model file otherwise loads without a word). An explicit path is the caller's
        // to vouch for.
        if let Some(name) = name {
            check_pin(
                &name.manifest(),
                &model_path,
                &bytes,
                self.precision.pin_name(),
            )?;
        }
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
        if self.tokenizer.is_none() {
            check_pin(
                &name.unwrap_or(ModelName::English).manifest(),
                &tokenizer_path,
                &tokenizer_bytes,
                "tokenizer.json",
            )?;
        }
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

/// Checks `bytes` (read from `path`) against the sha256 `manifest_path` pins for `name`
/// (a converted file, else a source file).
fn check_pin(manifest_path: &Path, path: &Path, bytes: &[u8], name: &str) -> Result<(), CliError> {
    let manifest_path = manifest_path.to_path_buf();
    let text = std::fs::read_to_string(&manifest_path)
        .map_err(|e| CliError::Io(manifest_path.clone(), e))?;
    let manifest = Manifest::from_json(&text)
        .map_err(|e| CliError::Usage(format!("{}: {e}", manifest_path.display())))?;
    let expected = manifest
        .converted
        .get(name)
        .map(|p| p.sha256.clone())
        .or_else(|| manifest.source.files.get(name).map(|f| f.sha256.clone()))
        .ok_or_else(|| {
            CliError::Integrity(format!(
                "{} has no sha256 pin for {name}; pass --model / --tokenizer to load an unpinned file",
                manifest_path.display()
            ))
        })?;
    let actual = sha256_hex(bytes);
    if actual != expected {
        return Err(CliError::Integrity(format!(
            "{}: sha256 {actual} does not match the pin {expected} in {} (rebuild it with \
             ./build.sh, or pass --model / --tokenizer to load another file)",
            path.display(),
            manifest_path.display()
        )));
    }
    Ok(())
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
