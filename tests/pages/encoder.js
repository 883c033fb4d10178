// Test hooks for tests/encoder.browser.test.mjs: each returns plain data for the test to check.
import { SentenceEncoder, initWasm } from '/js/encoder.js';
import { forgetBackendChoices } from '/js/measure.js';
import { startWasm } from '/js/wasm.js';

const MODELS = '/models/all-MiniLM-L6-v2';
// ?wasm=webgpu|cpu forces a wasm build (default 'auto': the one the backend needs).
const WASM = new URLSearchParams(location.search).get('wasm') ?? 'auto';
const encoders = new Map();
window.initWasm = initWasm;
window.forgetBackendChoices = forgetBackendChoices;

async function encoder(model, backend, int8Kernel, wasmUrl) {
  const key = `${model}|${backend}|${int8Kernel}|${JSON.stringify(wasmUrl)}`;
  if (!encoders.has(key)) {
    encoders.set(key, await SentenceEncoder.load({
      model: `${MODELS}/${model}`, tokenizer: `${MODELS}/tokenizer.json`, backend, wasm: WASM, int8Kernel, wasmUrl,
    }));
  }
  return encoders.get(key);
}

/**
 * Stands in for an earlier visit's int8 kernel timing: the entry js/kernel.js keeps for this
 * browser (its key and fields), or none for `null`.
 */
window.rememberKernel = async (choice) => {
  await forgetBackendChoices();
  if (!choice) return;
  const key = new URL(`/__cloister_int8_kernel__/v2/${encodeURIComponent(navigator.userAgent)}`, location.href).href;
  await (await caches.open('cloister-backend-v1')).put(key, new Response(JSON.stringify(choice)));
};

function cosine(a, b) {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
  return dot / Math.sqrt(na * nb);
}

window.parity = async ({ model, backend, int8Kernel, wasmUrl }) => {
  const enc = await encoder(model, backend, int8Kernel, wasmUrl);
  const ref = await (await fetch('/crate/tests/fixtures/minilm-l6-reference.json')).json();
  const texts = ref.sentences.map((s) => s.text);
  const ids = enc.tokenize(texts);
  const idMismatches = ids
    .map((row, i) => (JSON.stringify(Array.from(row)) === JSON.stringify(ref.sentences[i].input_ids) ? null : i))
    .filter((i) => i !== null);
  const started = performance.now();
  const rows = await enc.embed(texts);
  const ms = performance.now() - started;
  const cosines = rows.map((row, i) => cosine(row, ref.sentences[i].embedding));
  return {
    backend: enc.backend, reason: enc.backendReason, precision: enc.precision,
    wasmBuild: enc.wasmBuild, idMismatches, minCosine: Math.min(...cosines), ms,
    linearKernel: enc.linearKernel, linearFallbacks: enc.linearFallbacks, int8Kernel: enc.int8Kernel,
    first: Array.from(rows[0]), rows: rows.map((r) => Array.from(r)),
  };
};

/** A load that should fail: the error's name, kind and message. */
window.loadFailure = async (options) => {
  try {
    await SentenceEncoder.load({ model: `${MODELS}/model.int8.bpk`, tokenizer: `${MODELS}/tokenizer.json`, wasm: WASM, ...options });
    return null;
  } catch (e) {
    return { name: e.name, kind: e.kind, message: e.message };
  }
};

// A new encoder each call (no reuse), so each call goes through the backend choice again.
window.measured = async ({ model }) => {
  const enc = await SentenceEncoder.load({
    model: `${MODELS}/${model}`, tokenizer: `${MODELS}/tokenizer.json`, backend: 'measure', wasm: WASM,
  });
  const ref = await (await fetch('/crate/tests/fixtures/minilm-l6-reference.json')).json();
  const rows = await enc.embed(ref.sentences.map((s) => s.text));
  const cosines = rows.map((row, i) => cosine(row, ref.sentences[i].embedding));
  return { backend: enc.backend, reason: enc.backendReason, wasmBuild: enc.wasmBuild, minCosine: Math.min(...cosines) };
};

