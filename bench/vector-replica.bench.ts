/**
 * The vector index fed by sync-core's ReplicaStore (`store.vectorSource`, reading the float32 blobs the
 * store keeps beside its JSON documents) against vector-store's own blob tables (`SqliteVectorSource`) on
 * the same 100k × 128 vectors: reading every vector for a rebuild, and a whole rebuild at open (read + graph
 * build in the worker, M=16, efConstruction=200). One JSON line per result; medians of several rounds.
 *
 *   npm run bench -- vector-replica          (VECTOR_BENCH_N=20000 for a quick run)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSchema, ReplicaStore, type VectorSource } from '@backroom/sync-core';
import { VectorIndex } from '@backroom/vector-store';
import {
  clusteredVectors,
  openSqliteDatabase,
  ReplicaWriter,
  SqliteVectorSource,
} from '@backroom/vector-store/testing';

const N = Number(process.env.VECTOR_BENCH_N ?? 100_000);
const DIM = 128;
const SCAN_ROUNDS = 5;
const REBUILD_ROUNDS = Number(process.env.VECTOR_BENCH_REBUILDS ?? 3);

const emit = (o: Record<string, unknown>) => console.log(JSON.stringify(o));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const gc = () => (globalThis as { gc?: () => void }).gc?.();

const dir = mkdtempSync(join(tmpdir(), 'vector-replica-bench-'));
try {
  const vectors = clusteredVectors({ count: N, dim: DIM, clusters: 256, spread: 0.5, seed: 2024 });
  const row = (i: number) => Array.from(vectors.subarray(i * DIM, (i + 1) * DIM));

  const schema = loadSchema({
    collections: {
      transactions: {
        fields: {
          terminalId: 'string',
          total: 'float',
          embedding: { type: 'vector', dim: DIM, metric: 'cosine' },
        },
      },
    },
  });
  const store = ReplicaStore.open({ path: join(dir, 'replica.db'), schema, nodeId: 'hub', outbox: false });
  store.transaction(() => {
    for (let i = 0; i < N; i++) {
      store.put('transactions', `t${i}`, { terminalId: `till-${i % 8}`, total: i % 500, embedding: row(i) });
    }
  });
  const db = openSqliteDatabase(join(dir, 'raw.db'));
  const writer = new ReplicaWriter(db);
  writer.batch(() => {
    for (let i = 0; i < N; i++) {
      writer.put('transactions', `t${i}`, { terminalId: `till-${i % 8}` }, { embedding: row(i) });
    }
  });
  const ours = store.vectorSource('transactions', 'embedding');
  const raw = new SqliteVectorSource({ database: db, collection: 'transactions', field: 'embedding' });

  const scan = (source: VectorSource) => {
    gc();
    const t0 = performance.now();
    let n = 0;
    for (const ch of source.scanAll()) if (ch.vector) n++;
    if (n !== N) throw new Error(`scanned ${n} of ${N}`);
    return performance.now() - t0;
  };
  const scanOurs: number[] = [];
  const scanRaw: number[] = [];
  for (let r = 0; r < SCAN_ROUNDS; r++) {
    scanOurs.push(scan(ours));
    scanRaw.push(scan(raw));
  }
  const so = median(scanOurs);
  const sr = median(scanRaw);
  emit({
    bench: `vector-replica scanAll ${N}x${DIM}`,
    ms: +so.toFixed(1),
    vectors_per_s: Math.round(N / (so / 1000)),
    raw_ms: +sr.toFixed(1),
    raw_vectors_per_s: Math.round(N / (sr / 1000)),
    ratio: +(so / sr).toFixed(2),
  });

  const rebuild = async (source: VectorSource, name: string, r: number) => {
    gc();
    const t0 = performance.now();
    const index = await VectorIndex.open({
      collection: 'transactions',
      field: 'embedding',
      dim: DIM,
      metric: 'cosine',
      source,
      dir: join(dir, `${name}-${r}`), // a fresh folder: no snapshot, so a whole rebuild
    });
    const ms = performance.now() - t0;
    if (index.stats().size !== N || index.stats().openedFrom !== 'rebuild') throw new Error('not rebuilt');
    await index.close();
    return ms;
  };
  const buildOurs: number[] = [];
  const buildRaw: number[] = [];
  for (let r = 0; r < REBUILD_ROUNDS; r++) {
    buildOurs.push(await rebuild(ours, 'ours', r));
    buildRaw.push(await rebuild(raw, 'raw', r));
  }
  const bo = median(buildOurs);
  const br = median(buildRaw);
  emit({
    bench: `vector-replica rebuild ${N}x${DIM} M=16 efC=200`,
    s: +(bo / 1000).toFixed(2),
    raw_s: +(br / 1000).toFixed(2),
    ratio: +(bo / br).toFixed(3),
    rounds: REBUILD_ROUNDS,
  });
  raw.close();
  db.close();
  store.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
