// The worker that hosts the Core, so encoding never blocks the page.
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
