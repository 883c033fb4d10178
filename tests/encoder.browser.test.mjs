// The encoder in the headless browser under test: parity with sentence-transformers on WebGPU
// (SwiftShader in Chromium here) and on the CPU fallback (flex in wasm), backend choice, typed
// errors. The WebGPU tests run where the browser offers an adapter and say why where it does not.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ENGINE, cpuBuildIn, hasRelaxedSimdIn, openBrowser, openPage, webgpuIn } from './browser.mjs';

const TIMEOUT = 600_000;

describe('encoder on WebGPU (--enable-unsafe-webgpu)', { timeout: TIMEOUT }, () => {
  let browser, page, gpuInt8, noWebgpu;
  before(async () => {
    browser = await openBrowser({ webgpu: true });
    page = await openPage(browser, '/tests/pages/encoder.html');
    noWebgpu = await webgpuIn(page);
  });
  after(async () => browser?.close());
  // Each test here needs an adapter; without one it is skipped with the browser's own reason.
  const gpuTest = (name, fn) => test(name, (t) => (noWebgpu ? t.skip(noWebgpu) : fn(t)));

  gpuTest('fp32 on forced WebGPU matches the reference', async () => {
    const r = await page.evaluate(() => window.parity({ model: 'model.safetensors', backend: 'webgpu' }));
    console.log(`webgpu fp32: min cosine ${r.minCosine.toFixed(7)}, ${r.ms.toFixed(0)} ms, ${r.reason}`);
    assert.equal(r.backend, 'webgpu');
    assert.equal(r.wasmBuild, 'webgpu');
    assert.equal(r.precision, 'fp32');
    assert.deepEqual(r.idMismatches, []);
    assert.ok(r.minCosine >= 0.99999, `min cosine ${r.minCosine}`);
    // The 22 sentences run as micro-batches of assorted row counts (not all multiples of the
    // kernel's 8 rows); every projection must have gone through Cloister's kernel.
    assert.equal(r.linearKernel, 'webgpu-linear');
    assert.equal(r.linearFallbacks, 0);
  });

  gpuTest('int8 on forced WebGPU matches the reference', async () => {
    const r = await page.evaluate(() => window.parity({ model: 'model.int8.bpk', backend: 'webgpu' }));
    gpuInt8 = r;
    console.log(`webgpu int8: min cosine ${r.minCosine.toFixed(7)}, ${r.ms.toFixed(0)} ms`);
    assert.equal(r.backend, 'webgpu');
    assert.equal(r.precision, 'int8');
    assert.ok(r.minCosine >= 0.9995, `min cosine ${r.minCosine}`);
    assert.equal(r.linearKernel, 'webgpu-linear');
    assert.equal(r.linearFallbacks, 0);
  });

  gpuTest('auto skips a software (fallback) adapter, says why, and loads the CPU-only build', async () => {
    const cpuBuild = await cpuBuildIn(page);
    const r = await page.evaluate(() => window.parity({ model: 'model.int8.bpk', backend: 'auto' }));
    assert.equal(r.backend, 'cpu');
    assert.equal(r.wasmBuild, cpuBuild);
    assert.match(r.reason, /software fallback/);
    assert.ok(r.minCosine >= 0.9995);
  });

  gpuTest("'measure' times WebGPU against the CPU once, keeps the faster, and remembers the answer", async () => {
    const fresh = await openPage(browser, '/tests/pages/encoder.html');
    try {
      await fresh.evaluate(() => window.forgetBackendChoices());
      const first = await fresh.evaluate(() => window.measured({ model: 'model.int8.bpk' }));
      console.log(`measure: ${first.reason}`);
      const m = first.reason.match(/^measure: measured on software adapter .+: WebGPU ([\d.]+) vs CPU ([\d.]+) sentences\/s$/);
      assert.ok(m, first.reason);
      const [gpu, cpu] = [Number(m[1]), Number(m[2])];
      assert.ok(gpu > 0 && cpu > 0);
      // Whichever won is the one in use (on SwiftShader that is the CPU path, by far).
      assert.equal(first.backend, gpu > cpu ? 'webgpu' : 'cpu');
      assert.equal(first.wasmBuild, 'webgpu');
      assert.ok(first.minCosine >= 0.9995, `min cosine ${first.minCosine}`);
      // A later load in the same profile reuses the answer instead of measuring again.
      const again = await fresh.evaluate(() => window.measured({ model: 'model.int8.bpk' }));
      assert.match(again.reason, /^measure: remembered for software adapter .+: WebGPU [\d.]+ vs CPU [\d.]+ sentences\/s$/);
      assert.equal(again.backend, first.backend);
      // Forgetting it measures again.
      await fresh.evaluate(() => window.forgetBackendChoices());
      const third = await fresh.evaluate(() => window.measured({ model: 'model.int8.bpk' }));
      assert.match(third.reason, /^measure: measured on/);
    } finally {
      await fresh.close();
    }
  });

  gpuTest('the CPU-only build asked for WebGPU is a typed WebGPUUnavailableError', async () => {
    const cpuOnly = await openPage(browser, '/tests/pages/encoder.html?wasm=cpu');
    try {
      const e = await cpuOnly.evaluate(() => window.loadError({ model: 'model.int8.bpk', backend: 'webgpu' }));
      assert.equal(e?.name, 'WebGPUUnavailableError');
      assert.match(e?.message, /CPU-only build/);
    } finally {
      await cpuOnly.close();
    }
  });

  gpuTest('WebGPU and CPU agree on the same input', async () => {
    const gpu = gpuInt8 ?? await page.evaluate(() => window.parity({ model: 'model.int8.bpk', backend: 'webgpu' }));
    const cpu = await page.evaluate(() => window.parity({ model: 'model.int8.bpk', backend: 'cpu' }));
    let dot = 0;
    for (let i = 0; i < 384; i++) dot += gpu.first[i] * cpu.first[i];
    assert.ok(dot > 0.99999, `cosine between backends ${dot}`);
  });

  gpuTest('empty and 1 MB texts embed on WebGPU; an empty batch is a typed error', async () => {
    const r = await page.evaluate(() => window.edgeInputs({ model: 'model.int8.bpk', backend: 'webgpu' }));
    for (const n of r.norms) assert.ok(Math.abs(n - 1) < 1e-4, `norm ${n}`);
    assert.equal(r.linearKernel, 'webgpu-linear');
    assert.equal(r.linearFallbacks, 0);
    assert.equal(r.emptyBatch?.name, 'InvalidInputError');
    assert.equal(r.emptyBatch?.kind, 'empty_batch');
  });
});

