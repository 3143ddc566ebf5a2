/**
 * vector-store benchmark: 100k × 128 cosine, M=16, efConstruction=200, single-threaded searches, with raw
 * hnswlib-node measured in the same run on the same data and parameters. One JSON line per result.
 *
 *   npm run bench -- vector-store          (VECTOR_BENCH_N=20000 for a quick run)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exactTopK, VectorIndex } from '@backroom/vector-store';
import {
  clusteredVectors,
  openSqliteDatabase,
  ReplicaWriter,
  recall,
  SqliteVectorSource,
  seededRandom,
  transactionDoc,
} from '@backroom/vector-store/testing';
import hnswlib from 'hnswlib-node';

const N = Number(process.env.VECTOR_BENCH_N ?? 100_000);
const DIM = 128;
const M = 16;
const EF_C = 200;
const K = 10;
const TRUTH_Q = 500; // queries with exact ground truth
const ROUNDS = 3;
const EFS = [10, 16, 24, 32, 48, 64, 96, 128, 192];
const FILTER = 'bucket < 100'; // 1% of the objects

const emit = (o: Record<string, unknown>) => console.log(JSON.stringify(o));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const gc = () => (globalThis as { gc?: () => void }).gc?.();
const rssMb = () => process.memoryUsage().rss / 2 ** 20;

const all = clusteredVectors({ count: N + TRUTH_Q, dim: DIM, clusters: 256, spread: 0.5, seed: 2024 });
const rowOf = (i: number) => all.subarray(i * DIM, (i + 1) * DIM);
// Plain arrays converted once (hnswlib-node 3 takes nothing else), for raw and ours alike.
const queries = Array.from({ length: TRUTH_Q }, (_, q) => Array.from(rowOf(N + q)));
const rand = seededRandom(99);
const docs = Array.from({ length: N }, (_, i) => transactionDoc(i, rand));
const filteredRows = Int32Array.from(docs.flatMap((d, i) => ((d.bucket as number) < 100 ? [i] : [])));

// Ground truth: exact top-k over unit vectors (cosine), unfiltered and filtered.
const unit = new Float32Array(N * DIM);
for (let i = 0; i < N; i++) {
  let n = 0;
  for (let j = 0; j < DIM; j++) n += all[i * DIM + j] ** 2;
  n = Math.sqrt(n);
  for (let j = 0; j < DIM; j++) unit[i * DIM + j] = all[i * DIM + j] / n;
}
const everyRow = Int32Array.from({ length: N }, (_, i) => i);
const truth = (rows: Int32Array) =>
  queries.map((q) => {
    const u = Float32Array.from(q);
    let n = 0;
    for (const x of u) n += x * x;
    for (let j = 0; j < DIM; j++) u[j] /= Math.sqrt(n);
    return exactTopK('cosine', u, unit, rows, K).labels.map((l) => ({ id: `t${l}` }));
  });
const truthAll = truth(everyRow);
const truthFiltered = truth(filteredRows);

/** Median queries per second over ROUNDS rounds of `nq` queries. */
function qps(nq: number, run: (q: number) => void): number {
  const rates: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    for (let i = 0; i < nq; i++) run(i % TRUTH_Q);
    rates.push(nq / ((performance.now() - t0) / 1000));
  }
  return median(rates);
}

function recallOf(search: (q: number) => { id: string }[], want: { id: string }[][], nq = TRUTH_Q): number {
  let s = 0;
  for (let q = 0; q < nq; q++) s += recall(search(q), want[q]);
  return s / nq;
}

// ---- raw hnswlib-node ----
gc();
const rssBeforeRaw = rssMb();
const raw = new hnswlib.HierarchicalNSW('cosine', DIM);
raw.initIndex(Math.ceil(N * 1.25), M, EF_C, 100, false);
let t0 = performance.now();
for (let i = 0; i < N; i++) raw.addPoint(Array.from(rowOf(i)), i);
const rawBuildS = (performance.now() - t0) / 1000;
const rawBytesPerVector = ((rssMb() - rssBeforeRaw) * 2 ** 20) / N;
const rawHits = (q: number) => raw.searchKnn(queries[q], K).neighbors.map((l) => ({ id: `t${l}` }));
const rawCurve = EFS.map((ef) => {
  raw.setEf(ef);
  return { ef, recall: recallOf(rawHits, truthAll) };
});
const rawEf = (rawCurve.find((c) => c.recall >= 0.95) ?? rawCurve[rawCurve.length - 1]).ef;
raw.setEf(rawEf);
const rawRecall = rawCurve.find((c) => c.ef === rawEf)!.recall;
const rawQps = qps(4 * TRUTH_Q, (q) => raw.searchKnn(queries[q], K));

const allowed = new Uint8Array(N);
for (const r of filteredRows) allowed[r] = 1;
raw.setEf(rawEf);
const rawFilteredHits = (q: number) =>
  raw.searchKnn(queries[q], K, (l) => allowed[l] === 1).neighbors.map((l) => ({ id: `t${l}` }));
