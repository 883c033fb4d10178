// The demo: a storefront and a reading app over one catalogue, ranked on the device.
// The class alone, not the package's index: the page then loads five modules before its
// first ranking, and the worker loads the rest.
import { Cloister } from '../js/cloister.js';
import { DemoServer } from './server.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const state = { kind: 'product', query: null, impression: null, shown: [], lastDelta: {}, rec: null, server: null };

function showError(message) {
  $('error').textContent = message;
  $('error').hidden = !message;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

async function act(item, kind, extra = {}) {
  showError('');
  try {
    await state.rec.record({ item: { id: item.id, text: state.server.text(item), category: item.category }, kind, at: Date.now(), ...extra });
    if (kind !== 'dismiss' && state.impression && state.shown.includes(item.id)) {
      state.lastDelta = await state.rec.feedback(state.impression, { chosen: [item.id] });
    }
    await refresh();
  } catch (e) {
    showError(`${e.name}: ${e.message}`);
  }
}

function renderList(items) {
  const list = $('list');
  list.replaceChildren();
  for (const ranked of items) {
    const item = state.server.byId.get(ranked.id);
    const buy = item.kind === 'book' ? 'Read' : 'Buy';
    list.append(el('li', { 'data-id': item.id },
      el('div', { class: 'title' }, item.title),
      el('div', { class: 'meta' }, `${item.category} · ${item.year} · $${item.price.toFixed(2)} · score ${ranked.score.toFixed(2)}`),
      el('div', { class: 'why' }, `Why: ${ranked.explanation.reason}`),
      el('div', { class: 'desc' }, item.description),
      el('button', { class: 'act-view', onclick: () => act(item, 'click') }, 'View'),
      el('button', { class: 'act-like', onclick: () => act(item, 'like') }, 'Like'),
      el('button', { class: 'act-buy', onclick: () => act(item, 'purchase') }, buy),
      el('button', { class: 'act-dismiss', onclick: () => act(item, 'dismiss') }, 'Not for me'),
    ));
  }
}

function renderWeights() {
  const w = state.rec.weights();
  const box = $('weights');
  box.replaceChildren();
  const scale = 2.5;
  for (const [name, value] of Object.entries(w.current)) {
    const bar = el('div', { class: 'wbar' });
    const fill = el('div', { class: value < 0 ? 'fill neg' : 'fill' });
    const half = 50;
    const width = Math.min(half, (Math.abs(value) / scale) * half);
    fill.style.left = `${value < 0 ? half - width : half}%`;
    fill.style.width = `${width}%`;
    bar.append(fill);
    const d = state.lastDelta[name];
    if (d) {
      const mark = el('div', { class: 'delta', title: `last change ${d.toFixed(4)}` });
      mark.style.left = `${Math.max(0, Math.min(100, half + ((value - d) / scale) * half))}%`;
      bar.append(mark);
    }
    box.append(el('div', { class: 'wrow', 'data-weight': name }, el('span', {}, name), bar, el('span', {}, value.toFixed(2))));
  }
  $('profile-summary').textContent = `${w.steps} feedback steps so far.`;
}

function renderInterests() {
  const ul = $('interests');
  ul.replaceChildren();
  for (const i of state.rec.interests()) {
    ul.append(el('li', {}, `${i.text} `, el('button', { onclick: async () => { await state.rec.removeInterest(i.id); await refresh(); } }, 'remove')));
  }
}

async function renderMap(items) {
  const top = items.slice(0, 15).map((r) => [r.id, state.server.text(state.server.byId.get(r.id))]);
  const points = await state.rec.profileMap(top);
  const canvas = $('map');
  const g = canvas.getContext('2d');
  g.clearRect(0, 0, canvas.width, canvas.height);
  if (!points.length) return;
  const xs = points.map((p) => p.x), ys = points.map((p) => p.y);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const sx = (x) => 12 + ((x - x0) / (x1 - x0 || 1)) * (canvas.width - 24);
  const sy = (y) => 12 + ((y - y0) / (y1 - y0 || 1)) * (canvas.height - 24);
  const colour = { history: '#3b6fb6', interest: '#d9822b', candidate: '#9aa3ad' };
  g.font = '10px system-ui';
  for (const p of points) {
    g.fillStyle = colour[p.kind];
    g.beginPath();
    g.arc(sx(p.x), sy(p.y), p.kind === 'candidate' ? 3 : 5, 0, 2 * Math.PI);
    g.fill();
    if (p.kind !== 'candidate') g.fillText(String(p.label).slice(0, 28), sx(p.x) + 6, sy(p.y) + 3);
  }
}

function renderEngine() {
  const rec = state.rec;
  const rows = [
    ['backend', `${rec.backend} (${rec.precision})`],
    ['why', rec.backendReason],
    ['model load', `${Math.round(rec.timings.downloadMs)} ms download, ${Math.round(rec.timings.loadMs)} ms init`],
    ['last re-rank', state.rerankMs != null ? `${state.rerankMs.toFixed(1)} ms (incl. encoding new texts)` : '-'],
    ['thread', rec.inWorker ? 'Web Worker' : `main thread${rec.workerError ? ` (${rec.workerError})` : ''}`],
    ['server embeddings', state.serverEmbeddings ? `compact, ${Object.keys(state.serverEmbeddings.items).length} items; ${rec.encodedTexts} texts encoded on this device` : `none; ${rec.encodedTexts} texts encoded on this device`],
    ['storage', rec.storage?.persistent ? 'IndexedDB on this device' : `memory only${rec.storage?.error ? `: ${rec.storage.error}` : ''}`],
  ];
  for (const w of rec.warnings) rows.push(['warning', w]);
  $('engine').replaceChildren(...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
}

async function refresh() {
  const candidates = state.server.candidates(state.kind, { query: state.query });
  const t = performance.now();
  const result = await state.rec.rerank(candidates, { k: 12, diversity: 0.2 });
  state.rerankMs = performance.now() - t;
  state.impression = result.impressionId;
  state.shown = result.items.map((i) => i.id);
  $('list-title').textContent = state.query ? `Results for "${state.query}", ranked for you` : 'Recommended for you';
  renderList(result.items);
  renderWeights();
  renderInterests();
  renderEngine();
  await renderMap(result.items);
  document.body.dataset.renders = String(Number(document.body.dataset.renders ?? 0) + 1);
  document.body.dataset.ready = 'true';
}

async function main() {
  // Asked for at once; the recommender opens beside them (below).
  const data = Promise.all([
    fetch('./catalogue.json').then((r) => r.json()),
    fetch('./catalogue-zh.json').then((r) => r.json()),
  ]);
  // ?lang=zh: the multilingual model, by name (its files and pins come with the package), and
  // the Chinese section first. The English model reads Chinese as unknown tokens, and the
  // engine panel says so.
  const multilingual = params.get('lang') === 'zh';
  // By name: the package's own files and pins. ?model=URL tries another file (unpinned).
  const model = multilingual ? { model: 'multilingual' }
    : params.get('model') ? { model: params.get('model'), tokenizer: '../models/all-MiniLM-L6-v2/tokenizer.json' }
      : { model: 'english' };
  if (multilingual) {
    state.kind = 'zh';
    document.querySelectorAll('.tab').forEach((t) => t.classList.toggle('active', t.dataset.kind === 'zh'));
    $('lang').textContent = 'English model';
    $('lang').href = '?';
    document.documentElement.lang = 'zh';
  }
  // The first ranking comes before the model: the server sends each item's embedding, and
  // the encoder (needed for searches, stated interests and texts without one) loads behind it.
  // A model given by URL has no pin to name it by, so it loads first (?encoder=eager, today's
  // full-model path, is also the benchmark's baseline).
  const encoder = params.get('encoder') ?? (params.get('model') ? 'eager' : 'background');
  const modelName = multilingual ? 'multilingual-e5-small' : 'all-MiniLM-L6-v2';
  const embeddings = params.get('embeddings') === 'off' ? Promise.resolve(null)
    : fetch(`../dist/demo/embeddings-${modelName}.json`).then((r) => (r.ok ? r.json() : null)).catch(() => null);
  const opening = Cloister.open({
    ...model,
    backend: params.get('backend') ?? 'auto',
    namespace: 'demo',
    worker: params.get('worker') !== 'off',
    encoder,
    onProgress: ({ what, loaded, total, fraction, cached }) => {
      if (what !== 'model') return;
      $('progress').hidden = false;
      $('progress').value = fraction;
      $('progress-text').textContent = cached ? 'model from cache'
        : total ? `model ${(loaded / 1e6).toFixed(1)} / ${(total / 1e6).toFixed(1)} MB` : `model ${(loaded / 1e6).toFixed(1)} MB`;
    },
  });
  const [catalogue, chinese] = await data;
  // Two stand-in servers, so that the Chinese section leaves the English one's simulated
  // popularity exactly as it was.
  const english = new DemoServer(catalogue);
  const zh = new DemoServer(chinese);
  state.server = {
    byId: new Map([...english.byId, ...zh.byId]),
    text: (item) => english.text(item),
    candidates: (kind, options) => (kind === 'zh' ? zh : english).candidates(kind, options),
  };
  state.rec = await opening;
  // The server's embeddings for the loaded model, made at build time: candidates then need
  // no encoding on the device. Without them (another model, an old build) the device encodes.
  state.serverEmbeddings = await embeddings;
  if (state.serverEmbeddings?.model && state.rec.modelName !== modelName) state.serverEmbeddings = null;
  if (state.serverEmbeddings) {
    english.useEmbeddings(state.serverEmbeddings);
    zh.useEmbeddings(state.serverEmbeddings);
  }
  window.cloisterDemo = state; // for the end-to-end tests
  $('progress').hidden = true;
  $('backend').textContent = state.rec.backend ? `running on ${state.rec.backend}` : 'ranking on server embeddings; the encoder is loading';
  $('model-name').textContent = state.rec.modelName;
  for (const tab of document.querySelectorAll('.tab')) {
    tab.addEventListener('click', async () => {
      document.querySelectorAll('.tab').forEach((t) => t.classList.toggle('active', t === tab));
      state.kind = tab.dataset.kind;
      state.query = null;
      await refresh();
    });
  }
  $('search-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const q = $('search').value.trim();
    state.query = q || null;
    if (q) await state.rec.record({ item: { id: `search:${q}`, text: q }, kind: 'search', at: Date.now() });
    await refresh();
  });
  $('interest-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = $('interest').value.trim();
    if (!text) return;
    try {
      await state.rec.stateInterest(text, 1);
      $('interest').value = '';
      await refresh();
    } catch (err) {
      showError(`${err.name}: ${err.message}`);
    }
  });
  $('export').addEventListener('click', async () => {
    const doc = await state.rec.exportProfile();
    const a = el('a', { href: URL.createObjectURL(new Blob([JSON.stringify(doc, null, 2)], { type: 'application/json' })), download: 'cloister-profile.json' });
    a.click();
  });
  $('import').addEventListener('change', async (e) => {
    try {
      await state.rec.importProfile(await e.target.files[0].text());
      await refresh();
    } catch (err) {
      showError(`${err.name}: ${err.message}`);
    }
  });
  $('forget').addEventListener('click', async () => {
    await state.rec.forget();
    state.lastDelta = {};
    await refresh();
  });
  await refresh();
  document.body.dataset.firstRankingMs = String(performance.now());
  // When the encoder is there: what waited for it (a search typed at once) is folded in by the
  // package; rank again with it, and say which backend runs.
  state.rec.encoderReady().then(async () => {
    $('progress').hidden = true;
    $('backend').textContent = `running on ${state.rec.backend}`;
    await refresh();
    document.body.dataset.encoderReadyMs = String(performance.now());
    document.body.dataset.encoder = 'ready';
  }, (e) => {
    showError(`${e.name ?? 'Error'}: ${e.message}`);
    document.body.dataset.encoder = 'error';
  });
  if ('serviceWorker' in navigator && params.get('sw') !== 'off') {
    // The worker caches the shell; this page tells it what else it used before the worker
    // was in control: the wasm builds it runs (the encoder's, and the ranking build's before
    // it) and its model's server embeddings.
    const dirs = { webgpu: '../dist/pkg/', cpu: '../dist/pkg/cpu/', 'cpu-relaxed': '../dist/pkg/cpu-relaxed/', rank: '../dist/pkg/rank/' };
    const pkgs = [state.rec.wasmBuild, state.rec.rankingBuild].map((b) => dirs[b]).filter(Boolean);
    const used = [
      ...pkgs.flatMap((pkg) => [`${pkg}cloister.js`, `${pkg}cloister_bg.wasm`]),
      ...(state.serverEmbeddings ? [`../dist/demo/embeddings-${state.rec.modelName}.json`] : []),
    ].map((u) => new URL(u, location.href).href);
    navigator.serviceWorker.addEventListener('message', ({ data }) => {
      if (data?.cached != null) document.body.dataset.offline = 'ready';
      if (data?.cacheError) document.body.dataset.offline = `error: ${data.cacheError}`;
    });
    navigator.serviceWorker.register('./sw.js')
      .then(() => navigator.serviceWorker.ready)
      .then((registration) => registration.active.postMessage({ cache: used }))
      .catch(() => {});
  }
}

main().catch((e) => {
  showError(`${e.name ?? 'Error'}: ${e.message}`);
  document.body.dataset.ready = 'error';
});
