// The JS package's promises under a strict CSP: integrity pins, the model cache, storage
// faults (corrupt record, quota), two tabs, and encoder-only use.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { cpuBuildIn, openBrowser, openPage } from './browser.mjs';
import { pieceSize } from '../js/pool.js';

/** `cloister embed` (floats) and `cloister embed --compact` lines for `texts`, natively. */
function serverEmbeddings(texts, compact) {
  const out = execFileSync('dist/cloister', ['embed', ...(compact ? ['--compact'] : [])], { input: texts.join('\n') + '\n' });
  return out.toString().trim().split('\n').map((l) => JSON.parse(l));
}

describe('package', { timeout: 600_000 }, () => {
  let browser;
  before(async () => { browser = await openBrowser({ webgpu: false }); });
  after(async () => browser?.close());

  test('a model that does not match its pin is a ModelIntegrityError; a match is cached for the next visit', async () => {
    const page = await openPage(browser, '/tests/pages/package.html');
    const bad = await page.evaluate(() => window.open_({ badPin: true }));
    assert.equal(bad.ok, false);
    assert.equal(bad.name, 'ModelIntegrityError', JSON.stringify(bad));
    assert.equal(bad.kind, 'integrity');
    assert.equal(bad.expected, '0'.repeat(64));
    assert.match(bad.actual ?? '', /^[0-9a-f]{64}$/);
    assert.notEqual(bad.actual, bad.expected);
    assert.match(bad.url ?? '', /model\.int8\.bpk$/);
    const first = await page.evaluate(() => window.open_());
    assert.equal(first.ok, true, JSON.stringify(first));
    assert.equal(first.cached, false);
    assert.ok(first.sawProgress > 0, 'progress events while streaming');
    assert.equal(first.inWorker, true);
    await page.reload();
    await page.waitForFunction(() => window.ready === true);
    const second = await page.evaluate(() => window.open_());
    assert.equal(second.cached, true, 'second visit loads the model from the Cache API');
    await page.close();
  });

  test('a corrupt stored record is quarantined, reported, and the session works', async () => {
    const page = await openPage(browser, '/tests/pages/package.html');
    await page.evaluate(() => window.open_({ namespace: 'corrupt' }));
    await page.evaluate(() => window.recordMany(0, 2));
    await page.evaluate(() => window.corruptRecord('corrupt'));
    await page.reload();
    await page.waitForFunction(() => window.ready === true);
    const opened = await page.evaluate(() => window.open_({ namespace: 'corrupt' }));
    assert.equal(opened.ok, true);
    assert.ok(opened.warnings.some((w) => /quarantined/.test(w)), JSON.stringify(opened.warnings));
    const q = await page.evaluate(() => window.quarantined());
    assert.ok(q.some((r) => r.namespace === 'corrupt'), JSON.stringify(q));
    assert.equal(await page.evaluate(() => window.recordMany(10, 1)), 1, 'fresh profile, working');
    assert.equal((await page.evaluate(() => window.rankSome())).length, 4);
    await page.close();
  });

  test('storage quota exceeded (injected QuotaExceededError): keeps working in memory and says so', async () => {
    const page = await openPage(browser, '/tests/pages/package.html');
    const opened = await page.evaluate(() => window.open_({ namespace: 'quota', worker: false }));
    assert.equal(opened.ok, true, JSON.stringify(opened));
    assert.equal(await page.evaluate(() => window.recordMany(0, 2)), 2);
    // From now on every IndexedDB put fails the way a full disk makes it fail.
    await page.evaluate(() => {
      IDBObjectStore.prototype.put = function () { throw new DOMException('The quota has been exceeded.', 'QuotaExceededError'); };
    });
    assert.equal(await page.evaluate(() => window.recordMany(2, 3)), 5, 'no event lost');
    const status = await page.evaluate(() => ({ storage: window.rec.storage, warnings: window.rec.warnings }));
    assert.equal(status.storage.persistent, false, JSON.stringify(status));
    assert.match(status.storage.error, /quota/);
    assert.ok(status.warnings.some((w) => /quota/.test(w)));
    assert.equal((await page.evaluate(() => window.rankSome())).length, 4);
    await page.close();
  });

  test('compact and float server embeddings give the same ranking, need no encoder, and a bad one is ignored with a note', async () => {
    const topics = ['coastal walks', 'sourdough baking', 'jazz piano', 'alpine gardens', 'sea kayaking', 'chess openings'];
    const texts = Array.from({ length: 24 }, (_, i) => `A guide to ${topics[i % 6]}, volume ${i + 1}`);
    const compact = serverEmbeddings(texts, true);
    const floats = serverEmbeddings(texts, false);
    const sha = compact[0].model;
    const list = (form) => texts.map((text, i) => ({ id: `s${i}`, text, server_score: 1 - i * 0.01, ...form(i) }));
    const page = await openPage(browser, '/tests/pages/package.html');
    const withFloats = await page.evaluate((c) => window.serverRanking({ namespace: 'server-f', candidates: c }),
      list((i) => ({ embedding: floats[i], model: sha })));
    const withCompact = await page.evaluate((c) => window.serverRanking({ namespace: 'server-c', candidates: c }),
      list((i) => compact[i]));
    assert.deepEqual(withCompact.ids, withFloats.ids, 'the same order from both forms');
    // Scores are sums of z-scored features: a 1e-4 cosine difference moves them by about 1e-3.
    withCompact.scores.forEach((s, i) => assert.ok(Math.abs(s - withFloats.scores[i]) < 0.01, `${s} vs ${withFloats.scores[i]}`));
    assert.match(withCompact.ids[0], /^s(0|6|12|18|4|10|16|22)$/, `a coast or sea item leads: ${withCompact.ids}`);
    for (const r of [withFloats, withCompact]) {
      assert.equal(r.afterRank, r.afterHistory, 'no candidate text was encoded');
      assert.equal(r.afterClick, r.afterRank, 'buying a server-embedded item needs no encoder');
      assert.deepEqual(r.notes, {});
    }
    // Another model's, a cut one, a corrupt one: ignored for that item (encoded on the device), with a note.
    const bad = list((i) => compact[i]);
    bad[0] = { ...bad[0], model: 'f'.repeat(64) };
    bad[1] = { ...bad[1], embedding: bad[1].embedding.slice(0, 100) };
    bad[2] = { ...bad[2], embedding: `!${bad[2].embedding.slice(1)}` };
    const withBad = await page.evaluate((c) => window.serverRanking({ namespace: 'server-b', candidates: c }), bad);
    assert.equal(withBad.afterRank - withBad.afterHistory, 3, 'exactly the three items were encoded on the device');
    assert.match(withBad.notes.s0?.[0] ?? '', /another model/);
    assert.match(withBad.notes.s1?.[0] ?? '', /520 base64 characters/);
    assert.match(withBad.notes.s2?.[0] ?? '', /base64/);
    await page.close();
  });

  test('recordMany records the good events of a batch and reports the bad ones by index', async () => {
    const page = await openPage(browser, '/tests/pages/package.html');
    await page.evaluate(() => window.open_({ namespace: 'many' }));
    const r = await page.evaluate(() => window.recordSomeBad());
    assert.equal(r.recorded, 2, JSON.stringify(r));
    assert.equal(r.added, 2);
    assert.deepEqual(r.rejected.map((x) => [x.index, x.kind]), [[1, 'invalid_input'], [2, 'invalid_time'], [3, 'invalid_input']]);
    assert.deepEqual(r.tooMany, { name: 'InvalidInputError', kind: 'too_many_events' });
    await page.close();
  });

  test('a page closed right after a burst loses nothing: what resolved is saved, and overlapping changes share saves', async () => {
    const page = await openPage(browser, '/tests/pages/package.html');
    await page.evaluate(() => window.open_({ namespace: 'burst' }));
    await page.evaluate(() => window.burst({ n: 20, many: true })); // the 20 texts, encoded once
    await page.evaluate(() => window.rec.flush());
    const ms = {
      many: await page.evaluate(() => window.burst({ n: 1000, many: true })),
      one: await page.evaluate(() => window.burst({ n: 300, many: false })),
    };
    // Closed at once, no flush: every call that resolved was already saved.
    await page.close();
    const again = await openPage(browser, '/tests/pages/package.html');
    await again.evaluate(() => window.open_({ namespace: 'burst' }));
    assert.equal(await again.evaluate(() => window.events()), 1320, `every event is there (${JSON.stringify(ms)} ms)`);
    await again.close();
  });

  test('two tabs recording at the same time lose no events', async () => {
    const a = await openPage(browser, '/tests/pages/package.html');
    const b = await openPage(browser, '/tests/pages/package.html');
    await Promise.all([a.evaluate(() => window.open_({ namespace: 'tabs' })), b.evaluate(() => window.open_({ namespace: 'tabs' }))]);
    await Promise.all([a.evaluate(() => window.recordMany(0, 10)), b.evaluate(() => window.recordMany(100, 10))]);
    const c = await openPage(browser, '/tests/pages/package.html');
    await c.evaluate(() => window.open_({ namespace: 'tabs' }));
    assert.equal(await c.evaluate(() => window.events()), 20);
    await Promise.all([a.close(), b.close(), c.close()]);
  });

  test('rerank twice with overlapping 10,000-item lists: the texts a request reuses stay cached', async () => {
    const page = await openPage(browser, '/tests/pages/package.html');
    assert.equal((await page.evaluate(() => window.open_({ namespace: 'overlap' }))).ok, true);
    const r = await page.evaluate(() => window.rankOverlapping());
    console.log(`two overlapping 10,000-item lists (15,000 texts encoded): ${r.seconds.toFixed(1)} s`);
    assert.deepEqual(r.first, { ok: true, shown: 10 });
    assert.deepEqual(r.second, { ok: true, shown: 10 }, JSON.stringify(r.second));
    await page.close();
  });

  test('hostile input through the public API: typed errors, bounded work, no panic', async () => {
    const page = await openPage(browser, '/tests/pages/package.html');
    assert.equal((await page.evaluate(() => window.open_({ namespace: 'hostile' }))).ok, true);
    const r = await page.evaluate(() => window.hostile());
    const refused = (o, name, kind) => {
      assert.equal(o.ok, false, JSON.stringify(o));
      assert.equal(o.name, name, JSON.stringify(o));
      assert.equal(o.kind, kind, JSON.stringify(o));
    };
    refused(r.distinctFeatures, 'InvalidCandidateError', 'too_many_features');
    assert.equal(r.sharedFeatures.ok, true, JSON.stringify(r.sharedFeatures));
    refused(r.tooManyCandidates, 'InvalidCandidateError', 'too_many_candidates');
    refused(r.tooManyRelated, 'InvalidCandidateError', 'invalid_candidate');
    refused(r.hugeScore, 'InvalidCandidateError', 'invalid_candidate');
    refused(r.hugeFeature, 'InvalidCandidateError', 'invalid_candidate');
    refused(r.hugeValue, 'InvalidInputError', 'invalid_event');
    refused(r.chosenTwice, 'InvalidInputError', 'invalid_feedback');
    refused(r.futureTime, 'InvalidInputError', 'invalid_time');
    refused(r.negativeTime, 'InvalidInputError', 'invalid_time');
    assert.equal(r.fractionalTime.ok, false, JSON.stringify(r.fractionalTime));
    assert.match(r.fractionalTime.message, /whole number of milliseconds/);
    assert.equal(r.oldLog.ok, true, JSON.stringify(r.oldLog));
    assert.equal(r.eventsAfter, 1, 'only the 1997 replay was recorded');
    assert.equal(r.stillWorks.ok, true);
    const priors = await page.evaluate(async () => ({
      unknown: await window.openWithPrior({ weights: { server: 1, sever: 2 } }),
      extraField: await window.openWithPrior({ weights: { server: 1 }, wieghts: {} }),
      huge: await window.openWithPrior(JSON.stringify({ weights: { [`site:${'x'.repeat(2 << 20)}`]: 1 } })),
      fine: await window.openWithPrior({ weights: { server: 1, 'site:margin': 0.5 } }),
    }));
    for (const bad of [priors.unknown, priors.extraField, priors.huge]) refused(bad, 'InvalidInputError', 'invalid_prior');
    assert.equal(priors.fine.ok, true, JSON.stringify(priors.fine));
    assert.ok(!page.consoleLines.some((l) => l.includes('panicked')), page.consoleLines.join('\n'));
    await page.close();
  });

  test('feedback after a reload: the impression was saved with the profile', async () => {
    const page = await openPage(browser, '/tests/pages/package.html');
    assert.equal((await page.evaluate(() => window.open_({ namespace: 'reload' }))).ok, true);
    const shown = await page.evaluate(() => window.showFour());
    await page.reload();
    await page.waitForFunction(() => window.ready === true);
    assert.equal((await page.evaluate(() => window.open_({ namespace: 'reload' }))).ok, true);
    // The user takes the third item, passing over two, and dismisses the last.
    const r = await page.evaluate((s) => window.answer(s.impressionId, [s.ids[2]], [s.ids[3]]), shown);
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(r.steps, 1);
    assert.ok(Object.values(r.delta).some((d) => Math.abs(d) > 1e-6), JSON.stringify(r.delta));
    const unknown = await page.evaluate(() => window.answer('imp-999', ['s0'], []));
    assert.equal(unknown.kind, 'unknown_impression', JSON.stringify(unknown));
    const next = await page.evaluate(() => window.showFour());
    assert.notEqual(next.impressionId, shown.impressionId, 'ids are not reused after a reload');
    await page.close();
  });

  test('a returning user on a new prior keeps what they learned; forget returns to the new prior', async () => {
    const page = await openPage(browser, '/tests/pages/package.html');
    const v1 = await page.evaluate(() => window.priorOf('v1', 0.45));
    assert.equal((await page.evaluate((prior) => window.open_({ namespace: 'returning', prior }), v1)).ok, true);
    for (let i = 0; i < 4; i++) {
      const shown = await page.evaluate(() => window.showFour());
      const r = await page.evaluate((s) => window.answer(s.impressionId, [s.ids[3]], []), shown);
      assert.equal(r.ok, true, JSON.stringify(r));
    }
    const learned = await page.evaluate(() => window.rec.weights());
    assert.equal(learned.prior_version, 'v1');
    await page.reload();
    await page.waitForFunction(() => window.ready === true);
    const v2 = await page.evaluate(() => window.priorOf('v2', 0.9));
    assert.equal((await page.evaluate((prior) => window.open_({ namespace: 'returning', prior }), v2)).ok, true);
    const back = await page.evaluate(() => window.rec.weights());
    assert.equal(back.prior_version, 'v2');
    // Weights are f32 in the core: compare to f32 precision.
    const sameWeights = (a, b) => {
      assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort());
      for (const k of Object.keys(b)) assert.equal(a[k], Math.fround(b[k]), k);
    };
    sameWeights(back.prior, v2.weights);
    for (const [name, w] of Object.entries(v2.weights)) {
      const offset = Math.max(-1, Math.min(1, learned.current[name] - learned.prior[name]));
      assert.ok(Math.abs(back.current[name] - (w + offset)) < 1e-5, `${name}: ${back.current[name]} vs ${w} + ${offset}`);
    }
    assert.ok(Object.keys(v2.weights).some((n) => Math.abs(back.current[n] - v2.weights[n]) > 1e-4), 'an offset was carried');
    await page.evaluate(() => window.rec.forget({ keepModel: true }));
    const reset = await page.evaluate(() => window.rec.weights());
    sameWeights(reset.current, v2.weights);
    const badVersion = await page.evaluate(() => window.openWithPrior({ weights: { server: 1 }, version: 5 }));
    assert.equal(badVersion.kind, 'invalid_prior', JSON.stringify(badVersion));
    await page.close();
  });

  test('encoder-only use: embed without any profile storage', async () => {
    const page = await openPage(browser, '/tests/pages/package.html');
    const r = await page.evaluate(async () => {
      const opened = await window.open_({ profile: false, namespace: 'none' });
      const [v] = await window.rec.embed(['red trail running shoes']);
      let err = null;
      try { await window.rec.record({ item: { id: 'a', text: 'b' }, kind: 'click', at: 1 }); } catch (e) { err = e.name; }
      return { opened: opened.ok, len: v.length, norm: Math.hypot(...v), err };
    });
    assert.deepEqual({ ...r, norm: Math.round(r.norm * 1000) / 1000 }, { opened: true, len: 384, norm: 1, err: 'StorageError' });
    await page.close();
  });

  test('a pool of 2 workers shares a large embed batch, gives the vectors one worker gives, and serves a batch of 1 first', async () => {
    const page = await openPage(browser, '/tests/pages/package.html');
    await page.evaluate(() => window.open_({ namespace: 'pool-warm' })); // the model in the Cache API
    const one = await page.evaluate(() => window.poolRun({ workers: 1 }));
    const two = await page.evaluate(() => window.poolRun({ workers: 2 }));
    // One worker runs every piece: 48 and 128 texts in pieces of 8, and the one small request.
    assert.deepEqual(one.after, { size: 1, started: 0, piecesByLane: [48 / 8 + 128 / 8 + 1] });
    assert.equal(two.afterFirst.size, 2);
    // The extra worker joins while the first batch runs; by the second batch it has worked too.
    assert.equal(two.after.started, 1, JSON.stringify(two.after));
    assert.equal(two.after.piecesByLane.length, 2);
    assert.ok(two.after.piecesByLane.every((n) => n > 0), `pieces by worker ${two.after.piecesByLane}`);
    // At least 4 pieces a worker, at most 8 texts a piece: 48 texts in 8 pieces of 6 on two.
    const pieces = (n, lanes) => Math.ceil(n / pieceSize(n, lanes));
    assert.equal(pieces(48, 2), 8);
    assert.equal(two.after.piecesByLane.reduce((a, b) => a + b, 0), pieces(48, 2) + pieces(128, 2) + 1);
    // Same model and kernel in every worker: the same vectors, in the order of the texts.
    let worst = 0;
    one.vectors.forEach((v, i) => v.forEach((x, j) => { worst = Math.max(worst, Math.abs(x - two.vectors[i][j])); }));
    assert.equal(worst, 0, `largest difference ${worst}`);
    assert.deepEqual(one.order, ['small', 'big']);
    assert.deepEqual(two.order, ['small', 'big']);
    await page.close();
  });

  test('a large rerank encodes its texts on the pool of 2 workers and ranks as one worker does', async () => {
    const page = await openPage(browser, '/tests/pages/package.html');
    await page.evaluate(() => window.open_({ namespace: 'pool-warm' })); // the model in the Cache API
    const one = await page.evaluate(() => window.poolRerank({ workers: 1 }));
    const two = await page.evaluate(() => window.poolRerank({ workers: 2 }));
    // One worker: the ranking encodes its texts itself, no piece goes through the pool.
    assert.equal(one.piecesFirst, 0);
    assert.equal(one.encodedFirst, 2 + 40);
    // Two: the 40 texts went out in pieces (at least 4 a worker, so pieces of 5), were cached,
    // and the ranking encoded nothing more; the second ranking found everything cached.
    assert.equal(two.piecesFirst, 40 / pieceSize(40, 2));
    assert.equal(two.encodedFirst, 2 + 40);
    assert.equal(two.encodedAgain, two.encodedFirst);
    assert.equal(two.piecesAgain, two.piecesFirst);
    // Once the extra worker has loaded, a list of new texts is shared between both.
    assert.equal(two.pool.started, 1, JSON.stringify(two.pool));
    assert.ok(two.freshByLane.every((n) => n > 0), `pieces by worker ${two.freshByLane}`);
    assert.equal(two.encodedFresh, 2 + 80);
    // The same vectors whichever worker encoded them: the same order and scores (up to the
    // time decay between the two sessions' clocks).
    for (const which of ['first', 'again', 'fresh']) {
      assert.deepEqual(two[which].map(([id]) => id), one[which].map(([id]) => id), which);
      two[which].forEach(([, s], i) => assert.ok(Math.abs(s - one[which][i][1]) < 1e-5, `${which} ${i}: ${s} vs ${one[which][i][1]}`));
    }
    await page.close();
  });

  test('a large recordMany encodes its new texts on the pool of 2 workers, in turn with the requests after it', async () => {
    const page = await openPage(browser, '/tests/pages/package.html');
    await page.evaluate(() => window.open_({ namespace: 'pool-warm' })); // the model in the Cache API
    const one = await page.evaluate(() => window.poolRecordMany({ workers: 1 }));
    const two = await page.evaluate(() => window.poolRecordMany({ workers: 2 }));
    for (const r of [one, two]) {
      // The bad event is reported and encodes nothing; 40 + 1 texts encoded, each once.
      assert.equal(r.recorded, 40);
      assert.deepEqual(r.rejected, [[7, 'invalid_time']]);
      assert.equal(r.encoded, 41);
      // A record and a flush made while the batch waits for the pool are sent after it: the
      // flush resolves once both are recorded and saved.
      assert.equal(r.encodedAtFlush, 41);
    }
    assert.equal(one.pieces, 0);
    assert.equal(two.pieces, 40 / pieceSize(40, 2));
    assert.deepEqual(two.scores.map(([id]) => id), one.scores.map(([id]) => id));
    two.scores.forEach(([, s], i) => assert.ok(Math.abs(s - one.scores[i][1]) < 1e-5, `${i}: ${s} vs ${one.scores[i][1]}`));
    await page.close();
  });

  test('a browser without wasm SIMD128 (injected: Safari before 16.4) gets an UnsupportedBrowserError and downloads no build', async () => {
    const page = await openPage(browser, '/tests/pages/package.html');
    const r = await page.evaluate(async () => {
      // What such a browser answers for the package's probe (a module using v128).
      WebAssembly.validate = () => false;
      const wasmBefore = performance.getEntriesByType('resource').filter((e) => e.name.endsWith('.wasm')).length;
      const { UnsupportedBrowserError } = await import('/js/index.js');
      const opened = await window.open_({ namespace: 'no-simd', worker: false });
      let direct = null;
      try { await (await import('/js/index.js')).initWasm({ wasm: 'cpu' }); } catch (e) {
        direct = { isClass: e instanceof UnsupportedBrowserError, kind: e.kind, missing: e.missing };
      }
      const wasmAfter = performance.getEntriesByType('resource').filter((e) => e.name.endsWith('.wasm')).length;
      return { opened, direct, wasmFetched: wasmAfter - wasmBefore };
    });
    assert.equal(r.opened.ok, false);
    assert.equal(r.opened.name, 'UnsupportedBrowserError', JSON.stringify(r.opened));
    assert.match(r.opened.message, /SIMD128/);
    assert.deepEqual(r.direct, { isClass: true, kind: 'unsupported_browser', missing: 'wasm-simd128' });
    assert.equal(r.wasmFetched, 0);
    await page.close();
  });

  test('a browser with SIMD128 but no relaxed SIMD (injected: Safari, Firefox before 146) loads the plain CPU build; forcing cpu-relaxed is an UnsupportedBrowserError', async () => {
    const page = await openPage(browser, '/tests/pages/package.html');
    const r = await page.evaluate(async () => {
      // Such a browser fails the package's relaxed-SIMD probe (the only module that uses
      // opcode 0xfd 0x113) and passes every other.
      const validate = WebAssembly.validate;
      WebAssembly.validate = (bytes) => !(bytes.length === 40 && bytes[37] === 147 && bytes[38] === 2) && validate(bytes);
      const { hasRelaxedSimd, initWasm, UnsupportedBrowserError } = await import('/js/index.js');
      let forced = null;
      try { await initWasm({ wasm: 'cpu-relaxed' }); } catch (e) {
        forced = { isClass: e instanceof UnsupportedBrowserError, kind: e.kind, missing: e.missing };
      }
      const opened = await window.open_({ namespace: 'no-relaxed', worker: false, backend: 'cpu' });
      return { relaxed: hasRelaxedSimd(), forced, opened };
    });
    assert.equal(r.relaxed, false);
    assert.deepEqual(r.forced, { isClass: true, kind: 'unsupported_browser', missing: 'wasm-relaxed-simd' });
    assert.equal(r.opened.ok, true, JSON.stringify(r.opened));
    assert.equal(r.opened.wasmBuild, 'cpu');
    assert.deepEqual(r.opened.int8Kernel, { kernel: 'simd128', simd128: null, relaxedDot: null });
    await page.close();
  });
});

