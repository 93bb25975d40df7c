// After `vite build`: print the gzip size of the JavaScript a first load fetches, and fail at the budget.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const BUDGET_BYTES = 200 * 1024; // UI.md: first load under 200 KB of JavaScript (gzip)
const assets = join(import.meta.dirname, '..', 'dist', 'assets');

const files = readdirSync(assets).filter((name) => name.endsWith('.js'));
let total = 0;
for (const name of files) {
  const raw = readFileSync(join(assets, name));
  const gzipped = gzipSync(raw, { level: 9 }).length;
  total += gzipped;
  console.log(`  ${name}: ${(raw.length / 1024).toFixed(1)} KB raw, ${(gzipped / 1024).toFixed(1)} KB gzip`);
}
const verdict = total < BUDGET_BYTES ? 'ok' : 'OVER BUDGET';
console.log(`JavaScript total (gzip): ${(total / 1024).toFixed(1)} KB of ${BUDGET_BYTES / 1024} KB budget — ${verdict}`);
if (files.length === 0) {
  console.error('no JavaScript found in dist/assets: did vite build run?');
  process.exit(1);
}
if (total >= BUDGET_BYTES) process.exit(1);
