#!/usr/bin/env bash
# `npm test`: every test. Checks formatting, installs what is missing (chromium, npm packages,
# the wasm target, wasm-bindgen-cli, the model, maturin) through build.sh, runs clippy, then the
# native Rust tests, the Python wheel's tests (in a venv of their own) and the browser tests (wasm
# on WebGPU and on the CPU fallback, in headless Chromium, then the same suites in headless
# Firefox ESR). The Python tests include the wheel's Ray and Spark adapters on a local cluster
# each (Spark needs a JRE).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cloister-target}"

# The browsers the tests run in: Debian's Chromium and Firefox ESR (playwright-core drives
# the first, puppeteer-core the second over WebDriver BiDi; neither downloads a browser).
missing=()
[ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] || missing+=(chromium chromium-driver)
[ -x /usr/bin/firefox-esr ] || missing+=(firefox-esr)
# Spark 4 runs on Java 17 or 21: Debian's default JRE is one of them.
java -version >/dev/null 2>&1 || missing+=(default-jre-headless)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "== installing ${missing[*]} (apt)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  else
    echo "npm test needs Chromium and Firefox ESR for the browser tests, and a JRE for Spark. Run:" >&2
    echo "  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

# Formatting first: it needs no build, so a badly formatted tree fails in seconds.
echo "== cargo fmt --check (library, CLI, tests, fuzz targets)"
for tool in rustfmt clippy; do
  cargo "${tool/rustfmt/fmt}" --version >/dev/null 2>&1 || rustup component add "$tool"
done
cargo fmt --all --check
cargo fmt --check --manifest-path crate/fuzz/Cargo.toml

# Tests run on the same wasm that ships, unless told otherwise.
./build.sh

# Lints with warnings as errors: the native crate with its CLI and tests, and the wasm edge in
# both builds (wasm.rs and the WebGPU layers only compile for wasm32 / with `webgpu`).
echo; echo "== cargo clippy -D warnings (native all targets; wasm32 with and without webgpu, and relaxed-simd)"
cargo clippy --release --workspace --all-targets -- -D warnings
cargo clippy --release --lib --target wasm32-unknown-unknown -- -D warnings
cargo clippy --release --lib --target wasm32-unknown-unknown --features webgpu -- -D warnings
cargo clippy --release --lib --target wasm32-unknown-unknown --features relaxed-simd -- -D warnings

if [ "${CI:-}" = "true" ] && ! git diff --quiet -- models/manifest.json models/manifest.multilingual.json; then
  echo "a model manifest changed during the build: a converted model no longer matches" >&2
  echo "its committed sha256 pin. Commit the new pin only if the change is intended." >&2
  git diff -- models/manifest.json models/manifest.multilingual.json >&2
  exit 1
fi

echo; echo "== native tests (cargo test --release)"
cargo test --release --workspace

echo; echo "== Python wheel tests, with Ray and Spark (the wheel build.sh made, in a venv of their own)"
TEST_VENV="${XDG_CACHE_HOME:-$HOME/.cache}/cloister/test-venv"
[ -x "$TEST_VENV/bin/python" ] || python3 -m venv "$TEST_VENV"
"$TEST_VENV/bin/pip" install --quiet --disable-pip-version-check -r python/requirements-test.txt
"$TEST_VENV/bin/pip" install --quiet --force-reinstall --no-deps dist/wheels/cloister-*.whl
CLOISTER_HOME="$PWD" "$TEST_VENV/bin/python" -m unittest discover -s python/tests -v

echo; echo "== JS and browser tests (headless Chromium: WebGPU, CPU fallback, end to end)"
node --test --test-concurrency=1 tests/*.test.mjs

# The browser suites again in Firefox. A test that cannot run there is skipped with the
# browser's reason in its output (headless Firefox ESR on Linux has no WebGPU adapter).
echo; echo "== browser tests in headless Firefox ESR (WebDriver BiDi): CPU path, end to end"
CLOISTER_BROWSER=firefox node --test --test-concurrency=1 tests/*.browser.test.mjs
