/**
 * 'auto': a hardware WebGPU adapter is timed against the CPU path once (a few fixed sentences;
 * the answer is remembered per adapter and model), no adapter or a software one means the CPU.
 * 'measure': the same timing on any adapter. 'webgpu' / 'cpu': forced.
 */
export type Backend = 'auto' | 'webgpu' | 'cpu' | 'measure';
export type Bytes = Uint8Array | ArrayBuffer;

/** The encoders the package knows by name. */
export type ModelName = 'english' | 'multilingual';
/** Which role a text plays: the multilingual model reads queries and passages differently. */
export type TextRole = 'query' | 'passage';

export interface EncoderLoadOptions {
  /**
   * 'english' (all-MiniLM-L6-v2, the default), 'multilingual' (multilingual-e5-small: Chinese
   * and Latin-script languages), or the int8 `.bpk` record (or the fp32 `.safetensors`) as a
   * URL or bytes.
   */
  model?: ModelName | string | Bytes;
  /** `tokenizer.json`, as a URL or bytes (named models bring theirs). */
  tokenizer?: string | Bytes;
  /** Where named models' folders are served (default: the package's models/). */
  modelBase?: string;
  /** `auto` (default) takes a hardware WebGPU adapter, else the CPU. */
  backend?: Backend;
  /**
   * Which wasm build: 'auto' (default) takes the one `backend` needs: the WebGPU build where
   * WebGPU is asked for or (for 'auto') a hardware adapter is there, else the CPU-only build,
   * about 4 MB smaller gzipped: 'cpu-relaxed' where the browser has relaxed SIMD, else 'cpu'.
   */
  wasm?: WasmBuildChoice;
  /**
   * The CPU path's int8 kernel: 'auto' (default; the 'cpu-relaxed' build times its byte-dot
   * kernel against the SIMD128 one once per instance and keeps the faster), 'simd128', or
   * 'relaxed-dot' (the 'cpu-relaxed' build only; elsewhere an InvalidInputError).
   */
  int8Kernel?: 'auto' | Int8KernelName;
  /**
   * Where the wasm is served from, if not next to its glue: one URL (the WebGPU build, reported
   * as 'custom') or one per build ('rank': the ranking-only build a lazily loaded encoder's
   * recommender starts on).
   */
  wasmUrl?: string | { webgpu?: string; cpu?: string; 'cpu-relaxed'?: string; rank?: string };
  /** sha256 pins; a mismatch is a ModelIntegrityError. Verified bytes are cached by hash. */
  integrity?: { model?: string; tokenizer?: string };
  /** Download progress of the model and tokenizer. */
  onProgress?: (progress: Progress) => void;
}

export type WasmBuildChoice = 'auto' | 'webgpu' | 'cpu' | 'cpu-relaxed';
export type WasmBuild = 'webgpu' | 'cpu' | 'cpu-relaxed' | 'custom';
export type Int8KernelName = 'simd128' | 'relaxed-dot';
/** The CPU path's integer kernel and, where both were timed, their fastest times (ms). */
export interface Int8KernelChoice {
  kernel: Int8KernelName;
  simd128: number | null;
  relaxedDot: number | null;
}
/** Whether this browser's WebAssembly has relaxed SIMD (what the 'cpu-relaxed' build needs). */
export declare function hasRelaxedSimd(): boolean;
/** Whether this realm has a hardware (not software-fallback) WebGPU adapter. */
export declare function hasHardwareWebGpu(): Promise<boolean>;
/** The wasm build a backend request loads. */
export declare function pickWasmBuild(backend?: Backend): Promise<'webgpu' | 'cpu' | 'cpu-relaxed'>;
/** Forgets the remembered backend measurements, so the next 'auto' or 'measure' times again. */
export declare function forgetBackendChoices(): Promise<void>;

