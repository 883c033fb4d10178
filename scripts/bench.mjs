// `npm run bench`, browser part: Cloister and transformers.js side by side in headless Chromium,
// then the CPU paths of both again in headless Firefox ESR (puppeteer-core over WebDriver BiDi,
// scripts/firefox.mjs), in one run on this machine. Each configuration gets a fresh browser profile (so the
// first visit downloads everything and its peak memory is its own), then a second visit in the
// same profile measures the cached cold start. Bytes are counted by the server, not guessed.
//
// Environment: BENCH_ROUNDS (timed passes per batch size on the CPU paths, default 5),
// BENCH_GPU_N / BENCH_GPU_ROUNDS (sentences and passes on WebGPU, default 32 / 3: on a machine
// without a GPU WebGPU runs on SwiftShader, where transformers.js does ~1 sentence/s), BENCH_ONLY (comma list of
// config names, e.g. cloister-cpu,transformers-wasm,load), BENCH_N (sentences on the CPU paths, default
// 256), BENCH_OUT (JSON results path), BENCH_LOAD_EVENTS (events in the load benchmark,
// default 100000; 0 skips it), BENCH_GPU=vulkan (the WebGPU rows on the machine's GPU through
// Chromium's Vulkan backend, where it has one; every WebGPU row names the adapter it ran on, so
// a SwiftShader run is never taken for a GPU run).
import { mkdtempSync, rmSync, readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { chromium } from 'playwright-core';
import { firefoxPeakMemory, firefoxVersion, launchFirefox } from './firefox.mjs';
import { serve } from './serve.mjs';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CPU_N = Number(process.env.BENCH_N ?? 256);
const GPU_N = Number(process.env.BENCH_GPU_N ?? 32);
const GPU_ROUNDS = Number(process.env.BENCH_GPU_ROUNDS ?? 3);
const OUT = process.env.BENCH_OUT ?? join(ROOT, 'dist/bench/browser.json');
const GPU = process.env.BENCH_GPU ?? '';
if (GPU && GPU !== 'vulkan') throw new Error(`BENCH_GPU must be 'vulkan' or unset, got '${GPU}'`);
const ARGS = ['--no-sandbox', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-quic', '--enable-unsafe-webgpu',
  ...(GPU === 'vulkan' ? ['--enable-features=Vulkan', '--use-angle=vulkan', '--ignore-gpu-blocklist'] : [])];

// V8 without its AVX-VNNI lowering: what the relaxed dot product costs on a CPU without it
// (Zen 4 and older x86), where the 'cpu-relaxed' build's timing should keep the SIMD128 kernel.
const NO_VNNI = ['--js-flags=--no-enable-avx-vnni --no-enable-avx-vnni-int8'];
const CONFIGS = [
  // wasm 'auto': the cpu-relaxed build where Chromium has relaxed SIMD, with the kernel its
  // timing kept (the row names it).
  { name: 'cloister-cpu', lib: 'cloister', backend: 'cpu', n: CPU_N, rounds: ROUNDS },
  // Each kernel forced (issue 17): the plain CPU build (SIMD128) and the relaxed dot product.
  { name: 'cloister-cpu-simd128', lib: 'cloister', backend: 'cpu', wasm: 'cpu', n: CPU_N, rounds: ROUNDS },
  { name: 'cloister-cpu-relaxed-dot', lib: 'cloister', backend: 'cpu', wasm: 'cpu-relaxed', int8Kernel: 'relaxed-dot', n: CPU_N, rounds: ROUNDS },
  { name: 'cloister-cpu-no-vnni', lib: 'cloister', backend: 'cpu', args: NO_VNNI, n: CPU_N, rounds: ROUNDS },
  { name: 'cloister-cpu-relaxed-dot-no-vnni', lib: 'cloister', backend: 'cpu', wasm: 'cpu-relaxed', int8Kernel: 'relaxed-dot', args: NO_VNNI, n: CPU_N, rounds: ROUNDS },
  // The same CPU path inside the WebGPU build (what a page that asked for WebGPU falls back
  // to): same speed, the bigger download. 'cloister-cpu' loads the CPU-only build.
  { name: 'cloister-cpu-webgpu-build', lib: 'cloister', backend: 'cpu', wasm: 'webgpu', n: CPU_N, rounds: ROUNDS },
  // The same CPU path on a pool of two workers (issue 17): each its own wasm instance and model.
  { name: 'cloister-cpu-2-workers', lib: 'cloister', backend: 'cpu', workers: 2, n: CPU_N, rounds: ROUNDS },
  { name: 'transformers-wasm', lib: 'transformers', backend: 'wasm', n: CPU_N, rounds: ROUNDS },
  { name: 'cloister-webgpu', lib: 'cloister', backend: 'webgpu', n: GPU_N, rounds: GPU_ROUNDS },
  { name: 'transformers-webgpu', lib: 'transformers', backend: 'webgpu', n: GPU_N, rounds: GPU_ROUNDS },
  // The multilingual model (issue 15), next to MiniLM's rows: twice the layers, XLM-R tokens.
  { name: 'cloister-multilingual-cpu', lib: 'cloister', encoder: 'multilingual', backend: 'cpu', n: CPU_N, rounds: ROUNDS },
  { name: 'cloister-multilingual-webgpu', lib: 'cloister', encoder: 'multilingual', backend: 'webgpu', n: GPU_N, rounds: GPU_ROUNDS },
  // The CPU paths in Firefox ESR (issue 17). Headless Firefox ESR on Linux has no WebGPU adapter.
  { name: 'firefox-cloister-cpu', engine: 'firefox', lib: 'cloister', backend: 'cpu', n: CPU_N, rounds: ROUNDS },
  { name: 'firefox-cloister-cpu-simd128', engine: 'firefox', lib: 'cloister', backend: 'cpu', wasm: 'cpu', n: CPU_N, rounds: ROUNDS },
  { name: 'firefox-cloister-cpu-relaxed-dot', engine: 'firefox', lib: 'cloister', backend: 'cpu', wasm: 'cpu-relaxed', int8Kernel: 'relaxed-dot', n: CPU_N, rounds: ROUNDS },
  { name: 'firefox-transformers-wasm', engine: 'firefox', lib: 'transformers', backend: 'wasm', n: CPU_N, rounds: ROUNDS },
  // A returning visitor's `auto`: one short visit first, in the same profile, times the int8
  // kernels; where SIMD128 won, the measured visit loads the plain CPU build (js/wasm.js).
  { name: 'cloister-cpu-returning', lib: 'cloister', backend: 'cpu', returning: true, n: CPU_N, rounds: ROUNDS },
  { name: 'firefox-cloister-cpu-returning', engine: 'firefox', lib: 'cloister', backend: 'cpu', returning: true, n: CPU_N, rounds: ROUNDS },
].filter((c) => !process.env.BENCH_ONLY || process.env.BENCH_ONLY.split(',').includes(c.name));

const gzipCache = new Map();
function gzipBytes(path) {
  if (!gzipCache.has(path)) gzipCache.set(path, gzipSync(readFileSync(join(ROOT, path)), { level: 6 }).length);
  return gzipCache.get(path);
}

/** A fresh headless browser of `engine` on `profile`, as a Playwright-like context. */
function launch(engine, profile, extraArgs = []) {
  return engine === 'firefox'
    ? launchFirefox({ profile, webgpu: true })
    : chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: [...ARGS, ...extraArgs] });
}

