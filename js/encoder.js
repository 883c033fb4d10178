// The sentence encoder in the browser: fetches the model and tokenizer (URLs or bytes),
// starts the wasm once, and wraps WasmEncoder with typed errors. Ranking lives in the core.
import { WasmEncoder } from '../dist/pkg/cloister.js';
import { fromWasm } from './errors.js';
import { startWasm } from './wasm.js';

/** Initialises the wasm module once per realm; resolves to the build in use. */
export function initWasm(wasmUrl) {
  return startWasm({ wasmUrl });
}

async function bytesOf(source, what) {
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  const response = await fetch(source);
  if (!response.ok) throw new Error(`${what}: GET ${source} answered ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

export class SentenceEncoder {
  #inner;
  constructor(inner, wasmBuild) {
    this.#inner = inner;
    this.wasmBuild = wasmBuild;
  }

  /**
   * @param {{model: string|Uint8Array|ArrayBuffer, tokenizer: string|Uint8Array|ArrayBuffer,
   *          backend?: 'auto'|'webgpu'|'cpu', wasm?: 'auto'|'relaxed-simd'|'simd128',
   *          wasmUrl?: string}} options
   */
  static async load({ model, tokenizer, backend = 'auto', wasm = 'auto', wasmUrl } = {}) {
    const wasmBuild = await startWasm({ wasm, wasmUrl });
    const [modelBytes, tokenizerBytes] = await Promise.all([
      bytesOf(model, 'model'), bytesOf(tokenizer, 'tokenizer')]);
    try {
      return new SentenceEncoder(await WasmEncoder.load(modelBytes, tokenizerBytes, backend), wasmBuild);
    } catch (error) {
      throw fromWasm(error);
    }
  }

  /** 'webgpu' or 'cpu'. */
  get backend() { return this.#inner.backend; }
  /** Why that backend was chosen. */
  get backendReason() { return this.#inner.backendReason; }
  /** 'int8' or 'fp32'. */
  get precision() { return this.#inner.precision; }

  /** Token ids per text. */
  tokenize(texts) {
    try {
      return this.#inner.tokenize(texts);
    } catch (error) {
      throw fromWasm(error);
    }
  }

  /** One Float32Array(384) per text, unit length. */
  async embed(texts) {
    let flat;
    try {
      flat = await this.#inner.embed(texts);
    } catch (error) {
      throw fromWasm(error);
    }
    return texts.map((_, i) => flat.subarray(i * 384, (i + 1) * 384));
  }
}
