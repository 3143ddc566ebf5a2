#!/usr/bin/env node
// `npm run bench` runs every bench/*.bench.ts; `npm run bench -- NAME` runs those whose file name
// contains NAME. Each benchmark prints one JSON line per result on stdout.
// Benchmarks measure what production runs: the packages' compiled dist/ (built first), not tsx sources.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const all = readdirSync('bench')
  .filter((f) => f.endsWith('.bench.ts'))
  .sort();
const names = process.argv.slice(2);
const chosen = names.length ? all.filter((f) => names.some((n) => f.includes(n))) : all;
if (chosen.length === 0) {
  console.error(`no benchmark matches ${names.join(' ')}; have: ${all.join(', ')}`);
  process.exit(1);
}
const build = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-b'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
let failed = 0;
for (const f of chosen) {
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', join('bench', f)], {
    stdio: 'inherit',
  });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
