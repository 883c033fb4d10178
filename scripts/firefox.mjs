// Debian's Firefox ESR driven by puppeteer-core over WebDriver BiDi, behind the Playwright calls
// the browser tests and `npm run bench` make, so both run the same code in Chromium and Firefox.
// (playwright-core drives only Playwright's own patched Firefox, which cannot be fetched here.)
import { execFileSync } from 'node:child_process';
import { createServer, request as httpRequest } from 'node:http';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { pipeline } from 'node:stream';
import puppeteer from 'puppeteer-core';

export const FIREFOX = process.env.FIREFOX ?? '/usr/bin/firefox-esr';

// Firefox's own traffic (updates, telemetry, safe browsing, connectivity probes) off, so that
// what a page asks for is all the network sees.
const QUIET_PREFS = {
  'app.update.enabled': false,
  'browser.safebrowsing.malware.enabled': false,
  'browser.safebrowsing.phishing.enabled': false,
  'network.captive-portal-service.enabled': false,
  'network.connectivity-service.enabled': false,
  'toolkit.telemetry.enabled': false,
  'datareporting.healthreport.uploadEnabled': false,
  // Remote settings (blocklists, certificate revocation lists) poll Mozilla's server every few
  // seconds in a fresh profile; geckodriver points them at the same dummy (which release builds
  // honour only with MOZ_REMOTE_SETTINGS_DEVTOOLS=1 in the environment, set at launch).
  'services.settings.server': 'data:,#remote-settings-dummy/v1',
  'extensions.blocklist.enabled': false,
  'security.remote_settings.crlite_filters.enabled': false,
  'security.remote_settings.intermediates.enabled': false,
};

/**
 * Starts headless Firefox on `profile`, wrapped as a Playwright-like BrowserContext.
 * `webgpu` sets dom.webgpu.enabled (headless Firefox ESR on Linux offers no adapter even so).
 * `logRequestsFor` (an origin) sends every request of the profile through a logging proxy that
 * forwards only to that origin: `context.on('request')` then sees the service worker's fetches
 * too, which WebDriver BiDi does not report.
 */
export async function launchFirefox({ profile, webgpu = false, logRequestsFor = null }) {
  if (!existsSync(FIREFOX)) throw new Error(`${FIREFOX} missing: apt-get install -y firefox-esr`);
  const proxy = logRequestsFor ? await loggingProxy(logRequestsFor) : null;
  const proxyPrefs = proxy ? {
    'network.proxy.type': 1,
    'network.proxy.http': '127.0.0.1',
    'network.proxy.http_port': proxy.port,
    'network.proxy.ssl': '127.0.0.1',
    'network.proxy.ssl_port': proxy.port,
    'network.proxy.no_proxies_on': '',
    'network.proxy.allow_hijacking_localhost': true,
  } : {};
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: true,
    userDataDir: profile,
    env: { ...process.env, MOZ_REMOTE_SETTINGS_DEVTOOLS: '1' },
    extraPrefsFirefox: { ...QUIET_PREFS, 'dom.webgpu.enabled': webgpu, ...proxyPrefs },
  });
  return new FirefoxContext(browser, proxy);
}

/** `firefox-esr --version`, e.g. "Mozilla Firefox 153.8.0esr". */
export const firefoxVersion = () => execFileSync(FIREFOX, ['--version']).toString().trim();

/**
 * Resident memory of the web content processes ("Web Content", "Isolated Web Co") of the Firefox
 * running on `profile`, in bytes: the largest, the page's. `field`: 'VmHWM' (the peak, default)
 * or 'VmRSS' (now). Firefox has no GPU process here (no GPU).
 */
export function firefoxPeakMemory(profile, field = 'VmHWM') {
  const read = (pid, file) => { try { return readFileSync(`/proc/${pid}/${file}`, 'utf8'); } catch { return ''; } };
  const pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  const main = pids.find((pid) => {
    const cmd = read(pid, 'cmdline').split('\0');
    return cmd.includes('--profile') && cmd.includes(profile);
  });
  // stat: "pid (comm) state ppid ..."; the name may hold spaces, so read after the last ')'.
  const parent = new Map(pids.map((pid) => {
    const stat = read(pid, 'stat');
    return [pid, stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]];
  }));
  // Content processes are forked by Firefox's fork server, a child of the main process.
  const descends = (pid) => { for (let p = parent.get(pid), hops = 0; p && hops < 4; p = parent.get(p), hops++) if (p === main) return true; return false; };
  let peak = 0;
  for (const pid of pids) {
    if (!main || !descends(pid) || !/Web Co/.test(read(pid, 'comm'))) continue;
    const hwm = new RegExp(`${field}:\\s+(\\d+) kB`).exec(read(pid, 'status'));
    if (hwm) peak = Math.max(peak, Number(hwm[1]) * 1024);
  }
  return { renderer: peak, gpu: 0 };
}

/**
 * An HTTP proxy that logs every request the browser makes and forwards only those to `origin`;
 * anything else, and every HTTPS tunnel, is logged and refused.
 */
