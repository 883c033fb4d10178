// The public API. By default the encoder and the recommender run in a Web Worker (the page
// never freezes while embedding); `worker: false` runs them on the main thread.
import { fromWasm } from './errors.js';
import { isModelName, resolveModel } from './models.js';

class WorkerClient {
  #worker;
  #next = 1;
  #pending = new Map();
  onMirror = () => {};
  onProgress = () => {};

  constructor(url) {
    // The literal `new Worker(new URL(...), ...)` form lets bundlers (Vite, webpack) emit the worker.
    this.#worker = url
      ? new Worker(url, { type: 'module' })
      : new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    this.#worker.onmessage = ({ data }) => {
      if (data.progress) return this.onProgress(data.progress);
      const p = this.#pending.get(data.id);
      if (!p) return;
      this.#pending.delete(data.id);
      if (data.mirror) this.onMirror(data.mirror);
      if (data.error) p.reject(fromWasm(data.error));
      else p.resolve(data.result);
    };
    this.#worker.onerror = (e) => {
      const error = new Error(`Cloister worker failed: ${e.message ?? 'it could not start'}`);
      error.workerFailed = true;
      for (const p of this.#pending.values()) p.reject(error);
      this.#pending.clear();
    };
  }

  call(method, ...args) {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ id, method, args });
    });
  }

  terminate() {
    this.#worker.terminate();
  }
}

class LocalClient {
  #core = null;
  onMirror = () => {};
  onProgress = () => {};

  async call(method, ...args) {
    // Imported here, not at the top: a page whose Cloister runs in the worker (the default)
    // never loads the Core's modules itself, six fewer modules before its first ranking.
    this.#core ??= new (await import('./core.js')).Core();
    try {
      const result = method === 'open'
        ? await this.#core.open(args[0], (p) => this.onProgress(p))
        : await this.#core[method](...args);
      const mirror = this.#core.mirror();
      if (mirror) this.onMirror(mirror);
      return result;
    } catch (e) {
      const mirror = this.#core.rec ? this.#core.mirror() : null;
      if (mirror) this.onMirror(mirror);
      throw fromWasm(e);
    }
  }

  terminate() {
    this.#core?.close();
  }
}

async function resolveUrlOrBytes(x) {
  if (x instanceof Uint8Array || x instanceof ArrayBuffer) return x;
  return new URL(x, globalThis.location?.href).href;
}

export class Cloister {
  #client;
  #mirror = { interests: [], weights: null, storage: null, warnings: [] };
  #info;
  /** Whether the encoder runs in a Web Worker (false after a fallback to the main thread). */
  inWorker = false;
  workerError = null;

