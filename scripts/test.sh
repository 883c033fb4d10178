#!/usr/bin/env bash
# `npm test`: every test. Installs what is missing (chromium, npm packages, the wasm target,
# wasm-bindgen-cli, the model) through build.sh, then runs the native Rust tests and the
# browser tests (wasm on WebGPU and on the CPU fallback, in headless Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cloister-target}"

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "== installing chromium and chromium-driver (apt)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver
  else
    echo "npm test needs Chromium for the browser tests. Run:" >&2
    echo "  sudo apt-get install -y chromium chromium-driver" >&2
    exit 1
  fi
fi

# Tests run on the same wasm that ships, unless told otherwise.
./build.sh

if [ "${CI:-}" = "true" ] && ! git diff --quiet -- models/manifest.json; then
  echo "models/manifest.json changed during the build: the converted model no longer matches" >&2
  echo "its committed sha256 pin. Commit the new pin only if the change is intended." >&2
  git diff -- models/manifest.json >&2
  exit 1
fi

echo; echo "== native tests (cargo test --release)"
cargo test --release --workspace

echo; echo "== browser tests (headless Chromium: WebGPU, CPU fallback, end to end)"
node --test --test-concurrency=1 tests/*.test.mjs
