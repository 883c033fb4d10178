// The public API. By default the encoder and the recommender run in a Web Worker (the page
// never freezes while embedding); `worker: false` runs them on the main thread.
import { fromWasm, InvalidInputError } from './errors.js';
import { isModelName, resolveModel } from './models.js';
import { EmbedPool, PIECE, poolSize } from './pool.js';

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

/** A client's `embed` as `(texts, role) => Promise<Float32Array>` (flat, 384 per text). */
const embedVia = (client) => (texts, role) => client.call('embed', texts, role ? { role } : undefined);

async function resolveUrlOrBytes(x) {
  if (x instanceof Uint8Array || x instanceof ArrayBuffer) return x;
  return new URL(x, globalThis.location?.href).href;
}

export class Cloister {
  #client;
  #mirror = { interests: [], weights: null, storage: null, warnings: [] };
  #info;
  #pool = null;
  // Requests reach the worker in the order they were made: one whose texts the pool encodes
  // first holds those made after it until it has been sent, so a `flush()` made after a
  // `recordMany()` waits for its events, and a `record()` lands after them.
  #held = null;
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
   * `workers`: how many workers share a large `embed` batch (or the new texts of a large `rerank`
   * list or `recordMany` batch) on the CPU path, 'auto' (default:
   * one per core, at most 4, within `memoryBudgetMB`, default 256, for the extra ones) or a
   * number; the extra workers start at the first batch larger than 8 texts.
   * `interestModel`: a learned interest model file (URL or bytes, pinned by
   * `integrity.interestModel`), as `setInterestModel` loads it; a failure is a warning.
   * `int8Kernel`: the CPU path's integer kernel, 'auto' (default: where the browser has relaxed
   * SIMD the package loads the 'cpu-relaxed' build, which times its byte-dot kernel against
   * the SIMD128 one once and keeps the faster), 'simd128' or 'relaxed-dot' (that build only).
   */
  static async open(options = {}) {
    const { onProgress, worker = true, workerUrl, workers = 'auto', memoryBudgetMB = 256, ...rest } = options;
    poolSize({ workers, memoryBudgetMB }); // a bad value fails here, before anything loads
    // A model name ('english', the default, or 'multilingual') resolves to URLs and pins here,
    // where a page's preload of the manifest is found, while the worker loads its modules; a
    // URL is made absolute here, since a worker resolves against its own URL.
    const resolving = (isModelName(rest.model)
      ? resolveModel(rest)
      : Promise.all([resolveUrlOrBytes(rest.model), resolveUrlOrBytes(rest.tokenizer)])
        .then(([model, tokenizer]) => ({ ...rest, model, tokenizer })))
      .then(async (o) => (o.interestModel ? { ...o, interestModel: await resolveUrlOrBytes(o.interestModel) } : o));
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
    // Every `embed` goes through the pool, one lane or more: its pieces let a small request
    // pass a large one. Extra lanes are workers, so only a recommender in a worker gets them.
    const withPool = async (rec) => {
      const size = rec.inWorker ? poolSize({ workers, memoryBudgetMB, modelName: rec.#info.modelName }) : 1;
      rec.#pool = rec.#openPool(size, await resolving, workerUrl);
      return rec;
    };
    if (!worker) return withPool(await start(new LocalClient()));
    try {
      const rec = await start(new WorkerClient(workerUrl));
      rec.inWorker = true;
      return withPool(rec);
    } catch (e) {
      // A worker that cannot start (offline without a cached script, a CSP without worker-src,
      // no module workers) is not fatal: run on the main thread and say so.
      if (!e?.workerFailed) throw e;
      const rec = await start(new LocalClient());
      rec.inWorker = false;
      rec.workerError = e.message;
      return withPool(rec);
    }
  }

  /** 'webgpu' or 'cpu' (after a WebGPU device loss, 'cpu'); null while the encoder loads. */
  get backend() { return this.#mirror.backend ?? this.#info.backend; }
  /** The wasm build running: 'webgpu', 'cpu' (the CPU-only build), 'cpu-relaxed' (the same
   * with relaxed SIMD) or 'custom'. */
  get wasmBuild() { return this.#info.wasmBuild; }
  /** 'rank' when the ranking-only build serves the recommender (a lazily loaded encoder), else
   * null; null again once an interest model moved it into the encoder build. */
  get rankingBuild() { return this.#mirror.rankingBuild !== undefined ? this.#mirror.rankingBuild : (this.#info.rankingBuild ?? null); }
  get backendReason() { return this.#info.backendReason; }
  /**
   * The CPU path's int8 kernel: `{ kernel: 'simd128' | 'relaxed-dot', simd128, relaxedDot }`,
   * the last two the fastest timing of each (ms) where the relaxed-SIMD build timed them, null
   * where the kernel was forced or the build has one kernel; null off the CPU path.
   */
  get int8Kernel() { return this.#mirror.int8Kernel ?? this.#info.int8Kernel ?? null; }
  get precision() { return this.#info.precision; }
  /** 'all-MiniLM-L6-v2' or 'multilingual-e5-small': the encoder loaded. */
  get modelName() { return this.#info.modelName; }
  /**
   * Where this model's profile came from when `open` found none for it but one for the other
   * model: `{ model, events, interests, withoutText }` (the events and interests wait to be
   * embedded by this model, see `deferredEvents`), or null.
   */
  get carriedFrom() { return this.#info.carriedFrom ?? null; }
  /** { persistent, error }: false when the profile lives in memory only (and why). */
  get storage() { return this.#mirror.storage ?? this.#info.storage; }
  /** Things that went wrong but did not stop the session (quota, quarantined record). */
  get warnings() { return this.#mirror.warnings ?? []; }
  get timings() { return this.#mirror.timings ?? this.#info.timings; }

  record(event) { return this.#send('record', event); }
  /**
   * Records events in one step (their new texts are encoded as one batch, and saved once):
   * resolves to `{ recorded, deferred, rejected: [{ index, kind, message }] }`; an invalid event
   * is reported there and the others are recorded (or, before a lazy encoder has arrived, wait
   * for it: `deferred`). At most 5,000 events per call. On the CPU path with a pool of more
   * than one worker, a batch's new item texts are encoded by the pool first, as `rerank`'s are.
   */
  recordMany(events) {
    let texts = 0;
    if (Array.isArray(events)) for (const e of events) if (typeof e?.item?.text === 'string') texts++;
    return this.#sendAfterPool(texts, 'uncachedEventTexts', 'recordMany', events);
  }
  /**
   * Every change resolves once it is saved; changes that overlap (sent without awaiting each,
   * or one `recordMany`) share their saves. `flush()` resolves once everything sent is saved.
   */
  flush() { return this.#send('flush'); }
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
    const info = await this.#send('encoderReady');
    this.#info = { ...this.#info, ...info };
    return info;
  }
  stateInterest(text, weight = 1) { return this.#send('stateInterest', text, weight); }
  interests() { return this.#mirror.interests; }
  removeInterest(id) { return this.#send('removeInterest', id); }
  /**
   * Ranks `candidates` (see the README). On the CPU path with a pool of more than one worker,
   * the texts of a large list that need encoding are encoded by the pool first, in pieces
   * shared among its workers; the ranking then finds them cached.
   */
  rerank(candidates, options = {}) {
    let textOnly = 0;
    if (Array.isArray(candidates)) for (const c of candidates) if (typeof c?.text === 'string' && c.embedding == null) textOnly++;
    // Validated by the worker first (`uncachedCandidateTexts`): a bad list costs no encoding,
    // and `rerank` reports it.
    return this.#sendAfterPool(textOnly, 'uncachedCandidateTexts', 'rerank', candidates, options);
  }

  #send(method, ...args) {
    return this.#held ? this.#held.then(() => this.#client.call(method, ...args)) : this.#client.call(method, ...args);
  }

  // Sends `method` once the pool has encoded its texts, in turn with the other requests. Only
  // where the pool can add lanes, and only for a request with more texts to encode than one
  // piece (`texts` counts them before the worker is asked): otherwise the worker encodes them
  // itself at no extra round trip.
  #sendAfterPool(texts, ask, method, ...args) {
    if (!(this.#pool?.wanted > 1) || this.backend !== 'cpu' || !this.hasEncoder || texts <= PIECE) {
      return this.#send(method, ...args);
    }
    let result;
    const held = Promise.all([this.#held, this.#encodeWithPool(ask, args[0])]).then(() => {
      result = this.#client.call(method, ...args);
    });
    this.#held = held;
    held.then(() => { if (this.#held === held) this.#held = null; });
    return held.then(() => result);
  }

  // The worker says which texts are not cached (`ask`), the pool encodes them and the worker
  // caches them; whatever goes wrong here, the request encodes what it lacks itself.
  async #encodeWithPool(ask, request) {
    try {
      const missing = await this.#client.call(ask, request);
      if (missing.length <= PIECE) return;
      const embeddings = await this.#pool.embed(missing, 'passage');
      await this.#client.call('cachePassages', missing, embeddings);
    } catch {
      // The request encodes the texts itself and reports a real error if there is one.
    }
  }
  /** What the user did with an impression: the items they chose and those they dismissed. */
  feedback(impressionId, { chosen = [], dismissed = [] } = {}) {
    return this.#send('feedback', impressionId, chosen, dismissed);
  }
  weights() { return this.#mirror.weights; }
  /**
   * Loads a learned interest model file (`cloister train`) from a URL or bytes (`{ sha256 }`
   * pins it; the bytes are cached like the encoder's). Its score joins the ranking as the
   * `interest_model` contribution with its own explanations, and the user's choices adapt it;
   * the adaptation is saved with the profile, exported and forgotten with it. A bad file is an
   * InterestModelError and the ranking goes on without the model. Resolves to `interestModel`.
   * `open({ interestModel, integrity: { interestModel } })` does the same at open, where a
   * failure is a warning.
   */
  async setInterestModel(source, { sha256 } = {}) {
    return this.#send('setInterestModel', await resolveUrlOrBytes(source), { sha256 });
  }
  /** Ranks without the interest model again (the user's adaptation is kept for its return). */
  clearInterestModel() { return this.#send('clearInterestModel'); }
  /** `{ sha256, hidden, source, adapted, gateShift }` of the loaded interest model, or null. */
  get interestModel() { return this.#mirror.interestModel ?? null; }
  /**
   * The interest model's `{ scores, readouts }` (Float32Arrays) for `candidates`, run on
   * `backend` ('cpu' or 'webgpu'; the encoder's by default): what the ranking adds.
   */
  interestScores(candidates, { backend } = {}) { return this.#send('interestScores', candidates, { backend }); }
  async exportProfile() { return JSON.parse(await this.#send('exportProfile')); }
  importProfile(json) { return this.#send('importProfile', typeof json === 'string' ? json : JSON.stringify(json)); }
  /** Deletes the profile everywhere; the cached model too unless `{ keepModel: true }`. */
  forget(options = {}) { return this.#send('forget', options); }
  profileMap(candidates) { return this.#send('profileMap', candidates); }
  /**
   * One Float32Array(384) per text. `role`: 'passage' (default) or 'query'. On the CPU path a
   * batch goes out in pieces of at most 8 texts, shared among the pool's workers (`workers`),
   * smaller requests first.
   */
  async embed(texts, { role } = {}) {
    // Checked here: the pool slices the batch before the core sees it.
    if (!Array.isArray(texts)) throw new InvalidInputError('embed takes an array of strings', 'invalid_input');
    // WebGPU takes a batch whole: pieces of 8 would leave the device mostly idle.
    const flat = this.backend === 'webgpu'
      ? await embedVia(this.#client)(texts, role)
      : await this.#pool.embed(texts, role);
    return texts.map((_, i) => flat.subarray(i * 384, (i + 1) * 384));
  }
  /**
   * The workers `embed` may use and the pieces each has run: `{ size, started, piecesByLane }`
   * (`started`: the extra workers loaded so far, beside the recommender's own).
   */
  get embedPool() {
    return { size: this.#pool.wanted, started: this.#pool.size - 1, piecesByLane: [...this.#pool.piecesByLane] };
  }
  /** Saves what is pending, then stops the worker (and the pool's). */
  async close() {
    await this.flush().catch(() => {});
    this.#pool.close();
    this.#client.terminate();
  }

  #openPool(size, args, workerUrl) {
    return new EmbedPool({
      size,
      primary: embedVia(this.#client),
      // An extra worker is the encoder alone (no profile, no storage) on the CPU path, with the
      // same model and pins; it reads the model from the Cache API the recommender filled. On
      // WebGPU the one device takes whole batches, so no lane is added there.
      openExtra: async () => {
        await this.encoderReady();
        if (this.backend !== 'cpu') throw new Error('the pool adds CPU workers only beside the CPU path');
        const client = new WorkerClient(workerUrl);
        try {
          // The primary's kernel, not a timing of its own: every lane gives the same vectors.
          // And the primary's CPU build, already in the HTTP cache: a lane asking for SIMD128
          // would plan the plain build where a first visit's primary runs the relaxed one.
          const int8Kernel = this.int8Kernel?.kernel ?? args.int8Kernel;
          const wasm = ['cpu', 'cpu-relaxed'].includes(this.wasmBuild) ? this.wasmBuild : args.wasm;
          await client.call('open', { ...args, profile: false, encoder: 'eager', backend: 'cpu', int8Kernel, wasm });
        } catch (e) {
          client.terminate();
          throw e;
        }
        return { embed: embedVia(client), close: () => client.terminate() };
      },
    });
  }


}
