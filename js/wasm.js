// Starts the wasm once per build and realm, and decides, in one place, which build to load and
// which backend to run: the way ruffle probes the browser once and picks among its builds. The
// adapter is probed once per realm; the wasm is told what was decided and probes nothing.
//
// Three builds of the same core and API with the encoder:
//   'webgpu'       burn-wgpu and the CPU path (dist/pkg/),
//   'cpu'          the CPU path only (dist/pkg/cpu/), about 4 MB smaller gzipped;
//   'cpu-relaxed'  the same with relaxed SIMD (dist/pkg/cpu-relaxed/): its int8 kernel may use
//                  byte dot products, which it times against the SIMD128 kernel once per
//                  instance (faster only where the CPU has them, e.g. AVX-VNNI); what `auto`
//                  loads in place of 'cpu' wherever the browser validates relaxed SIMD, until
//                  this browser's timing keeps the SIMD128 kernel: from then on 'cpu' runs that
//                  kernel without the unused one, bit for bit the same and 1.17x faster in
//                  Firefox 153 on an AVX2 EPYC, equal in Chromium (docs/benchmarks.md);
// and one without it:
//   'rank'    the recommender alone (dist/pkg/rank/, about 0.3 MB gzipped against 1.8 MB): it
//             serves a lazily loaded encoder's first ranking on the server's embeddings, and
//             is handed the encoder build's encoder when that arrives (`setEmbedder`).
// A browser without a usable hardware WebGPU adapter never downloads wgpu.

import { UnsupportedBrowserError } from './errors.js';
import { hasRelaxedSimd, requireSimd128 } from './features.js';
import { INT8_KERNELS, rememberedInt8Kernel } from './kernel.js';

export { hasRelaxedSimd };

const BUILDS = {
  webgpu: {
    glue: () => import('../dist/pkg/cloister.js'),
    wasm: () => new URL('../dist/pkg/cloister_bg.wasm', import.meta.url),
  },
  cpu: {
    glue: () => import('../dist/pkg/cpu/cloister.js'),
    wasm: () => new URL('../dist/pkg/cpu/cloister_bg.wasm', import.meta.url),
  },
  'cpu-relaxed': {
    glue: () => import('../dist/pkg/cpu-relaxed/cloister.js'),
    wasm: () => new URL('../dist/pkg/cpu-relaxed/cloister_bg.wasm', import.meta.url),
  },
  rank: {
    glue: () => import('../dist/pkg/rank/cloister.js'),
    wasm: () => new URL('../dist/pkg/rank/cloister_bg.wasm', import.meta.url),
  },
};

const BACKENDS = ['auto', 'webgpu', 'cpu', 'measure'];

const WASM_CHOICES = ['auto', 'webgpu', 'cpu', 'cpu-relaxed'];

let probe = null;

/**
 * What the browser says about its WebGPU adapter: `{ fallback, description }`, or null without
 * one. `fallback` marks a software adapter (SwiftShader). Asked once per realm.
 */
export function adapterInfo() {
  probe ??= (async () => {
    try {
      const adapter = await globalThis.navigator?.gpu?.requestAdapter?.();
      if (!adapter) return null;
      const info = adapter.info ?? {};
      return {
        fallback: Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter ?? false),
        description: [info.vendor, info.architecture, info.device, info.description]
          .filter(Boolean).join(' ') || 'unnamed adapter',
      };
    } catch {
      return null;
    }
  })();
  return probe;
}

/**
 * Whether this realm has a hardware WebGPU adapter: what `backend: 'auto'` runs on. A software
 * adapter (`isFallbackAdapter`, SwiftShader) does not count: the CPU path is far faster.
 */
export async function hasHardwareWebGpu() {
  const adapter = await adapterInfo();
  return Boolean(adapter && !adapter.fallback);
}

/**
 * The CPU-only build `wasm: 'auto'` loads for an `int8Kernel` request, and why where it is not
 * the default: 'cpu-relaxed' where the browser validates relaxed SIMD, unless the SIMD128
 * kernel is asked for or an earlier visit's timing kept it (js/kernel.js); then 'cpu'.
 */