window.edgeInputs = async ({ model, backend }) => {
  const enc = await encoder(model, backend);
  const huge = 'the quick brown fox jumps over the lazy dog '.repeat(25000);
  const rows = await enc.embed(['', huge]);
  const norms = rows.map((r) => Math.sqrt(r.reduce((s, x) => s + x * x, 0)));
  let emptyBatch = null;
  try {
    await enc.embed([]);
  } catch (e) {
    emptyBatch = { name: e.name, kind: e.kind, message: e.message };
  }
  return { norms, emptyBatch, linearKernel: enc.linearKernel, linearFallbacks: enc.linearFallbacks };
};

/** The int8 kernel of this page's build against the portable reference, inside the wasm. */
window.kernelCheck = async () => {
  const { build, pkg } = await startWasm({ wasm: WASM, backend: 'cpu' });
  return { build, ...pkg.int8KernelCheck() };
};

/** A load with integrity pins and progress, as `Cloister.open` does it. */
window.pinnedLoad = async ({ model, pin }) => {
  const progress = [];
  const manifest = await (await fetch('/models/manifest.json')).json();
  try {
    const enc = await SentenceEncoder.load({
      model: `${MODELS}/${model}`, tokenizer: `${MODELS}/tokenizer.json`, backend: 'cpu', wasm: WASM,
      integrity: { model: pin ?? manifest.converted[model].sha256, tokenizer: manifest.source.files['tokenizer.json'].sha256 },
      onProgress: (p) => progress.push(p),
    });
    const [v] = await enc.embed(['a pinned model']);
    return { ok: true, len: v.length, progress: progress.map((p) => [p.what, p.cached]) };
  } catch (e) {
    return { ok: false, name: e.name, kind: e.kind, url: e.url, expected: e.expected, actual: e.actual };
  }
};

/** A tokenizer.json edited so that `hello` has an id past the model's word table. */
window.foreignTokenizer = async ({ model, backend }) => {
  const tokenizer = await (await fetch(`${MODELS}/tokenizer.json`)).json();
  tokenizer.model.vocab.hello = 40000;
  try {
    const enc = await SentenceEncoder.load({
      model: `${MODELS}/${model}`, tokenizer: new TextEncoder().encode(JSON.stringify(tokenizer)), backend, wasm: WASM,
    });
    await enc.embed(['hello world']);
    return null;
  } catch (e) {
    return { name: e.name, kind: e.kind, message: e.message };
  }
};

window.loadError = async ({ model, tokenizer, backend, mangle }) => {
  let modelBytes = new Uint8Array(await (await fetch(`${MODELS}/${model}`)).arrayBuffer());
  if (mangle === 'truncate') modelBytes = modelBytes.slice(0, modelBytes.length >> 1);
  if (mangle === 'garbage') modelBytes = new TextEncoder().encode('<html>404 not found</html>');
  const tokenizerBytes = tokenizer === 'garbage'
    ? new TextEncoder().encode('{not json')
    : `${MODELS}/tokenizer.json`;
  try {
    await SentenceEncoder.load({ model: modelBytes, tokenizer: tokenizerBytes, backend, wasm: WASM });
    return null;
  } catch (e) {
    return { name: e.name, kind: e.kind, message: e.message };
  }
};

document.getElementById('status').textContent = 'ready';
window.ready = true;

/**
 * The multilingual model, loaded by name (files and pins from /models/): token ids, unknown
 * shares and embeddings of `lines` ([{ role, text }]) on `backend`.
 */
window.multilingual = async ({ backend, lines }) => {
  const enc = await SentenceEncoder.load({ model: 'multilingual', backend, wasm: WASM });
  const out = { backend: enc.backend, modelName: enc.modelName, ids: [], shares: [], rows: [] };
  const started = performance.now();
  for (const { role, text } of lines) {
    out.ids.push(Array.from(enc.tokenize([text], { role })[0]));
    out.shares.push(enc.unknownShares([text], { role })[0]);
  }
  for (const role of ['query', 'passage']) {
    const group = lines.map((l, i) => [l, i]).filter(([l]) => l.role === role);
    const rows = await enc.embed(group.map(([l]) => l.text), { role });
    group.forEach(([, i], j) => { out.rows[i] = Array.from(rows[j]); });
  }
  out.ms = performance.now() - started;
  return out;
};