/**
 * Resident memory of this browser's page renderer and GPU process, in bytes: `field` 'VmHWM'
 * (the peak, default) or 'VmRSS' (now).
 */
function peakMemory(profileDir, engine, field = 'VmHWM') {
  if (engine === 'firefox') return firefoxPeakMemory(profileDir, field);
  const out = { renderer: 0, gpu: 0 };
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let cmd;
    try {
      // Chromium rewrites its child processes' titles: the arguments arrive as one string.
      cmd = ` ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ')} `;
    } catch {
      continue; // gone
    }
    // Every process of this browser carries its profile dir; the WebUI renderer is not the page's.
    if (!cmd.includes(` --user-data-dir=${profileDir} `) || cmd.includes(' --top-chrome-webui ')) continue;
    const type = / --type=(\S+)/.exec(cmd)?.[1];
    const key = type === 'renderer' ? 'renderer' : type === 'gpu-process' ? 'gpu' : null;
    if (!key) continue;
    try {
      const hwm = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (hwm) out[key] = Math.max(out[key], Number(hwm[1]) * 1024);
    } catch { /* gone */ }
  }
  return out;
}

async function visit(context, url, requests, timeoutMs, profile = null, engine = 'chromium') {
  requests.length = 0;
  const page = await context.newPage();
  const lines = [];
  page.on('console', (m) => lines.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => lines.push(`pageerror: ${e.message}`));
  await page.goto(url);
  await page.waitForFunction(() => window.result !== undefined, null, { timeout: timeoutMs, polling: 500 });
  const result = await page.evaluate(() => window.result);
  if (result.error) {
    const missing = requests.filter((r) => r.status === 404).map((r) => r.path);
    throw new Error(`${url}: ${result.error}\n${lines.join('\n')}\nnot found: ${missing.join(', ')}`);
  }
  const files = requests.filter((r) => r.status === 200);
  result.download = {
    requests: requests.length,
    raw: files.reduce((s, r) => s + r.bytes, 0),
    gzip: files.reduce((s, r) => s + gzipBytes(r.path), 0),
    files: files.map((r) => ({ path: r.path, raw: r.bytes, gzip: gzipBytes(r.path) })),
  };
  // Before the page closes: its renderer process goes with it.
  if (profile) result.peakMemory = peakMemory(profile, engine);
  await page.close();
  return result;
}

