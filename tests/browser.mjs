// Shared browser-test plumbing: the static server and the browser the tests run in. Chromium
// (Debian's) is driven by playwright-core; Firefox (Debian's ESR) by puppeteer-core over
// WebDriver BiDi behind scripts/firefox.mjs, with the Playwright calls the tests make, so every
// suite runs unchanged in both. CLOISTER_BROWSER=firefox picks Firefox.
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { launchFirefox } from '../scripts/firefox.mjs';
import { serve } from '../scripts/serve.mjs';

export const ENGINE = process.env.CLOISTER_BROWSER ?? 'chromium';
if (!['chromium', 'firefox'].includes(ENGINE)) throw new Error(`CLOISTER_BROWSER=${ENGINE}: chromium or firefox`);
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

// Without the background-networking flags Chromium tries to reach Google at every start.
const BASE_ARGS = ['--no-sandbox', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-quic'];

/**
 * Starts the server and a fresh browser profile in the engine under test. `webgpu: true` asks
 * for WebGPU: --enable-unsafe-webgpu in headless Chromium (SwiftShader on a machine without a
 * GPU; without it `requestAdapter()` returns null: the "no WebGPU" case), dom.webgpu.enabled in
 * Firefox (headless Firefox ESR on Linux offers no adapter even so: see `webgpuIn`). In Firefox
 * every request goes through a logging proxy, so `context.on('request')` sees them all.
 */
export async function openBrowser({ webgpu, log, root, intercept } = {}) {
  if (ENGINE === 'chromium' && !existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: apt-get install -y chromium chromium-driver`);
  const { server, url } = await serve({ log, root, intercept });
  const profile = mkdtempSync(join(tmpdir(), `cloister-${ENGINE}-`));
  const context = ENGINE === 'firefox'
    ? await launchFirefox({ profile, webgpu: Boolean(webgpu), logRequestsFor: url })
    : await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: webgpu ? [...BASE_ARGS, '--enable-unsafe-webgpu'] : BASE_ARGS,
    });
  const close = async () => {
    await context.close();
    server.close();
    rmSync(profile, { recursive: true, force: true });
  };
  return { engine: ENGINE, context, url, close };
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

/**
 * Why WebGPU tests cannot run in this browser, or null where they can: the page's own answer
 * (`navigator.gpu`, then an adapter), so a Firefox that gains WebGPU runs them unchanged.
 */
export async function webgpuIn(page) {
  return page.evaluate(async () => {
    if (!navigator.gpu) return `${navigator.userAgent}: navigator.gpu is absent`;
    let adapter;
    try {
      adapter = await navigator.gpu.requestAdapter();
    } catch (e) {
      // Firefox 140 ESR has navigator.gpu but refuses: "WebGPU is not yet available in Release
      // or late Beta builds" (NotSupportedError).
      return `${navigator.userAgent}: navigator.gpu.requestAdapter() threw ${e?.name}: ${e?.message}`;
    }
    return adapter ? null : `${navigator.userAgent}: navigator.gpu.requestAdapter() returned null`;
  });
}

/**
 * The CPU-only build `wasm: 'auto'` would load now in this page's browser: 'cpu-relaxed' where
 * its WebAssembly has relaxed SIMD, until a load there has timed the int8 kernels and kept
 * SIMD128 (remembered in the Cache API), else 'cpu'. The package's own plan answers (its cases
 * are checked against fixed answers in tests/encoder.browser.test.mjs), so ask before the load
 * it predicts: that load may time the kernels and change the answer.
 */
export async function cpuBuildIn(page) {
  return page.evaluate(async () => (await (await import('/js/wasm.js')).planBackend('cpu')).build);
}

/** Whether this page's browser validates relaxed SIMD (and so has the 'cpu-relaxed' build). */
export async function hasRelaxedSimdIn(page) {
  return page.evaluate(async () => (await import('/js/wasm.js')).hasRelaxedSimd());
}
