// One benchmark run per page load: open the library, time the first embedding from navigation
// start (cold start), then embed the same sentences in batches of 1 and 32, a warm-up pass and
// `rounds` timed passes each. The driver (scripts/bench.mjs) reads `window.result`.
const params = new URLSearchParams(location.search);
const lib = params.get('lib') ?? 'cloister';
const backend = params.get('backend') ?? (lib === 'cloister' ? 'cpu' : 'wasm');
const n = Number(params.get('n') ?? 256);
const rounds = Number(params.get('rounds') ?? 5);
const batches = (params.get('batches') ?? '1,32').split(',').map(Number);
const keep = params.get('keep') !== '0'; // return the embeddings (for the agreement check)
const logEl = document.getElementById('log');
const log = (line) => { logEl.textContent += line + '\n'; };

async function openCloister() {
  const { Cloister } = await import('../js/index.js');
  // ?encoder=multilingual: the multilingual model by name (files and pins from the package).
  const files = params.get('encoder') === 'multilingual' ? { model: 'multilingual' } : {
    model: params.get('model') ?? '../models/all-MiniLM-L6-v2/model.int8.bpk',
    tokenizer: '../models/all-MiniLM-L6-v2/tokenizer.json',
  };
  const rec = await Cloister.open({
    ...files,
    backend,
    wasm: params.get('wasm') ?? 'auto',
    int8Kernel: params.get('int8Kernel') ?? 'auto',
    profile: false,
    // One worker unless asked (?workers=2): the rows compare kernels, one thread against one.
    workers: Number(params.get('workers') ?? 1),
  });
  return {
    version: 'cloister',
    detail: { backend: rec.backend, reason: rec.backendReason, wasmBuild: rec.wasmBuild, int8Kernel: rec.int8Kernel, inWorker: rec.inWorker, precision: rec.precision, model: rec.modelName, workers: rec.embedPool.size },
    // One Float32Array(384) per text.
    embed: (texts) => rec.embed(texts),
  };
}

async function openTransformers() {
  const { pipeline, env } = await import('./node_modules/@huggingface/transformers/dist/transformers.min.js');
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  // A path, not a URL: transformers.js treats a full URL as remote and skips it in local mode.
  env.localModelPath = new URL('../models/peers/', location.href).pathname;
  // onnxruntime-web would fetch its wasm from a CDN; serve the copies in node_modules instead.
  env.backends.onnx.wasm.wasmPaths = new URL('./node_modules/onnxruntime-web/dist/', location.href).href;
  const extractor = await pipeline('feature-extraction', 'all-MiniLM-L6-v2', {
    device: backend, dtype: params.get('dtype') ?? 'q8',
  });
  return {
    version: `@huggingface/transformers ${env.version}`,
    detail: { backend, dtype: params.get('dtype') ?? 'q8', onnxruntime: env.backends.onnx.versions?.web ?? null },
    embed: async (texts) => {
      const out = await extractor(texts, { pooling: 'mean', normalize: true });
      const flat = out.data;
      return texts.map((_, i) => flat.subarray(i * 384, (i + 1) * 384));
    },
  };
}

/** The WebGPU adapter this page gets: `{ description, fallback }` (fallback: a software one). */
async function adapterInfo() {
  try {
    const adapter = await navigator.gpu?.requestAdapter();
    if (!adapter) return null;
    const info = adapter.info ?? {};
    return {
      description: [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'unnamed adapter',
      fallback: Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter ?? false),
    };
  } catch {
    return null;
  }
}

async function run() {
  const text = await (await fetch('../crate/benches/sentences-256.txt')).text();
  const sentences = text.split('\n').filter((l) => l.length > 0).slice(0, n);
  const library = lib === 'cloister' ? await openCloister() : await openTransformers();
  const loaded = performance.now();
  await library.embed([sentences[0]]);
  // performance.now() counts from the navigation's start: this is page load to first embedding.
  const firstEmbedding = performance.now();
  log(`${library.version}: first embedding at ${firstEmbedding.toFixed(0)} ms`);
  const result = {
    lib, backend, version: library.version, detail: library.detail, n,
    coldStartMs: firstEmbedding, openMs: loaded, throughput: {}, embeddings: null,
    adapter: backend === 'webgpu' ? await adapterInfo() : null,
  };
  for (const batch of batches) {
    const passes = [];
    let firstPass = null;
    for (let r = 0; r <= rounds; r++) {
      const out = [];
      const started = performance.now();
      for (let i = 0; i < sentences.length; i += batch) {
        out.push(...await library.embed(sentences.slice(i, i + batch)));
      }
      const ms = performance.now() - started;
      if (r === 0) firstPass = out; // warm-up pass: not timed
      else passes.push(sentences.length / (ms / 1000));
      log(`batch ${batch} ${r === 0 ? 'warm-up' : `round ${r}`}: ${(sentences.length / (ms / 1000)).toFixed(1)} sentences/s`);
    }
    const sorted = [...passes].sort((a, b) => a - b);
    result.throughput[batch] = { median: sorted[Math.floor(sorted.length / 2)], rounds: passes };
    if (keep && batch === batches[batches.length - 1]) {
      result.embeddings = firstPass.map((v) => Array.from(v));
    }
  }
  if (performance.memory) {
    result.jsHeap = { used: performance.memory.usedJSHeapSize, total: performance.memory.totalJSHeapSize };
  }
  return result;
}

run().then(
  (r) => { window.result = r; log('done'); },
  (e) => { window.result = { error: `${e?.name ?? "Error"}: ${e?.message ?? e}\n${e?.stack ?? ""}` }; log(`failed: ${e?.stack ?? e}`); },
);
