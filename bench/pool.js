// The embedding pool, paired: Cloister with one worker and with a pool of `workers` in the same
// page, timed in alternating rounds on the same 256 sentences in calls of 32 (the machine's
// drift hits both alike); then a rerank of 128 new text-only candidates and a recordMany of 128
// events on new items, each paired the same way. At three marks the page waits for the driver to read the renderer's
// resident memory: before any encoder, with the one-worker encoder, and with the pool's extra
// workers loaded. The driver (scripts/bench.mjs) reads `window.result`.
import { Cloister } from '../js/index.js';

const params = new URLSearchParams(location.search);
const workers = Number(params.get('workers') ?? 2);
const rounds = Number(params.get('rounds') ?? 5);
const batch = 32;
const logEl = document.getElementById('log');
const log = (line) => { logEl.textContent += line + '\n'; };

/** Resolves when the driver has read the memory at this mark. */
function mark(name) {
  return new Promise((resolve) => { window.mark = { name, resolve }; });
}

async function pass(rec, sentences) {
  const started = performance.now();
  for (let i = 0; i < sentences.length; i += batch) await rec.embed(sentences.slice(i, i + batch));
  return sentences.length / ((performance.now() - started) / 1000);
}

/** `rounds` rounds of `pass` on one worker's recommender, then the pool's, alternating: the
 * pairs (items/s) and their median ratio. */
async function paired(label, one, pool, pass) {
  const pairs = [];
  for (let r = 0; r < rounds; r++) {
    const single = await pass(one);
    const pooled = await pass(pool);
    pairs.push({ single, pooled, ratio: pooled / single });
    log(`${label}round ${r + 1}: one worker ${single.toFixed(1)}/s, ${workers} workers ${pooled.toFixed(1)}/s`);
  }
  const ratios = pairs.map((p) => p.ratio).sort((a, b) => a - b);
  return { pairs, median: ratios[Math.floor(ratios.length / 2)] };
}

async function run() {
  const sentences = (await (await fetch('../crate/benches/sentences-256.txt')).text()).split('\n').filter(Boolean);
  // ?encoder=multilingual: the multilingual model by name (its files and pins from the package).
  const files = params.get('encoder') === 'multilingual' ? { model: 'multilingual' }
    : { model: '../models/all-MiniLM-L6-v2/model.int8.bpk', tokenizer: '../models/all-MiniLM-L6-v2/tokenizer.json' };
  const open = (n) => Cloister.open({ ...files, backend: 'cpu', profile: false, workers: n });
  await mark('before');
  const one = await open(1);
  await pass(one, sentences); // warm-up
  await mark('one worker');
  const pool = await open(workers);
  await pass(pool, sentences); // warm-up: the extra workers start here and join as they load
  while (pool.embedPool.started < workers - 1) await new Promise((r) => setTimeout(r, 100));
  await pass(pool, sentences);
  await mark('pool');
  const embedded = await paired('', one, pool, (rec) => pass(rec, sentences));
  const piecesByLane = pool.embedPool.piecesByLane;
  // A rerank of 128 candidates sent with text only, never seen before (a new suffix each time),
  // by a recommender with one worker and one with the pool, in alternating rounds.
  await one.close();
  await pool.close();
  const rankers = await Promise.all([1, workers].map(async (n) => {
    const rec = await Cloister.open({ ...files, backend: 'cpu', workers: n, namespace: `bench-pool-${n}` });
    await rec.record({ item: { id: 'seen', text: sentences[0] }, kind: 'click', at: Date.now() - 60_000 });
    return rec;
  }));
  let fresh = 0;
  const rerankPass = async (rec) => {
    const tag = ` (${fresh++})`;
    const candidates = sentences.slice(0, 128).map((text, i) => ({ id: `c${i}`, text: text + tag, server_score: 1 - i / 1000 }));
    const started = performance.now();
    await rec.rerank(candidates);
    return candidates.length / ((performance.now() - started) / 1000);
  };
  // The first of each: the pool's extra workers start during its first large rerank.
  const firstSingle = await rerankPass(rankers[0]);
  const firstPooled = await rerankPass(rankers[1]);
  while (rankers[1].embedPool.started < workers - 1) await new Promise((r) => setTimeout(r, 100));
  await rerankPass(rankers[1]);
  const reranked = await paired('rerank ', rankers[0], rankers[1], rerankPass);
  // A recordMany of 128 clicks on items never seen before, then `flush()` (the batch is saved),
  // the same way: the pool encodes the new item texts before the worker records them.
  const recordPass = async (rec) => {
    const tag = ` (${fresh++})`;
    const at = Date.now() - 1000;
    const events = sentences.slice(128, 256).map((text, i) => ({ item: { id: `e${fresh}-${i}`, text: text + tag }, kind: 'click', at: at + i }));
    const started = performance.now();
    const done = await rec.recordMany(events);
    await rec.flush();
    if (done.recorded !== events.length) throw new Error(`recordMany recorded ${done.recorded} of ${events.length}`);
    return events.length / ((performance.now() - started) / 1000);
  };
  await recordPass(rankers[0]); // warm-up of the recording path on each
  await recordPass(rankers[1]);
  const recorded = await paired('recordMany ', rankers[0], rankers[1], recordPass);
  for (const rec of rankers) await rec.forget({ keepModel: true }).then(() => rec.close());
  return {
    workers, batch, model: one.modelName, sentences: sentences.length, pairs: embedded.pairs, medianRatio: embedded.median, piecesByLane,
    rerankFirst: { single: firstSingle, pooled: firstPooled },
    rerankPairs: reranked.pairs, rerankMedianRatio: reranked.median,
    recordPairs: recorded.pairs, recordMedianRatio: recorded.median,
  };
}

run().then(
  (r) => { window.result = r; log('done'); },
  (e) => { window.result = { error: `${e.name}: ${e.message}` }; log(String(e)); },
);
