// A pool of encoding lanes for `embed`: the recommender's own worker and, for large batches,
// extra encoder-only workers, each its own wasm instance and copy of the model (no shared
// memory, so no cross-origin isolation). Work goes out in pieces of PIECE texts, small requests
// first, so a batch of one never waits behind a large batch, at most behind one piece.

/**
 * Texts per piece, at most. A lane finishes a piece of 8 in about 70 ms on the CPU path (110
 * sentences/s on this 2-core machine): the longest a small request can wait. Larger pieces run
 * no faster (batch 1 and 32 run at the same rate on the CPU path).
 */
export const PIECE = 8;

/**
 * The piece size for a batch of `n` texts on `lanes` lanes: at least 4 pieces a lane, so that
 * the lanes finish a batch close together (texts differ in length; a batch waits for its last
 * piece), and never more than PIECE texts.
 */
export const pieceSize = (n, lanes) => Math.max(1, Math.min(PIECE, Math.ceil(n / (lanes * 4))));

/**
 * Resident memory one more encoder worker adds, to fit the pool in `memoryBudgetMB`: measured by
 * `npm run bench` (bench/pool.html), 133 MB in Chromium and 129 MB in Firefox for MiniLM, 434 MB
 * in Chromium for multilingual-e5-small (its 250,000-piece vocabulary).
 */
export const EXTRA_WORKER_MB = { 'all-MiniLM-L6-v2': 135, 'multilingual-e5-small': 435 };

/**
 * How many lanes `workers: 'auto'` gets: one per core the browser reports, at most 4, and no
 * more extra workers than `memoryBudgetMB` holds.
 */
export function poolSize({ workers = 'auto', memoryBudgetMB = 256, modelName, cores = globalThis.navigator?.hardwareConcurrency }) {
  if (!(Number.isFinite(memoryBudgetMB) && memoryBudgetMB >= 0)) {
    throw new TypeError(`memoryBudgetMB: a number of megabytes, 0 or more, got ${JSON.stringify(memoryBudgetMB)}`);
  }
  if (workers !== 'auto') {
    if (!Number.isInteger(workers) || workers < 1 || workers > 16) {
      throw new TypeError(`workers: 'auto' or a whole number from 1 to 16, got ${JSON.stringify(workers)}`);
    }
    return workers;
  }
  const perExtra = EXTRA_WORKER_MB[modelName] ?? EXTRA_WORKER_MB['multilingual-e5-small'];
  const byMemory = 1 + Math.floor(memoryBudgetMB / perExtra);
  return Math.max(1, Math.min(cores || 1, 4, byMemory));
}

export class EmbedPool {
  #lanes = [];
  #urgent = [];
  #bulk = [];
  #openExtra;
  #extraWanted;
  #extraStarted = false;
  #closed = false;
  /** Pieces each lane has run: `[lane 0, lane 1, ...]`. */
  piecesByLane = [];

  /**
   * `primary(texts, role)`: the recommender's own encoder, resolving to a flat Float32Array.
   * `openExtra()`: opens one extra lane (resolves to a function like `primary` and a `close`),
   * called `size - 1` times at the first batch larger than one piece.
   */
  constructor({ primary, size, openExtra }) {
    this.#addLane({ embed: primary, close: () => {} });
    this.#openExtra = openExtra;
    this.#extraWanted = size - 1;
  }

  /** Lanes working now (the recommender's own and the extra workers loaded so far). */
  get size() { return this.#lanes.length; }
  /** Lanes asked for. */
  get wanted() { return this.#extraWanted + 1; }

  /** One flat Float32Array(384 per text), in the order of `texts`. */
  embed(texts, role) {
    if (texts.length <= PIECE) return this.#run(this.#urgent, texts, role);
    this.#startExtra();
    const size = pieceSize(texts.length, this.wanted);
    const pieces = [];
    for (let at = 0; at < texts.length; at += size) pieces.push(this.#run(this.#bulk, texts.slice(at, at + size), role));
    return Promise.all(pieces).then((parts) => {
      const flat = new Float32Array(texts.length * 384);
      let at = 0;
      for (const part of parts) { flat.set(part, at); at += part.length; }
      return flat;
    });
  }

  close() {
    this.#closed = true;
    for (const lane of this.#lanes) lane.close();
    for (const piece of [...this.#urgent, ...this.#bulk]) piece.reject(new Error('Cloister closed'));
  }

  #run(queue, texts, role) {
    return new Promise((resolve, reject) => {
      queue.push({ texts, role, resolve, reject });
      this.#pump();
    });
  }

  #addLane(lane) {
    if (this.#closed) return lane.close(); // it finished loading after close()
    this.#lanes.push({ ...lane, busy: false, index: this.#lanes.length });
    this.piecesByLane.push(0);
    this.#pump();
  }

  // Extra workers start at the first large batch, not at open: a page that never embeds one
  // never pays their memory. The lanes join as they finish loading; until then the primary works.
  #startExtra() {
    if (this.#extraStarted || this.#extraWanted < 1) return;
    this.#extraStarted = true;
    for (let i = 0; i < this.#extraWanted; i++) {
      this.#openExtra().then((lane) => this.#addLane(lane), () => { /* the other lanes go on */ });
    }
  }

  #pump() {
    for (const lane of this.#lanes) {
      if (lane.busy) continue;
      const piece = this.#urgent.shift() ?? this.#bulk.shift();
      if (!piece) return;
      lane.busy = true;
      this.piecesByLane[lane.index] += 1;
      lane.embed(piece.texts, piece.role)
        .then(piece.resolve, piece.reject)
        .finally(() => { lane.busy = false; this.#pump(); });
    }
  }
}
