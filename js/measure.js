// Picking a backend by measurement. `auto` on a hardware WebGPU adapter cannot know in advance
// whether WebGPU or the CPU path (wasm SIMD) is faster: a weak integrated GPU, a busy one, or a
// driver with slow compute can lose to the CPU. So it times both once on a few fixed sentences,
// remembers the answer for this adapter and model in the Cache API (windows and workers both
// have it), and reuses it on later visits. `backend: 'measure'` does the same on any adapter,
// software ones included. The measurement runs on the device; nothing is sent anywhere.
import { WebGPUUnavailableError } from './errors.js';
import { sha256Hex } from './model.js';

const CACHE = 'cloister-backend-v1';

/** Short texts like a storefront's, embedded once to warm up (shader compiles) and once timed. */
const PROBE = [
  'red trail running shoes',
  'Waterproof hiking jacket with a packable hood, recycled nylon shell',
  'noise cancelling headphones under 200',
  'Cast iron skillet, 12 inch, pre-seasoned',
  'a slow-burn mystery set in a coastal village',
  'Organic green tea, 100 bags',
  'kids bike with training wheels 16 inch',
  'Stainless steel water bottle that keeps drinks cold for 24 hours',
];

function cacheKey(adapter, modelSha) {
  const id = encodeURIComponent(`${adapter.description}|${modelSha}`);
  return new URL(`/__cloister_backend_choice__/${id}`, self.location.href).href;
}

/**
 * A choice remembered under `key` in this realm's Cache API, or null (none, no Cache API, a
 * damaged entry, or one `valid` refuses): then measure again. `js/kernel.js` keeps its int8
 * kernel choice here too, so `forgetBackendChoices` forgets both.
 */
export async function rememberedChoice(key, valid) {
  if (typeof caches === 'undefined') return null;
  try {
    const hit = await (await caches.open(CACHE)).match(key);
    const choice = hit ? await hit.json() : null;
    return choice && valid(choice) ? choice : null;
  } catch {
    return null;
  }
}

/** Keeps `choice` under `key`; without the Cache API, or over quota, it holds for this session only. */
export async function rememberChoice(key, choice) {
  if (typeof caches === 'undefined') return;
  try {
    await (await caches.open(CACHE)).put(key, new Response(JSON.stringify(choice),
      { headers: { 'Content-Type': 'application/json' } }));
  } catch {
    // Quota or no Cache API: the choice is still used for this session.
  }
}

const validBackendChoice = (c) => ['webgpu', 'cpu'].includes(c.backend)
  && Number.isFinite(c.webgpu) && Number.isFinite(c.cpu);

/**
 * Forgets every remembered choice: the next `auto` on a hardware adapter measures again, and the
 * next 'cpu-relaxed' instance times its int8 kernels again (`js/kernel.js` keeps its choice here).
 */
export async function forgetBackendChoices() {
  if (typeof caches !== 'undefined') await caches.delete(CACHE);
}

/** Sentences per second of one timed pass over the probe, after one warm-up pass. */
async function rate(encoder) {
  await encoder.embed(PROBE);
  const started = performance.now();
  await encoder.embed(PROBE);
  return PROBE.length / ((performance.now() - started) / 1000);
}

/**
 * Loads `model` on the faster of WebGPU and the CPU path, by a remembered measurement or a new
 * one, with `pkg` (the WebGPU build's module, which has both). Resolves to
 * `{ encoder, reason }`. When WebGPU fails to start, the CPU path is used and nothing is
 * remembered.
 */
export async function loadMeasured(pkg, model, tokenizer, adapter) {
  const key = cacheKey(adapter, await sha256Hex(model));
  const kind = adapter.fallback ? 'software' : 'hardware';
  const known = await rememberedChoice(key, validBackendChoice);
  if (known) {
    const rates = `WebGPU ${known.webgpu.toFixed(1)} vs CPU ${known.cpu.toFixed(1)} sentences/s`;
    try {
      const encoder = await pkg.WasmEncoder.load(model, tokenizer, known.backend);
      return { encoder, reason: `measure: remembered for ${kind} adapter ${adapter.description}: ${rates}` };
    } catch (e) {
      if (known.backend === 'cpu') throw e;
      const encoder = await pkg.WasmEncoder.load(model, tokenizer, 'cpu');
      return { encoder, reason: `measure: remembered WebGPU did not start (${e?.message ?? e}); CPU` };
    }
  }
  let gpu;
  try {
    gpu = await pkg.WasmEncoder.load(model, tokenizer, 'webgpu');
  } catch (e) {
    const encoder = await pkg.WasmEncoder.load(model, tokenizer, 'cpu');
    return { encoder, reason: `measure: WebGPU did not start (${e?.message ?? e}); CPU` };
  }
  let gpuRate;
  try {
    gpuRate = await rate(gpu);
  } catch (e) {
    gpu.free();
    const encoder = await pkg.WasmEncoder.load(model, tokenizer, 'cpu');
    return { encoder, reason: `measure: WebGPU failed while measuring (${e?.message ?? e}); CPU` };
  }
  const cpu = await pkg.WasmEncoder.load(model, tokenizer, 'cpu');
  const cpuRate = await rate(cpu);
  const backend = gpuRate > cpuRate ? 'webgpu' : 'cpu';
  (backend === 'webgpu' ? cpu : gpu).free();
  await rememberChoice(key, { backend, webgpu: gpuRate, cpu: cpuRate, at: Date.now() });
  return {
    encoder: backend === 'webgpu' ? gpu : cpu,
    reason: `measure: measured on ${kind} adapter ${adapter.description}: ` +
      `WebGPU ${gpuRate.toFixed(1)} vs CPU ${cpuRate.toFixed(1)} sentences/s`,
  };
}

/**
 * Loads the encoder as `plan` (from `planBackend`, `js/wasm.js`) says, with `pkg` (the module
 * of the build it started): 'cpu' and 'webgpu' directly, 'measure' by timing both paths of the
 * WebGPU build. Resolves to `{ encoder, reason }`.
 */
export async function loadEncoder(pkg, plan, model, tokenizer) {
  if (plan.run === 'measure') return loadMeasured(pkg, model, tokenizer, plan.adapter);
  if (plan.run === 'webgpu' && !plan.adapter) {
    throw new WebGPUUnavailableError(
      'WebGPU was asked for, but navigator.gpu is missing or requestAdapter() gave no adapter',
      'webgpu_unavailable');
  }
  const encoder = await pkg.WasmEncoder.load(model, tokenizer, plan.run);
  return { encoder, reason: plan.reason };
}
