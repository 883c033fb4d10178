// Every error kind the Rust core can raise has a class in js/errors.js's one table, and an
// error from the wasm or the worker becomes that class with its structured fields.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  ERROR_CLASSES, CloisterError, InvalidCandidateError, ModelIntegrityError, StorageError,
  fromWasm, toPlain,
} from '../js/errors.js';

// The files whose error enums name kinds: the core's, and the interest model file's.
const ERROR_SOURCES = ['../crate/src/error.rs', '../crate/src/interest_model/params.rs']
  .map((p) => new URL(p, import.meta.url));

test('every kind in crate/src/error.rs and the interest model\'s errors maps to an error class', () => {
  const source = ERROR_SOURCES.map((u) => readFileSync(u, 'utf8')).join('\n');
  // The `as_str` / `kind` match arms: `Self::Variant(..) => "kind",`.
  const kinds = [...source.matchAll(/=>\s*"([a-z_]+)"/g)].map((m) => m[1]);
  assert.ok(kinds.length >= 25, `found only ${kinds.length} kinds: the pattern no longer matches error.rs`);
  const missing = kinds.filter((k) => !(k in ERROR_CLASSES));
  assert.deepEqual(missing, [], 'kinds without a JS class');
  for (const Class of Object.values(ERROR_CLASSES)) assert.ok(Class.prototype instanceof CloisterError);
});

test('a wasm error becomes its class by kind, and keeps its fields across postMessage', () => {
  const wasm = Object.assign(new Error('candidate id appears twice'), { kind: 'duplicate_candidate' });
  const e = fromWasm(wasm);
  assert.ok(e instanceof InvalidCandidateError);
  assert.equal(e.kind, 'duplicate_candidate');
  assert.equal(e.message, 'candidate id appears twice');
  assert.ok(fromWasm({ kind: 'store_full', message: 'full' }) instanceof StorageError);
  const integrity = new ModelIntegrityError('bad bytes', 'integrity', { url: '/m.bpk', expected: 'aa', actual: 'bb' });
  const plain = structuredClone(toPlain(integrity));
  const back = fromWasm(plain);
  assert.ok(back instanceof ModelIntegrityError);
  assert.deepEqual([back.url, back.expected, back.actual, back.kind], ['/m.bpk', 'aa', 'bb', 'integrity']);
  // Anything else stays what it was.
  const plainError = new TypeError('x');
  assert.equal(fromWasm(plainError), plainError);
});
