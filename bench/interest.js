// The interest model benchmark, through the public API as an app calls it: 100 demo
// candidates against a 30-event history, re-ranked with and without the learned interest model
// in alternating rounds (paired: the machine's noise hits both alike), and the model's pass
// alone (`interestScores`) on the CPU path and on WebGPU. The model is the one bench.sh trains on
// the demo server's simulated log (dist/bench/interest-model.json).
import { Cloister } from '../js/index.js';
import { DemoServer } from '../www/server.js';

const params = new URLSearchParams(location.search);
const ROUNDS = Number(params.get('rounds') ?? 30);
const logEl = document.getElementById('log');
const log = (line) => { logEl.textContent += line + '\n'; };

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function time(fn) {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

async function open(backend) {
  return Cloister.open({
    model: '../models/all-MiniLM-L6-v2/model.int8.bpk', tokenizer: '../models/all-MiniLM-L6-v2/tokenizer.json',
    backend, namespace: `interest-${backend}-${Date.now()}`, persist: false,
  });
}

async function run() {
  const catalogue = await (await fetch('../www/catalogue.json')).json();
  const model = new Uint8Array(await (await fetch('../dist/bench/interest-model.json')).arrayBuffer());
  const server = new DemoServer(catalogue);
  const candidates = [...server.candidates('book'), ...server.candidates('product')].slice(0, 100);
  const history = catalogue.filter((_, i) => i % 12 === 0).slice(0, 30).map((item, j) => ({
    item: { id: item.id, text: server.text(item), category: item.category },
    kind: j % 3 ? 'view' : 'click',
    at: Date.now() - (30 - j) * 600_000,
  }));
  const result = { candidates: candidates.length, history: history.length, rounds: ROUNDS };

  const rec = await open('cpu');
  result.inWorker = rec.inWorker;
  await rec.recordMany(history);
  await rec.setInterestModel(model);
  await rec.rerank(candidates, { k: 10 }); // warm-up: encodes the candidates once
  const withModel = [];
  const without = [];
  const cpuPass = [];
  for (let r = 0; r < ROUNDS; r++) {
    await rec.setInterestModel(model);
    withModel.push(await time(() => rec.rerank(candidates, { k: 10 })));
    cpuPass.push(await time(() => rec.interestScores(candidates, { backend: 'cpu' })));
    await rec.clearInterestModel();
    without.push(await time(() => rec.rerank(candidates, { k: 10 })));
  }
  Object.assign(result, {
    rerankWithMs: median(withModel),
    rerankWithoutMs: median(without),
    cpuPassMs: median(cpuPass),
    pairedRatio: median(withModel.map((w, i) => w / without[i])),
  });
  rec.close();

  // The pass on WebGPU (a second recommender on the WebGPU build), where there is an adapter.
  const adapter = await navigator.gpu?.requestAdapter();
  if (adapter) {
    const gpu = await open('webgpu');
    await gpu.recordMany(history);
    await gpu.setInterestModel(model);
    await gpu.interestScores(candidates, { backend: 'webgpu' }); // warm-up: uploads the weights
    const gpuPass = [];
    const cpuPassHere = [];
    for (let r = 0; r < ROUNDS; r++) {
      gpuPass.push(await time(() => gpu.interestScores(candidates, { backend: 'webgpu' })));
      cpuPassHere.push(await time(() => gpu.interestScores(candidates, { backend: 'cpu' })));
    }
    const info = adapter.info ?? {};
    Object.assign(result, {
      webgpuPassMs: median(gpuPass),
      cpuPassWebgpuBuildMs: median(cpuPassHere),
      adapter: { description: info.description || info.device || info.vendor || 'unknown', fallback: Boolean(adapter.isFallbackAdapter || info.isFallbackAdapter) },
    });
    gpu.close();
  }
  return result;
}

run().then(
  (r) => { window.result = r; log(JSON.stringify(r)); },
  (e) => { window.result = { error: `${e?.name ?? 'Error'}: ${e?.message ?? e}\n${e?.stack ?? ''}` }; log(`failed: ${e?.stack ?? e}`); },
);
