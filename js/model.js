// Model bytes: streamed with progress, checked against a pinned sha256, cached by hash in the
// Cache API so the second visit (and an offline one) loads without the network.
import { ModelIntegrityError } from './errors.js';

const CACHE = 'cloister-models-v1';

export async function sha256Hex(bytes) {
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

function cacheKey(sha256) {
  // A synthetic same-origin URL: the entry is found by content hash, whatever URL served it.
  return new URL(`/__cloister_model_cache__/${sha256}`, self.location.href).href;
}

async function fromCache(sha256) {
  if (!sha256 || typeof caches === 'undefined') return null;
  try {
    const cache = await caches.open(CACHE);
    const hit = await cache.match(cacheKey(sha256));
    if (!hit) return null;
    const bytes = new Uint8Array(await hit.arrayBuffer());
    // A damaged entry is dropped, never used.
    if ((await sha256Hex(bytes)) === sha256) return bytes;
    await cache.delete(cacheKey(sha256));
  } catch {
    // Cache API unavailable (opaque origin, private mode): just fetch.
  }
  return null;
}

async function toCache(sha256, bytes) {
  if (!sha256 || typeof caches === 'undefined') return;
  try {
    const cache = await caches.open(CACHE);
    await cache.put(cacheKey(sha256), new Response(bytes, { headers: { 'Content-Type': 'application/octet-stream' } }));
  } catch {
    // Quota or no Cache API: the model still works, it is just not cached.
  }
}

/** Deletes every cached model (the Cache API entries this package wrote). */
export async function forgetModels() {
  if (typeof caches === 'undefined') return;
  await caches.delete(CACHE);
}

/**
 * Bytes of `source` (URL or bytes). With `sha256`, a mismatch is a ModelIntegrityError and
 * nothing is cached. `onProgress({ what, loaded, total, fraction, cached })`.
 */
export async function loadBytes(source, { what, sha256, onProgress } = {}) {
  const report = (p) => onProgress?.({ what, ...p });
  if (source instanceof ArrayBuffer) source = new Uint8Array(source);
  if (source instanceof Uint8Array) {
    const actual = sha256 ? await sha256Hex(source) : null;
    if (sha256 && actual !== sha256) {
      throw new ModelIntegrityError(`${what}: bytes have sha256 ${actual}, not the pinned ${sha256}`,
        'integrity', { url: 'bytes', expected: sha256, actual });
    }
    report({ loaded: source.length, total: source.length, fraction: 1, cached: false });
    return source;
  }
  const cached = await fromCache(sha256);
  if (cached) {
    report({ loaded: cached.length, total: cached.length, fraction: 1, cached: true });
    return cached;
  }
  let response;
  try {
    response = await fetch(source);
  } catch (e) {
    throw new ModelIntegrityError(`${what}: GET ${source} failed (${e?.message ?? e}); retry when online`,
      'fetch', { url: String(source) });
  }
  if (!response.ok) {
    throw new ModelIntegrityError(`${what}: GET ${source} answered ${response.status}`, 'fetch',
      { url: String(source) });
  }
  // A compressed response's Content-Length counts the compressed bytes, not those read here:
  // then the total is unknown (progress without a fraction, and no length check; the sha256
  // pin still checks every byte).
  const encoding = response.headers.get('Content-Encoding') ?? 'identity';
  const total = encoding === 'identity' ? Number(response.headers.get('Content-Length')) || 0 : 0;
  const reader = response.body.getReader();
  const chunks = [];
  let loaded = 0;
  for (;;) {
    let part;
    try {
      part = await reader.read();
    } catch (e) {
      // The connection dropped mid-body. Nothing was cached (only verified bytes ever are).
      throw new ModelIntegrityError(
        `${what}: download interrupted after ${loaded}${total ? ` of ${total}` : ''} bytes (${e?.message ?? e}); retry`,
        'truncated', { url: String(source), expected: total || undefined, actual: loaded });
    }
    if (part.done) break;
    chunks.push(part.value);
    loaded += part.value.length;
    report({ loaded, total, fraction: total ? loaded / total : 0, cached: false });
  }
  const bytes = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  if (total && loaded !== total) {
    throw new ModelIntegrityError(`${what}: download cut short (${loaded} of ${total} bytes); retry`,
      'truncated', { url: String(source), expected: total, actual: loaded });
  }
  if (sha256) {
    const got = await sha256Hex(bytes);
    if (got !== sha256) {
      throw new ModelIntegrityError(`${what}: sha256 ${got} does not match the pinned ${sha256}`,
        'integrity', { url: String(source), expected: sha256, actual: got });
    }
    await toCache(sha256, bytes);
  }
  report({ loaded, total: loaded, fraction: 1, cached: false });
  return bytes;
}