describe('encoder without WebGPU (CPU fallback)', { timeout: TIMEOUT }, () => {
  let browser, page;
  before(async () => {
    browser = await openBrowser({ webgpu: false });
    page = await openPage(browser, '/tests/pages/encoder.html');
  });
  after(async () => browser?.close());

  test('auto falls back to the CPU and int8 matches the reference', async () => {
    const cpuBuild = await cpuBuildIn(page);
    const r = await page.evaluate(() => window.parity({ model: 'model.int8.bpk', backend: 'auto' }));
    console.log(`cpu int8: min cosine ${r.minCosine.toFixed(7)}, ${r.ms.toFixed(0)} ms, ${r.reason}`);
    assert.equal(r.backend, 'cpu');
    assert.match(r.reason, /no adapter|navigator\.gpu/);
    assert.deepEqual(r.idMismatches, []);
    assert.ok(r.minCosine >= 0.9995, `min cosine ${r.minCosine}`);
    assert.equal(r.linearKernel, 'int8');
    // No WebGPU here: the package loads the CPU-only build (with relaxed SIMD where it can).
    assert.equal(r.wasmBuild, cpuBuild);
  });

  test('the CPU path of the WebGPU build (a lost GPU device falls back to it) matches the reference too', async () => {
    const full = await openPage(browser, '/tests/pages/encoder.html?wasm=webgpu');
    try {
      const r = await full.evaluate(() => window.parity({ model: 'model.int8.bpk', backend: 'cpu' }));
      console.log(`cpu int8, WebGPU build: min cosine ${r.minCosine.toFixed(7)}, ${r.ms.toFixed(0)} ms`);
      assert.equal(r.wasmBuild, 'webgpu');
      assert.equal(r.backend, 'cpu');
      assert.deepEqual(r.idMismatches, []);
      assert.ok(r.minCosine >= 0.9995, `min cosine ${r.minCosine}`);
    } finally {
      await full.close();
    }
  });

  test('fp32 on the CPU matches the reference', async () => {
    const r = await page.evaluate(() => window.parity({ model: 'model.safetensors', backend: 'cpu' }));
    console.log(`cpu fp32: min cosine ${r.minCosine.toFixed(7)}, ${r.ms.toFixed(0)} ms`);
    assert.equal(r.linearKernel, 'f32-matmul');
    assert.ok(r.minCosine >= 0.99999, `min cosine ${r.minCosine}`);
  });

  test('initWasm starts the build a backend needs, a given URL as custom, retries after a failure, and refuses a second wasm for one glue', async () => {
    const fresh = await openPage(browser, '/tests/pages/encoder.html');
    try {
      const cpuBuild = await cpuBuildIn(fresh);
      const r = await fresh.evaluate(async () => {
        const outcome = async (f) => {
          try { return { ok: await f() }; } catch (e) { return { error: e.name, message: e.message }; }
        };
        return {
          auto: await outcome(() => window.initWasm()),
          autoAgain: await outcome(() => window.initWasm()),
          badOption: await outcome(() => window.initWasm({ wasm: 'gpu' })),
          missing: await outcome(() => window.initWasm('/dist/pkg/no-such.wasm')),
          custom: await outcome(() => window.initWasm('/dist/pkg/cloister_bg.wasm')),
          webgpuBesideCustom: await outcome(() => window.initWasm({ backend: 'webgpu' })),
        };
      });
      // No WebGPU in this browser: auto starts the CPU-only build, once.
      assert.deepEqual(r.auto, { ok: cpuBuild });
      assert.deepEqual(r.autoAgain, { ok: cpuBuild });
      assert.equal(r.badOption.error, 'TypeError');
      assert.ok(r.missing.error, `a missing wasm must reject: ${JSON.stringify(r.missing)}`);
      // The failed start is forgotten, so the same glue starts from a good URL.
      assert.deepEqual(r.custom, { ok: 'custom' });
      // 'custom' runs on the WebGPU build's glue: the WebGPU build cannot start beside it.
      assert.match(r.webgpuBesideCustom.message ?? '', /already runs .*cloister_bg\.wasm \(custom\)/);
    } finally {
      await fresh.close();
    }
  });

  test("'measure' without any WebGPU adapter loads the CPU-only build and says there was nothing to measure", async () => {
    const cpuBuild = await cpuBuildIn(page);
    const r = await page.evaluate(() => window.measured({ model: 'model.int8.bpk' }));
    assert.equal(r.backend, 'cpu');
    assert.equal(r.wasmBuild, cpuBuild);
    assert.match(r.reason, /^measure: nothing to measure against \(no WebGPU adapter/);
    assert.ok(r.minCosine >= 0.9995, `min cosine ${r.minCosine}`);
  });

  test('the int8 kernels compute what the portable reference does, bit for bit, in every build', async () => {
    // The relaxed-SIMD build runs both its kernels' checks: 20 cases of SIMD128 and 15 of the
    // relaxed dot product against the 16-bit reference on the same 14-bit activations.
    const relaxed = await hasRelaxedSimdIn(page);
    if (!relaxed) console.log(`# ${ENGINE}: no relaxed SIMD in its WebAssembly, so the cpu-relaxed build is not checked here`);
    for (const wasm of ['cpu', 'webgpu', ...(relaxed ? ['cpu-relaxed'] : [])]) {
      const p = await openPage(browser, `/tests/pages/encoder.html?wasm=${wasm}`);
      try {
        const r = await p.evaluate(() => window.kernelCheck());
        console.log(`int8 kernel check, ${wasm} build: ${JSON.stringify(r)}`);
        assert.equal(r.build, wasm);
        assert.equal(r.kernel, wasm === 'cpu-relaxed' ? 'relaxed-dot' : 'simd128');
        assert.equal(r.cases, wasm === 'cpu-relaxed' ? 35 : 20);
        assert.equal(r.mismatches, 0);
      } finally {
        await p.close();
      }
    }
  });

  test('the relaxed-SIMD build: each int8 kernel matches the reference, auto times both and keeps the faster, and its SIMD128 kernel gives the plain build\'s bits', async (t) => {
    if (!(await hasRelaxedSimdIn(page))) {
      t.skip(`${ENGINE}: no relaxed SIMD in its WebAssembly; it loads the plain CPU build, tested above`);
      return;
    }
    const runs = {};
    for (const int8Kernel of ['relaxed-dot', 'simd128', 'auto']) {
      // A fresh page each: the kernel is chosen once per wasm instance.
      const p = await openPage(browser, '/tests/pages/encoder.html?wasm=cpu-relaxed');
      try {
        const r = await p.evaluate((k) => window.parity({ model: 'model.int8.bpk', backend: 'cpu', int8Kernel: k }), int8Kernel);
        console.log(`cpu-relaxed build, int8Kernel ${int8Kernel}: min cosine ${r.minCosine.toFixed(7)}, ` +
          `${r.ms.toFixed(0)} ms, ${JSON.stringify(r.int8Kernel)}`);
        assert.equal(r.wasmBuild, 'cpu-relaxed');
        assert.deepEqual(r.idMismatches, []);
        assert.ok(r.minCosine >= 0.9995, `min cosine ${r.minCosine}`);
        runs[int8Kernel] = r;
      } finally {
        await p.close();
      }
    }
    // The plain CPU-only build runs the same SIMD128 kernel: the same bits, so a browser could
    // move between the two builds without shifting a profile's cached vectors (in Firefox the
    // plain build ran it 1.17x faster, docs/benchmarks.md).
    const plain = await openPage(browser, '/tests/pages/encoder.html?wasm=cpu');
    try {
      const r = await plain.evaluate(() => window.parity({ model: 'model.int8.bpk', backend: 'cpu' }));
      assert.equal(r.wasmBuild, 'cpu');
      assert.deepEqual(r.rows, runs.simd128.rows, 'the plain build and cpu-relaxed on SIMD128 differ');
    } finally {
      await plain.close();
    }
    assert.deepEqual(runs['relaxed-dot'].int8Kernel, { kernel: 'relaxed-dot', simd128: null, relaxedDot: null });
    assert.deepEqual(runs.simd128.int8Kernel, { kernel: 'simd128', simd128: null, relaxedDot: null });
    // The two kernels differ only in the activations' last two bits: nearly the same vectors,
    // but not the same bits (so the forced kernel really ran).
    const cos = (a, b) => a.reduce((s, v, i) => s + v * b[i], 0);
    const pairs = runs['relaxed-dot'].rows.map((row, i) => cos(row, runs.simd128.rows[i]));
    assert.ok(Math.min(...pairs) > 0.9999, `min cosine between the kernels ${Math.min(...pairs)}`);
    assert.notDeepEqual(runs['relaxed-dot'].rows, runs.simd128.rows);
    const auto = runs.auto.int8Kernel;
    assert.ok(auto.simd128 > 0 && auto.relaxedDot > 0, JSON.stringify(auto));
    // The byte dot is kept only when at least 5% and one clock step faster (the step is not
    // reported): never where it is not 5% faster.
    if (auto.relaxedDot >= 0.95 * auto.simd128) assert.equal(auto.kernel, 'simd128', JSON.stringify(auto));
    // What auto kept gives that kernel's vectors.
    assert.deepEqual(runs.auto.rows, runs[auto.kernel].rows);
  });

  test('a remembered SIMD128 timing loads the plain CPU build; a byte-dot timing, a forced byte-dot kernel, or a plain build that does not start keep the relaxed one', async (t) => {
    if (!(await hasRelaxedSimdIn(page))) {
      t.skip(`${ENGINE}: no relaxed SIMD in its WebAssembly; there is one CPU build to load`);
      return;
    }
    const timing = (kernel) => ({ kernel, simd128: 3.5, relaxedDot: kernel === 'simd128' ? 5.25 : 1.75 });
    const kept = /plain CPU build: this browser's timing kept the SIMD128 int8 kernel/;
    const cases = [
      { remembered: timing('simd128'), build: 'cpu', info: { ...timing('simd128'), remembered: true }, reason: kept },
      { remembered: timing('relaxed-dot'), build: 'cpu-relaxed', info: { ...timing('relaxed-dot'), remembered: true }, reason: /^cpu requested$/ },
      { remembered: timing('simd128'), int8Kernel: 'relaxed-dot', build: 'cpu-relaxed', info: { kernel: 'relaxed-dot', simd128: null, relaxedDot: null }, reason: /^cpu requested$/ },
      { remembered: null, int8Kernel: 'simd128', build: 'cpu', info: { kernel: 'simd128', simd128: null, relaxedDot: null }, reason: /plain CPU build: the SIMD128 int8 kernel was asked for$/ },
      // Offline with only the relaxed build cached, or a page hosting the plain build where it is not.
      { remembered: timing('simd128'), wasmUrl: { cpu: '/dist/pkg/cpu/no-such.wasm' }, build: 'cpu-relaxed', info: { ...timing('simd128'), remembered: true },
        reason: /SIMD128 int8 kernel; it did not start \(.+\), so the relaxed build runs that kernel$/ },
    ];
    const rows = {};
    try {
      for (const c of cases) {
        const p = await openPage(browser, '/tests/pages/encoder.html');
        try {
          await p.evaluate((choice) => window.rememberKernel(choice), c.remembered);
          const r = await p.evaluate((o) => window.parity({ model: 'model.int8.bpk', backend: 'cpu', ...o }),
            { int8Kernel: c.int8Kernel ?? 'auto', wasmUrl: c.wasmUrl });
          const label = `remembered ${c.remembered?.kernel ?? 'nothing'}, int8Kernel ${c.int8Kernel ?? 'auto'}${c.wasmUrl ? ', plain build missing' : ''}`;
          console.log(`${label}: ${r.wasmBuild} build, ${JSON.stringify(r.int8Kernel)}, ${r.reason}`);
          assert.equal(r.wasmBuild, c.build, label);
          assert.deepEqual(r.int8Kernel, c.info, label);
          assert.match(r.reason, c.reason, label);
          assert.ok(r.minCosine >= 0.9995, `${label}: min cosine ${r.minCosine}`);
          // Each kernel gives its own bits whichever build runs it.
          rows[r.int8Kernel.kernel] ??= r.rows;
          assert.deepEqual(r.rows, rows[r.int8Kernel.kernel], label);
        } finally {
          await p.close();
        }
      }
    } finally {
      await page.evaluate(() => window.rememberKernel(null));
    }
  });

  test('int8Kernel: an unknown name is a TypeError, the relaxed kernel outside its build an InvalidInputError', async () => {
    const p = await openPage(browser, '/tests/pages/encoder.html?wasm=cpu');
    try {
      const unknown = await p.evaluate(() => window.loadFailure({ backend: 'cpu', int8Kernel: 'vnni' }));
      assert.equal(unknown?.name, 'TypeError', JSON.stringify(unknown));
      const missing = await p.evaluate(() => window.loadFailure({ backend: 'cpu', int8Kernel: 'relaxed-dot' }));
      assert.equal(missing?.name, 'InvalidInputError', JSON.stringify(missing));
      assert.match(missing.message, /no relaxed SIMD/);
    } finally {
      await p.close();
    }
  });

  test('SentenceEncoder.load checks integrity pins, reports progress and caches like Cloister.open', async () => {
    const p = await openPage(browser, '/tests/pages/encoder.html');
    try {
      const bad = await p.evaluate(() => window.pinnedLoad({ model: 'model.int8.bpk', pin: 'f'.repeat(64) }));
      assert.equal(bad.name, 'ModelIntegrityError', JSON.stringify(bad));
      assert.equal(bad.kind, 'integrity');
      assert.equal(bad.expected, 'f'.repeat(64));
      assert.match(bad.url, /model\.int8\.bpk$/);
      const first = await p.evaluate(() => window.pinnedLoad({ model: 'model.int8.bpk' }));
      assert.equal(first.ok, true, JSON.stringify(first));
      assert.equal(first.len, 384);
      assert.ok(first.progress.some(([what, cached]) => what === 'model' && !cached), JSON.stringify(first.progress));
      const again = await p.evaluate(() => window.pinnedLoad({ model: 'model.int8.bpk' }));
      assert.ok(again.progress.some(([what, cached]) => what === 'model' && cached), 'second load from the Cache API');
    } finally {
      await p.close();
    }
  });

  test('forcing WebGPU where there is none is a WebGPUUnavailableError', async () => {
    const e = await page.evaluate(() => window.loadError({ model: 'model.int8.bpk', backend: 'webgpu' }));
    assert.equal(e?.name, 'WebGPUUnavailableError');
  });

  test('corrupt, truncated and wrong files are typed errors and the page keeps working', async () => {
    const garbage = await page.evaluate(() => window.loadError({ model: 'model.int8.bpk', backend: 'cpu', mangle: 'garbage' }));
    assert.equal(garbage?.name, 'ModelFormatError');
    assert.equal(garbage?.kind, 'model_format');
    for (const model of ['model.int8.bpk', 'model.safetensors']) {
      const cut = await page.evaluate((m) => window.loadError({ model: m, backend: 'cpu', mangle: 'truncate' }), model);
      assert.equal(cut?.name, 'ModelFormatError', `${model}: ${JSON.stringify(cut)}`);
    }
    // A tokenizer whose ids run past the model's word table used to load, then panic in burn.
    const foreign = await page.evaluate(() => window.foreignTokenizer({ model: 'model.int8.bpk', backend: 'cpu' }));
    assert.equal(foreign?.name, 'ModelFormatError', JSON.stringify(foreign));
    assert.equal(foreign?.kind, 'tokenizer');
    assert.match(foreign?.message, /40000/);
    const tok = await page.evaluate(() => window.loadError({ model: 'model.int8.bpk', backend: 'cpu', tokenizer: 'garbage' }));
    assert.equal(tok?.name, 'ModelFormatError');
    assert.equal(tok?.kind, 'tokenizer');
    // The wasm instance survived all of that.
    const r = await page.evaluate(() => window.parity({ model: 'model.int8.bpk', backend: 'cpu' }));
    assert.ok(r.minCosine >= 0.9995);
    assert.ok(!page.consoleLines.some((l) => l.includes('panicked')), page.consoleLines.join('\n'));
  });
});