describe('package: the encoder loads after the profile (encoder: background | on-demand)', { timeout: 600_000 }, () => {
  // The model is held by the server until a test lets it through, as on a slow first visit.
  let browser;
  let blocked = true;
  const held = [];
  const modelRequests = [];
  const release = () => {
    blocked = false;
    for (const { res, file, size } of held.splice(0)) {
      if (res.destroyed) continue;
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': size, 'Cache-Control': 'no-cache' });
      createReadStream(file).pipe(res).on('error', () => {});
    }
  };
  const wasmRequests = [];
  const intercept = (req, res, { file, size }) => {
    if (file.endsWith('.wasm')) wasmRequests.push(file.split('/dist/pkg/')[1]);
    if (!file.endsWith('/all-MiniLM-L6-v2/model.int8.bpk')) return false;
    modelRequests.push(Date.now());
    if (!blocked) return false;
    held.push({ res, file, size });
    return true;
  };
  const topics = ['coastal walks', 'sourdough baking', 'jazz piano', 'alpine gardens', 'sea kayaking', 'chess openings'];
  const texts = Array.from({ length: 24 }, (_, i) => `A guide to ${topics[i % 6]}, volume ${i + 1}`);
  let candidates;
  before(async () => {
    browser = await openBrowser({ webgpu: false, intercept });
    const compact = serverEmbeddings(texts, true);
    // Half the list comes with the server's embedding; the other half does not.
    candidates = texts.map((text, i) => ({ id: `l${i}`, text, server_score: 1 - i * 0.01, ...(i % 2 === 0 ? compact[i] : {}) }));
  });
  after(async () => {
    release();
    await browser?.close();
  });

  test('ranks before the model arrives, keeps the events that need it (across a reload), and folds them in when it does', async () => {
    const page = await openPage(browser, '/tests/pages/package.html');
    const cpuBuild = await cpuBuildIn(page);
    const opened = await page.evaluate(() => window.lazyOpen({ namespace: 'lazy' }));
    assert.equal(opened.hasEncoder, false, JSON.stringify(opened));
    assert.equal(opened.backend, null);
    // The recommender starts in the ranking-only build; the encoder build comes with the model.
    assert.equal(opened.rankingBuild, 'rank');
    assert.equal(opened.wasmBuild, cpuBuild);
    for (let i = 0; i < 100 && held.length === 0; i++) await new Promise((ok) => setTimeout(ok, 100));
    assert.ok(held.length >= 1, 'the background load asked for the model, and it is held');
    const s = await page.evaluate((c) => window.lazySession(c), candidates);
    assert.deepEqual(s.pending, ['embedding'], JSON.stringify(s));
    assert.equal(s.unembedded, 12);
    assert.equal(s.count, 24);
    assert.equal(s.afterClick, 0, 'a click on a server-embedded item is recorded at once');
    assert.deepEqual(s.many, { recorded: 0, deferred: 2, rejected: [] });
    assert.equal(s.deferred, 3, 'the search and the two new texts wait');
    assert.equal(s.events, 1);
    assert.equal(s.encodedTexts, 0);
    // The page closes before the model arrives: nothing is lost.
    await page.close();
    const again = await openPage(browser, '/tests/pages/package.html');
    const reopened = await again.evaluate(() => window.lazyOpen({ namespace: 'lazy' }));
    assert.equal(reopened.deferred, 3, JSON.stringify(reopened));
    assert.equal(reopened.events, 1);
    release();
    const arrived = await again.evaluate((c) => window.lazyArrive(c), candidates);
    assert.equal(arrived.hasEncoder, true, JSON.stringify(arrived));
    assert.equal(arrived.backend, 'cpu');
    assert.equal(arrived.encodedTexts, 3 + 12,
      'the three waiting texts and the 12 items without a server embedding, encoded by the encoder build for the ranking build');
    assert.equal(arrived.deferred, 0);
    assert.equal(arrived.events, 4, 'the three waiting events are folded in');
    assert.deepEqual(arrived.recent.slice(-3), ['search:kayak', 'n1', 'n2'], 'in the order they came');
    assert.equal(arrived.pending, null, 'every item embedded now');
    assert.ok(arrived.progress.includes('encoder'), JSON.stringify(arrived.progress));
    await again.close();
  });

  test('on-demand: a visit that only ranks server-embedded items and clicks them never fetches the model', async () => {
    blocked = true;
    const before = modelRequests.length;
    wasmRequests.length = 0;
    const page = await openPage(browser, '/tests/pages/package.html');
    const opened = await page.evaluate(() => window.lazyOpen({ namespace: 'on-demand', encoder: 'on-demand' }));
    assert.equal(opened.hasEncoder, false);
    const embeddedOnly = candidates.filter((c) => c.embedding);
    const r = await page.evaluate(async (c) => {
      const ranked = await window.rec.rerank(c);
      const top = c.find((x) => x.id === ranked.items[0].id);
      await window.rec.record({ item: { id: top.id, text: top.text }, kind: 'purchase', at: Date.now() });
      return { pending: ranked.pending ?? null, deferred: window.rec.deferredEvents, events: await window.events() };
    }, embeddedOnly);
    assert.deepEqual(r, { pending: null, deferred: 0, events: 1 });
    await new Promise((ok) => setTimeout(ok, 500));
    assert.equal(modelRequests.length, before, 'no model request');
    assert.deepEqual(wasmRequests.filter((f) => !f.startsWith('rank/')), [], 'the encoder build is never fetched');
    await page.close();
    release();
  });
});