const FQ = 100;
const rawFilteredRecall = recallOf(rawFilteredHits, truthFiltered, FQ);
const rawFilteredQps = qps(FQ, (q) => raw.searchKnn(queries[q], K, (l) => allowed[l] === 1));

// ---- ours: store in SQLite, index built from it ----
const dir = mkdtempSync(join(tmpdir(), 'vector-bench-'));
const db = openSqliteDatabase(join(dir, 'replica.db'));
db.pragma('synchronous = NORMAL'); // loading the bench data only; the index side is unchanged
const writer = new ReplicaWriter(db);
writer.batch(() => {
  for (let i = 0; i < N; i++) writer.put('transactions', `t${i}`, docs[i], { embedding: rowOf(i) });
});
const source = new SqliteVectorSource({ database: db, collection: 'transactions', field: 'embedding' });
const options = {
  collection: 'transactions',
  field: 'embedding',
  dim: DIM,
  metric: 'cosine' as const,
  m: M,
  efConstruction: EF_C,
  source,
  dir: join(dir, 'vectors'),
};
t0 = performance.now();
let index = await VectorIndex.open(options);
const rebuildS = (performance.now() - t0) / 1000;
emit({
  bench: 'vector-store.rebuild_from_store',
  n: N,
  dim: DIM,
  seconds: rebuildS,
  vectors_per_s: N / rebuildS,
  raw_seconds: rawBuildS,
  ratio: rebuildS / rawBuildS,
  note: 'ours: read SQLite + build in a worker thread + fsynced snapshot; raw: addPoint loop only',
});

const oursHits = (ef: number) => (q: number) => index.search(queries[q], K, { ef });
const curve = EFS.map((ef) => ({ ef, recall: recallOf(oursHits(ef), truthAll) }));
const ef = (curve.find((c) => c.recall >= 0.95) ?? curve[curve.length - 1]).ef;
const ourRecall = curve.find((c) => c.ef === ef)!.recall;
const ourQps = qps(4 * TRUTH_Q, (q) => index.search(queries[q], K, { ef }));
emit({
  bench: 'vector-store.search_qps_at_recall_0.95',
  n: N,
  ef,
  qps: ourQps,
  recall_at_10: ourRecall,
  raw_ef: rawEf,
  raw_qps: rawQps,
  raw_recall_at_10: rawRecall,
  ratio: ourQps / rawQps,
  target_ratio: 0.9,
  recall_curve: curve.map((c) => [c.ef, Number(c.recall.toFixed(4))]),
});

const fetchQps = qps(4 * TRUTH_Q, (q) => index.withObjects(index.search(queries[q], K, { ef })));
emit({
  bench: 'vector-store.search_with_objects_qps',
  qps: fetchQps,
  raw_qps: rawQps,
  ratio: fetchQps / rawQps,
  note: 'index search plus fetching the 10 objects from SQLite',
});

const ourFilteredRecall = recallOf((q) => index.search(queries[q], K, { filter: FILTER }), truthFiltered, FQ);
const ourFilteredQps = qps(4 * FQ, (q) => index.search(queries[q], K, { filter: FILTER }));
emit({
  bench: 'vector-store.filtered_1pct_qps',
  filter: FILTER,
  matching: filteredRows.length,
  path: index.stats().lastPath,
  qps: ourFilteredQps,
  recall_at_10: ourFilteredRecall,
  raw_qps: rawFilteredQps,
  raw_recall_at_10: rawFilteredRecall,
  ratio: ourFilteredQps / rawFilteredQps,
  target_ratio: 20,
  note: 'raw: hnswlib-node searchKnn with a JS filter callback over a precomputed bitmap',
});

// ---- reopen from snapshot, memory ----
await index.close();
index = null as unknown as VectorIndex;
gc();
const reopenTimes: number[] = [];
let rssDelta = 0;
for (let r = 0; r < ROUNDS; r++) {
  gc();
  const before = rssMb();
  t0 = performance.now();
  const again = await VectorIndex.open(options);
  reopenTimes.push((performance.now() - t0) / 1000);
  if (again.stats().openedFrom !== 'snapshot') throw new Error('reopen did not use the snapshot');
  rssDelta = Math.max(rssDelta, rssMb() - before);
  index = again;
  if (r < ROUNDS - 1) {
    await again.close();
    gc();
  }
}
emit({
  bench: 'vector-store.reopen_from_snapshot',
  n: N,
  seconds: median(reopenTimes),
  target_seconds: 1,
});
const hnswFormula = 4 * DIM + 8 * M + 110;
emit({
  bench: 'vector-store.memory_per_vector',
  bytes_per_vector: Math.round((rssDelta * 2 ** 20) / N),
  raw_bytes_per_vector: Math.round(rawBytesPerVector),
  ratio: rssDelta / ((rawBytesPerVector * N) / 2 ** 20),
  hnswlib_formula_bytes: hnswFormula,
  note: 'RSS growth while opening (ours: graph + id maps, no float32 copy past exactBelow; raw: graph built)',
});
await index.close();
source.close();
db.close();
rmSync(dir, { recursive: true, force: true });
