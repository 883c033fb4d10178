//! Hostile input, round two (issue 13): each defect a hostile user found in the CLI or the core,
//! pinned by a test that failed before its fix. Bad input is a typed error for that line or
//! call, work per line is bounded, and nothing changes meaning silently.

mod common;

use std::io::{Read, Write};
use std::process::{Command, Output, Stdio};

use cloister::encoder::device::cpu_device;
use cloister::rank::candidate::validate_candidates;
use cloister::rank::{Feedback, Related};
use cloister::{
    Backend, Candidate, Encoder, Event, EventKind, InputErrorKind, Item, Prior, Recommender,
    RerankOptions,
};
use serde_json::{json, Value};

/// The clock events are checked against: 2026-11-29.
const NOW: i64 = 1_796_000_000_000;

const HOME: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// Runs the CLI on `input` bytes with the project's files (and their pins).
fn cli(args: &[&str], input: &[u8]) -> Output {
    cli_in(HOME, args, input)
}

/// The binary under test: this build's, or `CLOISTER_TEST_BIN` (to show a test failing on an
/// older build).
fn bin() -> String {
    std::env::var("CLOISTER_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_cloister").into())
}

fn cli_in(home: &str, args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(bin())
        .args(args)
        .env("CLOISTER_HOME", home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    // A writer thread: a large input must not deadlock against a full stdout pipe.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn error_kind(line: &Value) -> &str {
    line["error"]["kind"].as_str().unwrap_or("")
}

fn unit(i: usize) -> Vec<f32> {
    let mut v = vec![0.0f32; 384];
    v[i % 384] = 1.0;
    v
}

/// A candidate the core can rank without the encoder: it carries its own embedding.
fn embedded(id: &str, i: usize) -> Candidate {
    let mut c = Candidate::new(id, format!("text {id}"), 1.0);
    c.embedding = Some(unit(i).into());
    c.model = Some("m".into());
    c
}

fn request(id: &str, candidates: Value) -> Value {
    json!({"id": id, "candidates": candidates})
}

fn small_list() -> Value {
    json!([
        {"id": "a", "text": "A cookbook of slow Sunday sauces", "server_score": 0.9},
        {"id": "b", "text": "Waterproof leather hiking boots", "server_score": 0.5}
    ])
}

// 1. Memory grew with candidates x distinct feature names.
#[test]
fn a_list_naming_more_distinct_features_than_a_candidate_may_have_is_refused() {
    let distinct: Vec<Candidate> = (0..1_000)
        .map(|i| {
            let mut c = embedded(&format!("c{i}"), i);
            c.features = (0..32).map(|f| (format!("f{i}-{f}"), 1.0)).collect();
            c
        })
        .collect();
    let err = validate_candidates(distinct).unwrap_err();
    assert_eq!(err.kind, InputErrorKind::TooManyFeatures, "{err}");
    // 32 names shared by 10,000 candidates is what a site sends: it ranks.
    let shared: Vec<Candidate> = (0..10_000)
        .map(|i| {
            let mut c = embedded(&format!("c{i}"), i);
            c.features = (0..32).map(|f| (format!("f{f}"), (i % 7) as f64)).collect();
            c
        })
        .collect();
    let mut rec = Recommender::new(&Prior::default(), "m");
    let ranked = rec.rerank(shared, &RerankOptions::default()).unwrap();
    assert_eq!(
        ranked.ranking.features.names.len(),
        cloister::rank::BUILTIN_FEATURES.len() + 32
    );
}

// 2. fit-prior slowed with distinct names and wrote priors rerank refused.
#[test]
fn fit_prior_keeps_its_training_set_within_what_a_prior_holds() {
    let lines: Vec<String> = (0..80)
        .map(|i| {
            let features: serde_json::Map<String, Value> =
                (0..32).map(|f| (format!("n{i}-{f}"), json!(1.0))).collect();
            json!({"user": i % 5, "candidates": [
                {"id": "a", "text": "A cookbook of slow Sunday sauces", "server_score": 1, "features": features},
                {"id": "b", "text": "Waterproof leather hiking boots", "server_score": 0}
            ], "target": "a"})
            .to_string()
        })
        .collect();
    let dir = std::env::temp_dir().join(format!("cloister-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let prior_path = dir.join("prior.json");
    let out = cli(
        &["fit-prior", "--out", prior_path.to_str().unwrap()],
        lines.join("\n").as_bytes(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // 11 built-in features + 7 lines x 32 names fit in 256; the 73 lines after are refused.
    assert_eq!(
        stderr(&out).matches("too_many_features").count(),
        73,
        "{}",
        stderr(&out)
    );
    let prior: Value =
        serde_json::from_str(&std::fs::read_to_string(&prior_path).unwrap()).unwrap();
    assert!(prior["weights"].as_object().unwrap().len() <= 256);
    let ranked = cli(
        &["rerank", "--prior", prior_path.to_str().unwrap()],
        request("r", small_list()).to_string().as_bytes(),
    );
    assert!(
        ranked.status.success(),
        "rerank takes the prior: {}",
        stderr(&ranked)
    );
    std::fs::remove_dir_all(dir).unwrap();
}

// 3. A tokenizer with ids past the word table panicked inside burn.
#[test]
fn a_tokenizer_that_does_not_fit_the_model_is_a_typed_error_at_load() {
    let model = common::model_file("model.int8.bpk");
    let tokenizer: Value = serde_json::from_slice(&common::model_file("tokenizer.json")).unwrap();
    let load = |t: &Value| {
        Encoder::load(
            model.clone(),
            t.to_string().as_bytes(),
            cpu_device(),
            Backend::Cpu,
        )
    };
    let mut beyond = tokenizer.clone();
    beyond["model"]["vocab"]["hello"] = json!(40_000);
    let err = load(&beyond).err().expect("refused");
    assert_eq!(err.kind(), "tokenizer");
    assert!(err.to_string().contains("40000"), "{err}");
    let mut no_specials = tokenizer.clone();
    let vocab = no_specials["model"]["vocab"].as_object_mut().unwrap();
    let cls = vocab.remove("[CLS]").unwrap();
    vocab.insert("[KLS]".into(), cls);
    no_specials["added_tokens"] = json!([]);
    let err = load(&no_specials).err().expect("refused");
    assert_eq!(err.kind(), "tokenizer");
    assert!(err.to_string().contains("[CLS]"), "{err}");
    assert!(load(&tokenizer).is_ok());
}

// 4. One line of invalid UTF-8 ended the whole run.
#[test]
fn a_line_of_invalid_utf8_is_that_lines_error_and_the_run_goes_on() {
    let good = request("ok", small_list()).to_string();
    let mut input = good.as_bytes().to_vec();
    input.extend_from_slice(b"\n{\"id\": \"bad\xff\xfe\"}\n");
    input.extend_from_slice(good.as_bytes());
    input.push(b'\n');
    let out = cli(&["rerank"], &input);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 3);
    assert!(lines[0]["items"].is_array());
    assert_eq!(error_kind(&lines[1]), "invalid_utf8");
    assert!(lines[1]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("line 2"));
    assert!(lines[2]["items"].is_array());

    let out = cli(&["embed"], b"red shoes\n\xc3\x28 broken\nblue shoes\n");
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0].as_array().unwrap().len(), 384);
    assert_eq!(lines[1]["line"], 2);
    assert_eq!(error_kind(&lines[1]), "invalid_utf8");
    assert_eq!(lines[2].as_array().unwrap().len(), 384);

    let train = json!({"candidates": small_list(), "target": "a"}).to_string();
    let dir = std::env::temp_dir().join(format!("cloister-utf8-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let prior = dir.join("p.json");
    let mut input = train.as_bytes().to_vec();
    input.extend_from_slice(b"\n\xff\n");
    input.extend_from_slice(train.as_bytes());
    let out = cli(&["fit-prior", "--out", prior.to_str().unwrap()], &input);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("line 2: invalid_utf8"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("2 lists"), "{}", stderr(&out));
    std::fs::remove_dir_all(dir).unwrap();
}

// 5. No bound on one line's work.
#[test]
fn one_lines_work_is_bounded_and_beyond_the_bounds_is_a_typed_error() {
    let event = |i: usize| json!({"item": {"id": format!("h{i}"), "text": format!("h {i}")}, "kind": "click", "at": i});
    let history: Vec<Value> = (0..5_001).map(event).collect();
    let too_long_history = json!({"id": "h", "history": history, "candidates": small_list()});
    let feedback: Vec<Value> = (0..257)
        .map(|_| json!({"shown": ["a", "b"], "chosen": ["a"]}))
        .collect();
    let too_much_feedback = json!({"id": "f", "candidates": small_list(), "feedback": feedback});
    let ids: Vec<String> = (0..201).map(|i| format!("c{i}")).collect();
    let wide: Vec<Value> = ids
        .iter()
        .map(|id| json!({"id": id, "text": "a", "server_score": 1}))
        .collect();
    let too_wide =
        json!({"id": "w", "candidates": wide, "feedback": [{"shown": ids, "chosen": ["c0"]}]});
    let mut input = Vec::new();
    for line in [too_long_history, too_much_feedback, too_wide] {
        input.extend_from_slice(line.to_string().as_bytes());
        input.push(b'\n');
    }
    // A line longer than 64 MiB is skipped to its end, not held whole.
    input.extend(std::iter::repeat_n(b' ', (64 << 20) + 10));
    input.push(b'\n');
    input.extend_from_slice(request("after", small_list()).to_string().as_bytes());
    input.push(b'\n');
    let out = cli(&["rerank"], &input);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = json_lines(&out);
    let kinds: Vec<&str> = lines.iter().map(error_kind).collect();
    assert_eq!(
        kinds,
        [
            "too_many_events",
            "too_many_feedback",
            "too_many_feedback",
            "line_too_long",
            ""
        ]
    );
    assert_eq!(lines[4]["id"], "after");
}

// 6. A valid request larger than the embedding cache failed with missing_embedding.
#[test]
fn a_history_and_a_list_larger_than_the_cache_rank_through_the_cli() {
    let history: Vec<Value> = (0..2_300)
        .map(|i| json!({"item": {"id": format!("h{i}"), "text": format!("h {i}")}, "kind": "click", "at": i}))
        .collect();
    let candidates: Vec<Value> = (0..10_000)
        .map(|i| json!({"id": format!("c{i}"), "text": format!("c {i}"), "server_score": i % 13}))
        .collect();
    let line = json!({"id": "big", "history": history, "candidates": candidates}).to_string();
    let out = cli(&["rerank", "--k", "10"], format!("{line}\n").as_bytes());
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = json_lines(&out);
    assert_eq!(lines[0]["id"], "big");
    assert_eq!(
        lines[0]["items"].as_array().map(Vec::len),
        Some(10_000),
        "{:.300}",
        lines[0]
    );
}

// 7. Numbers beyond f32 became infinite, then were zeroed: the order flipped silently.
#[test]
fn numbers_f32_cannot_hold_are_refused_everywhere() {
    let mut c = vec![embedded("a", 0), embedded("b", 1)];
    c[0].server_score = 1e39;
    assert_eq!(
        validate_candidates(c.clone()).unwrap_err().kind,
        InputErrorKind::InvalidCandidate
    );
    c[0].server_score = 1.0;
    c[0].features.insert("margin".into(), -1e39);
    assert_eq!(
        validate_candidates(c.clone()).unwrap_err().kind,
        InputErrorKind::InvalidCandidate
    );
    c[0].features.clear();
    c[0].related = vec![Related {
        id: "x".into(),
        weight: 1e39,
    }];
    assert_eq!(
        validate_candidates(c.clone()).unwrap_err().kind,
        InputErrorKind::InvalidCandidate
    );
    let event = Event {
        item: Item {
            id: "i".into(),
            text: "t".into(),
            category: None,
        },
        kind: EventKind::Dwell,
        value: Some(1e39),
        at: 1,
    };
    assert_eq!(
        event.validate(NOW).unwrap_err().kind,
        InputErrorKind::InvalidEvent
    );
    assert!(Prior::from_json(r#"{"weights":{"server":1e39}}"#).is_err());
    // Through fit-prior's input too.
    let line = json!({"candidates": [
        {"id": "a", "text": "x", "server_score": 1e39}, {"id": "b", "text": "y", "server_score": 1}
    ], "target": "a"});
    let out = cli(
        &["fit-prior", "--out", "/dev/null"],
        format!("{line}\n").as_bytes(),
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("invalid_candidate"),
        "{}",
        stderr(&out)
    );
}

// 8. `cloister bench | head -1` panicked on the closed pipe.
#[test]
fn a_closed_stdout_ends_the_cli_quietly() {
    let mut child = Command::new(bin())
        .args(["bench", "--rounds", "1"])
        .env("CLOISTER_HOME", HOME)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{err}");
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        // Ended by SIGPIPE (13), as `cat` or `grep` would be.
        assert_eq!(out.status.signal(), Some(13), "{:?}", out.status);
    }
}

// 9. Silent acceptance.
#[test]
fn related_lists_over_the_limit_are_refused_like_features() {
    let mut c = vec![embedded("a", 0), embedded("b", 1)];
    c[0].related = (0..129)
        .map(|i| Related {
            id: format!("r{i}"),
            weight: 1.0,
        })
        .collect();
    let err = validate_candidates(c).unwrap_err();
    assert_eq!(err.kind, InputErrorKind::InvalidCandidate);
    assert!(err.message.contains("129 related"), "{err}");
}

#[test]
fn an_ignored_server_embedding_is_reported_on_its_item() {
    let mut rec = Recommender::new(&Prior::default(), "m");
    let mut broken = embedded("broken", 0);
    broken.embedding = Some(vec![0.5; 384].into()); // not unit length
    let mut foreign = embedded("foreign", 1);
    foreign.model = Some("another-model".into());
    let candidates = vec![broken, foreign, embedded("fine", 2)];
    let pending = rec.hold_request(&[], &candidates);
    assert_eq!(
        pending.missing.len(),
        2,
        "the two ignored embeddings' texts are encoded"
    );
    let data: Vec<f32> = (10..12).flat_map(unit).collect();
    rec.put_embeddings(&pending.missing, &cloister::Embeddings { data })
        .unwrap();
    let ranked = rec.rerank(candidates, &RerankOptions::default()).unwrap();
    rec.release(pending.hold);
    let notes = |id: &str| {
        ranked
            .ranking
            .items
            .iter()
            .find(|i| i.id == id)
            .unwrap()
            .notes
            .clone()
    };
    assert!(
        notes("broken")[0].contains("unit length"),
        "{:?}",
        notes("broken")
    );
    assert!(
        notes("foreign")[0].contains("another model"),
        "{:?}",
        notes("foreign")
    );
    assert!(notes("fine").is_empty());
    let json = serde_json::to_value(&ranked.ranking.items).unwrap();
    assert!(json.to_string().contains("\"notes\""));
}

#[test]
fn a_chosen_id_given_twice_is_an_error() {
    let mut rec = Recommender::new(&Prior::default(), "m");
    let candidates = vec![embedded("a", 0), embedded("b", 1), embedded("c", 2)];
    let ranked = rec
        .rerank(candidates.clone(), &RerankOptions::default())
        .unwrap();
    let before = rec.weights().clone();
    let err = rec
        .feedback(&ranked.impression_id, &["a".into(), "a".into()], &[])
        .unwrap_err();
    assert_eq!(err.kind, InputErrorKind::InvalidFeedback);
    let twice = Feedback {
        shown: vec!["a".into(), "b".into()],
        chosen: vec!["b".into(), "b".into()],
        dismissed: vec![],
    };
    assert!(rec.replay_feedback(&candidates, &[twice]).is_err());
    let shown_twice = Feedback {
        shown: vec!["a".into(), "a".into()],
        chosen: vec!["a".into()],
        dismissed: vec![],
    };
    assert!(rec.replay_feedback(&candidates, &[shown_twice]).is_err());
    assert_eq!(rec.weights(), &before, "nothing moved");
}

#[test]
fn a_key_given_twice_is_an_error_not_the_last_value() {
    let twice_top = r#"{"id": "t", "candidates": [{"id": "a", "text": "x", "server_score": 1}], "candidates": []}"#;
    let twice_feature = r#"{"id": "f", "candidates": [{"id": "a", "text": "x", "server_score": 1, "features": {"m": 1, "m": 2}}, {"id": "b", "text": "y", "server_score": 1}]}"#;
    let input = format!("{twice_top}\n{twice_feature}\n");
    let out = cli(&["rerank"], input.as_bytes());
    let lines = json_lines(&out);
    assert_eq!(error_kind(&lines[0]), "invalid_request", "{}", lines[0]);
    assert_eq!(lines[0]["id"], "t");
    assert_eq!(error_kind(&lines[1]), "invalid_request", "{}", lines[1]);
    assert!(
        lines[1].to_string().contains("appears twice"),
        "{}",
        lines[1]
    );
    assert!(Prior::from_json(r#"{"weights":{"server":1,"server":2}}"#).is_err());
}

#[test]
fn a_prior_naming_no_feature_or_with_unknown_fields_is_refused() {
    assert!(Prior::from_json(r#"{"weights":{"server":1,"sever":2}}"#).is_err());
    assert!(Prior::from_json(r#"{"weights":{"server":1},"wieghts":{}}"#).is_err());
    let long_name = format!(r#"{{"weights":{{"site:{}":1}}}}"#, "x".repeat(10 << 20));
    assert_eq!(
        Prior::from_json(&long_name).unwrap_err().kind,
        InputErrorKind::InvalidPrior
    );
    let long_site = format!(r#"{{"weights":{{"site:{}":1}}}}"#, "x".repeat(300));
    assert!(Prior::from_json(&long_site).is_err());
    assert!(
        Prior::from_json(r#"{"weights":{"server":1,"site:margin":0.5},"fitted":{"by":"me"}}"#)
            .is_ok()
    );
}

#[test]
fn the_cli_checks_the_pinned_model_and_tokenizer_by_default() {
    let home = std::env::temp_dir().join(format!("cloister-pin-{}", std::process::id()));
    let models = home.join("models/all-MiniLM-L6-v2");
    std::fs::create_dir_all(&models).unwrap();
    std::fs::copy(
        format!("{HOME}/models/manifest.json"),
        home.join("models/manifest.json"),
    )
    .unwrap();
    std::fs::write(
        models.join("tokenizer.json"),
        common::model_file("tokenizer.json"),
    )
    .unwrap();
    let mut model = common::model_file("model.int8.bpk");
    let mid = model.len() / 2;
    model[mid] ^= 0x01;
    std::fs::write(models.join("model.int8.bpk"), &model).unwrap();
    let out = cli_in(home.to_str().unwrap(), &["embed"], b"red shoes\n");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("does not match the pin"),
        "{}",
        stderr(&out)
    );
    // An explicit --model is the caller's to vouch for.
    let explicit = models.join("model.int8.bpk");
    let out = cli_in(
        home.to_str().unwrap(),
        &["embed", "--model", explicit.to_str().unwrap()],
        b"red shoes\n",
    );
    assert!(
        !stderr(&out).contains("does not match the pin"),
        "{}",
        stderr(&out)
    );
    std::fs::remove_dir_all(home).unwrap();
}

#[test]
fn blank_rerank_lines_are_answered_so_output_lines_up_with_input() {
    let good = request("g", small_list()).to_string();
    let input = format!("{good}\n\n   \n{good}\n");
    let out = cli(&["rerank"], input.as_bytes());
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 4);
    assert_eq!(error_kind(&lines[1]), "empty_line");
    assert_eq!(error_kind(&lines[2]), "empty_line");
    assert_eq!(lines[3]["id"], "g");
}

#[test]
fn the_tokenizer_fuzz_seed_loads_and_a_foreign_vocabulary_does_not() {
    use cloister::tokenize::{TextTokenizer, TokenizerFit};
    let fit = TokenizerFit {
        vocab_size: 64,
        max_positions: 512,
        first: "[CLS]",
        last: "[SEP]",
    };
    // crate/fuzz/seeds/tokenizer/small-wordpiece: tokenizer.json, texts, and a split byte.
    let seed = include_bytes!("../fuzz/seeds/tokenizer/small-wordpiece");
    let (&split, rest) = seed.split_last().unwrap();
    let (json, text) = rest.split_at(rest.len() - usize::from(split));
    let tokenizer = TextTokenizer::from_bytes(json, 256, fit).expect("the seed loads");
    let ids = tokenizer
        .encode_batch(&[std::str::from_utf8(text).unwrap()])
        .unwrap();
    assert_eq!(ids[0].first(), Some(&2));
    assert_eq!(ids[0].last(), Some(&3));
    let narrow = TokenizerFit {
        vocab_size: 10,
        ..fit
    };
    assert!(
        TextTokenizer::from_bytes(json, 256, narrow).is_err(),
        "ids up to 14 in 10 rows"
    );
    // Found by the fuzz target: a syntax error inside `decoder` panicked in tokenizers 0.23.
    let text = std::str::from_utf8(json).unwrap();
    assert!(text.contains(r#""decoder": {"#));
    let broken = text.replace(r#""decoder": {"#, r#""decoder": &"#);
    assert!(matches!(
        TextTokenizer::from_bytes(broken.as_bytes(), 256, fit),
        Err(cloister::EncoderError::Tokenizer(_))
    ));
    // And a template naming a special token it does not define panicked at the first encode;
    // the template is not used any more (Cloister adds [CLS] and [SEP] itself).
    let mut document: Value = serde_json::from_slice(json).unwrap();
    document["post_processor"]["single"][2]["SpecialToken"]["id"] = json!("][SEP");
    let odd = TextTokenizer::from_bytes(document.to_string().as_bytes(), 256, fit).unwrap();
    let ids = odd.encode_batch(&["red shoes"]).unwrap();
    assert_eq!((ids[0].first(), ids[0].last()), (Some(&2), Some(&3)));
}

// Issue 14: an event's time is checked against the clock; a replay from 1997 is fine.
#[test]
fn event_times_that_are_negative_fractional_or_in_the_future_are_that_lines_error() {
    let with_at = |id: &str, at: Value| {
        json!({"id": id, "candidates": small_list(),
               "history": [{"item": {"id": "h", "text": "a cookbook"}, "kind": "click", "at": at}]})
    };
    // 2100-01-01: far ahead of any clock this test runs under.
    let future = 4_102_444_800_000i64;
    let mut input = String::new();
    for line in [
        with_at("negative", json!(-5)),
        with_at("fraction", json!(1.5)),
        with_at("future", json!(future)),
        with_at("1997", json!(874_965_758_000i64)),
    ] {
        input.push_str(&line.to_string());
        input.push('\n');
    }
    let out = cli(&["rerank"], input.as_bytes());
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = json_lines(&out);
    let kinds: Vec<&str> = lines.iter().map(error_kind).collect();
    assert_eq!(
        kinds,
        ["invalid_time", "invalid_request", "invalid_time", ""]
    );
    assert!(
        lines[1]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("whole number of milliseconds"),
        "{}",
        lines[1]
    );
}
