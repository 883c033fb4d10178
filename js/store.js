// Persistence of one user's state in IndexedDB: schema version 1 has `records` (namespace ->
// { bytes, rev, savedAt }) and `quarantine` (records that failed to load, kept for inspection).
// Writes from several tabs are serialised with the Web Locks API; a quota error or a missing
// IndexedDB turns the store into memory-only and says so.
import { StorageError } from './errors.js';

const DB = 'cloister';
const VERSION = 1;

function request(req) {
  return new Promise((ok, fail) => {
    req.onsuccess = () => ok(req.result);
    req.onerror = () => fail(req.error);
  });
}

function openDb() {
  return new Promise((ok, fail) => {
    const req = indexedDB.open(DB, VERSION);
    // Upgrade path: each version adds what it needs; version 1 is the first schema.
    req.onupgradeneeded = (event) => {
      const db = req.result;
      if (event.oldVersion < 1) {
        db.createObjectStore('records');
        db.createObjectStore('quarantine', { autoIncrement: true });
      }
    };
    req.onsuccess = () => ok(req.result);
    req.onerror = () => fail(req.error);
    req.onblocked = () => fail(new Error('IndexedDB upgrade blocked by another tab'));
  });
}

export class StateStore {
  #db = null;
  #memory = new Map();
  #namespace;
  /** { persistent, error? }: where the state lives now. */
  status = { persistent: false, error: null };

  constructor(namespace) {
    this.#namespace = namespace;
  }

  async open({ persistent = true } = {}) {
    if (!persistent || typeof indexedDB === 'undefined') {
      this.status = { persistent: false, error: persistent ? 'IndexedDB is not available' : null };
      return;
    }
    try {
      this.#db = await openDb();
      this.status = { persistent: true, error: null };
    } catch (e) {
      this.status = { persistent: false, error: `IndexedDB unavailable: ${e?.message ?? e}` };
    }
  }

  /** Runs `fn` holding this namespace's cross-tab lock (where the browser has Web Locks). */
  async exclusive(fn) {
    if (typeof navigator !== 'undefined' && navigator.locks) {
      return navigator.locks.request(`cloister:${this.#namespace}`, fn);
    }
    return fn();
  }

  async get() {
    if (!this.#db) return this.#memory.get(this.#namespace) ?? null;
    const tx = this.#db.transaction('records', 'readonly');
    return (await request(tx.objectStore('records').get(this.#namespace))) ?? null;
  }

  /** Saves atomically; on a quota error keeps the state in memory and reports it. */
  async put(bytes, rev) {
    const record = { bytes, rev, savedAt: Date.now() };
    if (!this.#db) {
      this.#memory.set(this.#namespace, record);
      return;
    }
    try {
      const tx = this.#db.transaction('records', 'readwrite');
      tx.objectStore('records').put(record, this.#namespace);
      await new Promise((ok, fail) => {
        tx.oncomplete = ok;
        tx.onerror = () => fail(tx.error);
        tx.onabort = () => fail(tx.error ?? new Error('transaction aborted'));
      });
    } catch (e) {
      this.#memory.set(this.#namespace, record);
      const quota = e?.name === 'QuotaExceededError';
      this.status = { persistent: false, error: quota ? 'storage quota exceeded: keeping the profile in memory for this session' : `IndexedDB write failed: ${e?.message ?? e}` };
      this.#db = null;
      throw new StorageError(this.status.error, quota ? 'store_full' : 'store_io');
    }
  }

  /** Moves the current record aside (kept for inspection) so a fresh state can start. */
  async quarantine(record, reason) {
    if (!this.#db) {
      this.#memory.delete(this.#namespace);
      return;
    }
    const tx = this.#db.transaction(['records', 'quarantine'], 'readwrite');
    tx.objectStore('quarantine').add({ namespace: this.#namespace, record, reason, at: Date.now() });
    tx.objectStore('records').delete(this.#namespace);
    await new Promise((ok, fail) => {
      tx.oncomplete = ok;
      tx.onerror = () => fail(tx.error);
    });
  }

  /** Deletes this namespace's record and its quarantined copies. */
  async clear() {
    this.#memory.delete(this.#namespace);
    if (!this.#db) return;
    const tx = this.#db.transaction(['records', 'quarantine'], 'readwrite');
    tx.objectStore('records').delete(this.#namespace);
    const q = tx.objectStore('quarantine');
    const all = await request(q.getAllKeys());
    const values = await request(q.getAll());
    values.forEach((v, i) => {
      if (v.namespace === this.#namespace) q.delete(all[i]);
    });
    await new Promise((ok, fail) => {
      tx.oncomplete = ok;
      tx.onerror = () => fail(tx.error);
    });
  }

  close() {
    this.#db?.close();
    this.#db = null;
  }
}
