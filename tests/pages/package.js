// Hooks for tests/package.browser.test.mjs, under a strict CSP.
import { Cloister } from '/js/index.js';

const DIR = '/models/all-MiniLM-L6-v2';
let manifest;

async function pins() {
  manifest ??= await (await fetch('/models/manifest.json')).json();
  return { model: manifest.converted['model.int8.bpk'].sha256, tokenizer: manifest.source.files['tokenizer.json'].sha256 };
}

window.open_ = async (opts = {}) => {
  const progress = [];
  const integrity = opts.badPin ? { model: '0'.repeat(64) } : await pins();
  try {
    const rec = await Cloister.open({
      model: `${DIR}/model.int8.bpk`, tokenizer: `${DIR}/tokenizer.json`, backend: 'cpu',
      integrity, namespace: opts.namespace ?? 'test', profile: opts.profile, worker: opts.worker,
      onProgress: (p) => progress.push(p),
    });
    window.rec = rec;
    return { ok: true, cached: progress.filter((p) => p.what === 'model').some((p) => p.cached),
      sawProgress: progress.filter((p) => p.what === 'model' && p.fraction > 0 && p.fraction < 1).length,
      storage: rec.storage, warnings: rec.warnings, inWorker: rec.inWorker };
  } catch (e) {
    return { ok: false, name: e.name, kind: e.kind, message: e.message };
  }
};

const item = (i) => ({ id: `i${i}`, text: `Item number ${i}: a hardback travel guide to the coast`, category: 'travel' });

window.recordMany = async (from, n) => {
  for (let i = from; i < from + n; i++) await window.rec.record({ item: item(i), kind: 'click', at: Date.now() });
  return (await window.rec.exportProfile()).state.profile.events;
};

window.rankSome = async () => {
  const candidates = [0, 1, 2, 3].map((i) => ({ id: `c${i}`, text: `Candidate ${i} about ${['cooking', 'travel', 'music', 'gardens'][i]}`, server_score: 1 }));
  const r = await window.rec.rerank(candidates, { k: 4 });
  return r.items.map((x) => x.id);
};

window.events = async () => (await window.rec.exportProfile()).state.profile.events;

/** Writes garbage where the namespace's record lives. */
window.corruptRecord = (namespace) => new Promise((ok, fail) => {
  const req = indexedDB.open('cloister', 1);
  req.onsuccess = () => {
    const tx = req.result.transaction('records', 'readwrite');
    tx.objectStore('records').put({ bytes: new Uint8Array([67, 76, 83, 84, 1, 0, 1, 0, 9, 9, 9, 9]), rev: 99, savedAt: 0 }, namespace);
    tx.oncomplete = () => { req.result.close(); ok(); };
    tx.onerror = () => fail(tx.error);
  };
  req.onerror = () => fail(req.error);
});

window.quarantined = () => new Promise((ok, fail) => {
  const req = indexedDB.open('cloister', 1);
  req.onsuccess = () => {
    const r = req.result.transaction('quarantine').objectStore('quarantine').getAll();
    r.onsuccess = () => { req.result.close(); ok(r.result.map((q) => ({ namespace: q.namespace, reason: q.reason }))); };
    r.onerror = () => fail(r.error);
  };
});

window.ready = true;