export declare class SentenceEncoder {
  static load(options: EncoderLoadOptions): Promise<SentenceEncoder>;
  readonly backend: 'webgpu' | 'cpu';
  readonly backendReason: string;
  /** The wasm build the encoder runs on (with `encoder: 'background' | 'on-demand'`, the one it will load). */
  readonly wasmBuild: WasmBuild;
  /** 'rank' when the recommender runs in the ranking-only build (the encoder was loaded lazily; it is handed over on arrival), else null. */
  readonly rankingBuild: 'rank' | null;
  readonly precision: 'int8' | 'fp32';
  /** The encoder loaded. */
  readonly modelName: 'all-MiniLM-L6-v2' | 'multilingual-e5-small';
  /** Diagnostics: what runs the linear layers. */
  readonly linearKernel: 'int8' | 'f32-matmul' | 'webgpu-linear';
  /** Diagnostics: linear layers the WebGPU kernel left to burn's slower matmul (0 expected). */
  readonly linearFallbacks: number;
  /** The CPU path's int8 kernel (null on WebGPU). */
  readonly int8Kernel: Int8KernelChoice | null;
  readonly modelName: 'all-MiniLM-L6-v2' | 'multilingual-e5-small';
  tokenize(texts: string[], options?: { role?: TextRole }): number[][];
  /** Per text, the share of its characters the model cannot read (0 to 1). */
  unknownShares(texts: string[], options?: { role?: TextRole }): number[];
  /** One unit-length Float32Array(384) per text. */
  embed(texts: string[], options?: { role?: TextRole }): Promise<Float32Array[]>;
}

export declare function initWasm(
  options?: string | { backend?: Backend; wasm?: WasmBuildChoice; wasmUrl?: EncoderLoadOptions['wasmUrl'] },
): Promise<WasmBuild>;

/** Every error carries the core's stable `kind`; `ERROR_CLASSES` maps each kind to its class. */
export declare class CloisterError extends Error {
  readonly kind: string;
}
export declare const ERROR_CLASSES: Record<string, typeof CloisterError>;
export declare class WebGPUUnavailableError extends CloisterError {}
/** kind 'integrity' (sha256 mismatch), 'fetch' (request failed) or 'truncated' (cut short). */
export declare class ModelIntegrityError extends CloisterError {
  /** Where the bytes came from ('bytes' when they were passed in). */
  readonly url?: string;
  /** The pinned sha256 ('integrity') or the announced byte count ('truncated'). */
  readonly expected?: string | number;
  /** The sha256 received ('integrity') or the bytes received ('truncated'). */
  readonly actual?: string | number;
}
export declare class ModelFormatError extends CloisterError {}
export declare class InvalidInputError extends CloisterError {}
export declare class BackendError extends CloisterError {}
/** kind 'unsupported_browser': the browser lacks something every build needs. */
export declare class UnsupportedBrowserError extends CloisterError {
  /** What is missing: 'wasm-simd128' (Safari before 16.4, Chrome before 91, Firefox before 89),
   * or 'wasm-relaxed-simd' where the 'cpu-relaxed' build was forced. */
  readonly missing: string;
}

export interface Event {
  item: { id: string; text: string; category?: string };
  kind: 'view' | 'click' | 'dwell' | 'cart' | 'purchase' | 'rate' | 'like' | 'dismiss' | 'search';
  /** dwell: seconds; rate: 1-5. */
  value?: number;
  /** Milliseconds since the epoch. */
  at: number;
}

export interface Candidate {
  id: string;
  text: string;
  server_score: number;
  category?: string;
  features?: Record<string, number>;
  /** Items often consumed just before this one (public co-occurrence). */
  related?: { id: string; weight: number }[];
  /**
   * A server-side embedding from `cloister embed` (384 floats) or `cloister embed --compact`
   * (520 base64 characters: 384 int8 values and a scale), used only when `model` is the loaded
   * model's sha256; an unusable one is ignored for that item and named in its `notes`.
   */
  embedding?: number[] | Float32Array | string;
  model?: string;
}

export interface Explanation {
  reason: string;
  feature: string;
  source?: { kind: 'history' | 'interest'; id: string; title: string };
}

export interface RankedItem {
  id: string;
  score: number;
  contributions: Record<string, number>;
  explanation: Explanation;
  /** What could not be used as sent, e.g. a server embedding made with another model. */
  notes?: string[];
  /** With `explore`: the probability (0..1, from 256 draws of the weights) that the policy shows
   * this item in the top k (10 when `k` is not set), for offline evaluation of policies. Absent
   * without exploration. */
  propensity?: number;
}

