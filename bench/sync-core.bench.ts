/**
 * sync-core benchmarks (issue 2), each printing one JSON line per result:
 * - `replica_put`: local puts of ~1 KB objects in batched transactions, with stamping and the outbox,
 *   against raw better-sqlite3 inserting the same rows in the same batches;
 * - `replica_merge`: one remote batch of 100k changes merged into a replica (applyRemote), against raw
 *   better-sqlite3 upserting the same documents.
 * Medians of several rounds; the machine is shared and noisy. Targets (issue 8): both ratios ≥ 0.6.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Change, loadSchema, ReplicaStore } from '@backroom/sync-core';
import Database from 'better-sqlite3';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PUTS = Number(process.env.BENCH_PUTS ?? 20_000);
const MERGE = Number(process.env.BENCH_MERGE ?? 100_000);
const BATCH = 1000;

const schema = loadSchema({
  collections: {
    products: {
      fields: { name: 'string', description: 'string', price: 'float', category: 'string', sku: 'string' },
    },
  },
});

const text = 'Organic whole milk, 1 litre, from pasture-raised cows; keep refrigerated. '
  .repeat(13)
  .slice(0, 900);
const product = (i: number) => ({
  name: `Product ${i}`,
  description: text,
  price: (i % 1000) / 10,
  category: ['dairy', 'bakery', 'produce', 'frozen'][i % 4],
  sku: `SKU-${i}`,
});

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function rawPut(dir: string, n: number): number {
  const db = new Database(join(dir, 'raw.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('cache_size = -65536');
  db.exec('CREATE TABLE objects (collection TEXT, id TEXT, doc TEXT, UNIQUE (collection, id))');
  const ins = db.prepare('INSERT INTO objects (collection, id, doc) VALUES (?, ?, ?)');
  const batch = db.transaction((from: number) => {
    for (let i = from; i < from + BATCH && i < n; i++)
      ins.run('products', `p${i}`, JSON.stringify(product(i)));
  });
  const t0 = performance.now();
  for (let i = 0; i < n; i += BATCH) batch(i);
  const s = (performance.now() - t0) / 1000;
  db.close();
  return n / s;
}

function replicaPut(dir: string, n: number): number {
  const store = ReplicaStore.open({ path: join(dir, 'replica.db'), schema, nodeId: 'till-1' });
  const t0 = performance.now();
  for (let i = 0; i < n; i += BATCH) {
    store.transaction(() => {
      for (let j = i; j < i + BATCH && j < n; j++) store.put('products', `p${j}`, product(j));
    });
  }
  const s = (performance.now() - t0) / 1000;
  store.close();
  return n / s;
}

function remoteBatch(dir: string, n: number): Change[] {
  const src = ReplicaStore.open({ path: join(dir, 'source.db'), schema, nodeId: 'till-9' });
  for (let i = 0; i < n; i += BATCH) {
    src.transaction(() => {
      for (let j = i; j < i + BATCH && j < n; j++) src.put('products', `p${j}`, product(j));
    });
  }
  const changes = src.pendingChanges(n).map((p) => p.change);
  src.close();
  return changes;
}

function replicaMerge(dir: string, changes: Change[]): number {
  const store = ReplicaStore.open({ path: join(dir, 'hub.db'), schema, nodeId: 'hub', outbox: false });
  const t0 = performance.now();
  store.applyRemote(changes);
  const s = (performance.now() - t0) / 1000;
  store.close();
  return changes.length / s;
}

function rawMerge(dir: string, changes: Change[]): number {
  const db = new Database(join(dir, 'rawmerge.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('cache_size = -65536');
  db.exec('CREATE TABLE objects (collection TEXT, id TEXT, doc TEXT, UNIQUE (collection, id))');
  const up = db.prepare(
    'INSERT INTO objects (collection, id, doc) VALUES (?, ?, ?) ON CONFLICT(collection, id) DO UPDATE SET doc = excluded.doc',
  );
  const t0 = performance.now();
  db.transaction(() => {
    for (const c of changes) {
      const doc: Record<string, unknown> = {};
      for (const f in c.fields) doc[f] = c.fields[f].v;
      up.run(c.collection, c.id, JSON.stringify(doc));
    }
  })();
  const s = (performance.now() - t0) / 1000;
  db.close();
  return changes.length / s;
}

function round<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'backroom-bench-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const only = process.argv.slice(2);
const want = (name: string) => only.length === 0 || only.some((o) => name.includes(o));

if (want('put')) {
  const ours: number[] = [];
  const raw: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    raw.push(round((d) => rawPut(d, PUTS)));
    ours.push(round((d) => replicaPut(d, PUTS)));
  }
  const o = median(ours);
  const b = median(raw);
  console.log(
    JSON.stringify({
      bench: 'replica_put',
      objects: PUTS,
      object_bytes: JSON.stringify(product(1)).length,
      batch: BATCH,
      changes_per_s: Math.round(o),
      raw_changes_per_s: Math.round(b),
      ratio: +(o / b).toFixed(3),
      target_ratio: 0.6,
      rounds: ROUNDS,
    }),
  );
}

if (want('merge')) {
  const ours: number[] = [];
  const raw: number[] = [];
  const changes = round((d) => remoteBatch(d, MERGE));
  for (let r = 0; r < ROUNDS; r++) {
    raw.push(round((d) => rawMerge(d, changes)));
    ours.push(round((d) => replicaMerge(d, changes)));
  }
  const o = median(ours);
  const b = median(raw);
  console.log(
    JSON.stringify({
      bench: 'replica_merge',
      changes: MERGE,
      changes_per_s: Math.round(o),
      raw_changes_per_s: Math.round(b),
      ratio: +(o / b).toFixed(3),
      target_ratio: 0.6,
      rounds: ROUNDS,
    }),
  );
}
