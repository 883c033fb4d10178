// The embedding pool, paired: Cloister with one worker and with a pool of `workers` in the same
// page, timed in alternating rounds on the same 256 sentences in calls of 32 (the machine's
// drift hits both alike). At three marks the page waits for the driver to read the renderer's
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
  const pairs = [];
  for (let r = 0; r < rounds; r++) {
    const single = await pass(one, sentences);
    const pooled = await pass(pool, sentences);
    pairs.push({ single, pooled, ratio: pooled / single });
    log(`round ${r + 1}: one worker ${single.toFixed(1)}/s, ${workers} workers ${pooled.toFixed(1)}/s`);
  }
  const ratios = pairs.map((p) => p.ratio).sort((a, b) => a - b);
  return { workers, batch, model: one.modelName, sentences: sentences.length, pairs, medianRatio: ratios[Math.floor(ratios.length / 2)], piecesByLane: pool.embedPool.piecesByLane };
}

run().then(
  (r) => { window.result = r; log('done'); },
  (e) => { window.result = { error: `${e.name}: ${e.message}` }; log(String(e)); },
);