async function cpuBuildFor(int8Kernel) {
  if (!hasRelaxedSimd()) return { build: 'cpu', why: null };
  if (int8Kernel === 'simd128') return { build: 'cpu', why: 'the SIMD128 int8 kernel was asked for' };
  if (int8Kernel === 'auto' && (await rememberedInt8Kernel()) === 'simd128') {
    return { build: 'cpu', why: 'this browser\'s timing kept the SIMD128 int8 kernel' };
  }
  return { build: 'cpu-relaxed', why: null };
}

/**
 * The one decision: for a `backend` request, the build the page allows (`wasm`: 'auto',
 * 'webgpu', 'cpu' or 'cpu-relaxed') and the int8 kernel it asks for (`int8Kernel`: 'auto',
 * 'simd128' or 'relaxed-dot'), which build to load and what to run on it. Below, "cpu build" is
 * `wasm` where it is not 'auto', else `cpuBuildFor(int8Kernel)`.
 * Resolves to `{ build, run, adapter, reason }`, `run` being 'cpu', 'webgpu' or 'measure' (time both paths
 * of the WebGPU build, `js/measure.js`).
 *
 * | backend   | no adapter                | software adapter            | hardware adapter   |
 * |-----------|---------------------------|-----------------------------|--------------------|
 * | 'cpu'     | cpu build, cpu            | cpu build, cpu              | cpu build, cpu     |
 * | 'auto'    | cpu build, cpu            | cpu build, cpu              | webgpu, measure    |
 * | 'measure' | cpu build, cpu            | webgpu, measure             | webgpu, measure    |
 * | 'webgpu'  | WebGPUUnavailableError    | webgpu, webgpu              | webgpu, webgpu     |
 *
 * A page that forces `wasm: 'cpu'` (or 'cpu-relaxed') gets the CPU path whatever it asks, except
 * 'webgpu', which fails in the wasm with the reason.
 */
export async function planBackend(backend = 'auto', wasm = 'auto', int8Kernel = 'auto') {
  if (!BACKENDS.includes(backend)) {
    throw new TypeError(`backend must be one of ${BACKENDS.join(', ')}, got '${backend}'`);
  }
  if (!WASM_CHOICES.includes(wasm)) {
    throw new TypeError(`wasm must be one of ${WASM_CHOICES.join(', ')}, got '${wasm}'`);
  }
  if (!INT8_KERNELS.includes(int8Kernel)) {
    throw new TypeError(`int8Kernel must be one of ${INT8_KERNELS.join(', ')}, got '${int8Kernel}'`);
  }
  const build = (wanted) => (wasm !== 'auto' ? wasm : wanted);
  // The CPU path's plan: the CPU build, and why where it is not the default.
  const onCpu = async (adapter, reason) => {
    if (wasm !== 'auto') return { build: wasm, run: 'cpu', adapter, reason };
    const cpu = await cpuBuildFor(int8Kernel);
    if (!cpu.why) return { build: cpu.build, run: 'cpu', adapter, reason };
    return { build: cpu.build, run: 'cpu', adapter, reason: `${reason}; plain CPU build: ${cpu.why}`, plainForKernel: true };
  };
  if (backend === 'cpu') return onCpu(null, 'cpu requested');
  const adapter = await adapterInfo();
  if (backend === 'webgpu') {
    return { build: build('webgpu'), run: 'webgpu', adapter,
      reason: `webgpu requested; adapter ${adapter?.description ?? 'none'}` };
  }
  const why = !adapter
    ? 'no WebGPU adapter (navigator.gpu is missing or requestAdapter() gave none)'
    : `the WebGPU adapter is a software fallback (${adapter.description}), slower than the CPU path`;
  const usable = adapter && (backend === 'measure' || !adapter.fallback);
  if (!usable || build('webgpu') !== 'webgpu') {
    let reason = `${backend}: ${why}`;
    if (usable) reason = `${backend}: the CPU-only build was asked for`;
    else if (backend === 'measure') reason = `measure: nothing to measure against (${why})`;
    return onCpu(adapter, reason);
  }
  return { build: 'webgpu', run: 'measure', adapter, reason: `${backend}: adapter ${adapter.description}` };
}

/** The build a backend request needs: 'webgpu' | 'cpu' | 'cpu-relaxed'. */
export async function pickWasmBuild(backend = 'auto') {
  return (await planBackend(backend)).build;
}

