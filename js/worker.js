// The worker that hosts the Core, so encoding never blocks the page.
// Every module the Core needs is imported here, at one level, so the browser asks for them all
// as soon as this file arrives instead of finding core.js's imports only after core.js does:
// a round trip saved per level (40 ms each on the first-visit benchmark's link).
import './model.js';
import './models.js';
import './store.js';
import './measure.js';
import './features.js';
import './kernel.js';
import './wasm.js';
import { Core } from './core.js';
import { toPlain } from './errors.js';

const core = new Core();

self.onmessage = async ({ data: { id, method, args } }) => {
  try {
    let result;
    if (method === 'open') {
      result = await core.open(args[0], (progress) => self.postMessage({ progress }));
    } else {
      result = await core[method](...args);
    }
    self.postMessage({ id, result, mirror: core.mirror() });
  } catch (error) {
    self.postMessage({ id, error: toPlain(error), mirror: core.rec ? core.mirror() : null });
  }
};
