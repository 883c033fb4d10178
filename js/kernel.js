// The CPU path's int8 kernel, settled once per wasm instance before its first model, and the same
// on every visit from this browser. The 'cpu-relaxed' build can run its byte-dot kernel or the
// SIMD128 one; which is faster depends on the CPU (AVX-VNNI) and the engine, so it times both
// once (about 40 ms) and remembers the answer for this browser version in the Cache API, beside
// the backend choices (`forgetBackendChoices` clears both). Remembering also keeps the vectors
// stable: the two kernels differ in their last bits, and a profile's cached embeddings should
// not shift with a reload's timing noise. Nothing is sent anywhere.
import { fromWasm } from './errors.js';
import { rememberChoice, rememberedChoice } from './measure.js';
import { hasRelaxedSimd } from './features.js';

export const INT8_KERNELS = ['auto', 'simd128', 'relaxed-dot'];

// Per wasm module: the choice as reported (with the timings of the visit that made it).
const settled = new WeakMap();

// v2: choices made before the probe asked for a win of more than one clock step (2026-12-08)
// may have kept the slower kernel on one 1 ms tick in Firefox; each browser times once more.
function cacheKey() {
  const id = encodeURIComponent(globalThis.navigator?.userAgent ?? 'unknown');
  return new URL(`/__cloister_int8_kernel__/v2/${id}`, self.location.href).href;
}

const validKernelChoice = (c) => ['simd128', 'relaxed-dot'].includes(c.kernel)
  && Number.isFinite(c.simd128) && Number.isFinite(c.relaxedDot);

/**
 * The int8 kernel an earlier visit from this browser settled on, 'simd128' or 'relaxed-dot', or
 * null (never timed, forgotten, no Cache API). `planBackend` (js/wasm.js) reads it before
 * choosing a CPU build.
 */
export async function rememberedInt8Kernel() {
  return (await rememberedKernelChoice())?.kernel ?? null;
}

/** This browser's remembered timing, `{ kernel, simd128, relaxedDot }`, or null. */
async function rememberedKernelChoice() {
  if (typeof caches === 'undefined') return null; // and no `self.location` to key by (Node)
  return rememberedChoice(cacheKey(), validKernelChoice);
}

/**
 * Settles `pkg`'s int8 kernel before a model loads: `requested` 'simd128' or 'relaxed-dot' is
 * forced; 'auto' in the 'cpu-relaxed' build takes this browser's remembered choice, or times
 * both kernels and remembers the result. Other builds have one kernel: nothing to choose.
 */
export async function settleInt8Kernel(pkg, build, requested = 'auto') {
  if (!INT8_KERNELS.includes(requested)) {
    throw new TypeError(`int8Kernel must be one of ${INT8_KERNELS.join(', ')}, got '${requested}'`);
  }
  if (!pkg.int8KernelChoice) return;
  if (requested !== 'auto') {
    try {
      pkg.setInt8Kernel(requested);
    } catch (e) {
      throw fromWasm(e);
    }
    return;
  }
  if (settled.has(pkg)) return;
  if (build === 'cpu') {
    // The plain build has the SIMD128 kernel only. In a browser with relaxed SIMD it runs
    // because that kernel won this browser's timing (or the page asked for this build): report
    // the timing that chose it.
    if (!hasRelaxedSimd()) return;
    const known = await rememberedKernelChoice();
    if (known?.kernel === 'simd128' && !settled.has(pkg)) settled.set(pkg, { ...known, remembered: true });
    return;
  }
  if (build !== 'cpu-relaxed') return;
  const known = await rememberedKernelChoice();
  if (known && !settled.has(pkg)) {
    try {
      pkg.setInt8Kernel(known.kernel);
      settled.set(pkg, { ...known, remembered: true });
      return;
    } catch {
      return; // this instance already runs a kernel (an earlier load forced one): it keeps it
    }
  }
  const timed = pkg.int8KernelChoice();
  if (Number.isFinite(timed?.simd128)) await rememberChoice(cacheKey(), timed);
}

/**
 * The kernel `pkg` runs: `{ kernel, simd128, relaxedDot }`, the timings (ms) of the visit that
 * chose it, with `remembered: true` where that was an earlier visit; null timings where the
 * kernel was forced or the build has one.
 */
export function int8KernelInfo(pkg) {
  return settled.get(pkg) ?? pkg.int8KernelChoice();
}