const requests = [];
const { server, url } = await serve({ root: ROOT, onRequest: (r) => requests.push(r) });
const results = {
  chromium: execFileSync(CHROMIUM, ['--version']).toString().trim(),
  firefox: CONFIGS.some((c) => c.engine === 'firefox') ? firefoxVersion() : null,
  configs: {},
};
try {
  for (const config of CONFIGS) {
    const profile = mkdtempSync(join(tmpdir(), 'cloister-bench-'));
    const context = await launch(config.engine, profile, config.args);
    try {
      const base = `${url}/bench/index.html?lib=${config.lib}&backend=${config.backend}${config.wasm ? `&wasm=${config.wasm}` : ''}${config.int8Kernel ? `&int8Kernel=${config.int8Kernel}` : ''}${config.encoder ? `&encoder=${config.encoder}` : ''}${config.workers ? `&workers=${config.workers}` : ''}`;
      process.stderr.write(`bench: ${config.name} (${config.n} sentences, ${config.rounds} rounds)...\n`);
      if (config.returning) await visit(context, `${base}&n=1&rounds=0&batches=1&keep=0`, requests, 600_000);
      const first = await visit(context, `${base}&n=${config.n}&rounds=${config.rounds}`, requests, 3_600_000, profile, config.engine);
      // Second visit, same profile: what an app's returning user waits for.
      const again = await visit(context, `${base}&n=1&rounds=0&batches=1&keep=0`, requests, 600_000);
      first.cached = { coldStartMs: again.coldStartMs, download: again.download };
      results.configs[config.name] = { ...config, ...first };
      const t = first.throughput;
      process.stderr.write(`bench: ${config.name}: batch 1 ${t[1].median.toFixed(1)}/s, batch 32 ${t[32].median.toFixed(1)}/s, first embedding ${first.coldStartMs.toFixed(0)} ms (cached ${again.coldStartMs.toFixed(0)} ms)\n`);
    } finally {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    }
  }
  // The load benchmark (issue 6): profile, ranking, feedback and storage under volume.
  const loadEvents = Number(process.env.BENCH_LOAD_EVENTS ?? 100_000);
  if (loadEvents > 0 && (!process.env.BENCH_ONLY || process.env.BENCH_ONLY.split(',').includes('load'))) {
    // Each save writes the whole record (~120 KB) to IndexedDB (once per 200 ms since issue 16,
    // once per event before): a tenth of the events keeps the persisted run short.
    for (const persist of [true, false]) {
      const events = persist ? Math.min(loadEvents, 10_000) : loadEvents;
      const profile = mkdtempSync(join(tmpdir(), 'cloister-bench-'));
      const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS });
      try {
        process.stderr.write(`bench: load, ${events} events, persist ${persist}...\n`);
        const r = await visit(context, `${url}/bench/load.html?events=${events}&persist=${persist ? 1 : 0}`, requests, 3_600_000, profile);
        delete r.download;
        results[persist ? 'loadPersisted' : 'loadInMemory'] = r;
      } finally {
        await context.close();
        rmSync(profile, { recursive: true, force: true });
      }
    }
  }
  // The learned interest model (issue 18): rerank of 100 candidates with and without it on the
  // CPU path, and its pass alone on the CPU path and on WebGPU (SwiftShader without a GPU).
  if (!process.env.BENCH_ONLY || process.env.BENCH_ONLY.split(',').includes('interest')) {
    const profile = mkdtempSync(join(tmpdir(), 'cloister-bench-'));
    const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS });
    try {
      process.stderr.write('bench: interest model, 100 candidates, paired rounds...\n');
      const r = await visit(context, `${url}/bench/interest.html?rounds=${Math.max(ROUNDS, 6) * 5}`, requests, 1_800_000);
      delete r.download;
      results.interest = r;
    } finally {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    }
  }
  // The embedding pool (issue 17): one worker against two, paired in one page, and the resident
  // memory each worker adds, in Chromium and in Firefox.
  for (const [name, engine, encoder] of [['pool', 'chromium', 'english'], ['firefox-pool', 'firefox', 'english'], ['pool-multilingual', 'chromium', 'multilingual']]) {
    if (process.env.BENCH_ONLY && !process.env.BENCH_ONLY.split(',').includes(name)) continue;
    const profile = mkdtempSync(join(tmpdir(), 'cloister-bench-'));
    const context = await launch(engine, profile);
    try {
      process.stderr.write(`bench: ${name}, one worker against two, ${ROUNDS} paired rounds...\n`);
      const page = await context.newPage();
      await page.goto(`${url}/bench/pool.html?workers=2&rounds=${ROUNDS}&encoder=${encoder}`);
      const memory = {};
      for (const want of ['before', 'one worker', 'pool']) {
        await page.waitForFunction((w) => window.mark?.name === w || window.result?.error, want, { timeout: 600_000, polling: 200 });
        const failed = await page.evaluate(() => window.result?.error);
        if (failed) throw new Error(`${name}: ${failed}`);
        memory[want] = peakMemory(profile, engine, 'VmRSS').renderer;
        await page.evaluate(() => { const m = window.mark; window.mark = null; m.resolve(); });
      }
      await page.waitForFunction(() => window.result !== undefined, null, { timeout: 3_600_000, polling: 500 });
      const r = await page.evaluate(() => window.result);
      if (r.error) throw new Error(`${name}: ${r.error}`);
      results[name] = { ...r, engine, memory };
      process.stderr.write(`bench: ${name}: median ratio ${r.medianRatio.toFixed(2)}x, rerank ${r.rerankMedianRatio.toFixed(2)}x, recordMany ${r.recordMedianRatio.toFixed(2)}x\n`);
    } finally {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    }
  }
} finally {
  server.close();
}

