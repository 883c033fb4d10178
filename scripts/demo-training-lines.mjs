// Writes the demo server's simulated log as training lines (stdout, one JSON per line) for
// `cloister train --lines`: the interest model the demo and the browser tests load is trained
// on the project's own catalogue text, never on MovieLens.
//   node scripts/demo-training-lines.mjs [users] | dist/cloister train --lines --out model.json
import { readFileSync } from 'node:fs';
import { DemoServer } from '../www/server.js';

const users = Number(process.argv[2] ?? 150);
const catalogue = JSON.parse(readFileSync(new URL('../www/catalogue.json', import.meta.url), 'utf8'));
for (const line of new DemoServer(catalogue).trainingLines({ users })) {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}
