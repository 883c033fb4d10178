// Hooks for tests/package.browser.test.mjs, under a strict CSP.
import { Cloister } from '/js/index.js';

const DIR = '/models/all-MiniLM-L6-v2';

// Test hook: every WebGPU device this page creates, so a test can destroy one (device loss).
window.gpuDevices = [];
if (typeof GPUAdapter !== 'undefined') {
  const original = GPUAdapter.prototype.requestDevice;
  GPUAdapter.prototype.requestDevice = async function requestDevice(...args) {
    const device = await original.apply(this, args);
    window.gpuDevices.push(device);
    return device;
  };
}
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
      model: `${DIR}/model.int8.bpk`, tokenizer: `${DIR}/tokenizer.json`, backend: opts.backend ?? 'cpu',
      integrity: { ...integrity, interestModel: opts.interestModelPin }, namespace: opts.namespace ?? 'test',
      profile: opts.profile, worker: opts.worker, prior: opts.prior,
      interestModel: opts.interestModel && new TextEncoder().encode(opts.interestModel),
      onProgress: (p) => progress.push(p),
    });
    window.rec = rec;
    return { ok: true, cached: progress.filter((p) => p.what === 'model').some((p) => p.cached),
      sawProgress: progress.filter((p) => p.what === 'model' && p.fraction > 0 && p.fraction < 1).length,
      storage: rec.storage, warnings: rec.warnings, inWorker: rec.inWorker, wasmBuild: rec.wasmBuild, int8Kernel: rec.int8Kernel };
  } catch (e) {
    return { ok: false, name: e.name, kind: e.kind, message: e.message, url: e.url, expected: e.expected, actual: e.actual };
  }
};

const item = (i) => ({ id: `i${i}`, text: `Item number ${i}: a hardback travel guide to the coast`, category: 'travel' });

window.recordMany = async (from, n) => {
  for (let i = from; i < from + n; i++) await window.rec.record({ item: item(i), kind: 'click', at: Date.now() });
  // Saves are coalesced; the tests that look at storage next want it on disk now.
  await window.rec.flush();
  return (await window.rec.exportProfile()).state.profile.events;
};

/**
 * A burst of `n` events on 20 texts, not flushed: through `recordMany` (one call) or `record`
 * (n calls at once). Resolves when every call has; the test then closes the page at once.
 */
window.burst = async ({ n, many, offset = 0 }) => {
  const events = Array.from({ length: n }, (_, i) => ({ item: item(offset + (i % 20)), kind: 'view', at: Date.now() }));
  const t = performance.now();
  if (many) {
    const r = await window.rec.recordMany(events);
    if (r.recorded !== n) throw new Error(JSON.stringify(r));
  } else {
    await Promise.all(events.map((e) => window.rec.record(e)));
  }
  return performance.now() - t;
};

/**
 * Ranks `candidates` (sent with server embeddings) for a fresh user with a three-event history
 * about the coast, then clicks the top item; reports the order, notes and the texts encoded
 * on the device at each step.
 */
window.serverRanking = async ({ namespace, candidates }) => {
  const rec = await Cloister.open({
    model: `${DIR}/model.int8.bpk`, tokenizer: `${DIR}/tokenizer.json`, backend: 'cpu',
    integrity: await pins(), namespace,
  });
  try {
    await rec.recordMany([0, 1, 2].map((i) => ({ item: item(i), kind: 'click', at: Date.now() })));
    const afterHistory = rec.encodedTexts;
    const ranked = await rec.rerank(candidates);
    const afterRank = rec.encodedTexts;
    const top = candidates.find((c) => c.id === ranked.items[0].id);
    await rec.record({ item: { id: top.id, text: top.text }, kind: 'purchase', at: Date.now() });
    return {
      ids: ranked.items.map((x) => x.id),
      scores: ranked.items.map((x) => x.score),
      notes: Object.fromEntries(ranked.items.filter((x) => x.notes).map((x) => [x.id, x.notes])),
      afterHistory, afterRank, afterClick: rec.encodedTexts,
    };
  } finally {
    await rec.forget({ keepModel: true });
    await rec.close();
  }
};

