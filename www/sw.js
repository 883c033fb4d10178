// Offline support and fast return visits for the demo: one copy of each thing, only what the
// page uses, served from the cache first. The install caches the app shell (a few hundred KB);
// the page then names the files it used (the wasm builds it loaded, the server embeddings of
// its model) and those join it. The model and tokenizer are never cached here: the package
// keeps them in its own Cache API entry (cloister-models-v1), so a second copy would double
// the biggest download (22.6 MB for English).
//
// Cache first, so a return visit waits for no round trip (over a 40 ms link the demo's module
// graph alone is about 0.3 s of them, docs/benchmarks.md). Updates land on the visit after they
// are published: each visit revalidates every cached file in the background (conditional
// requests, 304 when unchanged) and, if any changed, writes a complete new set beside the old
// one and only then switches to it. A page therefore never mixes files of two releases (a
// wasm-bindgen glue with another build's wasm would not even instantiate).
const PREFIX = 'cloister-demo-v7-';
// The page's modules (app, server, cloister, errors, models, pool) and its worker's (worker, core,
// model, store, measure, wasm, features, kernel); not the package's index or SentenceEncoder, which it never loads.
const SHELL = ['./', './index.html', './style.css', './app.js', './server.js', './catalogue.json',
  './catalogue-zh.json', '../js/cloister.js', '../js/core.js', '../js/worker.js', '../js/model.js',
  '../js/models.js', '../js/store.js', '../js/errors.js', '../js/wasm.js', '../js/measure.js',
  '../js/pool.js', '../js/kernel.js', '../js/features.js', '../models/manifest.json', '../models/manifest.multilingual.json']
  .map((u) => new URL(u, self.location.href).href);
/** Put last into a set: a set without it is unfinished and never read. */
const COMPLETE = new URL('./.cache-complete', self.location.href).href;

/** Files the package caches itself (model records and tokenizers), by path. */
const PACKAGE_CACHED = /\/models\/[^/]+\/(model\.[^/]*|tokenizer\.json)$/;

/** The set in use, once found: each request would otherwise pay two more Cache API calls. */
let current = null;

/** The newest complete set, or null. */
async function currentSet() {
  if (current) return current;
  const names = (await caches.keys()).filter((n) => n.startsWith(PREFIX)).sort().reverse();
  for (const name of names) {
    const cache = await caches.open(name);
    if (await cache.match(COMPLETE)) {
      current = cache;
      return cache;
    }
  }
  return null;
}

/** Writes `responses` (url -> Response) as a new complete set, switches to it, drops the rest. */
async function writeSet(responses) {
  const name = `${PREFIX}${Date.now()}`;
  const cache = await caches.open(name);
  try {
    await Promise.all([...responses].map(([url, response]) => cache.put(url, response)));
    await cache.put(COMPLETE, new Response(''));
  } catch (e) {
    await caches.delete(name);
    throw e;
  }
  current = cache;
  const stale = (await caches.keys()).filter((n) => n.startsWith('cloister-demo-') && n !== name);
  await Promise.all(stale.map((n) => caches.delete(n)));
  return responses.size;
}

/**
 * Revalidates the shell, `used` and whatever the current set holds; writes a new set if any
 * file changed or is missing. Resolves to the number of files the current set holds.
 */
async function refresh(used = []) {
  const cache = await currentSet();
  const held = cache ? (await cache.keys()).map((r) => r.url).filter((u) => u !== COMPLETE) : [];
  // A page names every wasm build it runs, so a build it no longer names leaves the set: the
  // relaxed CPU build once this browser's kernel timing has moved it to the plain one (js/wasm.js).
  const isBuild = (u) => new URL(u).pathname.includes('/dist/pkg/');
  const kept = used.some(isBuild) ? held.filter((u) => !isBuild(u) || used.includes(u)) : held;
  const urls = [...new Set([...SHELL, ...kept, ...used])];
  const fresh = await Promise.all(urls.map((u) => fetch(u, { cache: 'no-cache' })));
  const failed = fresh.findIndex((r) => !r.ok);
  if (failed >= 0) throw new Error(`${urls[failed]}: HTTP ${fresh[failed].status}`);
  let changed = !cache || kept.length < held.length;
  for (const [i, url] of urls.entries()) {
    if (changed) break;
    const old = await cache.match(url);
    const tag = (r) => r?.headers.get('ETag') ?? r?.headers.get('Last-Modified');
    changed = !old || !tag(old) || tag(old) !== tag(fresh[i]);
  }
  if (!changed) return held.length;
  return writeSet(new Map(urls.map((u, i) => [u, fresh[i]])));
}

self.addEventListener('install', (event) => {
  event.waitUntil(refresh().then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  const older = (keys) => keys.filter((k) => k.startsWith('cloister-demo-') && !k.startsWith(PREFIX));
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(older(keys).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

// The page names what it used, after its first ranking: `{ cache: [urls] }`. That is also
// when everything cached is revalidated, off the first ranking's path.
self.addEventListener('message', (event) => {
  const used = (event.data?.cache ?? [])
    .map((u) => new URL(u, self.location.href))
    .filter((u) => u.origin === self.location.origin && !PACKAGE_CACHED.test(u.pathname))
    .map(String);
  event.waitUntil(refresh(used).then(
    (cached) => event.source?.postMessage({ cached }),
    // Offline or a failed request: the current set stays as it was, and still serves.
    async (e) => {
      const cache = await currentSet();
      const held = cache ? (await cache.keys()).length - 1 : 0;
      event.source?.postMessage(cache ? { cached: held, stale: String(e) } : { cacheError: String(e) });
    },
  ));
});

self.addEventListener('fetch', (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin) return;
  if (PACKAGE_CACHED.test(url.pathname)) return; // the package's own cache answers offline
  event.respondWith((async () => {
    const cache = await currentSet();
    // A navigation carries the demo's options in its query (?lang=zh): the shell is one file.
    const hit = await cache?.match(request, { ignoreSearch: request.mode === 'navigate' });
    return hit ?? fetch(request);
  })());
});