// Agreement: the same sentences' embeddings from two runs (cosine per sentence).
function agreement(a, b) {
  if (!a?.embeddings || !b?.embeddings) return null;
  const k = Math.min(a.embeddings.length, b.embeddings.length);
  const cos = [];
  for (let i = 0; i < k; i++) {
    let dot = 0, na = 0, nb = 0;
    for (let j = 0; j < 384; j++) {
      dot += a.embeddings[i][j] * b.embeddings[i][j];
      na += a.embeddings[i][j] ** 2;
      nb += b.embeddings[i][j] ** 2;
    }
    cos.push(dot / Math.sqrt(na * nb));
  }
  return { sentences: k, min: Math.min(...cos), mean: cos.reduce((s, c) => s + c, 0) / k };
}
const c = results.configs;
results.agreement = {
  'cloister-cpu vs transformers-wasm': agreement(c['cloister-cpu'], c['transformers-wasm']),
  'cloister-cpu-relaxed-dot vs cloister-cpu-simd128': agreement(c['cloister-cpu-relaxed-dot'], c['cloister-cpu-simd128']),
  'cloister-webgpu vs cloister-cpu': agreement(c['cloister-webgpu'], c['cloister-cpu']),
  'transformers-webgpu vs transformers-wasm': agreement(c['transformers-webgpu'], c['transformers-wasm']),
  'firefox-cloister-cpu vs cloister-cpu (Chromium)': agreement(c['firefox-cloister-cpu'], c['cloister-cpu']),
};
for (const r of Object.values(c)) delete r.embeddings;
mkdirSync(dirname(OUT), { recursive: true });
writeFileSync(OUT, JSON.stringify(results, null, 2));

