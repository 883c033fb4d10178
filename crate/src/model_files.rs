//! The shipped encoders' files on disk (native edges: the CLI and the Python wheel): where
//! `build.sh` puts them under a project root, their sha256 pins, and loading one checked against
//! its pin, as the browser checks what it downloads.

use std::path::{Path, PathBuf};

use crate::encoder::{self, device::cpu_device, Backend, Encoder, EncoderOptions, Precision};
use crate::manifest::{sha256_hex, Manifest};
use crate::EncoderError;

/// A shipped encoder, by the name the CLI's `--model`, the wheel's `model=` and the JS
/// package's `model` option take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelName {
    /// all-MiniLM-L6-v2 (the default).
    English,
    /// multilingual-e5-small, vocabulary pruned to Latin-script languages and Chinese.
    Multilingual,
}

impl ModelName {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "english" => Some(Self::English),
            "multilingual" => Some(Self::Multilingual),
            _ => None,
        }
    }

    /// Where `build.sh` puts its files under the project `root`.
    pub fn dir(self, root: &Path) -> PathBuf {
        root.join(match self {
            Self::English => "models/all-MiniLM-L6-v2",
            Self::Multilingual => "models/multilingual-e5-small",
        })
    }

    /// Its manifest: source pins and the converted files' pins.
    pub fn manifest(self, root: &Path) -> PathBuf {
        root.join(match self {
            Self::English => "models/manifest.json",
            Self::Multilingual => "models/manifest.multilingual.json",
        })
    }
}

/// The model file's name in the manifest for a precision.
pub fn pin_name(precision: Precision) -> &'static str {
    match precision {
        Precision::Int8 => "model.int8.bpk",
        Precision::Fp32 => "model.safetensors",
    }
}

/// Why model files could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ModelFileError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A pinned file does not match its pin (or has none).
    #[error("{0}")]
    Integrity(String),
    /// A request that cannot be met (fp32 of the multilingual model, a precision the file
    /// does not hold).
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Encoder(#[from] EncoderError),
}

/// Which files to load: a shipped model by name (pinned), or a model file the caller vouches
/// for; the tokenizer by default is the named model's (English for an explicit file).
#[derive(Debug, Clone)]
pub struct ModelSource {
    pub name: Option<ModelName>,
    pub model_path: Option<PathBuf>,
    pub tokenizer_path: Option<PathBuf>,
    pub precision: Precision,
}

impl ModelSource {
    /// `english`, `multilingual` or a path (`None`: english).
    pub fn new(model: Option<&str>, tokenizer: Option<PathBuf>, precision: Precision) -> Self {
        let name = match model {
            None => Some(ModelName::English),
            Some(value) => ModelName::parse(value),
        };
        Self {
            name,
            model_path: if name.is_none() {
                model.map(PathBuf::from)
            } else {
                None
            },
            tokenizer_path: tokenizer,
            precision,
        }
    }

    /// The model file's path under `root`.
    pub fn model_path(&self, root: &Path) -> PathBuf {
        match (&self.model_path, self.name) {
            (Some(path), _) => path.clone(),
            (None, name) => name
                .unwrap_or(ModelName::English)
                .dir(root)
                .join(pin_name(self.precision)),
        }
    }

    /// Loads the encoder on the CPU: named files checked against their pins under `root`, the
    /// file's precision checked against the one asked for.
    pub fn load(&self, root: &Path, options: EncoderOptions) -> Result<Encoder, ModelFileError> {
        let model_path = self.model_path(root);
        if self.name == Some(ModelName::Multilingual) && self.precision == Precision::Fp32 {
            return Err(ModelFileError::Usage(
                "the multilingual model ships as 4-bit values only: it has no fp32 checkpoint"
                    .into(),
            ));
        }
        let named = self.name.unwrap_or(ModelName::English);
        let tokenizer_path = self
            .tokenizer_path
            .clone()
            .unwrap_or_else(|| named.dir(root).join("tokenizer.json"));
        let bytes = read(&model_path)?;
        // The named files are the pinned ones: check them as the browser does (a flipped byte
        // in the model file otherwise loads without a word). An explicit path is the caller's
        // to vouch for.
        if let Some(name) = self.name {
            check_pin(
                &name.manifest(root),
                &model_path,
                &bytes,
                pin_name(self.precision),
            )?;
        }
        let found = encoder::detect_format(&bytes)?;
        if found != self.precision {
            return Err(ModelFileError::Usage(format!(
                "{} holds {} weights but precision {} was asked for",
                model_path.display(),
                found.as_str(),
                self.precision.as_str()
            )));
        }
        let tokenizer_bytes = read(&tokenizer_path)?;
        if self.tokenizer_path.is_none() {
            check_pin(
                &named.manifest(root),
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

fn read(path: &Path) -> Result<Vec<u8>, ModelFileError> {
    std::fs::read(path).map_err(|source| ModelFileError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Checks `bytes` (read from `path`) against the sha256 `manifest_path` pins for `name` (a
/// converted file, else a source file).
pub fn check_pin(
    manifest_path: &Path,
    path: &Path,
    bytes: &[u8],
    name: &str,
) -> Result<(), ModelFileError> {
    let text = std::fs::read_to_string(manifest_path).map_err(|source| ModelFileError::Io {
        path: manifest_path.to_path_buf(),
        source,
    })?;
    let manifest = Manifest::from_json(&text)
        .map_err(|e| ModelFileError::Usage(format!("{}: {e}", manifest_path.display())))?;
    let expected = manifest
        .converted
        .get(name)
        .map(|p| p.sha256.clone())
        .or_else(|| manifest.source.files.get(name).map(|f| f.sha256.clone()))
        .ok_or_else(|| {
            ModelFileError::Integrity(format!(
                "{} has no sha256 pin for {name}; name the model and tokenizer files to load \
                 unpinned ones",
                manifest_path.display()
            ))
        })?;
    let actual = sha256_hex(bytes);
    if actual != expected {
        return Err(ModelFileError::Integrity(format!(
            "{}: sha256 {actual} does not match the pin {expected} in {} (rebuild it with \
             ./build.sh, or name another model and tokenizer file to load those)",
            path.display(),
            manifest_path.display()
        )));
    }
    Ok(())
}