/** recordMany with some bad events among good ones. */
window.recordSomeBad = async () => {
  const events = [
    { item: item(0), kind: 'view', at: Date.now() },
    { item: item(1), kind: 'teleport', at: Date.now() },
    { item: item(2), kind: 'view', at: Date.now() * 1000 },
    'not an event',
    { item: item(3), kind: 'like', at: Date.now() },
  ];
  const before = await window.events();
  const r = await window.rec.recordMany(events);
  let tooMany;
  try {
    await window.rec.recordMany(Array.from({ length: 5001 }, () => events[0]));
  } catch (e) {
    tooMany = { name: e.name, kind: e.kind };
  }
  return { ...r, added: (await window.events()) - before, tooMany };
};

window.rankSome = async () => {
  const candidates = [0, 1, 2, 3].map((i) => ({ id: `c${i}`, text: `Candidate ${i} about ${['cooking', 'travel', 'music', 'gardens'][i]}`, server_score: 1 }));
  const r = await window.rec.rerank(candidates, { k: 4 });
  return r.items.map((x) => x.id);
};

/** Candidates with texts never embedded before (so the encoder must run). */
window.rankNew = async (tag) => {
  const candidates = ['lentils', 'ferries', 'violins', 'orchids'].map((w, i) => ({ id: `${tag}-${i}`, text: `${tag}: a short guide to ${w}`, server_score: 1 }));
  const r = await window.rec.rerank(candidates, { k: 4 });
  return r.items.map((x) => x.id);
};

/**
 * Two 10,000-item lists through the public API: the second reuses the first half of the first
 * (the oldest cache entries) and adds 5,000 new texts. Every text must be encoded on the device.
 */
window.rankOverlapping = async () => {
  const list = (prefix, from, to) => Array.from({ length: to - from },
    (_, j) => ({ id: `${prefix}${from + j}`, text: `${prefix} ${from + j}`, server_score: (from + j) % 7 }));
  const started = performance.now();
  const outcome = async (candidates) => {
    try {
      const r = await window.rec.rerank(candidates, { k: 10 });
      return { ok: true, shown: r.items.length };
    } catch (e) {
      return { ok: false, name: e.name, kind: e.kind, message: e.message };
    }
  };
  const first = await outcome(list('a', 0, 10000));
  const second = await outcome([...list('a', 0, 5000), ...list('b', 0, 5000)]);
  return { first, second, seconds: (performance.now() - started) / 1000 };
};

/** Hostile inputs through the public API (issue 13); each gives its error, never a panic. */
window.hostile = async () => {
  const outcome = async (f) => {
    try {
      await f();
      return { ok: true };
    } catch (e) {
      return { ok: false, name: e.name, kind: e.kind, message: e.message };
    }
  };
  const rec = window.rec;
  const list = (n, shape = (c) => c) => Array.from({ length: n },
    (_, i) => shape({ id: `x${i}`, text: `hostile item ${i % 40}`, server_score: 1 }, i));
  const named = (prefix) => Object.fromEntries(Array.from({ length: 32 }, (_, f) => [`${prefix}${f}`, f]));
  return {
    // 1: every distinct feature name is a column for every candidate.
    distinctFeatures: await outcome(() => rec.rerank(list(1000, (c, i) => ({ ...c, features: named(`f${i}-`) })))),
    sharedFeatures: await outcome(() => rec.rerank(list(1000, (c) => ({ ...c, features: named('f') })))),
    // 5: bounds on one call.
    tooManyCandidates: await outcome(() => rec.rerank(list(10001))),
    tooManyRelated: await outcome(() => rec.rerank(list(2, (c) => ({ ...c,
      related: Array.from({ length: 129 }, (_, r) => ({ id: `r${r}`, weight: 1 })) })))),
    // 7: numbers f32 cannot hold.
    hugeScore: await outcome(() => rec.rerank(list(2, (c, i) => ({ ...c, server_score: i ? 1 : 1e39 })))),
    hugeFeature: await outcome(() => rec.rerank(list(2, (c) => ({ ...c, features: { margin: -1e39 } })))),
    hugeValue: await outcome(() => rec.record({ item: { id: 'v', text: 'a long read' }, kind: 'dwell', value: 1e39, at: 1 })),
    // 9: a chosen id given twice.
    chosenTwice: await outcome(async () => {
      const r = await rec.rerank(list(3), { k: 3 });
      await rec.feedback(r.impressionId, { chosen: [r.items[0].id, r.items[0].id] });
    }),
    // Issue 14: an event's time is checked against the device's clock.
    futureTime: await outcome(() => rec.record({ item: { id: 't', text: 'a long read' }, kind: 'click', at: Date.now() + 2 * 86400e3 })),
    negativeTime: await outcome(() => rec.record({ item: { id: 't', text: 'a long read' }, kind: 'click', at: -1 })),
    fractionalTime: await outcome(() => rec.record({ item: { id: 't', text: 'a long read' }, kind: 'click', at: 1.5 })),
    oldLog: await outcome(() => rec.record({ item: { id: 't', text: 'a long read' }, kind: 'click', at: 874965758000 })),
    eventsAfter: (await rec.exportProfile()).state.profile.events,
    stillWorks: await outcome(() => rec.rerank(list(5))),
  };
};