// The report: markdown, ready for docs/benchmarks.md.
const mb = (b) => (b / 1e6).toFixed(1);
const fmt = (x, d = 1) => (x == null ? 'n/a' : x.toFixed(d));
const out = [];
out.push(`Chromium: ${results.chromium}; ${results.firefox ? `Firefox: ${results.firefox}; ` : ''}${Object.values(c).map((r) => r.version).filter((v, i, a) => a.indexOf(v) === i).join(', ')}`);
out.push('');
out.push('| library, backend | sentences | batch 1 (sent/s) | batch 32 (sent/s) | first embedding, not cached / cached | downloaded raw (gzip) | peak memory renderer / GPU process |');
out.push('|---|---|---|---|---|---|---|');
for (const r of Object.values(c)) {
  const adapter = r.adapter ? `${r.adapter.description}${r.adapter.fallback ? ', a software adapter' : ''}` : 'no adapter';
  const sw = r.backend === 'webgpu' ? ` (${adapter})` : '';
  const kernel = r.detail?.int8Kernel ? `, ${r.detail.int8Kernel.kernel} kernel${r.detail.int8Kernel.simd128 ? ` (timed ${fmt(r.detail.int8Kernel.simd128)} / ${fmt(r.detail.int8Kernel.relaxedDot)} ms)` : ''}` : '';
  const build = r.detail?.wasmBuild ? `, ${r.detail.wasmBuild} build${kernel}` : '';
  out.push(`| ${r.name}${build}${sw} | ${r.n} | ${fmt(r.throughput[1].median)} [${r.throughput[1].rounds.map((x) => fmt(x)).join(', ')}] | ${fmt(r.throughput[32].median)} [${r.throughput[32].rounds.map((x) => fmt(x)).join(', ')}] | ${fmt(r.coldStartMs, 0)} ms / ${fmt(r.cached.coldStartMs, 0)} ms | ${mb(r.download.raw)} MB (${mb(r.download.gzip)} MB); cached visit ${mb(r.cached.download.raw)} MB | ${r.peakMemory ? `${mb(r.peakMemory.renderer)} / ${r.engine === 'firefox' ? 'no GPU process' : `${mb(r.peakMemory.gpu)} MB`}` : 'n/a'} |`);
}
out.push('');
const ratio = (a, b, batch) => (c[a] && c[b] ? (c[a].throughput[batch].median / c[b].throughput[batch].median).toFixed(2) + 'x' : 'n/a');
out.push('| ratio (Cloister / transformers.js; a kernel / SIMD128; multilingual / MiniLM; 2 workers / 1) | batch 1 | batch 32 | download raw | download gzip |');
out.push('|---|---|---|---|---|');
for (const [a, b] of [['cloister-cpu', 'transformers-wasm'], ['cloister-cpu-simd128', 'transformers-wasm'],
  ['cloister-cpu-relaxed-dot', 'transformers-wasm'], ['cloister-cpu-relaxed-dot', 'cloister-cpu-simd128'],
  ['cloister-cpu-no-vnni', 'cloister-cpu-simd128'], ['cloister-cpu-relaxed-dot-no-vnni', 'cloister-cpu-simd128'],
  ['cloister-cpu-webgpu-build', 'transformers-wasm'], ['cloister-webgpu', 'transformers-webgpu'],
  ['cloister-multilingual-cpu', 'cloister-cpu'], ['cloister-multilingual-webgpu', 'cloister-webgpu'],
  ['firefox-cloister-cpu', 'firefox-transformers-wasm'], ['firefox-cloister-cpu-simd128', 'firefox-transformers-wasm'],
  ['firefox-cloister-cpu-relaxed-dot', 'firefox-cloister-cpu-simd128'], ['cloister-cpu-2-workers', 'cloister-cpu'],
  ['cloister-cpu-returning', 'transformers-wasm'], ['firefox-cloister-cpu-returning', 'firefox-transformers-wasm'],
  ['firefox-cloister-cpu-returning', 'firefox-cloister-cpu']]) {
  if (!c[a] || !c[b]) continue;
  out.push(`| ${a} / ${b} | ${ratio(a, b, 1)} | ${ratio(a, b, 32)} | ${(c[a].download.raw / c[b].download.raw).toFixed(2)}x | ${(c[a].download.gzip / c[b].download.gzip).toFixed(2)}x |`);
}
out.push('');
for (const [k, v] of Object.entries(results.agreement)) {
  if (v) out.push(`- cosine ${k}: min ${v.min.toFixed(5)}, mean ${v.mean.toFixed(6)} over ${v.sentences} sentences`);
}
out.push('');
out.push('Downloads per configuration (first visit):');
for (const r of Object.values(c)) {
  out.push(`- ${r.name}: ${r.download.files.filter((f) => f.raw > 100_000).map((f) => `${f.path} ${mb(f.raw)} MB (${mb(f.gzip)})`).join('; ')}`);
}
for (const key of ['pool', 'firefox-pool', 'pool-multilingual']) {
  const r = results[key];
  if (!r) continue;
  const m = r.memory;
  out.push(`- embedding pool, ${r.engine}, ${r.model}, batch ${r.batch} over ${r.sentences} sentences, one worker then ${r.workers} in alternating rounds: ${r.pairs.map((p) => `${fmt(p.single)} / ${fmt(p.pooled)}`).join(', ')} sentences/s; median ratio **${r.medianRatio.toFixed(2)}x** (pieces by worker ${r.piecesByLane.join(' / ')}); a rerank of 128 new text-only candidates, the first with each (the pool's extra workers start during it) ${fmt(r.rerankFirst.single)} / ${fmt(r.rerankFirst.pooled)}, then the same way: ${r.rerankPairs.map((p) => `${fmt(p.single)} / ${fmt(p.pooled)}`).join(', ')} candidates/s, median ratio **${r.rerankMedianRatio.toFixed(2)}x**; a recordMany of 128 clicks on new items, then flush: ${r.recordPairs.map((p) => `${fmt(p.single)} / ${fmt(p.pooled)}`).join(', ')} events/s, median ratio **${r.recordMedianRatio.toFixed(2)}x**; resident memory of the page's process: +${mb(m['one worker'] - m.before)} MB for the one-worker encoder, +${mb(m.pool - m['one worker'])} MB for the pool's ${r.workers} workers (${mb((m.pool - m['one worker']) / r.workers)} MB each)`);
}
for (const key of ['loadPersisted', 'loadInMemory']) {
  const r = results[key];
  if (!r) continue;
  out.push(`- recording 1,000 events on encoded texts, until saved (${r.persist ? 'IndexedDB' : 'persist: false'}): one by one, each awaited ${r.record1000AwaitedMs.toFixed(0)} ms; all at once ${r.record1000ConcurrentMs.toFixed(0)} ms; recordMany ${r.recordMany1000Ms.toFixed(0)} ms`);
  out.push(`- load (${r.persist ? 'saved to IndexedDB, coalesced' : 'persist: false'}, worker ${r.inWorker}): ${r.events} events in ${(r.eventsMs / 1000).toFixed(1)} s (${(r.eventsMs * 1000 / r.events).toFixed(0)} us/event), profile holds ${r.profileEvents}; 10,000 candidates re-ranked in ${r.rerank10kMs.toFixed(0)} ms (median of 5); 1,000 feedback steps (rerank 100 + feedback) in ${(r.feedbackMs / 1000).toFixed(1)} s; weights finite ${r.weightsFinite}; peak renderer memory ${r.peakMemory ? mb(r.peakMemory.renderer) + ' MB' : 'n/a'}`);
}
if (results.interest) {
  const r = results.interest;
  const gpu = r.webgpuPassMs === undefined
    ? 'no WebGPU adapter'
    : `${fmt(r.webgpuPassMs, 2)} ms on WebGPU (${r.adapter.description}${r.adapter.fallback ? ', a fallback adapter' : ''}) against ${fmt(r.cpuPassWebgpuBuildMs, 2)} ms on the CPU path of the same build`;
  out.push(`- learned interest model, ${r.candidates} candidates against ${r.history} events, CPU path, worker ${r.inWorker}, median of ${r.rounds} alternating rounds: rerank **${fmt(r.rerankWithMs, 2)} ms with the model**, ${fmt(r.rerankWithoutMs, 2)} ms without (paired ratio ${r.pairedRatio.toFixed(2)}x); the model's pass alone (\`interestScores\`): ${fmt(r.cpuPassMs, 2)} ms on the CPU path; ${gpu}`);
}
const software = Object.values(c).filter((r) => r.backend === 'webgpu' && (!r.adapter || r.adapter.fallback));
if (GPU && software.length) {
  out.push(`BENCH_GPU=${GPU} asked for the GPU, but ${software.map((r) => r.name).join(', ')} ran on ${software[0].adapter?.description ?? 'no adapter'}: not GPU rows.`);
}
console.log(out.join('\n'));