export interface RerankOptions {
  /** Items to return (and to treat as shown for feedback). */
  k?: number;
  /** MMR trade-off, 0 (score only) to 1. */
  diversity?: number;
  /** Thompson sampling from the weights' posterior (a diagonal Gaussian that narrows as the
   * user's feedback accumulates): true, or a seed and the prior spread (default 0.3). */
  explore?: boolean | { seed?: number; scale?: number };
}

export interface Progress { what: 'model' | 'tokenizer' | 'encoder' | 'interest model'; loaded?: number; total?: number; fraction?: number; cached?: boolean; ready?: boolean; backend?: string }

export interface OpenOptions extends EncoderLoadOptions {
  /** Separates profiles in storage. Default 'default'. */
  namespace?: string;
  /** PRIOR.json from `cloister fit-prior`, as an object or text; give it a `version` (up to 64
   * printable characters) and bump it when you ship a new one. */
  prior?: object | string;
  /** Run the encoder in a Web Worker (default true). */
  worker?: boolean;
  workerUrl?: string | URL;
  /** false: keep the profile in memory only. */
  persist?: boolean;
  /** false: open the encoder only (embed), with no profile or storage. */
  profile?: boolean;
  /** 'eager' (default): resolve once the encoder is loaded; 'background': resolve once the
   * profile is loaded and load the encoder behind it; 'on-demand': load it at the first text
   * that needs it. */
  encoder?: 'eager' | 'background' | 'on-demand';
  /** With a URL model and a lazy encoder: which model the file is. */
  modelFamily?: 'all-MiniLM-L6-v2' | 'multilingual-e5-small';
  /** Workers sharing a large `embed` batch, or the texts a large `rerank` list needs encoded,
   * on the CPU path: 'auto' (default: one per core, at most 4, within `memoryBudgetMB`) or 1 to
   * 16. The extra ones start at the first batch larger than 8 texts; each holds its own wasm
   * instance and model. */
  workers?: 'auto' | number;
  /** Memory the extra workers may take, in MB (default 256). */
  memoryBudgetMB?: number;
  /** A learned interest model file (`cloister train`), URL or bytes, loaded as
   * `setInterestModel` does (pin it with `integrity.interestModel`); a failure is a warning. */
  interestModel?: string | URL | Uint8Array | ArrayBuffer;
}

/** The loaded interest model, and how far this user's choices have adapted it. */
export interface InterestModelInfo {
  sha256: string;
  hidden: number;
  /** How the file was made (`cloister train`'s note). */
  source: string;
  /** Whether this user's choices have moved the model's gate. */
  adapted: boolean;
  /** How far (Euclidean), bounded by the adaptation's pull-back to the shipped weights. */
  gateShift: number;
}

export interface Weights {
  current: Record<string, number>;
  prior: Record<string, number>;
  /** The prior's `version`: after the site ships a new one, a returning user's learned offset
   * (current minus old prior, at most 1 per weight) is carried onto it. */
  prior_version: string;
  config: { lr: number; l2: number; max_step: number };
  steps: number;
  /** Per weight, the information the user's feedback carried about it: the precision the
   * exploration posterior adds to the prior's. */
  information: Record<string, number>;
}