async function loggingProxy(origin) {
  const listeners = [];
  const emit = (entry) => { for (const listener of listeners) listener(new ProxiedRequest(entry)); };
  const hopByHop = new Set(['proxy-connection', 'connection', 'keep-alive']);
  let offline = false;
  const server = createServer((req, res) => {
    if (offline) { req.socket.destroy(); return; }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = chunks.length ? Buffer.concat(chunks) : null;
      emit({ method: req.method, url: req.url, body: body?.toString() ?? null });
      let target;
      try { target = new URL(req.url); } catch { target = null; }
      if (target?.origin !== origin) { res.writeHead(502); res.end(); return; }
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !hopByHop.has(k)));
      const upstream = httpRequest({ host: target.hostname, port: target.port, path: target.pathname + target.search, method: req.method, headers }, (up) => {
        res.writeHead(up.statusCode, up.headers);
        // pipeline, not pipe: a response the server cuts short is cut short here too (the
        // fault tests cut the model download half-way).
        pipeline(up, res, () => {});
      });
      upstream.on('error', () => res.destroy());
      upstream.end(body ?? undefined);
    });
  });
  server.on('connect', (req, socket) => {
    emit({ method: 'CONNECT', url: `https://${req.url}/`, body: null });
    socket.destroy();
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    port: server.address().port,
    onRequest: (l) => listeners.push(l),
    setOffline: (value) => { offline = value; },
    close: () => server.close(),
  };
}

class ProxiedRequest {
  #entry;
  constructor(entry) { this.#entry = entry; }
  method() { return this.#entry.method; }
  url() { return this.#entry.url; }
  postData() { return this.#entry.body; }
  /** A proxy cannot tell which client in the browser made a request. */
  serviceWorker() { return null; }
}

/** A puppeteer Browser with the Playwright BrowserContext calls the tests and bench make. */
class FirefoxContext {
  #browser;
  #proxy;
  #pages = [];

  constructor(browser, proxy) { this.#browser = browser; this.#proxy = proxy; }

  async newPage() {
    const page = new FirefoxPage(await this.#browser.newPage());
    this.#pages.push(page);
    return page;
  }

  /** `request`: every request of the browser, seen by the logging proxy. */
  on(event, listener) {
    if (event !== 'request' || !this.#proxy) throw new Error(`on('${event}') needs launchFirefox({ logRequestsFor })`);
    this.#proxy.onRequest(listener);
  }

  cookies() { return this.#browser.cookies(); }

  /**
   * Network conditions where WebDriver BiDi has them (emulation.setNetworkConditions, Firefox
   * 141+); Firefox 140 ESR lacks that command, so there the logging proxy every request goes
   * through refuses them all while offline (the page sees failed fetches, as offline).
   */
  async setOffline(offline) {
    if (this.#proxy) this.#proxy.setOffline(offline);
    for (const page of this.#pages) {
      if (page.raw.isClosed()) continue;
      try {
        await page.raw.setOfflineMode(offline);
      } catch (e) {
        if (!this.#proxy || !/setNetworkConditions/.test(String(e?.message))) throw e;
      }
    }
  }

  async close() {
    await this.#browser.close();
    this.#proxy?.close();
  }
}

/** A puppeteer Page with Playwright's argument order and the Playwright calls made of it. */
class FirefoxPage {
  constructor(page) { this.raw = page; }
  goto(url) { return this.raw.goto(url); }
  reload() { return this.raw.reload(); }
  close() { return this.raw.close(); }
  url() { return this.raw.url(); }
  on(event, listener) { this.raw.on(event, listener); return this; }
  evaluate(fn, arg) { return this.raw.evaluate(fn, arg); }
  $eval(selector, fn, arg) { return this.raw.$eval(selector, fn, arg); }
  $$eval(selector, fn, arg) { return this.raw.$$eval(selector, fn, arg); }
  /**
   * Playwright's (fn, arg, options): polls `fn` through `evaluate`. Not puppeteer's own
   * waitForFunction, whose poller is built in the page with `new Function`: a page whose CSP
   * has no 'unsafe-eval' (the package's and the demo's) blocks it in Firefox 140 ESR.
   */
  async waitForFunction(fn, arg, { timeout = 30_000, polling = 100 } = {}) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const value = await this.raw.evaluate(fn, arg);
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`waitForFunction: not true after ${timeout} ms: ${fn}`);
      await new Promise((resolve) => setTimeout(resolve, polling));
    }
  }
  click(selector) { return this.raw.click(selector); }
  async fill(selector, value) {
    await this.raw.$eval(selector, (el) => { el.value = ''; });
    await this.raw.type(selector, value);
  }
  textContent(selector) { return this.raw.$eval(selector, (el) => el.textContent); }
  getAttribute(selector, name) { return this.raw.$eval(selector, (el, n) => el.getAttribute(n), name); }
  /**
   * Puppeteer sends emulation.setScreenOrientationOverride beside browsingContext.setViewport;
   * Firefox 140 ESR lacks the first, so there only the viewport is set (and checked).
   */
  async setViewportSize({ width, height }) {
    try {
      await this.raw.setViewport({ width, height });
    } catch (e) {
      if (!/setScreenOrientationOverride/.test(String(e?.message))) throw e;
      for (let t = 0; t < 50; t++) {
        if (await this.raw.evaluate(() => window.innerWidth) === width) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw e;
    }
  }
  locator(selector) {
    return { count: () => this.raw.$$eval(selector, (els) => els.length) };
  }
}
