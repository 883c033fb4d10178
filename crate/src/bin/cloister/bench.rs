//! `cloister bench`: the benchmark harness. Encoder throughput at batch 1 and 32 (the int8
//! kernel beside burn's f32 matmul), re-ranking latency with cached embeddings, the shipped
//! sizes; with `--load`, the profile, the ranker and the online weights under volume.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use cloister::encoder::{int8_gemm, Embeddings, Encoder, EncoderOptions, Precision};
use cloister::rank::{Candidate, Related};
use cloister::{Event, EventKind, Item, Prior, Recommender, RerankOptions};

use crate::{gzip_size, project_root, read, CliError, ModelArgs};

#[derive(Args)]
pub struct BenchArgs {
    #[command(flatten)]
    model: ModelArgs,
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
}

/// ~32-token sentences: product titles, descriptions and queries.
const SENTENCES_32: &str = include_str!("../../../benches/sentences-32.txt");
/// The 256 sentences of the browser benchmark; their vectors stand in for a catalogue's.
const SENTENCES_256: &str = include_str!("../../../benches/sentences-256.txt");

pub fn run(args: BenchArgs) -> Result<(), CliError> {
    if let Some(n) = args.threads {
        // The CPU backend's kernels run on rayon's global pool: size it before first use.
        rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global()
            .map_err(|e| CliError::Usage(format!("--threads {n}: {e}")))?;
    }
    if args.load {
        return load(&args.model);
    }
    let rounds = args.rounds.max(1);
    let encoder = args.model.load()?;
    let text = match &args.sentences {
        Some(path) => std::fs::read_to_string(path).map_err(|e| CliError::Io(path.clone(), e))?,
        None => SENTENCES_32.to_string(),
    };
    let sentences: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    let tokens: Vec<usize> = encoder.tokenize(&sentences)?.iter().map(Vec::len).collect();
    println!(
        "cloister bench: {} sentences, {:.1} tokens on average ({}..{}), precision {}, backend {}, {} threads",
        sentences.len(),
        tokens.iter().sum::<usize>() as f64 / tokens.len().max(1) as f64,
        tokens.iter().min().unwrap_or(&0),
        tokens.iter().max().unwrap_or(&0),
        encoder.precision().as_str(),
        encoder.backend().as_str(),
        rayon::current_num_threads()
    );
    if encoder.precision() == Precision::Int8 {
        // The int8 model both ways, one after the other so both see the same machine: the
        // integer kernel and burn's f32 matmul over dequantized weights.
        let other = args.model.load_with(EncoderOptions {
            int8_matmul: !encoder.int8_matmul(),
            ..EncoderOptions::default()
        })?;
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
        let kernel = int8_gemm::kernel_name();
        time_embed(
            integer,
            &format!("{int8_label}, {kernel} kernel"),
            &sentences,
            rounds,
        )?;
        if kernel == "avx512vnni" {
            // The same model on the AVX2 kernel, right after, for the side-by-side ratio.
            int8_gemm::allow_wide_kernel(false);
            let timed = time_embed(
                integer,
                &format!("{int8_label}, avx2 kernel"),
                &sentences,
                rounds,
            );
            int8_gemm::allow_wide_kernel(true);
            timed?;
        }
        time_embed(float, f32_label, &sentences, rounds)?;
    } else {
        time_embed(&encoder, "", &sentences, rounds)?;
    }
    rerank_latency(&encoder)?;
    interest_model_latency(&encoder)?;
    let model_path = args.model.model_path();
    let model_bytes = read(&model_path)?;
    println!(
        "model file {}: {} bytes raw, {} gzip",
        model_path.display(),
        model_bytes.len(),
        gzip_size(&model_bytes)
    );
    let wasm_path = args
        .wasm
        .unwrap_or_else(|| project_root().join("dist/pkg/cloister_bg.wasm"));
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

/// `n` candidates `c0..`, each with text `text(i)`, a falling server score, one of
/// `categories` categories and one `related` id `related(i)`: a server's list.
fn synthetic_candidates(
    n: usize,
    text: impl Fn(usize) -> String,
    categories: usize,
    related: impl Fn(usize) -> String,
) -> Vec<Candidate> {
    (0..n)
        .map(|i| {
            Candidate::new(format!("c{i}"), text(i), (n - i) as f64)
                .with_category(format!("cat{}", i % categories))
                .with_related(vec![Related {
                    id: related(i),
                    weight: 0.5,
                }])
        })
        .collect()
}

/// The 256 benchmark sentences and their embeddings.
fn sentence_vectors(encoder: &Encoder) -> Result<(Vec<String>, Embeddings), CliError> {
    let texts: Vec<String> = SENTENCES_256.lines().map(String::from).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let embeddings = encoder.embed(&refs)?;
    Ok((texts, embeddings))
}

/// Re-ranks `candidates` (shown window 10) `rounds` times, with Thompson exploration (and its
/// 256-draw propensities) when `explore`; the times in seconds, sorted.
fn time_reranks(
    rec: &mut Recommender,
    candidates: &[Candidate],
    rounds: usize,
    explore: bool,
) -> Result<Vec<f64>, CliError> {
    let options = RerankOptions {
        k: Some(10),
        explore: explore.then_some(cloister::rank::Explore {
            seed: 1,
            scale: cloister::rank::options::DEFAULT_EXPLORE_SCALE,
        }),
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
fn rerank_latency(encoder: &Encoder) -> Result<(), CliError> {
    let (texts, embeddings) = sentence_vectors(encoder)?;
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
        rec.put_embeddings(&keys, &Embeddings { data })?;
        for (i, key) in keys.iter().take(30).enumerate() {
            let item = Item {
                id: format!("h{i}"),
                text: key.clone(),
                category: None,
            };
            rec.record(
                Event {
                    item,
                    kind: EventKind::Click,
                    value: None,
                    at: i as i64,
                },
                i64::MAX,
            )?;
        }
        let candidates =
            synthetic_candidates(n, |i| keys[i].clone(), 7, |i| format!("h{}", i % 30));
        let rounds = if n <= 100 { 500 } else { 20 };
        // Interleaved rounds, so both see the same machine.
        let (mut plain, mut explore) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            plain.extend(time_reranks(&mut rec, &candidates, 1, false)?);
            explore.extend(time_reranks(&mut rec, &candidates, 1, true)?);
        }
        plain.sort_by(f64::total_cmp);
        explore.sort_by(f64::total_cmp);
        println!(
            "rerank {n} candidates (cached embeddings, 30-event profile): median {:.0} us, p90 {:.0} us; \
             with exploration and propensities: median {:.0} us, p90 {:.0} us ({rounds} runs each)",
            plain[rounds / 2] * 1e6,
            plain[rounds * 9 / 10] * 1e6,
            explore[rounds / 2] * 1e6,
            explore[rounds * 9 / 10] * 1e6
        );
    }
    Ok(())
}

/// Peak resident set of this process so far (Linux VmHWM), in MB; None where unreadable.
/// The learned interest model's forward pass for one ranking on the CPU backend: 100
/// candidates over a 30-event history, weights of the shipped shape (the cost does not depend
/// on their values), then the scores with the gate.
fn interest_model_latency(encoder: &Encoder) -> Result<(), CliError> {
    use cloister::interest_model::{
        InterestModel, InterestModelParams, ModelBatch, Pair, EVENT_FEATURES,
    };
    let (_, embeddings) = sentence_vectors(encoder)?;
    let (history, candidates) = (30usize, 100usize);
    let mut table = Vec::with_capacity((history + candidates) * 384);
    for i in 0..history + candidates {
        table.extend_from_slice(embeddings.row(i % 256));
    }
    let params = InterestModelParams::init(384, 1);
    let gate = params.gate.clone();
    let model = InterestModel::new(params, burn::tensor::Device::flex());
    let batch = ModelBatch {
        table,
        pairs: vec![Pair {
            history: (0..history).collect(),
            features: vec![0.1; history * EVENT_FEATURES],
            candidates: (history..history + candidates).collect(),
        }],
    };
    let rounds = 200;
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        let readouts = model
            .phi(&batch)
            .map_err(|e| CliError::Usage(e.to_string()))?;
        let scores: Vec<f32> = readouts[0]
            .iter()
            .flatten()
            .map(|p| cloister::vector::dot(p, &gate))
            .collect();
        std::hint::black_box(scores);
        times.push(started.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    println!(
        "interest model, {candidates} candidates over a {history}-event history (projections, \
         attention, gate): median {:.0} us, p90 {:.0} us ({rounds} runs)",
        times[rounds / 2] * 1e6,
        times[rounds * 9 / 10] * 1e6
    );
    Ok(())
}

fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn peak_rss_text() -> String {
    peak_rss_mb().map_or_else(|| "n/a".into(), |mb| format!("{mb:.0} MB"))
}

/// The load benchmark: the profile, the ranker and the online weights under volume, with the
/// embeddings of the 256 benchmark sentences reused (the encoder is benchmarked apart).
fn load(model: &ModelArgs) -> Result<(), CliError> {
    let encoder = model.load()?;
    let (texts, embeddings) = sentence_vectors(&encoder)?;
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
        rec.record(
            Event {
                item,
                kind,
                value,
                at: i as i64,
            },
            i64::MAX,
        )?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "100000 events folded into one profile: {:.2} s ({:.1} us/event); saved state {} bytes; peak RSS {}",
        elapsed,
        elapsed * 1e6 / 100_000.0,
        rec.to_bytes().len(),
        peak_rss_text()
    );

    let candidates = synthetic_candidates(
        10_000,
        |i| texts[i % 256].clone(),
        13,
        |i| format!("item-{}", 99_999 - i % 50),
    );
    let times = time_reranks(&mut rec, &candidates, 10, false)?;
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
        rec.feedback(&reranked.impression_id, &[chosen], &[])?;
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
