// The part of the package that runs next to the wasm (in a worker by default): loads model
// and tokenizer, owns the encoder and the recommender, and persists state after each change.
// It converts and schedules; ranking and profile logic live in the Rust core.
import { fromWasm, InterestModelError, StorageError } from './errors.js';
import { forgetModels, loadBytes } from './model.js';
import { resolveModel } from './models.js';
import { StateStore } from './store.js';
import { INT8_KERNELS, int8KernelInfo, settleInt8Kernel } from './kernel.js';
import { forgetBackendChoices, loadEncoder } from './measure.js';
import { planBackend, startBuild, startPlanned } from './wasm.js';

/**
 * Calls `onLost(info)` when a WebGPU device created in this realm is lost (driver reset, GPU
 * process crash, `destroy()`). wgpu creates the device inside the wasm, so the only place to see
 * it is `GPUAdapter.prototype.requestDevice`; the wrapper only adds a `lost` listener.
 */
function watchGpuDevices(onLost) {
  if (typeof GPUAdapter === 'undefined') return;
  const original = GPUAdapter.prototype.requestDevice;
  if (original.cloisterWatchers) {
    original.cloisterWatchers.push(onLost);
    return;
  }
  const watchers = [onLost];
  const wrapped = async function requestDevice(...args) {
    const device = await original.apply(this, args);
    device.lost.then((info) => watchers.forEach((w) => w(info)));
    return device;
  };
  wrapped.cloisterWatchers = watchers;
  GPUAdapter.prototype.requestDevice = wrapped;
}

/** How `open` loads the encoder. */
const ENCODER_LOADING = ['eager', 'background', 'on-demand'];
/** With `encoder: 'background'`, when to start loading it if no ranking came first. */
const BACKGROUND_AFTER_MS = 1500;
/** Named models' encoder families (js/models.js names). */
const FAMILIES = { english: 'all-MiniLM-L6-v2', multilingual: 'multilingual-e5-small' };

export class Core {
  encoder = null;
  rec = null;
  store = null;
  rev = 0;
  warnings = [];
  timings = { openedAt: performance.now() };

