#!/usr/bin/env node
// Runs every *.test.ts under packages/*/test, apps/*/test and test/ with node:test through tsx.
// Node 20's --test takes no globs, so the files are listed here. The `source` condition makes
// workspace packages resolve to their TypeScript sources, so tests never run stale dist/ code.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const roots = ['packages', 'apps'].flatMap((top) => readdirSync(top).map((p) => join(top, p, 'test')));
roots.push('test');
const files = [];
const walk = (dir) => {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const e of entries) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) walk(p);
    else if (e.endsWith('.test.ts')) files.push(p);
  }
};
roots.forEach(walk);
const filter = process.argv.slice(2);
const chosen = filter.length ? files.filter((f) => filter.some((x) => f.includes(x))) : files;
if (chosen.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const r = spawnSync(
  process.execPath,
  ['--conditions=source', '--import', 'tsx', '--test', '--test-concurrency=2', ...chosen],
  { stdio: 'inherit' },
);
process.exit(r.status ?? 1);
