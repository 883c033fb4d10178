// `npm run bench`, first-visit part (issue 16): navigation to the demo's first personalised
// ranking over a throttled link (20 Mbps, 40 ms before each response's first byte, shared by
// the page, its worker and its service worker, since it is the server that throttles; bodies
// gzipped as a real server would). Each visit runs in a fresh browser profile; a return visit
// reloads in the same profile. Bytes before the first ranking are the bytes the link had sent
// by then, counted by the server.
//
// Rows: today's path (the model first, `encoder=eager`) as the baseline; the default (server
// compact embeddings, encoder loading behind the first ranking), without and with the demo's
// service worker; the same without server embeddings; return visits; and a search typed right
// after the first ranking (it ranks with its own embedding once the encoder is there).
// Environment: BENCH_FV_MBPS (20), BENCH_FV_RTT_MS (40), BENCH_OUT_FV (JSON results path).
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serve, throttledLink } from './serve.mjs';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const MBPS = Number(process.env.BENCH_FV_MBPS ?? 20);
const RTT = Number(process.env.BENCH_FV_RTT_MS ?? 40);
const OUT = process.env.BENCH_OUT_FV ?? join(ROOT, 'dist/bench/first-visit.json');
const ARGS = ['--no-sandbox', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-quic'];

const link = throttledLink({ mbps: MBPS, rttMs: RTT });
const { server, url } = await serve({ root: ROOT, gzip: true, link });

/** One navigation: time to first ranking and to the encoder, and the bytes by each. */
async function visit(page, query, { search = null } = {}) {
  const before = link.total();
  await page.goto(`${url}/www/${query}`);
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 600_000 });
  const first = await page.evaluate(() => ({
    ready: document.body.dataset.ready,
    firstRankingMs: Number(document.body.dataset.firstRankingMs),
    origin: performance.timeOrigin,
    error: document.getElementById('error').textContent,
  }));
  if (first.ready !== 'true') throw new Error(`the demo failed: ${first.error}`);
  let searchAtMs = null;
  if (search) {
    searchAtMs = await page.evaluate((q) => {
      document.getElementById('search').value = q;
      document.getElementById('search-form').requestSubmit();
      return performance.now();
    }, search);
  }
  await page.waitForFunction(() => document.body.dataset.encoder, null, { timeout: 600_000 });
  const encoder = await page.evaluate(() => ({
    state: document.body.dataset.encoder,
    encoderReadyMs: Number(document.body.dataset.encoderReadyMs),
    encodedTexts: window.cloisterDemo.rec.encodedTexts,
  }));
  return {
    firstRankingMs: first.firstRankingMs,
    bytesBeforeFirstRanking: link.bytesBy(first.origin + first.firstRankingMs) - before,
    encoderReadyMs: encoder.encoderReadyMs,
    bytesBeforeEncoder: link.bytesBy(first.origin + encoder.encoderReadyMs) - before,
    searchAtMs,
    encoder: encoder.state,
    encodedTexts: encoder.encodedTexts,
  };
}

const ROWS = [
  { name: 'model first (encoder=eager): the path before issue 16', query: '?backend=cpu&sw=off&encoder=eager', revisit: true },
  { name: 'server embeddings, encoder in the background (default)', query: '?backend=cpu&sw=off', revisit: true },
  // The demo as shipped: its service worker keeps the shell and what the page used, so a
  // return visit reads them from the cache instead of revalidating each over the link.
  { name: 'the same with the demo\'s service worker', query: '?backend=cpu', revisit: true, sw: true },
  { name: 'no server embeddings, encoder in the background', query: '?backend=cpu&sw=off&embeddings=off' },
  { name: 'server embeddings, a search typed at the first ranking', query: '?backend=cpu&sw=off', search: 'mystery novel' },
];

const results = { mbps: MBPS, rttMs: RTT, rows: [] };
try {
  for (const row of ROWS) {
    const profile = mkdtempSync(join(tmpdir(), 'cloister-fv-'));
    const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS });
    try {
      const page = await context.newPage();
      process.stderr.write(`bench: first visit, ${row.name}...\n`);
      const first = await visit(page, row.query, { search: row.search });
      const out = { name: row.name, first };
      if (row.revisit) {
        await new Promise((ok) => setTimeout(ok, 1000)); // let the model's cache write settle
        if (row.sw) await page.waitForFunction(() => document.body.dataset.offline, null, { timeout: 600_000 });
        out.returnVisit = await visit(page, row.query);
      }
      results.rows.push(out);
    } finally {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    }
  }
} finally {
  server.close();
}
mkdirSync(dirname(OUT), { recursive: true });
writeFileSync(OUT, JSON.stringify(results, null, 2));

const s = (ms) => (ms == null || Number.isNaN(ms) ? 'n/a' : `${(ms / 1000).toFixed(2)} s`);
const mb = (b) => `${(b / 1e6).toFixed(2)} MB`;
const lines = [
  `Time to the first personalised ranking of the demo (100 candidates or so, CPU path), ${MBPS} Mbps, ${RTT} ms before each response, gzip; one run:`,
  '',
  '| visit | first ranking | bytes before it | encoder ready | bytes before it | texts encoded |',
  '|---|---|---|---|---|---|',
];
for (const r of results.rows) {
  const f = r.first;
  const search = f.searchAtMs != null ? ` (search submitted at ${s(f.searchAtMs)}; ranked with its embedding at ${s(f.encoderReadyMs)})` : '';
  lines.push(`| first: ${r.name}${search} | ${s(f.firstRankingMs)} | ${mb(f.bytesBeforeFirstRanking)} | ${s(f.encoderReadyMs)} | ${mb(f.bytesBeforeEncoder)} | ${f.encodedTexts} |`);
  if (r.returnVisit) {
    const v = r.returnVisit;
    lines.push(`| return: ${r.name} | ${s(v.firstRankingMs)} | ${mb(v.bytesBeforeFirstRanking)} | ${s(v.encoderReadyMs)} | ${mb(v.bytesBeforeEncoder)} | ${v.encodedTexts} |`);
  }
}
console.log(lines.join('\n'));
