// Offline support: the app shell, the package and the model are cached on first use and
// served from the cache afterwards (network first for the page's own files, so updates land).
const CACHE = 'cloister-demo-v1';
const SHELL = ['./', './index.html', './style.css', './app.js', './server.js', './catalogue.json',
  '../js/index.js', '../js/cloister.js', '../js/core.js', '../js/worker.js', '../js/model.js',
  '../js/store.js', '../js/errors.js', '../js/encoder.js', '../dist/pkg/cloister.js',
  '../dist/pkg/cloister_bg.wasm', '../models/manifest.json',
  '../models/all-MiniLM-L6-v2/tokenizer.json', '../models/all-MiniLM-L6-v2/model.int8.bpk'];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(self.clients.claim());
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
