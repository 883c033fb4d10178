// The sentence encoder in the browser: loads the model and tokenizer like `Cloister.open`
// (progress, integrity, cache), starts the wasm once, and wraps WasmEncoder with typed errors.
import { fromWasm } from './errors.js';
import { INT8_KERNELS, int8KernelInfo, settleInt8Kernel } from './kernel.js';
import { loadEncoder } from './measure.js';
import { loadBytes } from './model.js';
import { resolveModel } from './models.js';
import { startWasm } from './wasm.js';

/**
 * Initialises a wasm build once per realm ahead of use; resolves to the build started
 * ('webgpu' | 'cpu' | 'cpu-relaxed' | 'custom'). Options as `SentenceEncoder.load`'s `backend`, `wasm`,
 * `int8Kernel`, `wasmUrl`;
 * a string is a `wasmUrl`.
 */
export async function initWasm(options = {}) {
  const { build } = await startWasm(typeof options === 'string' ? { wasmUrl: options } : options);
  return build;
}

export class SentenceEncoder {
  #inner;
  #reason;
  #pkg;
  constructor(inner, wasmBuild, reason, pkg) {
    this.#inner = inner;
    this.wasmBuild = wasmBuild;
    this.#reason = reason;
    this.#pkg = pkg;
  }

  /**
   * Loads the model and tokenizer (URLs or bytes) the way `Cloister.open` does: streamed with
   * `onProgress`, checked against `integrity` sha256 pins (a mismatch is a ModelIntegrityError)
   * and cached by hash for the next visit.
   * `model` may also be a name, 'english' (the default) or 'multilingual', with `modelBase`.
   * @param {{model: string|Uint8Array|ArrayBuffer, tokenizer: string|Uint8Array|ArrayBuffer,
   *          backend?: 'auto'|'webgpu'|'cpu'|'measure', wasm?: 'auto'|'webgpu'|'cpu',
   *          wasmUrl?: string|{webgpu?: string, cpu?: string},
   *          integrity?: {model?: string, tokenizer?: string},
   *          int8Kernel?: 'auto'|'simd128'|'relaxed-dot',
   *          onProgress?: (p: object) => void}} options
   */
  static async load(options = {}) {
    const { model, tokenizer, backend = 'auto', wasm = 'auto', wasmUrl, integrity, onProgress, int8Kernel = 'auto' } = await resolveModel(options);
    if (!INT8_KERNELS.includes(int8Kernel)) {
      throw new TypeError(`int8Kernel must be one of ${INT8_KERNELS.join(', ')}, got '${int8Kernel}'`);
    }
    const { build: wasmBuild, pkg, plan } = await startWasm({ wasm, wasmUrl, backend, int8Kernel });
    await settleInt8Kernel(pkg, wasmBuild, int8Kernel);
    const [modelBytes, tokenizerBytes] = await Promise.all([
      loadBytes(model, { what: 'model', sha256: integrity?.model, onProgress }),
      loadBytes(tokenizer, { what: 'tokenizer', sha256: integrity?.tokenizer, onProgress }),
    ]);
    try {
      const { encoder, reason } = await loadEncoder(pkg, plan, modelBytes, tokenizerBytes);
      return new SentenceEncoder(encoder, wasmBuild, reason, pkg);
    } catch (error) {
      throw fromWasm(error);
    }
  }

  /** 'webgpu' or 'cpu'. */
  get backend() { return this.#inner.backend; }
  /** Why that backend was chosen. */
  get backendReason() { return this.#reason; }
  /** 'int8' or 'fp32'. */
  get precision() { return this.#inner.precision; }
  /** Diagnostics: what runs the linear layers ('int8', 'f32-matmul' or 'webgpu-linear'). */
  get linearKernel() { return this.#inner.linearKernel; }
  /** Diagnostics: linear layers the WebGPU kernel left to burn's matmul (0 expected). */
  get linearFallbacks() { return this.#inner.linearFallbacks; }
  /**
   * The CPU path's int8 kernel, `{ kernel: 'simd128' | 'relaxed-dot', simd128, relaxedDot }`
   * (the timings in ms where the 'cpu-relaxed' build chose by timing both), null on WebGPU.
   */
  get int8Kernel() { return this.backend === 'cpu' ? int8KernelInfo(this.#pkg) : null; }

  /** 'all-MiniLM-L6-v2' or 'multilingual-e5-small'. */
  get modelName() { return this.#inner.modelName; }

  /** Token ids per text, as the model reads them in `role` ('passage', the default, or 'query'). */
  tokenize(texts, { role } = {}) {
    try {
      return this.#inner.tokenize(texts, role);
    } catch (error) {
      throw fromWasm(error);
    }
  }

  /**
   * Per text, the share of its characters the model cannot read (0 to 1): above 0.5 its
   * embedding says little about it (Chinese with the English model).
   */
  unknownShares(texts, { role } = {}) {
    try {
      return Array.from(this.#inner.unknownShares(texts, role));
    } catch (error) {
      throw fromWasm(error);
    }
  }

  /**
   * One Float32Array(384) per text, unit length. `role`: 'passage' (items; the default) or
   * 'query' (searches, stated interests); the multilingual model reads the two differently.
   */
  async embed(texts, { role } = {}) {
    let flat;
    try {
      flat = await this.#inner.embed(texts, role);
    } catch (error) {
      throw fromWasm(error);
    }
    return texts.map((_, i) => flat.subarray(i * 384, (i + 1) * 384));
  }
}
