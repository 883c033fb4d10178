export type Backend = 'auto' | 'webgpu' | 'cpu';
export type Bytes = Uint8Array | ArrayBuffer;

export interface EncoderLoadOptions {
  /** The int8 `.bpk` record (or the fp32 `.safetensors`), as a URL or bytes. */
  model: string | Bytes;
  /** `tokenizer.json`, as a URL or bytes. */
  tokenizer: string | Bytes;
  /** `auto` (default) takes a hardware WebGPU adapter, else the CPU. */
  backend?: Backend;
  /** Where `cloister_bg.wasm` is served from, if not next to the glue. */
  wasmUrl?: string;
}

export declare class SentenceEncoder {
  static load(options: EncoderLoadOptions): Promise<SentenceEncoder>;
  readonly backend: 'webgpu' | 'cpu';
  readonly backendReason: string;
  readonly precision: 'int8' | 'fp32';
  tokenize(texts: string[]): number[][];
  /** One unit-length Float32Array(384) per text. */
  embed(texts: string[]): Promise<Float32Array[]>;
}

export declare function initWasm(wasmUrl?: string): Promise<unknown>;

export declare class CloisterError extends Error {
  readonly kind: string;
}
export declare class WebGPUUnavailableError extends CloisterError {}
export declare class ModelIntegrityError extends CloisterError {}
export declare class ModelFormatError extends CloisterError {}
export declare class InvalidInputError extends CloisterError {}
export declare class BackendError extends CloisterError {}
