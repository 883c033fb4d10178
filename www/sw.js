// Offline support: the app shell, the package and the model are cached on first use and
// served from the cache afterwards (network first for the page's own files, so updates land).
// Both wasm builds are cached (the package loads one, WebGPU or CPU-only, per page), so the
// demo works offline whichever backend a later visit picks.
const CACHE = 'cloister-demo-v4';
const SHELL = ['./', './index.html', './style.css', './app.js', './server.js', './catalogue.json',
  './catalogue-zh.json', '../js/models.js', '../models/manifest.multilingual.json',
  '../js/index.js', '../js/cloister.js', '../js/core.js', '../js/worker.js', '../js/model.js',
  '../js/store.js', '../js/errors.js', '../js/encoder.js', '../js/wasm.js', '../js/measure.js',
  '../dist/pkg/cloister.js', '../dist/pkg/cloister_bg.wasm',
  '../dist/pkg/cpu/cloister.js', '../dist/pkg/cpu/cloister_bg.wasm', '../models/manifest.json',
  '../models/all-MiniLM-L6-v2/tokenizer.json', '../models/all-MiniLM-L6-v2/model.int8.bpk'];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  const stale = (keys) => keys.filter((k) => k.startsWith('cloister-demo-') && k !== CACHE);
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(stale(keys).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== self.location.origin) return;
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
