#!/usr/bin/env bash
# Fuzzing (issue 6): every cargo-fuzz target in crate/fuzz for FUZZ_SECONDS each (default 300),
# one after another (2 cores: the build and one fuzzer at a time). Not part of `npm test`: a
# fuzz run means something only when it runs for minutes. What it found, and for how long it
# ran, goes in docs/reliability.md; a crash becomes a regression test in crate/tests.
# Uses the machine's stable toolchain with RUSTC_BOOTSTRAP=1 for cargo-fuzz's -Z flags.
set -euo pipefail
cd "$(dirname "$0")/../crate"
SECONDS_EACH="${FUZZ_SECONDS:-300}"
TARGETS="${FUZZ_TARGETS:-events candidates features state profile_json model tokenizer}"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export RUSTC_BOOTSTRAP=1
# Its own target dir: the instrumented build never touches the shipped one.
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/cloister-fuzz-target}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
[ -f ../models/all-MiniLM-L6-v2/tokenizer.json ] || python3 ../models/fetch.py
cargo fuzz build -O --debug-assertions
for target in $TARGETS; do
  corpus="fuzz/corpus/$target"
  mkdir -p "$corpus"
  echo "== fuzz $target for ${SECONDS_EACH}s (seeds: fuzz/seeds/$target)"
  cargo fuzz run -O --debug-assertions "$target" "$corpus" "fuzz/seeds/$target" -- \
    -max_total_time="$SECONDS_EACH" -max_len=65536 -timeout=30 -rss_limit_mb=4096 -print_final_stats=1 2>&1 \
    | grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::new_units_added|stat::peak_rss_mb|==|INFO: Loaded|SUMMARY|thread .* panicked|Done [0-9]+ runs)" || true
  if [ -d "fuzz/artifacts/$target" ] && [ -n "$(ls -A "fuzz/artifacts/$target" 2>/dev/null)" ]; then
    echo "fuzz $target: FOUND $(ls "fuzz/artifacts/$target" | wc -l) crashing input(s) in crate/fuzz/artifacts/$target" >&2
    exit 1
  fi
done
echo "fuzz: no crashes"