export declare class Cloister {
  static open(options?: OpenOptions): Promise<Cloister>;
  readonly backend: 'webgpu' | 'cpu';
  readonly backendReason: string;
  /** The wasm build the encoder runs on (with `encoder: 'background' | 'on-demand'`, the one it will load). */
  readonly wasmBuild: WasmBuild;
  /** 'rank' when the recommender runs in the ranking-only build (the encoder was loaded lazily; it is handed over on arrival), else null. */
  readonly rankingBuild: 'rank' | null;
  readonly precision: 'int8' | 'fp32';
  /** The CPU path's int8 kernel (null on WebGPU or while the encoder loads). */
  readonly int8Kernel: Int8KernelChoice | null;
  readonly storage: { persistent: boolean; error: string | null };
  readonly warnings: string[];
  readonly timings: Record<string, number>;
  /** false when the Web Worker could not start and the main thread took over. */
  readonly inWorker: boolean;
  readonly workerError: string | null;
  record(event: Event): Promise<void>;
  /** Events in one step; an invalid event is reported in `rejected` and the others recorded. */
  recordMany(events: Event[]): Promise<{ recorded: number; deferred: number; rejected: { index: number; kind: string; message: string }[] }>;
  /** Resolves once every change sent so far is saved (each change already resolves after its save; overlapping changes share saves). */
  flush(): Promise<void>;
  /** Texts encoded on the device since `open`. */
  readonly encodedTexts: number;
  /** Events waiting for the encoder (opened with `encoder: 'background' | 'on-demand'`). */
  readonly deferredEvents: number;
  /** Set when `open` found no profile for this model but one for the other: what came over (it waits to be embedded by this model). */
  readonly carriedFrom: { model: 'all-MiniLM-L6-v2' | 'multilingual-e5-small'; events: number; interests: number; withoutText: number } | null;
  /** Whether the encoder is loaded. */
  readonly hasEncoder: boolean;
  /** Loads the encoder if needed (or waits for the background load) and folds in waiting events. */
  encoderReady(): Promise<object>;
  stateInterest(text: string, weight?: number): Promise<number>;
  interests(): { id: number; text: string; weight: number }[];
  removeInterest(id: number): Promise<boolean>;
  /** `pending: ['embedding']` (and `unembedded`, their count) when items were ranked without an
   * embedding because the encoder is still loading. */
  rerank(candidates: Candidate[], options?: RerankOptions): Promise<{ impressionId: string; items: RankedItem[]; pending?: string[]; unembedded?: number }>;
  /**
   * What the user did with an impression (also one from before a reload: the last 16 are saved):
   * the items chosen and those dismissed. Items shown above a chosen one count as skipped.
   * Resolves to the change of each weight.
   */
  feedback(impressionId: string, feedback: { chosen?: string[]; dismissed?: string[] }): Promise<Record<string, number>>;
  weights(): Weights;
  /**
   * Loads a learned interest model file (`cloister train`), pinned by `sha256` if given. Its
   * score joins the ranking as the `interest_model` contribution (with explanations such as
   * "because you recently looked at X and Y"); the user's choices adapt it, saved with the
   * profile. A bad file rejects with an InterestModelError and the ranking goes on without it.
   */
  setInterestModel(source: string | URL | Uint8Array | ArrayBuffer, options?: { sha256?: string }): Promise<InterestModelInfo>;
  /** Ranks without the interest model again; the user's adaptation is kept for its return. */
  clearInterestModel(): Promise<void>;
  readonly interestModel: InterestModelInfo | null;
  /** The interest model's scores (one per candidate) and readouts (`hidden` per candidate) on a
   * backend of the caller's choice (the encoder's by default); null without a model or history. */
  interestScores(candidates: Candidate[], options?: { backend?: 'webgpu' | 'cpu' }): Promise<{ scores: Float32Array; readouts: Float32Array } | null>;
  exportProfile(): Promise<object>;
  importProfile(json: object | string): Promise<void>;
  /**
   * Deletes the profile from memory and IndexedDB (quarantined copies included) and the cached
   * model from the Cache API, unless `keepModel: true`.
   */
  forget(options?: { keepModel?: boolean }): Promise<void>;
  /** 2D map of history, interests and the given candidates, for display. */
  profileMap(candidates?: [string, string][]): Promise<{ kind: string; id: string; label: string; x: number; y: number }[]>;
  embed(texts: string[], options?: { role?: TextRole }): Promise<Float32Array[]>;
  /** The workers `embed` may use, the extra ones loaded so far, and the pieces each has run. */
  readonly embedPool: { size: number; started: number; piecesByLane: number[] };
  /** Saves pending changes, then stops the worker. */
  close(): Promise<void>;
}

export declare class InvalidCandidateError extends InvalidInputError {}
export declare class StorageError extends CloisterError {}
/** The interest model file is corrupt, of another shape or width, or this build cannot load it. */
export declare class InterestModelError extends CloisterError {}
