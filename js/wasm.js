// Starts the wasm once per build and realm, and picks the build for the backend the way ruffle
// picks among its builds. Two builds of the same core and API:
//   'webgpu'  burn-wgpu and the CPU path (dist/pkg/),
//   'cpu'     the CPU path only (dist/pkg/cpu/), about 4 MB smaller gzipped.
// A browser without a usable hardware WebGPU adapter never downloads wgpu.

const BUILDS = {
  webgpu: {
    glue: () => import('../dist/pkg/cloister.js'),
    wasm: () => new URL('../dist/pkg/cloister_bg.wasm', import.meta.url),
  },
  cpu: {
    glue: () => import('../dist/pkg/cpu/cloister.js'),
    wasm: () => new URL('../dist/pkg/cpu/cloister_bg.wasm', import.meta.url),
  },
};

/**
 * What the browser says about its WebGPU adapter: `{ fallback, description }`, or null without a
 * usable one. `fallback` marks a software adapter (SwiftShader).
 */
export async function adapterInfo() {
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
}

/**
 * Whether this realm has a hardware WebGPU adapter: what `backend: 'auto'` runs on. A software
 * adapter (`isFallbackAdapter`, SwiftShader) does not count: the CPU path is far faster.
 */
export async function hasHardwareWebGpu() {
  const adapter = await adapterInfo();
  return Boolean(adapter && !adapter.fallback);
}

/** The build a backend request needs: 'webgpu' | 'cpu'. */
export async function pickWasmBuild(backend = 'auto') {
  if (backend === 'cpu') return 'cpu';
  if (backend === 'webgpu') return 'webgpu';
  if (backend === 'measure') return (await adapterInfo()) ? 'webgpu' : 'cpu';
  return (await hasHardwareWebGpu()) ? 'webgpu' : 'cpu';
}

// Per glue module: the build and URL it was started with, and the start itself. wasm-bindgen's
// glue holds one instance: a second start of the same glue from another URL would silently
// return the first instance, so that is an error instead.
const started = new Map();

/**
 * Instantiates a build once per realm; resolves to `{ build, pkg }` (the wasm-bindgen module).
 * `wasm`: 'auto' (default: the build `backend` needs), 'webgpu' or 'cpu'. `wasmUrl`: where the
 * wasm is served from when not next to its glue, one URL (the WebGPU build, reported as
 * 'custom') or `{ webgpu, cpu }`. 'custom' and 'webgpu' share the WebGPU build's glue, so a
 * realm runs at most one of them.
 */
export async function startWasm({ wasm = 'auto', wasmUrl, backend = 'auto' } = {}) {
  if (!['auto', 'webgpu', 'cpu'].includes(wasm)) {
    throw new TypeError(`wasm must be 'auto', 'webgpu' or 'cpu', got '${wasm}'`);
  }
  let build = wasm === 'auto' ? await pickWasmBuild(backend) : wasm;
  let url = BUILDS[build].wasm();
  if (typeof wasmUrl === 'string' || wasmUrl instanceof URL) {
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
  const start = (async () => {
    const pkg = await BUILDS[glue].glue();
    await pkg.default({ module_or_path: url });
    return { build, pkg };
  })();
  started.set(glue, { build, href, start });
  start.catch(() => started.delete(glue)); // a failed start may be retried
  return start;
}
