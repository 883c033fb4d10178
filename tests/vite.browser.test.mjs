// `npm pack` output installed into a tiny Vite 7 app, built, and run in the browser under test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openBrowser } from './browser.mjs';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));

test('the packed package works in a Vite 7 app', { timeout: 600_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cloister-vite-'));
  try {
    const tarball = execFileSync('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8' }).trim().split('\n').pop();
    const app = join(dir, 'app');
    cpSync(join(ROOT, 'tests/fixtures/vite-app'), app, { recursive: true });
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--silent', join(dir, tarball), 'vite@7'], { cwd: app, stdio: 'inherit' });
    execFileSync('npx', ['vite', 'build', '--logLevel', 'warn'], { cwd: app, stdio: 'inherit' });
    for (const f of ['model.int8.bpk', 'tokenizer.json']) copyFileSync(join(ROOT, 'models/all-MiniLM-L6-v2', f), join(app, 'dist', f));
    const browser = await openBrowser({ webgpu: false, root: join(app, 'dist') });
    try {
      const page = await browser.context.newPage();
      await page.goto(`${browser.url}/`);
      await page.waitForFunction(() => window.result, null, { timeout: 300_000 });
      const result = await page.evaluate(() => window.result);
      assert.equal(result.error, undefined, result.error);
      assert.equal(result.backend, 'cpu');
      assert.equal(result.inWorker, true, 'the bundled worker starts');
      assert.equal(result.ids[0], 'pasta', JSON.stringify(result));
    } finally {
      await browser.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
