// A small static file server for the demo and the browser tests (no dependencies).
// Serves the repository root on 127.0.0.1; `/` redirects to the demo in www/.
// Usage: node scripts/serve.mjs [--port 8080]
import { createServer } from 'node:http';
import { createReadStream, statSync } from 'node:fs';
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

/**
 * Starts the server; resolves to { server, url }. `log` receives one line per request;
 * `onRequest({ method, path, status, bytes })` the same as data (benchmarks count bytes with it).
 * Responses carry a validator, so a revisit revalidates (304) instead of downloading again.
 * `intercept(req, res, { file, size })` may answer a request itself (fault-injection tests) by
 * returning true.
 */
export function serve({ port = 0, host = '127.0.0.1', log = null, onRequest = null, intercept = null, headers = {}, root = ROOT } = {}) {
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
    const common = { 'Cache-Control': 'no-cache', ETag: etag, ...headers };
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, common).end();
      log?.(`${req.method} ${req.url} 304`);
      onRequest?.({ method: req.method, path, status: 304, bytes: 0 });
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
