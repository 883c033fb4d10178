// Shared browser-test plumbing: the static server and Debian's Chromium via playwright-core.
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { serve } from '../scripts/serve.mjs';

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

// Without the background-networking flags Chromium tries to reach Google at every start.
const BASE_ARGS = ['--no-sandbox', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-quic'];

/**
 * Starts the server and a fresh Chromium profile. `webgpu: true` adds --enable-unsafe-webgpu,
 * which headless Chromium needs for WebGPU (SwiftShader on a machine without a GPU);
 * without it `requestAdapter()` returns null: the "no WebGPU" case.
 */
export async function openBrowser({ webgpu, log, root, intercept } = {}) {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: apt-get install -y chromium chromium-driver`);
  const { server, url } = await serve({ log, root, intercept });
  const profile = mkdtempSync(join(tmpdir(), 'cloister-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: webgpu ? [...BASE_ARGS, '--enable-unsafe-webgpu'] : BASE_ARGS,
  });
  const close = async () => {
    await context.close();
    server.close();
    rmSync(profile, { recursive: true, force: true });
  };
  return { context, url, close };
}

/** Opens a page and waits for `window.ready`; console errors are kept for failure messages. */
export async function openPage(browser, path) {
  const page = await browser.context.newPage();
  const consoleLines = [];
  page.on('console', (msg) => consoleLines.push(`${msg.type()}: ${msg.text()}`));
  page.on('pageerror', (err) => consoleLines.push(`pageerror: ${err.message}`));
  await page.goto(browser.url + path);
  await page.waitForFunction(() => window.ready === true, null, { timeout: 60_000 });
  page.consoleLines = consoleLines;
  return page;
}
