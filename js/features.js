// What this browser's WebAssembly validates: the two probes every choice of build starts from.
import { UnsupportedBrowserError } from './errors.js';

// The smallest module that uses SIMD128, which every build is compiled with (.cargo/config.toml):
// one function returning i8x16.popcnt(i8x16.splat(i32.const 0)). Browsers without it (Safari
// before 16.4) fail it, and get a typed error instead of a CompileError from deep in the glue.
const SIMD128_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0,
  10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);

export function requireSimd128() {
  if (!WebAssembly.validate(SIMD128_PROBE)) {
    throw new UnsupportedBrowserError('this browser\'s WebAssembly has no SIMD128, which every ' +
      'Cloister build needs (Chrome 91+, Firefox 89+, Safari 16.4+)', 'unsupported_browser',
    { missing: 'wasm-simd128' });
  }
}

// One function computing i32x4.relaxed_dot_i8x16_i7x16_add_s on three i8x16.splat(0):
// browsers without relaxed SIMD (Safari, Firefox before 146) fail it and load the plain CPU build.
const RELAXED_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0,
  10, 19, 1, 17, 0, 65, 0, 253, 15, 65, 0, 253, 15, 65, 0, 253, 15, 253, 147, 2, 11]);

/** Whether this browser's WebAssembly has relaxed SIMD (what the 'cpu-relaxed' build needs). */
export function hasRelaxedSimd() {
  return WebAssembly.validate(RELAXED_PROBE);
}