/** Ranks four candidates and returns the impression, to answer after a reload. */
window.showFour = async () => {
  const candidates = ['cast iron pans', 'ferry timetables', 'violin strings', 'orchid care'].map((w, i) => ({ id: `s${i}`, text: `A guide to ${w}`, server_score: 4 - i }));
  const r = await window.rec.rerank(candidates, { k: 4 });
  return { impressionId: r.impressionId, ids: r.items.map((x) => x.id) };
};

/** The site's prior, version `version`, with the server weight `server`. */
window.priorOf = (version, server) => ({
  version,
  weights: { server, short_term: 0.65, long_term: -0.2, nn_recent: 0.35, stated: 0.8, dismissed: -2, consumed: -1, exposed: -0.15 },
});

/** Feedback on an impression; the outcome and the weights after it. */
window.answer = async (impressionId, chosen, dismissed) => {
  try {
    const delta = await window.rec.feedback(impressionId, { chosen, dismissed });
    return { ok: true, delta, steps: window.rec.weights().steps };
  } catch (e) {
    return { ok: false, name: e.name, kind: e.kind, message: e.message };
  }
};

/** Opens with a prior and reports the error, if any. */
window.openWithPrior = async (prior) => {
  try {
    const rec = await Cloister.open({
      model: `${DIR}/model.int8.bpk`, tokenizer: `${DIR}/tokenizer.json`, backend: 'cpu',
      integrity: await pins(), namespace: 'prior', prior, worker: false,
    });
    rec.close();
    return { ok: true };
  } catch (e) {
    return { ok: false, name: e.name, kind: e.kind, message: e.message };
  }
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

/** What the origin holds: this namespace's IndexedDB record and quarantine, and Cache API entries. */
window.storageSnapshot = async (namespace) => {
  const db = await new Promise((ok, fail) => {
    const req = indexedDB.open('cloister', 1);
    req.onsuccess = () => ok(req.result);
    req.onerror = () => fail(req.error);
  });
  const all = (store) => new Promise((ok, fail) => {
    const r = db.transaction(store).objectStore(store).getAll();
    r.onsuccess = () => ok(r.result);
    r.onerror = () => fail(r.error);
  });
  const record = await new Promise((ok, fail) => {
    const r = db.transaction('records').objectStore('records').get(namespace);
    r.onsuccess = () => ok(r.result ?? null);
    r.onerror = () => fail(r.error);
  });
  const quarantine = (await all('quarantine')).filter((q) => q.namespace === namespace).length;
  db.close();
  const caches_ = {};
  for (const name of await caches.keys()) caches_[name] = (await (await caches.open(name)).keys()).map((r) => new URL(r.url).pathname);
  return { record: record != null, quarantine, caches: caches_ };
};

/** Sha-256 of each cached model entry, to prove no partial download was kept. */
window.cachedModelHashes = async () => {
  const out = [];
  if (!(await caches.has('cloister-models-v1'))) return out;
  const cache = await caches.open('cloister-models-v1');
  for (const req of await cache.keys()) {
    const bytes = await (await cache.match(req)).arrayBuffer();
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
    out.push({ key: new URL(req.url).pathname, size: bytes.byteLength, sha256: Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('') });
  }
  return out;
};

window.pins = pins;

window.ready = true;

/**
 * A cold visitor states one interest in Chinese; the 120 Chinese items of the relevance fixture
 * are the candidates (no server order). Returns the categories of the top 10, explanations and
 * warnings; then a mixed-language history (a Chinese view, an English click) and a second
 * ranking. `model`: 'english' or 'multilingual', loaded by name.
 */
window.chineseInterest = async ({ model, interest }) => {
  const fixture = await (await fetch('/crate/tests/fixtures/zh-relevance.json')).json();
  const rec = await Cloister.open({ model, backend: 'cpu', namespace: `zh-${model}` });
  try {
    await rec.stateInterest(interest);
    const candidates = fixture.items.map((it) => ({ id: it.id, text: it.text, server_score: 0 }));
    const category = new Map(fixture.items.map((it) => [it.id, it.category]));
    const first = await rec.rerank(candidates, { k: 10 });
    await rec.record({ item: { id: 'zh-h1', text: '手冲咖啡壶，细长壶嘴控水稳定' }, kind: 'view', at: Date.now() });
    await rec.record({ item: { id: 'en-h1', text: 'A pour-over coffee kettle with a gooseneck spout' }, kind: 'click', at: Date.now() });
    const second = await rec.rerank(candidates, { k: 10 });
    return {
      modelName: rec.modelName,
      top: first.items.map((x) => category.get(x.id)),
      claims: first.items.filter((x) => x.explanation?.feature === 'stated').map((x) => category.get(x.id)),
      afterHistory: second.items.map((x) => category.get(x.id)),
      warnings: rec.warnings,
    };
  } finally {
    await rec.forget({ keepModel: true });
    rec.close();
  }
};

/**
 * A user of the English model (a history with a rating and a dismissal, a stated interest)
 * switches to the multilingual model, ranks Chinese items, switches back, then forgets.
 */
window.switchModels = async ({ interest }) => {
  const namespace = 'switch';
  const open = (model) => Cloister.open({ model, backend: 'cpu', namespace, workers: 1 });
  const profileOf = async (rec) => (await rec.exportProfile()).state.profile;
  const at = Date.now() - 60_000;
  const en = await open('english');
  await en.recordMany([
    { item: { id: 'k1', text: 'A pre-seasoned cast iron skillet, 26 cm', category: 'kitchen' }, kind: 'click', at },
    { item: { id: 'k2', text: 'An enamelled cast iron Dutch oven for slow braises', category: 'kitchen' }, kind: 'purchase', at: at + 1000 },
    { item: { id: 'c1', text: 'A gooseneck kettle for pour-over coffee', category: 'tea-coffee' }, kind: 'rate', value: 5, at: at + 2000 },
    { item: { id: 'x1', text: 'A plastic lawn flamingo', category: 'garden' }, kind: 'dismiss', at: at + 3000 },
  ]);
  await en.stateInterest(interest, 2);
  const english = await profileOf(en);
  en.close();

  const zh = await open('multilingual');
  const carriedFrom = zh.carriedFrom;
  await zh.encoderReady(); // the carried texts are embedded by this model and folded in
  const multilingual = await profileOf(zh);
  const fixture = await (await fetch('/crate/tests/fixtures/zh-relevance.json')).json();
  const category = new Map(fixture.items.map((it) => [it.id, it.category]));
  const ranked = await zh.rerank(fixture.items.map((it) => ({ id: it.id, text: it.text, server_score: 0 })), { k: 10 });
  const deferred = zh.deferredEvents;
  zh.close();

  const back = await open('english');
  const englishAgain = { carriedFrom: back.carriedFrom, profile: await profileOf(back) };
  await back.forget({ keepModel: true });
  back.close();
  const afterForget = await open('multilingual');
  const forgotten = { carriedFrom: afterForget.carriedFrom, recent: (await profileOf(afterForget)).recent.length };
  await afterForget.forget({ keepModel: true });
  afterForget.close();
  const entry = (e) => ({ id: e.id, kind: e.kind, at: e.at, signal: e.signal, embedding: e.embedding });
  return {
    carriedFrom, deferred,
    english: { recent: english.recent.map(entry), interests: english.interests.map((i) => [i.text, i.weight]), dismissed: english.dismissed, consumed: english.consumed },
    multilingual: { recent: multilingual.recent.map(entry), interests: multilingual.interests.map((i) => [i.text, i.weight]), dismissed: multilingual.dismissed, consumed: multilingual.consumed },
    top: ranked.items.map((x) => category.get(x.id)),
    englishAgain: { carriedFrom: englishAgain.carriedFrom, recent: englishAgain.profile.recent.map(entry) },
    forgotten,
  };
};

/** Opens the English model by name with a lazy encoder; reports what is there at once. */
window.lazyOpen = async ({ namespace, encoder = 'background' }) => {
  const progress = [];
  const t = performance.now();
  const rec = await Cloister.open({ model: 'english', backend: 'cpu', namespace, encoder, onProgress: (p) => progress.push(p.what) });
  window.rec = rec;
  window.lazyProgress = progress;
  return { openMs: performance.now() - t, hasEncoder: rec.hasEncoder, backend: rec.backend, deferred: rec.deferredEvents,
    rankingBuild: rec.rankingBuild, wasmBuild: rec.wasmBuild,
    events: await window.events() };
};

/** Ranks `candidates`, then records a click on the top server-embedded one, a search and a
 * recordMany of two new texts; reports what ranked, what waits and what is recorded. */
window.lazySession = async (candidates) => {
  const rec = window.rec;
  const ranked = await rec.rerank(candidates);
  const embedded = new Set(candidates.filter((c) => c.embedding).map((c) => c.id));
  const top = candidates.find((c) => c.id === ranked.items.find((x) => embedded.has(x.id)).id);
  await rec.record({ item: { id: top.id, text: top.text }, kind: 'click', at: Date.now() });
  const afterClick = rec.deferredEvents;
  await rec.record({ item: { id: 'search:kayak', text: 'sea kayaking trips' }, kind: 'search', at: Date.now() });
  const many = await rec.recordMany([
    { item: { id: 'n1', text: 'A field guide to tide pools' }, kind: 'view', at: Date.now() },
    { item: { id: 'n2', text: 'Knots for small boats' }, kind: 'like', at: Date.now() },
  ]);
  return { pending: ranked.pending, unembedded: ranked.unembedded, count: ranked.items.length,
    order: ranked.items.map((x) => x.id), afterClick, many, deferred: rec.deferredEvents,
    events: await window.events(), encodedTexts: rec.encodedTexts, hasEncoder: rec.hasEncoder };
};

/** Waits for the encoder, then ranks again. */
window.lazyArrive = async (candidates) => {
  const rec = window.rec;
  const info = await rec.encoderReady();
  const ranked = await rec.rerank(candidates);
  return { backend: info.backend, hasEncoder: rec.hasEncoder, deferred: rec.deferredEvents, events: await window.events(),
    pending: ranked.pending ?? null, progress: window.lazyProgress, encodedTexts: rec.encodedTexts, recent: (await rec.exportProfile()).state.profile.recent.map((e) => e.id) };
};

/**
 * The embedding pool: 48 texts through `workers` workers (their vectors, and the pieces each
 * worker ran), then a batch of one sent while a batch of 128 runs (which resolved first).
 */
window.poolRun = async ({ workers }) => {
  const rec = await Cloister.open({
    model: `${DIR}/model.int8.bpk`, tokenizer: `${DIR}/tokenizer.json`, backend: 'cpu',
    integrity: await pins(), profile: false, workers,
  });
  try {
    const texts = Array.from({ length: 48 }, (_, i) => `Item number ${i}: a ${['travel guide', 'cookbook', 'field manual'][i % 3]} for ${i % 2 ? 'winter' : 'summer'}`);
    const vectors = (await rec.embed(texts)).map((v) => Array.from(v));
    const afterFirst = rec.embedPool;
    const order = [];
    const big = rec.embed(Array.from({ length: 128 }, (_, i) => `${texts[i % 48]} (copy ${i})`)).then(() => order.push('big'));
    const small = rec.embed(['one small request']).then(() => order.push('small'));
    await Promise.all([big, small]);
    return { vectors, afterFirst, after: rec.embedPool, order };
  } finally {
    await rec.close();
  }
};

/** The English model from the local files, on the CPU path with `workers` workers. */
async function openPooled(namespace, workers) {
  return Cloister.open({
    model: `${DIR}/model.int8.bpk`, tokenizer: `${DIR}/tokenizer.json`, backend: 'cpu',
    integrity: await pins(), namespace, workers,
  });
}

const POOL_KINDS = ['cookbook', 'chef knife', 'hiking boot', 'garden trowel', 'wool sweater'];
/** The `i`th of the pool tests' item texts, each different. */
const poolText = (tag, i) => `${tag} ${i}: a ${POOL_KINDS[i % 5]} for ${i % 2 ? 'winter' : 'summer'} evenings`;

/**
 * A large rerank through the pool: 40 candidates with text only, ranked with `workers` workers
 * (the scores, and the pieces each worker ran), again (all cached by then), and once more with
 * 40 new texts after the extra workers have loaded.
 */
window.poolRerank = async ({ workers }) => {
  const rec = await openPooled(`pool-rerank-${workers}`, workers);
  try {
    await rec.forget({ keepModel: true });
    await rec.record({ item: { id: 'seen-1', text: 'A cast iron skillet for searing steak' }, kind: 'click', at: 1_700_000_000_000 });
    await rec.record({ item: { id: 'seen-2', text: 'A dutch oven for slow braises' }, kind: 'purchase', at: 1_700_000_100_000 });
    const candidates = (tag) => Array.from({ length: 40 }, (_, i) => ({
      id: `${tag}-${i}`, text: poolText(tag, i), server_score: 1 - i / 100,
    }));
    const first = await rec.rerank(candidates('Item'));
    const encodedFirst = rec.encodedTexts;
    const piecesFirst = rec.embedPool.piecesByLane.reduce((a, b) => a + b, 0);
    const again = await rec.rerank(candidates('Item'));
    const encodedAgain = rec.encodedTexts;
    const piecesAgain = rec.embedPool.piecesByLane.reduce((a, b) => a + b, 0);
    for (let t = 0; t < 600 && rec.embedPool.started < rec.embedPool.size - 1; t++) await new Promise((r) => setTimeout(r, 100));
    const before = [...rec.embedPool.piecesByLane];
    const fresh = await rec.rerank(candidates('Other'));
    const after = rec.embedPool;
    const scores = (r) => r.items.map((x) => [x.id, x.score]);
    return {
      first: scores(first), again: scores(again), fresh: scores(fresh),
      encodedFirst, encodedAgain, encodedFresh: rec.encodedTexts, piecesFirst, piecesAgain,
      freshByLane: after.piecesByLane.map((n, i) => n - (before[i] ?? 0)), pool: after,
    };
  } finally {
    await rec.close();
  }
};

/**
 * A large `recordMany` through the pool: 40 new item texts and one bad event, recorded with
 * `workers` workers, then (not awaited) one more `record` and a `flush`: what was encoded when
 * the flush resolved and in all, the pieces the pool ran, and the scores of a ranking after.
 */
window.poolRecordMany = async ({ workers }) => {
  const rec = await openPooled(`pool-record-${workers}`, workers);
  try {
    await rec.forget({ keepModel: true });
    const events = Array.from({ length: 40 }, (_, i) => ({
      item: { id: `seen-${i}`, text: poolText('Seen', i) },
      kind: i % 3 ? 'view' : 'click', at: 1_700_000_000_000 + i * 60_000,
    }));
    events.splice(7, 0, { item: { id: 'bad', text: 'an event from before 1970' }, kind: 'click', at: -5 });
    const many = rec.recordMany(events);
    const one = rec.record({ item: { id: 'last', text: 'A carbon steel wok' }, kind: 'purchase', at: 1_700_000_000_000 + 41 * 60_000 });
    await rec.flush();
    // Had the flush reached the worker before the batch, it would have resolved before a text
    // was encoded.
    const encodedAtFlush = rec.encodedTexts;
    const result = await many;
    await one;
    const encoded = rec.encodedTexts;
    const pieces = rec.embedPool.piecesByLane.reduce((a, b) => a + b, 0);
    const ranked = await rec.rerank(Array.from({ length: 6 }, (_, i) => ({
      id: `c-${i}`, text: `a ${POOL_KINDS[i % 5]} for the kitchen`, server_score: 1 - i / 10,
    })));
    return {
      encodedAtFlush, recorded: result.recorded, rejected: result.rejected.map((r) => [r.index, r.kind]),
      encoded, pieces, scores: ranked.items.map((x) => [x.id, x.score]),
    };
  } finally {
    await rec.close();
  }
};
