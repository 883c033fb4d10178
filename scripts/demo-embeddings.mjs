// The demo server's compact embeddings, made at build time by `cloister embed --compact`: one
// file per model, dist/demo/embeddings-<model name>.json = { model: sha256, items: { id: base64 } },
// over the catalogues that model reads (the project's own text), so the demo ranks before
// encoding anything.
// Usage: node scripts/demo-embeddings.mjs [path/to/cloister]
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { itemText } from '../www/server.js';

const cli = process.argv[2] ?? 'dist/cloister';
const read = (path) => JSON.parse(readFileSync(path, 'utf8'));
const [english, chinese] = [read('www/catalogue.json'), read('www/catalogue-zh.json')];
mkdirSync('dist/demo', { recursive: true });
// A server embeds only what its model can read: the English model gets the English catalogue
// (the Chinese section is then encoded on the device, which says it cannot read it).
for (const [model, name, items] of [['english', 'all-MiniLM-L6-v2', english],
  ['multilingual', 'multilingual-e5-small', [...english, ...chinese]]]) {
  const input = `${items.map((item) => itemText(item).replace(/[\r\n]+/g, ' ')).join('\n')}\n`;
  const lines = execFileSync(cli, ['embed', '--compact', '--model', model], { input, maxBuffer: 64 << 20 })
    .toString().trim().split('\n').map((line) => JSON.parse(line));
  if (lines.length !== items.length || lines.some((l) => typeof l.embedding !== 'string')) {
    throw new Error(`cloister embed gave ${lines.length} usable lines for ${items.length} items`);
  }
  const out = { model: lines[0].model, items: Object.fromEntries(items.map((item, i) => [item.id, lines[i].embedding])) };
  const path = `dist/demo/embeddings-${name}.json`;
  writeFileSync(`${path}.partial`, JSON.stringify(out));
  renameSync(`${path}.partial`, path);
  console.log(`${path}: ${items.length} items, model ${out.model.slice(0, 12)}`);
}
