// A small static file server for the demo and the browser tests (no dependencies).
// Serves the repository root on 127.0.0.1; `/` redirects to the demo in www/.
// Usage: node scripts/serve.mjs [--port 8080]
import { createServer } from 'node:http';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.json': 'application/json', '.wasm': 'application/wasm', '.svg': 'image/svg+xml',
  '.png': 'image/png', '.txt': 'text/plain; charset=utf-8', '.bpk': 'application/octet-stream',
  '.safetensors': 'application/octet-stream', '.onnx': 'application/octet-stream',
  '.webmanifest': 'application/manifest+json', '.ts': 'text/plain; charset=utf-8',
};

const sleep = (ms) => new Promise((ok) => setTimeout(ok, Math.max(0, ms)));

/**
 * One network link shared by every response of a server, as a phone's connection is shared
 * by the page, its workers and its service worker: each response waits `rttMs` before its
 * first byte, and bodies go out in 16 KB chunks, each taking the link's next free slot at
 * `mbps` (so concurrent downloads share the bandwidth). `bytesBy(t)` is how many body bytes
 * had gone out by time `t` (ms since the epoch).
 */
export function throttledLink({ mbps, rttMs }) {
  const bytesPerMs = (mbps * 1e6) / 8 / 1000;
  const CHUNK = 16 * 1024;
  let freeAt = 0;
  let total = 0;
  const log = []; // [epoch ms, cumulative bytes]
  return {
    mbps,
    rttMs,
    bytesBy(t) {
      let last = 0;
      for (const [at, bytes] of log) {
        if (at > t) break;
        last = bytes;
      }
      return last;
    },
    total: () => total,
    async send(res, head, body) {
      await sleep(rttMs);
      if (res.destroyed) return;
      res.writeHead(...head);
      for (let off = 0; off < body.length; off += CHUNK) {
        const part = body.subarray(off, off + CHUNK);
        const now = Date.now();
        const start = Math.max(now, freeAt);
        freeAt = start + part.length / bytesPerMs;
        await sleep(freeAt - now);
        if (res.destroyed) return;
        res.write(part);
        total += part.length;
        log.push([Date.now(), total]);
      }
      res.end();
    },
  };
}

/**
 * The demo's Content-Security-Policy, the one its index.html also carries as a meta tag. A meta
 * tag governs only its own document: the worker runs under its script's response header, so the
 * header goes on everything the demo and its worker load (the demo's pages, the package's
 * scripts and builds).
 */
export const DEMO_CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; " +
  "worker-src 'self'; connect-src 'self'; img-src 'self' data:";
const UNDER_DEMO_CSP = /^\/(www|js|dist)\//;

/** Gzipped bodies by file and modification time (level 6, what a web server would send). */
const gzipped = new Map();
function gzipOf(file, stat) {
  const key = `${file}:${stat.mtimeMs}`;
  if (!gzipped.has(key)) gzipped.set(key, gzipSync(readFileSync(file), { level: 6 }));
  return gzipped.get(key);
}

/**
 * Starts the server; resolves to { server, url }. `log` receives one line per request;
 * `onRequest({ method, path, status, bytes })` the same as data (benchmarks count bytes with it).
 * Responses carry a validator, so a revisit revalidates (304) instead of downloading again.
 * `intercept(req, res, { file, size })` may answer a request itself (fault-injection tests) by
 * returning true. `gzip`: compress bodies for clients that accept it. `link`: a
 * `throttledLink` every response goes through (the first-visit benchmark).
 */
export function serve({ port = 0, host = '127.0.0.1', log = null, onRequest = null, intercept = null, headers = {}, root = ROOT, gzip = false, link = null } = {}) {
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    let path = decodeURIComponent(url.pathname);
    if (path === '/' && root === ROOT) {
      res.writeHead(302, { Location: '/www/' });
      res.end();
      return;
    }
    if (path.endsWith('/')) path += 'index.html';
    const file = normalize(join(root, path));
    if (!file.startsWith(root + '/') || file.includes('/.git/') || file.includes('/node_modules/.cache')) {
      res.writeHead(403).end('forbidden');
      return;
    }
    let stat;
    try {
      stat = statSync(file);
    } catch {
      res.writeHead(404).end('not found');
      log?.(`${req.method} ${req.url} 404`);
      onRequest?.({ method: req.method, path, status: 404, bytes: 0 });
      return;
    }
    if (stat.isDirectory()) {
      res.writeHead(302, { Location: url.pathname + '/' }).end();
      return;
    }
    if (intercept?.(req, res, { file, size: stat.size })) {
      log?.(`${req.method} ${req.url} intercepted`);
      return;
    }
    // 'no-cache' = revalidate every time, so a rebuilt file is never served stale.
    const etag = `"${stat.size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}"`;
    const csp = root === ROOT && UNDER_DEMO_CSP.test(path) ? { 'Content-Security-Policy': DEMO_CSP } : {};
    const common = { 'Cache-Control': 'no-cache', ETag: etag, ...csp, ...headers };
    if (req.headers['if-none-match'] === etag) {
      log?.(`${req.method} ${req.url} 304`);
      onRequest?.({ method: req.method, path, status: 304, bytes: 0 });
      if (link) link.send(res, [304, common], Buffer.alloc(0));
      else res.writeHead(304, common).end();
      return;
    }
    if (gzip || link) {
      const type = TYPES[extname(file)] ?? 'application/octet-stream';
      const compress = gzip && /\bgzip\b/.test(req.headers['accept-encoding'] ?? '');
      const body = req.method === 'HEAD' ? Buffer.alloc(0) : compress ? gzipOf(file, stat) : readFileSync(file);
      const head = { 'Content-Type': type, 'Content-Length': body.length, ...common,
        ...(compress ? { 'Content-Encoding': 'gzip', Vary: 'Accept-Encoding' } : {}) };
      log?.(`${req.method} ${req.url} 200${compress ? ' gzip' : ''}`);
      onRequest?.({ method: req.method, path, status: 200, bytes: body.length });
      if (link) link.send(res, [200, head], body);
      else res.writeHead(200, head).end(body);
      return;
    }
    res.writeHead(200, {
      'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
      'Content-Length': stat.size,
      ...common,
    });
    log?.(`${req.method} ${req.url} 200`);
    onRequest?.({ method: req.method, path, status: 200, bytes: req.method === 'HEAD' ? 0 : stat.size });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  return new Promise((ok) => {
    server.listen(port, host, () => {
      const { port: bound } = server.address();
      ok({ server, url: `http://${host}:${bound}` });
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--port');
  const port = i > 0 ? Number(process.argv[i + 1]) : Number(process.env.PORT ?? 8080);
  const { url } = await serve({ port });
  console.log(`Cloister demo: ${url}/www/  (Ctrl-C to stop)`);
}
