// The embedding pool's policy, with fake lanes: how many workers 'auto' takes, how a batch is
// cut, and that a small request is served before the pieces of a large one already queued.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EmbedPool, pieceSize, poolSize } from '../js/pool.js';

test("'auto' follows the cores and the memory budget; a bad value is a TypeError", () => {
  const english = { modelName: 'all-MiniLM-L6-v2' };
  assert.equal(poolSize({ ...english, cores: 2 }), 2);
  assert.equal(poolSize({ ...english, cores: 16, memoryBudgetMB: 10_000 }), 4);
  assert.equal(poolSize({ ...english, cores: 16 }), 2, '256 MB holds one extra 135 MB worker');
  assert.equal(poolSize({ ...english, cores: 8, memoryBudgetMB: 0 }), 1);
  assert.equal(poolSize({ ...english, cores: undefined }), 1);
  assert.equal(poolSize({ modelName: 'multilingual-e5-small', cores: 8 }), 1, 'a 435 MB worker does not fit 256 MB');
  assert.equal(poolSize({ ...english, workers: 3, cores: 1 }), 3, 'a number is taken as given');
  for (const workers of [0, 17, 1.5, '2', null]) assert.throws(() => poolSize({ workers }), TypeError);
  for (const memoryBudgetMB of [-1, NaN, Infinity, '256']) assert.throws(() => poolSize({ memoryBudgetMB }), TypeError);
});

test('pieces: at least 4 a lane, at most 8 texts each', () => {
  assert.equal(pieceSize(32, 2), 4);
  assert.equal(pieceSize(48, 2), 6);
  assert.equal(pieceSize(10_000, 4), 8);
  assert.equal(pieceSize(9, 1), 3);
  assert.equal(pieceSize(1, 8), 1);
});

/** A lane that takes `ms` per piece and records what it ran. */
function fakeLane(log, name, ms = 5) {
  return async (texts) => {
    log.push(`${name}:${texts.join(',')}`);
    await new Promise((r) => setTimeout(r, ms));
    return new Float32Array(texts.length * 384).fill(Number(texts[0].split('-')[1] ?? 0));
  };
}

test('a small request goes before the queued pieces of a large batch; the vectors come back in order', async () => {
  const log = [];
  const pool = new EmbedPool({ primary: fakeLane(log, 'a'), size: 1, openExtra: () => Promise.reject(new Error('none')) });
  const texts = Array.from({ length: 32 }, (_, i) => `t-${i}`);
  const big = pool.embed(texts);
  const small = pool.embed(['s-99']);
  const [flat] = await Promise.all([big, small]);
  // The first piece was already running; the small request ran next.
  assert.equal(log[0], 'a:t-0,t-1,t-2,t-3,t-4,t-5,t-6,t-7');
  assert.equal(log[1], 'a:s-99');
  assert.equal(log.length, 1 + 4);
  for (let i = 0; i < 32; i += 8) assert.equal(flat[i * 384], i, `piece starting at ${i} in place`);
  assert.deepEqual(pool.piecesByLane, [5]);
});

test('extra lanes start at the first large batch, join when loaded, and share the pieces', async () => {
  const log = [];
  let opened = 0;
  const pool = new EmbedPool({
    primary: fakeLane(log, 'a', 20),
    size: 2,
    openExtra: async () => { opened += 1; return { embed: fakeLane(log, 'b', 20), close: () => { opened -= 1; } }; },
  });
  await pool.embed(['one']);
  assert.equal(opened, 0, 'no extra worker for a small request');
  await pool.embed(Array.from({ length: 64 }, (_, i) => `t-${i}`));
  assert.equal(opened, 1);
  assert.equal(pool.size, 2);
  assert.ok(pool.piecesByLane[1] > 0, `pieces by lane ${pool.piecesByLane}`);
  pool.close();
  assert.equal(opened, 0, 'close stops the extra worker');
});