  constructor(client, info) {
    this.#client = client;
    this.#info = info;
    client.onMirror = (m) => { this.#mirror = m; };
  }

  /**
   * Opens a recommender. `model`: 'english' (all-MiniLM-L6-v2, the default), 'multilingual'
   * (multilingual-e5-small: Chinese and Latin-script languages), or a URL or bytes with
   * `tokenizer` beside it; named models load from `modelBase` (default: the package's models/). `integrity`: { model, tokenizer }
   * sha256 pins (a mismatch is a ModelIntegrityError). `backend`: 'auto' | 'webgpu' | 'cpu' | 'measure'.
   * `namespace`: separates users/sites in storage. `prior`: PRIOR.json (object or text).
   * `onProgress({ what, loaded, total, fraction, cached })`. `worker`: default true.
   * `profile: false` opens the encoder only (for `embed`), with no storage.
   * `encoder`: 'eager' (default: resolves once the encoder is loaded), 'background' (resolves
   * once the profile is loaded and loads the encoder at once behind it) or 'on-demand' (loads it
   * at the first text that needs it). Meanwhile candidates with server embeddings rank as usual,
   * the others by what exists (`pending: ['embedding']` in the result), and events whose text is
   * not embedded wait, saved, until it arrives (`deferredEvents`; `encoderReady()` waits for it;
   * `onProgress` reports `{ what: 'encoder', ready: true }`). A URL model needs
   * `integrity.model` and `modelFamily` ('all-MiniLM-L6-v2' or 'multilingual-e5-small') for this.
   */
  static async open(options = {}) {
    const { onProgress, worker = true, workerUrl, ...rest } = options;
    // A model name ('english', the default, or 'multilingual') resolves to URLs and pins here,
    // where a page's preload of the manifest is found, while the worker loads its modules; a
    // URL is made absolute here, since a worker resolves against its own URL.
    const resolving = isModelName(rest.model)
      ? resolveModel(rest)
      : Promise.all([resolveUrlOrBytes(rest.model), resolveUrlOrBytes(rest.tokenizer)])
        .then(([model, tokenizer]) => ({ ...rest, model, tokenizer }));
    const start = async (client) => {
      if (onProgress) client.onProgress = onProgress;
      const rec = new Cloister(client, null);
      let args;
      try {
        args = await resolving;
        // The reply carries the mirror too (every reply does): no second round trip for it.
        rec.#info = await client.call('open', args);
      } catch (e) {
        client.terminate();
        throw e;
      }
      return rec;
    };
    if (!worker) return start(new LocalClient());
    try {
      const rec = await start(new WorkerClient(workerUrl));
      rec.inWorker = true;
      return rec;
    } catch (e) {
      // A worker that cannot start (offline without a cached script, a CSP without worker-src,
      // no module workers) is not fatal: run on the main thread and say so.
      if (!e?.workerFailed) throw e;
      const rec = await start(new LocalClient());
      rec.inWorker = false;
      rec.workerError = e.message;
      return rec;
    }
  }

  /** 'webgpu' or 'cpu' (after a WebGPU device loss, 'cpu'); null while the encoder loads. */
  get backend() { return this.#mirror.backend ?? this.#info.backend; }
  /** The wasm build running: 'webgpu', 'cpu' (the CPU-only build) or 'custom'. */
  get wasmBuild() { return this.#info.wasmBuild; }
  /** 'rank' when the ranking-only build serves the recommender (a lazily loaded encoder), else null. */
  get rankingBuild() { return this.#info.rankingBuild ?? null; }
  get backendReason() { return this.#info.backendReason; }
  get precision() { return this.#info.precision; }
  /** 'all-MiniLM-L6-v2' or 'multilingual-e5-small': the encoder loaded. */
  get modelName() { return this.#info.modelName; }
  /** { persistent, error }: false when the profile lives in memory only (and why). */
  get storage() { return this.#mirror.storage ?? this.#info.storage; }
  /** Things that went wrong but did not stop the session (quota, quarantined record). */
  get warnings() { return this.#mirror.warnings ?? []; }
  get timings() { return this.#mirror.timings ?? this.#info.timings; }

  record(event) { return this.#client.call('record', event); }
  /**
   * Records events in one step (their new texts are encoded as one batch, and saved once):
   * resolves to `{ recorded, deferred, rejected: [{ index, kind, message }] }`; an invalid event
   * is reported there and the others are recorded (or, before a lazy encoder has arrived, wait
   * for it: `deferred`). At most 5,000 events per call.
   */
  recordMany(events) { return this.#client.call('recordMany', events); }
  /**
   * Every change resolves once it is saved; changes that overlap (sent without awaiting each,
   * or one `recordMany`) share their saves. `flush()` resolves once everything sent is saved.
   */
  flush() { return this.#client.call('flush'); }
  /** Texts the device has encoded since `open` (server embeddings and cached texts cost none). */
  get encodedTexts() { return this.#mirror.encodedTexts ?? 0; }
  /** Events waiting for the encoder (opened with `encoder: 'background' | 'on-demand'`). */
  get deferredEvents() { return this.#mirror.deferredEvents ?? 0; }
  /** Whether the encoder is loaded (always, when opened with the default `encoder: 'eager'`). */
  get hasEncoder() { return this.#mirror.hasEncoder ?? true; }
  /**
   * Loads the encoder if it is not yet (or waits for the background load), folds in the events
   * that waited for it, and resolves to the same information `open` gave, now with the backend.
   */
  async encoderReady() {
    const info = await this.#client.call('encoderReady');
    this.#info = { ...this.#info, ...info };
    return info;
  }
  stateInterest(text, weight = 1) { return this.#client.call('stateInterest', text, weight); }
  interests() { return this.#mirror.interests; }
  removeInterest(id) { return this.#client.call('removeInterest', id); }
  rerank(candidates, options = {}) { return this.#client.call('rerank', candidates, options); }
  /** What the user did with an impression: the items they chose and those they dismissed. */
  feedback(impressionId, { chosen = [], dismissed = [] } = {}) {
    return this.#client.call('feedback', impressionId, chosen, dismissed);
  }
  weights() { return this.#mirror.weights; }
  async exportProfile() { return JSON.parse(await this.#client.call('exportProfile')); }
  importProfile(json) { return this.#client.call('importProfile', typeof json === 'string' ? json : JSON.stringify(json)); }
  /** Deletes the profile everywhere; the cached model too unless `{ keepModel: true }`. */
  forget(options = {}) { return this.#client.call('forget', options); }
  profileMap(candidates) { return this.#client.call('profileMap', candidates); }
  /** One Float32Array(384) per text. `role`: 'passage' (default) or 'query'. */
  async embed(texts, { role } = {}) {
    const flat = await this.#client.call('embed', texts, role ? { role } : undefined);
    return texts.map((_, i) => flat.subarray(i * 384, (i + 1) * 384));
  }
  /** Saves what is pending, then stops the worker. */
  async close() {
    await this.flush().catch(() => {});
    this.#client.terminate();
  }


}