  /**
   * options: { model ('english' | 'multilingual' | URL | bytes), modelBase, tokenizer, backend,
   *            namespace, prior, integrity: { model, tokenizer }, persist, wasm, wasmUrl,
   *            encoder ('eager' | 'background' | 'on-demand'), modelFamily,
   *            int8Kernel ('auto' | 'simd128' | 'relaxed-dot': the CPU path's integer kernel) };
   *            onProgress(progress).
   *
   * 'eager' (the default) resolves once the encoder is loaded. 'background' and 'on-demand'
   * resolve as soon as the profile is loaded: ranking works at once on server embeddings, and
   * the encoder loads right away in the background, or at the first text it is needed for.
   * Until it is there, items without an embedding are ranked by what exists (the result says
   * `pending: ['embedding']`) and events whose text is not embedded wait, saved with the
   * profile, to be folded in when it arrives. Meanwhile the recommender runs in the
   * ranking-only build (0.3 MB gzipped); the encoder build is fetched with the encoder and
   * serves the recommender through `setEmbedder`.
   */
  async open(options, onProgress) {
    options = await resolveModel(options);
    const t0 = performance.now();
    const backend = options.backend ?? 'auto';
    const loading = options.encoder ?? 'eager';
    if (!ENCODER_LOADING.includes(loading)) {
      throw new TypeError(`encoder must be one of ${ENCODER_LOADING.join(', ')}, got '${loading}'`);
    }
    if (!INT8_KERNELS.includes(options.int8Kernel ?? 'auto')) {
      throw new TypeError(`int8Kernel must be one of ${INT8_KERNELS.join(', ')}, got '${options.int8Kernel}'`);
    }
    Object.assign(this, { options, onProgress });
    let prior = options.prior;
    if (prior && typeof prior !== 'string') prior = JSON.stringify(prior);
    this.prior = prior;
    if (loading === 'eager' || options.profile === false) {
      await this.#startEncoderBuild();
      await this.#loadEncoder();
      if (options.profile === false) return this.info();
      try {
        this.rec = new this.pkg.WasmRecommender(this.encoder, prior ?? undefined);
      } catch (e) {
        throw fromWasm(e);
      }
      this.modelName = this.encoder.modelName;
    } else {
      // The recommender needs the model's identity before its bytes: the sha256 pin (server
      // embeddings must name it) and its family (what cosines mean, where the profile lives).
      const sha256 = options.integrity?.model;
      this.modelName = FAMILIES[options.modelName] ?? options.modelFamily;
      if (!sha256 || !this.modelName) {
        throw new TypeError(`encoder: '${loading}' needs a named model, or integrity.model and modelFamily`);
      }
      // Which encoder build this session will run is decided now (the adapter probe runs
      // beside the ranking build's download), so `wasmBuild` says it from the start. The
      // profile's store opens meanwhile too: on a return visit each is tens of ms.
      const opening = this.#openStore();
      opening.catch(() => {}); // awaited below
      const [plan, { pkg }] = await Promise.all([
        planBackend(backend, options.wasm, options.int8Kernel),
        startBuild('rank', options.wasmUrl),
      ]);
      Object.assign(this, { plan, wasmBuild: plan.build, rankingBuild: 'rank' });
      try {
        this.rec = pkg.WasmRecommender.withoutEncoder(sha256, this.modelName, prior ?? undefined);
      } catch (e) {
        throw fromWasm(e);
      }
    }
    await (this.store ? this.#storeOpening : this.#openStore());
    await this.store.exclusive(() => this.#reload());
    await this.#carryFromOtherModel();
    if (options.interestModel) {
      // Opt-in, and never fatal: a model that cannot load leaves the ranking as it was. With a
      // lazy encoder it loads once the encoder build is there (see setInterestModel), without
      // holding up open.
      const load = () => this.setInterestModel(options.interestModel, { sha256: options.integrity?.interestModel })
        .catch((e) => this.warnings.push(`ranking without the interest model: ${e?.message ?? e}`));
      if (this.rankingBuild) this.#afterEncoder.push(load);
      else await load();
    }
    this.timings.profileMs = performance.now() - t0;
    if (loading === 'on-demand' && this.#waiting() > 0) this.#encoderSoon();
    // 'background': after the first ranking (whose bytes should not share the link with the
    // model's), or BACKGROUND_AFTER_MS after open if no ranking is asked for.
    if (loading === 'background') setTimeout(() => this.#encoderSoon(), BACKGROUND_AFTER_MS);
    return this.info();
  }

  #storeOpening = null;

  /**
   * Opens the profile's store for `this.modelName`. One profile per model: vectors of two
   * models never mix, and switching models leaves the other model's profile where it was
   * (English keeps the plain namespace it always had).
   */
  #openStore() {
    this.store = new StateStore(this.#namespaceOf(this.modelName));
    this.#storeOpening = this.store.open({ persistent: this.options.persist !== false });
    return this.#storeOpening;
  }

  #namespaceOf(modelName) {
    const namespace = this.options.namespace ?? 'default';
    return modelName === 'all-MiniLM-L6-v2' ? namespace : `${namespace}@${modelName}`;
  }

  /**
   * A profile for this model that does not exist yet starts from the user's profile for the
   * other model, if there is one: its kept texts and stated interests are embedded again by
   * this model (folded in once the encoder is there, like any waiting event), and the other
   * profile stays where it was, for a switch back. Never fatal: what fails is a warning, and
   * the profile starts empty. `carriedFrom` says what came over.
   */
  async #carryFromOtherModel() {
    if (this.options.persist === false || this.rev !== 0) return;
    try {
      if (await this.store.get()) return;
    } catch {
      return; // #reload has reported it
    }
    for (const other of this.#otherModels()) {
      const store = new StateStore(this.#namespaceOf(other));
      let record;
      try {
        await store.open();
        record = await store.get();
      } catch (e) {
        this.warnings.push(`could not read the ${other} profile to carry it over: ${e?.message ?? e}`);
      } finally {
        store.close();
      }
      if (!record) continue;
      try {
        await this.#change(() => {
          this.carriedFrom = { model: other, ...this.rec.carryFromOtherModel(new Uint8Array(record.bytes)) };
        });
      } catch (e) {
        this.warnings.push(`the ${other} profile could not be carried over to ${this.modelName}: ${e?.message ?? e}`);
      }
      if (this.#waiting() > 0 && this.encoder) this.#encoderSoon();
      return;
    }
  }

  /** The models other than this one, whose profiles live beside its own. */
  #otherModels() {
    return Object.values(FAMILIES).filter((name) => name !== this.modelName);
  }

  /** Events and interests waiting for the encoder. */
  #waiting() {
    return (this.rec?.deferredEvents() ?? 0) + (this.rec?.deferredInterests() ?? 0);
  }

