// Starts the wasm once per realm and picks the build this browser runs fastest, the way ruffle
// picks among its builds: the relaxed-SIMD build (fused multiply-add in the matmul kernels)
// where the engine validates relaxed SIMD, else the SIMD128 baseline every browser runs.
import init from '../dist/pkg/cloister.js';

// (module (func (result v128)
//   (f32x4.relaxed_madd (v128.const i64x2 0 0) (v128.const i64x2 0 0) (v128.const i64x2 0 0))))
const V128_ZERO = [0xfd, 0x0c, ...new Array(16).fill(0)];
const BODY = [0x00, ...V128_ZERO, ...V128_ZERO, ...V128_ZERO, 0xfd, 0x85, 0x02, 0x0b];
const RELAXED_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type: () -> v128
  0x03, 0x02, 0x01, 0x00, // one function of that type
  0x0a, BODY.length + 2, 0x01, BODY.length, ...BODY, // its code
]);

/** Whether this engine accepts relaxed SIMD (Chrome 114+; not every browser). */
export function supportsRelaxedSimd() {
  try {
    return WebAssembly.validate(RELAXED_PROBE);
  } catch {
    return false;
  }
}

const BUILDS = {
  'relaxed-simd': () => new URL('../dist/pkg/cloister_bg.relaxed.wasm', import.meta.url),
  simd128: () => new URL('../dist/pkg/cloister_bg.wasm', import.meta.url),
};

let started = null;

/**
 * Instantiates the wasm once; resolves to the build in use: 'relaxed-simd' | 'simd128' |
 * 'custom'. `wasm`: 'auto' (default), 'relaxed-simd' or 'simd128'; `wasmUrl` overrides both
 * (an app that serves the wasm itself).
 */
export function startWasm({ wasm = 'auto', wasmUrl } = {}) {
  started ??= (async () => {
    if (wasmUrl) {
      await init({ module_or_path: wasmUrl });
      return 'custom';
    }
    if (wasm !== 'auto' && !BUILDS[wasm]) {
      throw new TypeError(`wasm must be 'auto', 'relaxed-simd' or 'simd128', got '${wasm}'`);
    }
    const build = wasm === 'auto' ? (supportsRelaxedSimd() ? 'relaxed-simd' : 'simd128') : wasm;
    try {
      await init({ module_or_path: BUILDS[build]() });
      return build;
    } catch (error) {
      // 'auto' never fails for want of the faster build (say, an app that copied only the
      // baseline wasm): the baseline runs everywhere.
      if (wasm !== 'auto' || build === 'simd128') throw error;
      await init({ module_or_path: BUILDS.simd128() });
      return 'simd128';
    }
  })();
  started.catch(() => { started = null; }); // a failed start may be retried
  return started;
}
