// The product as a person uses it: the demo in the real browser under test (tests/browser.mjs).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { cpuBuildIn, openBrowser, webgpuIn } from './browser.mjs';

const TIMEOUT = 900_000;

/** The page ranked, and its encoder (loaded behind the first ranking) arrived or failed. */
const encoderSettled = () => document.body.dataset.ready === 'error'
  || (document.body.dataset.ready === 'true' && document.body.dataset.encoder != null);

async function openDemo(browser, query = '') {
  const page = await browser.context.newPage();
  const log = [];
  page.on('console', (m) => log.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
  page.log = log;
  await page.goto(`${browser.url}/www/${query}`);
  await page.waitForFunction(encoderSettled, null, { timeout: 600_000 });
  return page;
}

/** Clicks and waits until the app has re-rendered. */
async function clickAndWait(page, selector) {
  const before = Number(await page.getAttribute('body', 'data-renders'));
  await page.click(selector);
  await page.waitForFunction((n) => Number(document.body.dataset.renders) > n, before, { timeout: 300_000 });
}

const ranking = (page) => page.$$eval('#list li', (lis) => lis.map((li) => li.dataset.id));
const categories = (page) => page.evaluate(() =>
  [...document.querySelectorAll('#list li')].map((li) => window.cloisterDemo.server.byId.get(li.dataset.id).category));

describe('demo app on the CPU path (worker, IndexedDB)', { timeout: TIMEOUT }, () => {
  let browser, page;
  const requests = [];
  before(async () => {
    browser = await openBrowser({ webgpu: false });
    // Every request of the session, the service worker's own fetches included (Playwright
    // reports them in Chromium, where `sw` marks them; Firefox's go through a logging proxy).
    browser.context.on('request', (r) => requests.push({ method: r.method(), url: r.url(), body: r.postData(), sw: r.serviceWorker() != null }));
    page = await openDemo(browser, '?backend=cpu');
  });
  after(async () => browser?.close());

  test('first load ranks the catalogue with an explanation per item', async () => {
    assert.equal(await page.getAttribute('body', 'data-ready'), 'true', page.log.join('\n'));
    assert.match(await page.textContent('#backend'), /cpu/);
    assert.equal(await page.evaluate(() => window.cloisterDemo.rec.inWorker), true, 'encoder runs in the Web Worker');
    // ...under the demo's Content-Security-Policy: the server sends it with the worker's script
    // (a meta tag would govern the page only), and the worker still fetches, compiles its wasm
    // and ranks.
    const workerPolicy = await page.evaluate(async () => (await fetch('/js/worker.js')).headers.get('content-security-policy'));
    assert.match(workerPolicy ?? '', /script-src 'self' 'wasm-unsafe-eval'/);
    assert.match(workerPolicy ?? '', /connect-src 'self'/);
    const items = await ranking(page);
    assert.equal(items.length, 12);
    const whys = await page.$$eval('#list .why', (n) => n.map((x) => x.textContent));
    assert.ok(whys.every((w) => w.startsWith('Why: ') && w.length > 8), whys.join('\n'));
    // The in-page server sent compact embeddings made at build time: nothing was encoded here.
    assert.equal(await page.evaluate(() => Object.keys(window.cloisterDemo.serverEmbeddings?.items ?? {}).length), 360);
    assert.equal(await page.evaluate(() => window.cloisterDemo.rec.encodedTexts), 0);
  });

  test('a scripted session moves the ranking the expected way', async () => {
    await clickAndWait(page, '#tab-book');
    assert.ok((await ranking(page))[0].startsWith('b'));
    const before = await categories(page);
    const cookingBefore = before.filter((c) => c === 'cooking').length;
    await page.fill('#interest', 'recipes and home cooking from Italy and Japan');
    await clickAndWait(page, '#interest-form button');
    assert.equal(await page.locator('#interests li').count(), 1);
    // Act on cooking books: read two, like one; dismiss the first non-cooking book.
    for (let round = 0; round < 3; round++) {
      const ids = await page.evaluate(() => [...document.querySelectorAll('#list li')].map((li) => [li.dataset.id, window.cloisterDemo.server.byId.get(li.dataset.id).category]));
      const cooking = ids.find(([, c]) => c === 'cooking');
      const other = ids.find(([, c]) => c !== 'cooking');
      if (cooking) await clickAndWait(page, `#list li[data-id="${cooking[0]}"] .act-buy`);
      if (other) await clickAndWait(page, `#list li[data-id="${other[0]}"] .act-dismiss`);
    }
    const after = await categories(page);
    const cookingAfter = after.filter((c) => c === 'cooking').length;
    assert.ok(cookingAfter > cookingBefore, `cooking books in the top 12: ${cookingBefore} -> ${cookingAfter}`);
    const why = await page.$$eval('#list .why', (n) => n.map((x) => x.textContent).join('\n'));
    assert.match(why, /interest|similar to|popular with people who chose|close to what/, why);
    const steps = await page.evaluate(() => window.cloisterDemo.rec.weights().steps);
    assert.ok(steps >= 3, `feedback steps ${steps}`);
  });

  test('reload keeps the profile (IndexedDB)', async () => {
    const weights = await page.evaluate(() => window.cloisterDemo.rec.weights());
    await page.reload();
    await page.waitForFunction(encoderSettled, null, { timeout: 120_000 });
    assert.equal(await page.locator('#interests li').count(), 1);
    const again = await page.evaluate(() => window.cloisterDemo.rec.weights());
    assert.deepEqual(again, weights);
    assert.match(await page.textContent('#engine'), /IndexedDB/);
  });

  test('exploration returns each item\'s propensity', async () => {
    const r = await page.evaluate(async () => {
      const s = window.cloisterDemo;
      const candidates = s.server.candidates('book', { head: 30, perCategory: 0 });
      // Without k every candidate comes back, each with its chance of being in the top 10.
      const all = await s.rec.rerank(candidates, { explore: { seed: 7 } });
      const top = await s.rec.rerank(candidates, { k: 5, explore: { seed: 7 } });
      const plain = await s.rec.rerank(candidates, { k: 10 });
      return {
        returned: all.items.length,
        propensities: all.items.map((i) => i.propensity),
        top: top.items.map((i) => i.propensity),
        plainHasNone: plain.items.every((i) => i.propensity === undefined),
      };
    });
    assert.equal(r.returned, 30);
    assert.ok(r.plainHasNone);
    assert.ok(r.propensities.every((p) => p >= 0 && p <= 1), JSON.stringify(r.propensities));
    const total = r.propensities.reduce((a, p) => a + p, 0);
    assert.ok(Math.abs(total - 10) < 1e-3, `propensities add up to the top 10: ${total}`);
    assert.equal(r.top.length, 5);
    assert.ok(r.top.every((p) => p > 0 && p <= 1), JSON.stringify(r.top));
  });

  test('bad candidates give a typed error and the page keeps working', async () => {
    const e = await page.evaluate(async () => {
      try {
        await window.cloisterDemo.rec.rerank([{ id: 'x', text: 'a', server_score: 1 }, { id: 'x', text: 'b', server_score: 2 }]);
        return null;
      } catch (err) {
        return { name: err.name, kind: err.kind, isClass: err instanceof Error };
      }
    });
    assert.deepEqual(e, { name: 'InvalidCandidateError', kind: 'duplicate_candidate', isClass: true });
    const bad = await page.evaluate(async () => {
      try { await window.cloisterDemo.rec.record({ item: { id: 'x' }, kind: 'teleport', at: 1 }); return null; } catch (err) { return err.name; }
    });
    assert.equal(bad, 'InvalidInputError');
    await clickAndWait(page, '#tab-product');
    assert.ok((await ranking(page))[0].startsWith('p'));
  });

  test('privacy: only the app\'s own files and the model are fetched; nothing identifying is sent', async () => {
    // Twenty more events, then check every request of the session.
    for (let i = 0; i < 20; i++) {
      const id = await page.$eval('#list li', (li) => li.dataset.id);
      await clickAndWait(page, `#list li[data-id="${id}"] .act-view`);
    }
    const origin = browser.url;
    const allowed = ['/www/', '/js/', '/dist/pkg/', '/dist/demo/', '/models/'];
    const recorded = await page.evaluate(() => window.cloisterDemo.rec.exportProfile());
    const history = recorded.state.profile.recent.map((e) => e.id);
    assert.ok(history.length >= 20, `history ${history.length}`);
    if (browser.engine === 'chromium') {
      assert.ok(requests.some((r) => r.sw), 'the service worker\'s own fetches are among those checked');
    } else {
      // Firefox's requests come from a proxy all its traffic goes through, the service worker's
      // included, but a proxy cannot mark which were the service worker's.
      console.log(`# ${browser.engine}: ${requests.length} requests, every one the browser made, logged by its proxy`);
    }
    for (const r of requests) {
      assert.equal(r.method, 'GET', `${r.method} ${r.url}`);
      assert.ok(r.url.startsWith(origin), `off-origin request ${r.url}`);
      const path = new URL(r.url).pathname;
      assert.ok(allowed.some((p) => path.startsWith(p)), `unexpected request ${path}`);
      assert.equal(r.body ?? null, null);
      for (const id of history) assert.ok(!r.url.includes(`=${id}`) && !path.endsWith(`/${id}`), `${r.url} names ${id}`);
    }
    const texts = recorded.state.profile.recent.map((e) => e.title.slice(0, 20));
    for (const r of requests) for (const t of texts) assert.ok(!decodeURIComponent(r.url).includes(t));
    assert.deepEqual(await browser.context.cookies(), []);
    assert.equal(await page.evaluate(() => localStorage.length), 0);
  });

  test('forget clears the profile everywhere', async () => {
    await clickAndWait(page, '#forget');
    assert.equal(await page.evaluate(() => window.cloisterDemo.rec.weights().steps), 0);
    assert.equal(await page.locator('#interests li').count(), 0);
    await page.reload();
    await page.waitForFunction(encoderSettled, null, { timeout: 120_000 });
    assert.equal(await page.evaluate(() => window.cloisterDemo.rec.weights().steps), 0);
    assert.equal(await page.evaluate(async () => (await window.cloisterDemo.rec.exportProfile()).state.profile.events), 0);
  });

  test('after the first visit the demo works offline', async () => {
    await page.waitForFunction(() => navigator.serviceWorker?.controller != null, null, { timeout: 60_000 }).catch(() => {});
    await page.reload();
    await page.waitForFunction(encoderSettled, null, { timeout: 120_000 });
    // The service worker has what this visit ran: after a first visit's kernel timing that may
    // be the plain CPU build in place of the relaxed one (js/wasm.js).
    await page.waitForFunction(() => document.body.dataset.offline, null, { timeout: 120_000 });
    assert.equal(await page.getAttribute('body', 'data-offline'), 'ready');
    await browser.context.setOffline(true);
    try {
      await page.reload();
      await page.waitForFunction(encoderSettled, null, { timeout: 120_000 });
      assert.equal((await ranking(page)).length, 12);
      assert.match(await page.textContent('#progress-text'), /cache/);
    } finally {
      await browser.context.setOffline(false);
    }
    // One copy of each thing, and only what this page used: the model in the package's cache
    // only, the encoder build this page ran (the CPU one here) and the ranking build that
    // served the first ranking, the shell and this model's server embeddings.
    const stored = await page.evaluate(async () => {
      const out = {};
      for (const name of await caches.keys()) {
        const cache = await caches.open(name);
        for (const req of await cache.keys()) {
          out[`${name} ${new URL(req.url).pathname}`] = (await (await cache.match(req)).arrayBuffer()).byteLength;
        }
      }
      return out;
    });
    const keys = Object.keys(stored);
    // The package caches the model by its sha256; the demo's cache must hold no copy of it.
    const models = keys.filter((k) => stored[k] > 20e6);
    assert.equal(models.length, 1, `one copy of the model (23.7 MB): ${keys.map((k) => `${k} ${stored[k]}`).join('\n')}`);
    assert.match(models[0], /^cloister-models-v1 /);
    assert.ok(!keys.some((k) => /\.bpk$/.test(k)), keys.join('\n'));
    const wasm = keys.filter((k) => k.endsWith('.wasm'));
    assert.deepEqual(wasm.map((k) => k.split(' ')[1]).sort(),
      [`/dist/pkg/${await cpuBuildIn(page)}/cloister_bg.wasm`, '/dist/pkg/rank/cloister_bg.wasm'], keys.join('\n'));
    const total = Object.values(stored).reduce((a, b) => a + b, 0);
    const model = stored[models[0]];
    // Beside the model (23.7 MB): the CPU build, the shell, catalogues and embeddings, well under 10 MB.
    assert.ok(total - model < 10e6, `stored ${(total / 1e6).toFixed(1)} MB, ${((total - model) / 1e6).toFixed(1)} MB beside the model:\n${keys.join('\n')}`);
    console.log(`# stored after a first visit and a reload: ${(total / 1e6).toFixed(1)} MB (${((total - model) / 1e6).toFixed(1)} MB beside the model); ` +
      `wasm: ${wasm.map((k) => k.split(' ')[1]).join(', ')}`);
  });

  test('a wrong model file shows a clear error', async () => {
    const bad = await openDemo(browser, '?backend=cpu&sw=off&model=../models/all-MiniLM-L6-v2/tokenizer.json');
    assert.equal(await bad.getAttribute('body', 'data-ready'), 'error');
    assert.match(await bad.textContent('#error'), /ModelFormatError/);
    await bad.close();
  });
});

describe('demo app: cold visitors who only state an interest', { timeout: TIMEOUT }, () => {
  test('the top 10 holds the stated interest\'s category more often with the server\'s category sample', async () => {
    const browser = await openBrowser({ webgpu: false });
    try {
      const page = await openDemo(browser, '?backend=cpu&sw=off&worker=off');
      const visitors = [
        ['product', 'cast iron cooking for beginners', 'kitchen'],
        ['product', 'hiking and camping in the mountains', 'outdoor'],
        ['product', 'strength training and yoga at home', 'fitness'],
        ['product', 'growing vegetables and houseplants', 'garden'],
        ['book', 'detective stories and unsolved crimes', 'mystery'],
        ['book', 'ancient empires and the wars that ended them', 'history'],
      ];
      const r = await page.evaluate(async (visitors) => {
        const s = window.cloisterDemo;
        const out = [];
        for (const [kind, interest, category] of visitors) {
          const id = await s.rec.stateInterest(interest, 1);
          const share = async (candidates) => {
            const ranked = await s.rec.rerank(candidates, { k: 10 });
            return ranked.items.filter((i) => s.server.byId.get(i.id).category === category).length / 10;
          };
          out.push({
            interest,
            headOnly: await share(s.server.candidates(kind, { head: 60, perCategory: 0 })),
            withSample: await share(s.server.candidates(kind)),
          });
          await s.rec.removeInterest(id);
        }
        return out;
      }, visitors);
      const mean = (k) => r.reduce((a, v) => a + v[k], 0) / r.length;
      console.log(`share of the stated interest's category in the top 10 (demo catalogue, ${r.length} cold visitors):\n` +
        r.map((v) => `  ${v.interest}: popular head only ${v.headOnly.toFixed(1)}, head + category sample ${v.withSample.toFixed(1)}`).join('\n') +
        `\n  mean: ${mean('headOnly').toFixed(2)} -> ${mean('withSample').toFixed(2)}`);
      assert.ok(mean('withSample') > mean('headOnly'), JSON.stringify(r));
      assert.ok(r.every((v) => v.withSample >= 0.3), JSON.stringify(r));
    } finally {
      await browser.close();
    }
  });
});

describe('demo app: WebGPU and CPU rank the same candidates the same way', { timeout: TIMEOUT }, () => {
  test('top-10 equal, scores close', async (t) => {
    const results = {};
    for (const backend of ['webgpu', 'cpu']) {
      const browser = await openBrowser({ webgpu: backend === 'webgpu' });
      try {
        if (backend === 'webgpu') {
          const probe = await browser.context.newPage();
          await probe.goto(`${browser.url}/tests/pages/encoder.html`);
          const noWebgpu = await webgpuIn(probe);
          if (noWebgpu) return t.skip(noWebgpu);
        }
        const page = await openDemo(browser, `?backend=${backend}&sw=off&worker=off`);
        assert.equal(await page.getAttribute('body', 'data-ready'), 'true', page.log.join('\n'));
        results[backend] = await page.evaluate(async () => {
          const s = window.cloisterDemo;
          await s.rec.stateInterest('space opera with starships and rival empires', 1);
          const r = await s.rec.rerank(s.server.candidates('book', { head: 30, perCategory: 0 }), { k: 10 });
          return { backend: s.rec.backend, items: r.items.map((i) => [i.id, i.score]) };
        });
      } finally {
        await browser.close();
      }
    }
    assert.equal(results.webgpu.backend, 'webgpu');
    assert.equal(results.cpu.backend, 'cpu');
    console.log(`webgpu top-10 ${JSON.stringify(results.webgpu.items)}\ncpu top-10 ${JSON.stringify(results.cpu.items)}`);
    assert.deepEqual(results.webgpu.items.map((i) => i[0]), results.cpu.items.map((i) => i[0]));
    // 2e-3: the CPU path's byte-dot kernel (where the cpu-relaxed build keeps it) rounds the
    // activations to 14 bits where WebGPU keeps f32: 1.2e-3 seen on scores of 0.5 to 2.3.
    results.webgpu.items.forEach(([, s], i) => assert.ok(Math.abs(s - results.cpu.items[i][1]) < 2e-3, `score ${i}`));
  });
});

describe('demo app: the Chinese section with the multilingual model (?lang=zh)', { timeout: TIMEOUT }, () => {
  test('a Chinese stated interest brings the matching Chinese items to the top; a mixed-language history works', async () => {
    const browser = await openBrowser({ webgpu: false });
    try {
      const page = await openDemo(browser, '?lang=zh&backend=cpu&sw=off&worker=off');
      assert.equal(await page.getAttribute('body', 'data-ready'), 'true', page.log.join('\n'));
      const r = await page.evaluate(async () => {
        const s = window.cloisterDemo;
        const category = (id) => s.server.byId.get(id).category;
        await s.rec.stateInterest('适合初学者的铸铁锅料理', 1);
        const first = await s.rec.rerank(s.server.candidates('zh'), { k: 10 });
        // A Chinese purchase and an English view in one history.
        const kettle = s.server.candidates('zh').find((c) => c.text.startsWith('手冲咖啡壶'));
        await s.rec.record({ item: { id: kettle.id, text: kettle.text, category: kettle.category }, kind: 'purchase', at: Date.now() });
        await s.rec.record({ item: { id: 'p-en', text: 'A gooseneck kettle for pour-over coffee' }, kind: 'view', at: Date.now() });
        const second = await s.rec.rerank(s.server.candidates('zh'), { k: 10 });
        return {
          model: s.rec.modelName,
          footer: document.getElementById('model-name').textContent,
          top: first.items.map((i) => category(i.id)),
          after: second.items.map((i) => category(i.id)),
          warnings: s.rec.warnings,
        };
      });
      console.log(`demo ?lang=zh: top 10 ${r.top.join(' ')}; after a mixed history ${r.after.join(' ')}`);
      assert.equal(r.model, 'multilingual-e5-small');
      assert.equal(r.footer, 'multilingual-e5-small');
      assert.deepEqual(r.warnings, []);
      assert.ok(r.top.slice(0, 3).every((c) => c === '厨房'), r.top.join(' '));
      assert.ok(r.after.includes('茶与咖啡'), r.after.join(' '));
    } finally {
      await browser.close();
    }
  });

  test('on a 390-px phone the list and the profile panel do not overlap and titles keep their width', async () => {
    const browser = await openBrowser({ webgpu: false });
    try {
      // A persistent context sets no per-page device; the viewport is what the layout sees.
      const page = await browser.context.newPage();
      await page.setViewportSize({ width: 390, height: 844 });
      await page.goto(`${browser.url}/www/?backend=cpu&sw=off&worker=off`);
      await page.waitForFunction(encoderSettled, null, { timeout: 600_000 });
      const layout = await page.evaluate(() => {
        const box = (el) => el.getBoundingClientRect();
        const list = box(document.getElementById('list'));
        const panel = box(document.getElementById('profile'));
        const titles = [...document.querySelectorAll('#list .title')].map((t) => box(t).width);
        return { list: [list.left, list.top, list.right, list.bottom], panel: [panel.left, panel.top, panel.right, panel.bottom],
          minTitle: Math.min(...titles), scrollWidth: document.documentElement.scrollWidth, innerWidth };
      });
      const [l, p] = [layout.list, layout.panel];
      const overlap = l[0] < p[2] && p[0] < l[2] && l[1] < p[3] && p[1] < l[3];
      assert.equal(overlap, false, JSON.stringify(layout));
      assert.equal(layout.innerWidth, 390);
      assert.ok(layout.minTitle > 300, `titles keep their width: ${JSON.stringify(layout)}`);
      assert.ok(layout.scrollWidth <= 390, `no sideways scrolling: ${JSON.stringify(layout)}`);
    } finally {
      await browser.close();
    }
  });

  test('the English model on the Chinese section says it cannot read it', async () => {
    const browser = await openBrowser({ webgpu: false });
    try {
      const page = await openDemo(browser, '?backend=cpu&sw=off&worker=off');
      await clickAndWait(page, '#tab-zh');
      const engine = await page.textContent('#engine');
      assert.match(engine, /mostly unknown to all-MiniLM-L6-v2/);
    } finally {
      await browser.close();
    }
  });
});

describe('demo app: the service worker serves from its cache and takes updates whole', { timeout: TIMEOUT }, () => {
  // The server can publish a new style.css (new body, new validator) while the page runs.
  let published = false;
  const intercept = (req, res, { file }) => {
    if (!published || !file.endsWith('/www/style.css')) return false;
    if (req.headers['if-none-match'] === '"v2"') {
      res.writeHead(304, { 'Cache-Control': 'no-cache', ETag: '"v2"' }).end();
    } else {
      const body = `${readFileSync(file, 'utf8')}\n:root { --release: 2; }\n`;
      res.writeHead(200, { 'Content-Type': 'text/css', 'Cache-Control': 'no-cache', ETag: '"v2"' }).end(body);
    }
    return true;
  };
  let browser;
  before(async () => {
    browser = await openBrowser({ webgpu: false, intercept });
  });
  after(async () => browser?.close());

  /** Reloads (or opens) the demo and waits for it and its service worker's revalidation. */
  const visit = async (page) => {
    if (page.url().startsWith('http')) await page.reload();
    else await page.goto(`${browser.url}/www/?backend=cpu`);
    await page.waitForFunction(encoderSettled, null, { timeout: 120_000 });
    await page.waitForFunction(() => document.body.dataset.offline, null, { timeout: 120_000 });
    return page.evaluate(async () => ({
      controlled: navigator.serviceWorker.controller != null,
      offline: document.body.dataset.offline,
      // What this page loaded, not what the cache holds now.
      release: getComputedStyle(document.documentElement).getPropertyValue('--release').trim() || '1',
      sets: (await caches.keys()).filter((k) => k.startsWith('cloister-demo-')),
    }));
  };

  test('a return visit is answered from the cache; a new release lands whole on the visit after it is seen', async () => {
    const page = await browser.context.newPage();
    const first = await visit(page);
    assert.equal(first.offline, 'ready', JSON.stringify(first));
    const second = await visit(page);
    assert.equal(second.controlled, true);
    published = true;
    // The first visit after the release still runs on the cached set (no round trip waited
    // for), and its revalidation writes the new set beside it.
    const third = await visit(page);
    assert.equal(third.release, '1', 'served from the cache, not the network');
    const fourth = await visit(page);
    assert.equal(fourth.release, '2', 'the next visit runs the new release');
    assert.equal(fourth.sets.length, 1, `one set of files kept: ${fourth.sets}`);
    assert.equal(await page.getAttribute('body', 'data-ready'), 'true');
    await page.close();
  });
});
