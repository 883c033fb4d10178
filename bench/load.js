// The load benchmark in the browser (issue 6), through the public API as an app calls it:
// 1,000 events recorded three ways (one by one, all at once, recordMany) up to their save;
// `events` events recorded one by one (saves coalesced, as the package does),
// 10,000 candidates re-ranked, 1,000 feedback steps. Embeddings of the 256 benchmark sentences
// are reused, so this measures the profile, ranking and storage path, not the encoder.
import { Cloister } from '../js/index.js';

const params = new URLSearchParams(location.search);
const EVENTS = Number(params.get('events') ?? 100_000);
const persist = params.get('persist') !== '0';
const logEl = document.getElementById('log');
const log = (line) => { logEl.textContent += line + '\n'; };
const KINDS = ['view', 'click', 'dwell', 'purchase', 'dismiss', 'rate'];

async function run() {
  const texts = (await (await fetch('../crate/benches/sentences-256.txt')).text()).split('\n').filter(Boolean);
  const rec = await Cloister.open({
    model: '../models/all-MiniLM-L6-v2/model.int8.bpk', tokenizer: '../models/all-MiniLM-L6-v2/tokenizer.json',
    backend: 'cpu', namespace: `load-${Date.now()}`, persist,
  });
  const result = { events: EVENTS, persist, storage: rec.storage, inWorker: rec.inWorker };
  // Recording cost (issue 16): 1,000 events on already-encoded texts, up to the moment they
  // are saved (flush), three ways an app may send them.
  const burst = (offset) => Array.from({ length: 1000 }, (_, i) => ({
    item: { id: `burst-${offset + i}`, text: texts[i % 256], category: 'burst' }, kind: 'view', at: Date.now(),
  }));
  await rec.recordMany(burst(0)); // encodes the 256 texts once, outside the timings
  await rec.flush();
  let t = performance.now();
  for (const e of burst(1000)) await rec.record(e);
  await rec.flush();
  result.record1000AwaitedMs = performance.now() - t;
  t = performance.now();
  await Promise.all(burst(2000).map((e) => rec.record(e)));
  await rec.flush();
  result.record1000ConcurrentMs = performance.now() - t;
  t = performance.now();
  await rec.recordMany(burst(3000));
  await rec.flush();
  result.recordMany1000Ms = performance.now() - t;
  await rec.forget({ keepModel: true });
  t = performance.now();
  for (let i = 0; i < EVENTS; i++) {
    const kind = KINDS[i % KINDS.length];
    const value = kind === 'dwell' ? 30 : kind === 'rate' ? 4 : undefined;
    await rec.record({ item: { id: `item-${i}`, text: texts[i % 256], category: `cat${i % 13}` }, kind, value, at: i });
    if (i % 10_000 === 9_999) log(`${i + 1} events`);
  }
  result.eventsMs = performance.now() - t;
  const exported = await rec.exportProfile();
  result.profileEvents = exported.state.profile.events;
  result.exportBytes = JSON.stringify(exported).length;

  const candidates = Array.from({ length: 10_000 }, (_, i) => ({
    id: `c${i}`, text: texts[i % 256], server_score: 10_000 - i, category: `cat${i % 13}`,
    related: [{ id: `item-${EVENTS - 1 - (i % 50)}`, weight: 0.5 }],
  }));
  await rec.rerank(candidates, { k: 10 }); // warm-up: embeds nothing new, fills caches
  const times = [];
  for (let r = 0; r < 5; r++) {
    t = performance.now();
    await rec.rerank(candidates, { k: 10 });
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  result.rerank10kMs = times[2];

  t = performance.now();
  for (let step = 0; step < 1000; step++) {
    const from = (step * 37) % 9_900;
    const r = await rec.rerank(candidates.slice(from, from + 100), { k: 10 });
    await rec.feedback(r.impressionId, { chosen: [r.items[step % 10].id] });
  }
  result.feedbackMs = performance.now() - t;
  result.weightsFinite = Object.values(rec.weights().current).every(Number.isFinite);
  if (performance.memory) result.jsHeapUsed = performance.memory.usedJSHeapSize;
  await rec.forget({ keepModel: true });
  rec.close();
  return result;
}

run().then(
  (r) => { window.result = r; log(JSON.stringify(r)); },
  (e) => { window.result = { error: `${e?.name ?? 'Error'}: ${e?.message ?? e}\n${e?.stack ?? ''}` }; log(`failed: ${e?.stack ?? e}`); },
);
