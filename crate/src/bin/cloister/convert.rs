//! `cloister convert`: the fp32 checkpoint to the int8 record, pinned in the manifest.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use cloister::encoder::{convert_to_int8, device::cpu_device, MiniLmConfig};
use cloister::manifest::{sha256_hex, update_pin, FilePin};

use crate::{default_model, gzip_size, project_root, read, CliError, PrecisionArg};

#[derive(Args)]
pub struct ConvertArgs {
    /// model.safetensors (default: the fetched file under models/)
    #[arg(long)]
    input: Option<PathBuf>,
    /// Output .bpk (default: models/all-MiniLM-L6-v2/model.int8.bpk)
    #[arg(long)]
    output: Option<PathBuf>,
    /// Manifest to record the output in (default: models/manifest.json)
    #[arg(long)]
    manifest: Option<PathBuf>,
}

pub fn run(args: ConvertArgs) -> Result<(), CliError> {
    let input = args
        .input
        .unwrap_or_else(|| default_model(PrecisionArg::Fp32));
    let output = args
        .output
        .unwrap_or_else(|| default_model(PrecisionArg::Int8));
    let manifest = args
        .manifest
        .unwrap_or_else(|| project_root().join("models/manifest.json"));
    let started = Instant::now();
    let bytes = convert_to_int8(
        read(&input)?,
        &MiniLmConfig::ALL_MINILM_L6_V2,
        &cpu_device(),
    )?;
    // Write next to the target and rename: a failed run never leaves half a model behind.
    let partial = output.with_extension("bpk.partial");
    crate::write(&partial, &bytes)?;
    std::fs::rename(&partial, &output).map_err(|e| CliError::Io(output.clone(), e))?;
    let pin = FilePin {
        sha256: sha256_hex(&bytes),
        size: bytes.len() as u64,
        gzip_size: gzip_size(&bytes),
        recipe: "cloister convert: linear weights, word and position embeddings int8 \
                 symmetric, f16 scales per block of 32 (linear weights stored [outputs][inputs], \
                 so along the inputs; the word table per 64); biases, LayerNorm and the \
                 token-type table fp32"
            .into(),
    };
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    update_pin(&manifest, &name, pin.clone()).map_err(|e| CliError::Io(manifest.clone(), e))?;
    eprintln!(
        "converted {} -> {} ({} bytes, {} gzip, sha256 {}) in {:.1} s",
        input.display(),
        output.display(),
        pin.size,
        pin.gzip_size,
        pin.sha256,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
