// Offline support for the demo, one copy of each thing and only what the page uses. The
// install caches the app shell (a few hundred KB); the page then names the files it used
// (the one wasm build it loaded, the server embeddings of its model), and those are cached
// too. The model and tokenizer are never cached here: the package keeps them in its own
// Cache API entry (cloister-models-v1) and reads them from there offline, so a second copy
// would double the biggest download (22.6 MB for English). Network first for the rest, so
// updates land.
const CACHE = 'cloister-demo-v5';
const SHELL = ['./', './index.html', './style.css', './app.js', './server.js', './catalogue.json',
  './catalogue-zh.json', '../js/index.js', '../js/cloister.js', '../js/core.js', '../js/worker.js',
  '../js/model.js', '../js/models.js', '../js/store.js', '../js/errors.js', '../js/encoder.js',
  '../js/wasm.js', '../js/measure.js', '../models/manifest.json', '../models/manifest.multilingual.json'];

/** Files the package caches itself (model records and tokenizers), by path. */
const PACKAGE_CACHED = /\/models\/[^/]+\/(model\.[^/]*|tokenizer\.json)$/;

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  const stale = (keys) => keys.filter((k) => k.startsWith('cloister-demo-') && k !== CACHE);
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(stale(keys).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

// The page names what it used before this worker controlled it: `{ cache: [urls] }`.
self.addEventListener('message', (event) => {
  const urls = (event.data?.cache ?? [])
    .map((u) => new URL(u, self.location.href))
    .filter((u) => u.origin === self.location.origin && !PACKAGE_CACHED.test(u.pathname));
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(urls.map(String))).then(
    () => event.source?.postMessage({ cached: urls.length }),
    (e) => event.source?.postMessage({ cacheError: String(e) }),
  ));
});

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== self.location.origin) return;
  if (PACKAGE_CACHED.test(url.pathname)) return; // the package's own cache answers offline
  event.respondWith(
    fetch(event.request)
      .then((response) => {
        if (response.ok) {
          const copy = response.clone();
          caches.open(CACHE).then((c) => c.put(event.request, copy));
        }
        return response;
      })
      .catch(() => caches.match(event.request, { ignoreSearch: true })),
  );
});