// Per glue module: the build and URL it was started with, and the start itself. wasm-bindgen's
// glue holds one instance: a second start of the same glue from another URL would silently
// return the first instance, so that is an error instead.
const started = new Map();

/**
 * Instantiates a build once per realm; resolves to `{ build, pkg }` (the wasm-bindgen module).
 * `build`: 'webgpu', 'cpu', 'cpu-relaxed' or 'rank'. `wasmUrl`: where the wasm is served from
 * when not next to its glue, one URL (the WebGPU build, reported as 'custom') or
 * `{ webgpu, cpu, 'cpu-relaxed', rank }`.
 * 'custom' and 'webgpu' share the WebGPU build's glue, so a realm runs at most one of them.
 */
export async function startBuild(build, wasmUrl) {
  let url = BUILDS[build].wasm();
  if (build !== 'rank' && (typeof wasmUrl === 'string' || wasmUrl instanceof URL)) {
    [build, url] = ['custom', wasmUrl];
  } else if (wasmUrl?.[build]) {
    url = wasmUrl[build];
  }
  const glue = build === 'custom' ? 'webgpu' : build;
  const href = String(url);
  const running = started.get(glue);
  if (running) {
    if (running.build !== build || running.href !== href) {
      throw new Error(`the ${glue} build's glue already runs ${running.href} (${running.build}) in ` +
        `this realm and cannot also run ${href} (${build}): a realm runs one wasm per glue`);
    }
    return running.start;
  }
  requireSimd128();
  if (build === 'cpu-relaxed' && !hasRelaxedSimd()) {
    throw new UnsupportedBrowserError('this browser\'s WebAssembly has no relaxed SIMD, which the ' +
      'cpu-relaxed build needs: load the cpu build (wasm: \'cpu\' or \'auto\')', 'unsupported_browser',
    { missing: 'wasm-relaxed-simd' });
  }
  const start = (async () => {
    // The wasm's download starts beside the glue's, not after it: on a first visit over a
    // 40 ms link that is a round trip and the glue's transfer sooner (1.8 MB, the largest file
    // before the first ranking).
    const wasm = fetch(url);
    wasm.catch(() => {}); // awaited (and its error thrown) by the glue's init below
    const pkg = await BUILDS[glue].glue();
    await pkg.default({ module_or_path: wasm });
    return { build, pkg };
  })();
  started.set(glue, { build, href, start });
  start.catch(() => started.delete(glue)); // a failed start may be retried
  return start;
}

/**
 * Plans the backend and starts the build it needs: resolves to `{ build, pkg, plan }`.
 * Options: `backend` ('auto' | 'webgpu' | 'cpu' | 'measure'), `wasm` ('auto' | 'webgpu' | 'cpu' |
 * 'cpu-relaxed'), `int8Kernel` ('auto' | 'simd128' | 'relaxed-dot'), `wasmUrl` (see `startBuild`).
 */
export async function startWasm({ wasm = 'auto', wasmUrl, backend = 'auto', int8Kernel = 'auto' } = {}) {
  const plan = await planBackend(backend, wasm, int8Kernel);
  const { build, pkg } = await startPlanned(plan, wasm, wasmUrl);
  return { build, pkg, plan };
}

/**
 * Starts the build `plan` names (from `planBackend(…, wasm, …)`); resolves to `{ build, pkg }`.
 * Where the page leaves the build to the package, the two CPU-only builds stand in for each
 * other: a page that hosts the plain one elsewhere but not the relaxed one gets the one it
 * hosts, and a plain build picked for its kernel that does not start (offline, with only the
 * relaxed build cached on an earlier visit) gives way to the relaxed one, whose SIMD128 kernel
 * gives the same bits.
 */
export async function startPlanned(plan, wasm = 'auto', wasmUrl) {
  if (plan.build === 'cpu-relaxed' && wasm === 'auto' && wasmUrl?.cpu && !wasmUrl['cpu-relaxed']) {
    plan.build = 'cpu';
  }
  try {
    return await startBuild(plan.build, wasmUrl);
  } catch (e) {
    if (!plan.plainForKernel) throw e;
    const relaxed = await startBuild('cpu-relaxed', wasmUrl).catch(() => { throw e; });
    plan.build = 'cpu-relaxed';
    plan.reason += `; it did not start (${e?.message ?? e}), so the relaxed build runs that kernel`;
    return relaxed;
  }
}
