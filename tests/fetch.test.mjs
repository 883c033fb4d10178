// The model fetch step refuses bytes that do not match the manifest's sha256 pin, and leaves
// nothing behind (neither the file nor a partial one).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));

test('fetch.py refuses a file whose sha256 differs from the pin', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'cloister-fetch-'));
  try {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'models/manifest.json'), 'utf8'));
    manifest.source.files['tokenizer.json'].sha256 = 'f'.repeat(64);
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
    const out = join(dir, 'out');
    const run = spawnSync('python3', [join(ROOT, 'models/fetch.py'), '--manifest', join(dir, 'manifest.json'), '--out', out], { encoding: 'utf8' });
    assert.equal(run.status, 1, run.stdout + run.stderr);
    assert.match(run.stderr, /tokenizer\.json .* has sha256 .*refusing it/);
    const left = readdirSync(out);
    assert.ok(!left.includes('tokenizer.json') && !left.some((f) => f.endsWith('.partial')), `left behind: ${left}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
