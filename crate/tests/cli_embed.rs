//! `cloister embed` is a public contract: UTF-8 lines in, one JSON array of 384 floats per line
//! out, same order; bad flags and files fail with a message and a non-zero exit.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

fn embed(args: &[&str], input: &str) -> std::process::Output {
    let dir = common::model_dir();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cloister"))
        .arg("embed")
        .args(["--tokenizer", dir.join("tokenizer.json").to_str().unwrap()])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command that fails before reading stdin closes it: a broken pipe here is its answer,
    // which the caller checks.
    let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    child.wait_with_output().unwrap()
}

#[test]
fn one_line_in_one_vector_out_in_order() {
    let dir = common::model_dir();
    let model = dir.join("model.int8.bpk");
    let out = embed(
        &["--model", model.to_str().unwrap()],
        "red running shoes\n\nA quiet mystery novel\r\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Vec<f32>> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "the empty line is an item too");
    let encoder = common::encoder("model.int8.bpk");
    let direct = encoder
        .embed(&["red running shoes", "", "A quiet mystery novel"])
        .unwrap();
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line.len(), 384);
        assert!(common::cosine(line, direct.row(i)) > 0.999999);
    }
}

#[test]
fn compact_lines_carry_the_model_and_decode_to_the_same_direction() {
    let dir = common::model_dir();
    let model = dir.join("model.int8.bpk");
    let out = embed(
        &["--compact", "--model", model.to_str().unwrap()],
        "red running shoes\nA quiet mystery novel\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let encoder = common::encoder("model.int8.bpk");
    let direct = encoder
        .embed(&["red running shoes", "A quiet mystery novel"])
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["model"], encoder.model_sha256());
        let compact = line["embedding"].as_str().unwrap();
        assert_eq!(compact.len(), 520);
        let back = cloister::compact_embedding::decode_compact(compact).unwrap();
        let cos = common::cosine(&back, direct.row(i));
        assert!(cos >= 0.9999, "compact vs float cosine {cos}");
    }
    // About a seventh of the float form's bytes.
    let floats = embed(
        &["--model", model.to_str().unwrap()],
        "red running shoes\nA quiet mystery novel\n",
    );
    assert!(
        text.len() * 5 < floats.stdout.len(),
        "{} vs {}",
        text.len(),
        floats.stdout.len()
    );
}

#[test]
fn fp32_precision_reads_the_safetensors() {
    let dir = common::model_dir();
    let model = dir.join("model.safetensors");
    let out = embed(
        &["--precision", "fp32", "--model", model.to_str().unwrap()],
        "hello\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // And the int8 file under --precision fp32 is refused with a reason.
    let int8 = dir.join("model.int8.bpk");
    let out = embed(
        &["--precision", "fp32", "--model", int8.to_str().unwrap()],
        "hello\n",
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("int8"));
}

#[test]
fn a_missing_model_file_is_a_clear_error() {
    let out = embed(&["--model", "/nonexistent/model.bpk"], "hello\n");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/model.bpk"));
}