  /** Plans the backend (unless planned at open) and starts the encoder build it needs. */
  async #startEncoderBuild() {
    const { options } = this;
    const backend = options.backend ?? 'auto';
    this.plan ??= await planBackend(backend, options.wasm, options.int8Kernel);
    const { build, pkg } = await startPlanned(this.plan, options.wasm, options.wasmUrl);
    Object.assign(this, { wasmBuild: build, pkg });
    await settleInt8Kernel(pkg, build, options.int8Kernel ?? 'auto');
    if (backend !== 'cpu') {
      watchGpuDevices((info) => {
        if (this.encoder?.backend === 'webgpu') this.gpuLost = info?.message || info?.reason || 'device lost';
      });
    }
  }

  /** Downloads (or takes from the cache) model and tokenizer and starts the encoder. */
  async #loadEncoder() {
    const t0 = performance.now();
    const { options, onProgress } = this;
    const [model, tokenizer] = await Promise.all([
      loadBytes(options.model, { what: 'model', sha256: options.integrity?.model, onProgress }),
      loadBytes(options.tokenizer, { what: 'tokenizer', sha256: options.integrity?.tokenizer, onProgress }),
      this.pkg ? null : this.#startEncoderBuild(),
    ]);
    this.timings.downloadMs = performance.now() - t0;
    const t1 = performance.now();
    try {
      ({ encoder: this.encoder, reason: this.backendReason } = await loadEncoder(this.pkg, this.plan, model, tokenizer));
    } catch (e) {
      throw fromWasm(e);
    }
    this.timings.loadMs = performance.now() - t1;
  }

  #encoderLoad = null;

  /**
   * The encoder, loading it once if the recommender was opened without it; on arrival it is
   * handed to the recommender and the waiting events are folded in (one change, saved). A
   * failed load or fold is tried again by the next call that needs the encoder.
   */
  encoderReady() {
    this.#encoderLoad ??= (async () => {
      if (!this.encoder) {
        await this.#loadEncoder();
        try {
          if (this.rankingBuild) {
            this.rec?.setEmbedder(this.#embedText, this.encoder.modelSha256, this.encoder.modelName);
          } else {
            this.rec?.setEncoder(this.encoder);
          }
        } catch (e) {
          this.encoder = null;
          throw fromWasm(e);
        }
        this.timings.encoderReadyMs = performance.now() - this.timings.openedAt;
        this.onProgress?.({ what: 'encoder', ready: true, backend: this.encoder.backend });
      }
      if (this.#waiting() > 0) await this.#change(() => this.rec.foldDeferred());
      return this.info();
    })();
    this.#encoderLoad.then(() => this.#afterEncoder.splice(0).forEach((f) => f()), () => { this.#encoderLoad = null; });
    return this.#encoderLoad;
  }

  /** What waits for the encoder without asking for it (an interest model given at open to a
   * session with a lazy encoder): run once it has arrived, whoever asked for it. */
  #afterEncoder = [];

  /**
   * What the ranking build's recommender calls for texts it lacks: the encoder build's encoder
   * (whichever is current: after a WebGPU device loss, the CPU one).
   */
  #embedText = async (texts, role) => {
    const encoder = this.encoder;
    const embeddings = await encoder.embed(texts, role);
    return { embeddings, unknownShares: encoder.unknownShares(texts, role) };
  };

  /** Starts loading the encoder (or folding what waits for it) without waiting; a failure
   * becomes a warning. */
  #encoderSoon() {
    if (this.#encoderLoad || (this.encoder && !(this.#waiting() > 0))) return;
    this.encoderReady().catch((e) => this.warnings.push(`the encoder could not load: ${e?.message ?? e}`));
  }

  /**
   * After a WebGPU device loss: load the same model on the CPU and hand it to the recommender.
   * The profile, weights and cached embeddings are untouched; the session goes on.
   */
  async #fallBackToCpu() {
    const why = this.gpuLost;
    this.gpuLost = null;
    const [model, tokenizer] = await Promise.all([
      loadBytes(this.options.model, { what: 'model', sha256: this.options.integrity?.model }),
      loadBytes(this.options.tokenizer, { what: 'tokenizer', sha256: this.options.integrity?.tokenizer }),
    ]);
    let cpu;
    try {
      cpu = await this.pkg.WasmEncoder.load(model, tokenizer, 'cpu');
      // The ranking build's recommender reads `this.encoder` through `#embedText`.
      if (!this.rankingBuild) this.rec?.setEncoder(cpu);
    } catch (e) {
      throw fromWasm(e);
    }
    this.encoder = cpu;
    this.backendReason = `the WebGPU device was lost (${why}); CPU`;
    this.warnings.push(`the WebGPU device was lost (${why}); continuing on the CPU`);
  }

  /** Runs `fn`, first moving to the CPU if the GPU was lost, and once more after a loss mid-call. */
  async #withDevice(fn) {
    if (this.gpuLost) await this.#fallBackToCpu();
    try {
      return await fn();
    } catch (e) {
      // A loss during the call shows up as a failed GPU operation; the lost promise has fired
      // by the time the error reaches here.
      await new Promise((ok) => setTimeout(ok, 0));
      if (!this.gpuLost) throw e;
      await this.#fallBackToCpu();
      return fn();
    }
  }

  info() {
    return {
      backend: this.encoder?.backend ?? null,
      int8Kernel: this.int8Kernel(),
      modelName: this.encoder?.modelName ?? this.modelName,
      wasmBuild: this.wasmBuild,
      rankingBuild: this.rankingBuild ?? null,
      backendReason: this.backendReason,
      precision: this.encoder?.precision ?? null,
      storage: this.store?.status ?? { persistent: false, error: null },
      warnings: this.warnings,
      timings: this.timings,
      carriedFrom: this.carriedFrom ?? null,
    };
  }

  /** Loads the newest saved state if another tab (or a reload) wrote one. */
  async #reload() {
    let record;
    try {
      record = await this.store.get();
    } catch (e) {
      this.warnings.push(`could not read the saved profile: ${e?.message ?? e}`);
      return;
    }
    if (!record || record.rev === this.rev) return;
    try {
      this.rec.restoreState(new Uint8Array(record.bytes));
      this.rev = record.rev;
    } catch (e) {
      // A corrupt record is set aside, reported, and the session starts fresh.
      const err = fromWasm(e);
      await this.store.quarantine(record, err.message).catch(() => {});
      this.warnings.push(`the saved profile was corrupt and has been quarantined: ${err.message}`);
    }
  }

  /**
   * Runs a change under the cross-tab lock, inside a burst, and resolves once a save that
   * includes it has committed (group commit: what resolved is on disk). The first change of a
   * burst takes the lock and reloads what another tab saved; changes that overlap join it and
   * share saves: a save starts as soon as a change is applied and none is running, and the next
   * covers every change applied meanwhile. A save writes the whole state, so 1,000 events sent
   * at once or through `recordMany` cost a few saves instead of 1,000 (docs/benchmarks.md).
   * The lock is given back once nothing is running or unsaved.
   */
  async #change(fn) {
    this.#requireProfile();
    const burst = this.#burst ?? this.#startBurst();
    burst.busy += 1;
    let result;
    try {
      await burst.ready;
      result = await fn();
    } catch (e) {
      burst.busy -= 1;
      burst.kick?.();
      throw fromWasm(e);
    } finally {
      // Texts the model could not read (Chinese with the English model), noted by the core.
      for (const w of this.rec.takeWarnings()) if (!this.warnings.includes(w)) this.warnings.push(w);
      if (this.warnings.length > 20) this.warnings.splice(0, this.warnings.length - 20);
    }
    this.rev += 1;
    burst.dirty = true;
    burst.busy -= 1;
    await new Promise((saved) => {
      burst.waiters.push(saved);
      burst.kick?.();
    });
    return result;
  }

  #burst = null;

  #startBurst() {
    const burst = { busy: 0, dirty: false, kick: null, waiters: [] };
    this.#burst = burst;
    const end = () => {
      if (this.#burst === burst) this.#burst = null;
      burst.waiters.splice(0).forEach((w) => w());
    };
    burst.ready = new Promise((ready, fail) => {
      this.store.exclusive(async () => {
        try {
          await this.#reload();
        } finally {
          ready();
        }
        for (;;) {
          // Wait for something to do: a change applied (dirty) or none left running.
          await new Promise((ok) => {
            burst.kick = ok;
            if (burst.dirty || burst.busy === 0) ok();
          });
          burst.kick = null;
          if (burst.dirty) {
            burst.dirty = false;
            const covered = burst.waiters.splice(0); // their changes are all applied: saveState() below includes them
            await this.#save();
            covered.forEach((w) => w());
          } else if (burst.busy === 0) {
            break;
          }
        }
        end();
      }).catch((e) => {
        end();
        fail(e);
      });
    });
    return burst;
  }

  async #save() {
    try {
      await this.store.put(this.rec.saveState(), this.rev);
    } catch (e) {
      // A full disk or a broken IndexedDB: the store is memory-only from now on and says so.
      this.warnings.push(e?.message ?? String(e));
    }
  }

  /** Resolves once every change started so far is saved (changes already resolve after their save). */
  flush() {
    const burst = this.#burst;
    if (!burst) return Promise.resolve();
    return new Promise((ok) => {
      burst.waiters.push(ok);
      burst.kick?.();
    });
  }

  #requireProfile() {
    if (!this.rec) throw new StorageError('this Cloister was opened with profile: false (embeddings only)', 'no_profile');
  }

  async embed(texts, options) {
    await this.encoderReady();
    try {
      return await this.#withDevice(() => this.encoder.embed(texts, options?.role));
    } catch (e) {
      throw fromWasm(e);
    }
  }

  async record(event) {
    const result = await this.#change(() => this.#withDevice(() => this.rec.record(event)));
    if (this.#waiting() > 0) this.#encoderSoon();
    return result;
  }

  /** Events in one step: `{ recorded, deferred, rejected: [{ index, kind, message }] }`. */
  async recordMany(events) {
    if (!Array.isArray(events)) throw new TypeError('recordMany takes an array of events');
    const result = await this.#change(() => this.#withDevice(() => this.rec.recordMany(events)));
    if (result.deferred > 0) this.#encoderSoon();
    return result;
  }

  async stateInterest(text, weight) {
    await this.encoderReady();
    return this.#change(() => this.#withDevice(() => this.rec.stateInterest(text, weight)));
  }
  removeInterest(id) { return this.#change(() => this.rec.removeInterest(id)); }
  feedback(impressionId, chosen, dismissed) { return this.#change(() => this.rec.feedback(impressionId, chosen, dismissed)); }
  importProfile(json) { return this.#change(() => this.rec.importProfile(json)); }

  /** The texts a ranking of `candidates` would encode now: what the pool encodes first. */
  uncachedCandidateTexts(candidates) {
    this.#requireProfile();
    return this.encoder ? this.rec.uncachedCandidateTexts(candidates) : [];
  }

  /** The item texts a `recordMany` of `events` would encode now: what the pool encodes first. */
  uncachedEventTexts(events) {
    this.#requireProfile();
    return this.encoder && Array.isArray(events) ? this.rec.uncachedEventTexts(events) : [];
  }

  /** Passage embeddings the pool's lanes encoded with this encoder's model and kernel. */
  cachePassages(texts, embeddings) {
    this.#requireProfile();
    this.rec.cachePassages(texts, embeddings, this.encoder.unknownShares(texts, 'passage'));
  }

  /** A change like the others: the impression (for feedback after a reload) and what was on
   * screen (exposure) are saved with the profile. */
  async rerank(candidates, options) {
    const t = performance.now();
    const result = await this.#change(() => this.#withDevice(() => this.rec.rerank(candidates, options ?? {})));
    this.timings.rerankMs = performance.now() - t;
    this.timings.firstRankingMs ??= performance.now() - this.timings.openedAt;
    if (result.pending || this.options.encoder === 'background') this.#encoderSoon();
    return result;
  }

  /**
   * Loads a learned interest model file (`cloister train`) from a URL or bytes, pinned by
   * `sha256` if given. A bad file is an InterestModelError and the ranking goes on as before.
   * Resolves to `interestModel()`.
   */
  async setInterestModel(source, { sha256 } = {}) {
    this.#requireProfile();
    const bytes = await loadBytes(source, { what: 'interest model', sha256, onProgress: this.onProgress });
    if (this.rankingBuild) await this.#moveToEncoderBuild();
    if (typeof this.rec.setInterestModel !== 'function') {
      throw new InterestModelError('this wasm build has no interest model (burn): load an encoder build', 'interest_model_unsupported');
    }
    try {
      this.rec.setInterestModel(bytes);
    } catch (e) {
      throw fromWasm(e);
    }
    return this.interestModel();
  }

  /**
   * The ranking-only build has no burn, so no interest model: once the encoder (and its build)
   * is loaded, the recommender moves into that build. Its state goes over whole (profile,
   * weights, impressions, waiting events) through the same record IndexedDB stores; only the
   * cache of encoded texts starts empty. Changes in flight finish on the old one first.
   */
  async #moveToEncoderBuild() {
    await this.encoderReady();
    if (!this.rankingBuild) return;
    await this.flush();
    let rec;
    try {
      rec = new this.pkg.WasmRecommender(this.encoder, this.prior ?? undefined);
      rec.restoreState(this.rec.saveState());
    } catch (e) {
      throw fromWasm(e);
    }
    this.rec = rec;
    this.rankingBuild = null;
  }

  clearInterestModel() { this.#requireProfile(); this.rec.clearInterestModel?.(); }

  /** `{ sha256, hidden, source, adapted, gateShift }`, or null without a model. */
  interestModel() { return this.rec?.interestModel?.() ?? null; }

  /**
   * The interest model's scores and readouts for `candidates` on `backend` ('cpu' or 'webgpu';
   * the encoder's by default): what the ranking adds, run on a device of the caller's choice.
   */
  async interestScores(candidates, { backend } = {}) {
    this.#requireProfile();
    await this.encoderReady();
    if (typeof this.rec.interestScores !== 'function') return null;
    try {
      return await this.rec.interestScores(candidates, backend ?? this.encoder.backend);
    } catch (e) {
      throw fromWasm(e);
    }
  }

  interests() { this.#requireProfile(); return this.rec.interests(); }
  weights() { this.#requireProfile(); return this.rec.weights(); }
  exportProfile() { this.#requireProfile(); return this.rec.exportProfile(); }
  profileMap(candidates) { this.#requireProfile(); return this.rec.profileMap(candidates); }

  /**
   * Deletes the profile from memory and IndexedDB (quarantined copies too) and, unless
   * `keepModel`, the cached model and the remembered backend measurements from the Cache API.
   */
  async forget({ keepModel = false } = {}) {
    this.#requireProfile();
    await this.flush();
    await this.store.exclusive(async () => {
      this.rec.forget();
      await this.store.clear();
      this.rev = 0;
    });
    // The user's profiles for the other models too: a later switch would carry them back.
    for (const other of this.#otherModels()) {
      const store = new StateStore(this.#namespaceOf(other));
      try {
        await store.open({ persistent: this.options.persist !== false });
        await store.clear();
      } finally {
        store.close();
      }
    }
    this.warnings = [];
    if (!keepModel) await Promise.all([forgetModels(), forgetBackendChoices()]);
  }

  /**
   * The CPU path's int8 kernel, `{ kernel, simd128, relaxedDot }` (the timings, in ms, where it
   * was chosen by timing both), or null off the CPU path.
   */
  int8Kernel() {
    return this.encoder?.backend === 'cpu' && this.pkg?.int8KernelChoice ? int8KernelInfo(this.pkg) : null;
  }

  /** What the main thread mirrors after each call, so `interests()` and `weights()` are sync. */
  mirror() {
    return this.rec
      ? { interests: this.rec.interests(), weights: this.rec.weights(), storage: this.store.status, warnings: this.warnings,
        backend: this.encoder?.backend ?? null, int8Kernel: this.int8Kernel(), encodedTexts: this.rec.encodedTexts(), deferredEvents: this.rec.deferredEvents(),
        hasEncoder: this.rec.hasEncoder(), interestModel: this.interestModel(), rankingBuild: this.rankingBuild ?? null,
        timings: this.timings }
      : { interests: [], weights: null, storage: null, warnings: this.warnings, backend: this.encoder?.backend };
  }

  close() {
    this.store?.close();
  }
}
