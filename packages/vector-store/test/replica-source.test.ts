/**
 * The index on sync-core's own ReplicaStore (`store.vectorSource`): the retail schema's
 * `transactions.embedding` (dim 16, cosine), written through the store's API as terminals and the hub
 * write it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { evaluateFilter, parseFilter, ReplicaStore, type VectorSource } from '@backroom/sync-core';
import { VectorIndex } from '@backroom/vector-store';
import { clusteredVectors, recall } from '@backroom/vector-store/testing';
import { bruteForceCosine, row } from './helpers.js';
import { DIM, retailFixture, retailSchema, sale } from './replica-helpers.js';

const C = 'transactions';

/** Writes sales t0..t{count-1} with rows of `vectors` in one transaction; returns their documents. */
function fillSales(store: ReplicaStore, vectors: Float32Array, count: number): Record<string, unknown>[] {
  const docs: Record<string, unknown>[] = [];
  store.transaction(() => {
    for (let i = 0; i < count; i++) {
      const doc = sale(i, row(vectors, DIM, i));
      docs.push(doc);
      store.put(C, `t${i}`, doc);
    }
  });
  return docs;
}

test('recall@10 ≥ 0.95 on 5k × 16 retail transactions in a ReplicaStore, unfiltered and filtered', async (t) => {
  const N = 5000;
  const QUERIES = 100;
  const f = retailFixture(t);
  const vectors = clusteredVectors({ count: N + QUERIES, dim: DIM, seed: 11 });
  const docs = fillSales(f.store, vectors, N);
  // Other collections' writes share the sequence: the feed must skip them.
  f.store.put('products', 'SKU-1', { name: 'Milk 1l', price: 1.29, category: 'dairy' });
  const index = await f.open({ exactBelow: 300 });
  assert.equal(index.stats().size, N);
  assert.ok(index.verify().ok);

  const cases = [
    { filter: undefined, path: 'graph' },
    { filter: 'terminalId == "till-3"', path: 'graph-filtered' }, // 1/8
    { filter: 'terminalId == "till-3" AND cashier == "c1"', path: 'exact' }, // 125: searched exactly
    { filter: 'total > 100 AND payment IN ["card"]', path: 'graph-filtered' },
  ];
  const all = Array.from({ length: N }, (_, i) => i);
  for (const c of cases) {
    const parsed = c.filter ? parseFilter(c.filter) : undefined;
    const rows = parsed ? all.filter((i) => evaluateFilter(parsed, docs[i])) : all;
    assert.ok(rows.length > 0, `${c.filter} matches something`);
    let sum = 0;
    for (let q = 0; q < QUERIES; q++) {
      const query = row(vectors, DIM, N + q);
      const got = index.search(query, 10, { filter: c.filter });
      assert.equal(index.stats().lastPath, c.path, `path for ${c.filter}`);
      sum += recall(got, bruteForceCosine(vectors, DIM, rows, query, 10));
      for (const h of got) assert.ok(!parsed || evaluateFilter(parsed, docs[Number(h.id.slice(1))]));
    }
    const r = sum / QUERIES;
    t.diagnostic(`recall@10 ${c.filter ?? 'unfiltered'} (${rows.length} match): ${r.toFixed(4)}`);
    assert.ok(r >= 0.95, `recall ${r} for ${c.filter ?? 'no filter'}`);
  }
  // The objects come from the store, as GET .../objects/:id shows them.
  const [first] = index.withObjects(index.search(row(vectors, DIM, 42), 1));
  assert.equal(first.id, 't42');
  assert.equal(first.object.terminalId, docs[42].terminalId);
  assert.equal((first.object._meta as { deleted: boolean }).deleted, false);
});

test('updates and deletes through the store show in the very next search', async (t) => {
  const f = retailFixture(t);
  const vectors = clusteredVectors({ count: 300, dim: DIM, seed: 5 });
  fillSales(f.store, vectors, 200);
  const index = await f.open({ exactBelow: 0 });
  const target = Array.from(row(vectors, DIM, 250));
  const top = (filter?: string) => index.search(target, 1, { filter })[0]?.id;

  // A new sale lands on the query: next search finds it.
  f.store.put(C, 'fresh', sale(1, target));
  assert.equal(top(), 'fresh');
  // Its vector moves away (PATCH): it is no longer the nearest.
  f.store.patch(C, 'fresh', { embedding: Array.from(row(vectors, DIM, 0)) });
  assert.notEqual(top(), 'fresh');
  // A non-vector field moves it in and out of a filter.
  f.store.patch(C, 't7', { embedding: target, cashier: 'night-shift' });
  assert.equal(top('cashier == "night-shift"'), 't7');
  f.store.patch(C, 't7', { cashier: 'day-shift' });
  assert.equal(top('cashier == "night-shift"'), undefined);
  assert.equal(top(), 't7');
  // Clearing the vector drops it from the index; deleting drops it too.
  f.store.patch(C, 't7', { embedding: null });
  assert.equal(index.has('t7'), false);
  f.store.put(C, 't8', sale(8, target));
  assert.equal(top(), 't8');
  assert.equal(f.store.delete(C, 't8'), true);
  assert.notEqual(top(), 't8');
  assert.equal(index.has('t8'), false);

  // A change from another replica (a terminal's push, applied at the hub) is just as fresh.
  const till = retailFixture(t, 'till-1');
  till.store.put(C, 'from-till', sale(3, target));
  f.store.applyRemote([till.store.changeFor(C, 'from-till')!]);
  assert.equal(top(), 'from-till');
  // Writes in a transaction are seen once it commits, never half-way.
  f.store.transaction(() => {
    f.store.delete(C, 'from-till');
    assert.equal(top(), 'from-till'); // not committed yet
  });
  assert.notEqual(top(), 'from-till');
  assert.ok(index.verify().ok);
});

test('tombstones collected past the index force a rebuild at open, and a resync while running', async (t) => {
  const f = retailFixture(t);
  const vectors = clusteredVectors({ count: 400, dim: DIM, seed: 9 });
  fillSales(f.store, vectors, 400);
  const first = await f.open();
  await first.close(); // snapshot at the current sequence
  const gone = ['t1', 't2', 't3', 't100'];
  for (const id of gone) f.store.delete(C, id);
  assert.equal(f.store.collectTombstones(f.store.currentSeq()), gone.length);

  const reopened = await f.open();
  assert.equal(reopened.stats().openedFrom, 'rebuild');
  assert.match(reopened.stats().rebuildReason ?? '', /VEC_ERR_CHANGES_PRUNED/);
  for (const id of gone) assert.equal(reopened.has(id), false, `${id} deleted`);
  assert.equal(reopened.stats().size, 400 - gone.length);
  const hits = reopened.search(row(vectors, DIM, 1), 5);
  assert.ok(hits.every((h) => !gone.includes(h.id)));
  assert.ok(reopened.verify().ok);

  // While running: deletes collected before the index saw them are caught by a full scan.
  f.store.delete(C, 't200');
  f.store.delete(C, 't201');
  f.store.collectTombstones(f.store.currentSeq());
  assert.deepEqual(
    reopened.search(row(vectors, DIM, 200), 400).filter((h) => h.id === 't200' || h.id === 't201'),
    [],
  );
  assert.equal(reopened.stats().size, 400 - gone.length - 2);
  assert.ok(reopened.verify().ok);
});

test('reopening from a snapshot after more writes replays only the new changes', async (t) => {
  const f = retailFixture(t);
  const vectors = clusteredVectors({ count: 600, dim: DIM, seed: 3 });
  fillSales(f.store, vectors, 500);
  const first = await f.open();
  await first.close();
  const snapshotSeq = first.stats().snapshotSeq;
  assert.equal(snapshotSeq, f.store.currentSeq());

  f.store.put(C, 't500', sale(500, row(vectors, DIM, 500)));
  f.store.patch(C, 't0', { embedding: Array.from(row(vectors, DIM, 501)) });
  f.store.delete(C, 't1');
  f.store.put('products', 'SKU-9', { name: 'Bread', price: 2.1 }); // another collection: not replayed

  // Count what the index reads from the store while it opens.
  const feed = f.store.vectorSource(C, 'embedding');
  const read = { changes: 0, scanned: 0 };
  const counting: VectorSource = {
    currentSeq: () => feed.currentSeq(),
    *changesSince(after) {
      for (const ch of feed.changesSince(after)) {
        read.changes++;
        yield ch;
      }
    },
    *scanAll() {
      for (const ch of feed.scanAll()) {
        read.scanned++;
        yield ch;
      }
    },
    matchingIds: (fl, vars, after) => feed.matchingIds(fl, vars, after),
    getObjects: (ids) => feed.getObjects(ids),
  };
  const index = await f.open({ source: counting });
  assert.equal(index.stats().openedFrom, 'snapshot');
  assert.deepEqual(read, { changes: 3, scanned: 0 });
  assert.equal(index.stats().appliedSeq, f.store.currentSeq());
  assert.equal(index.search(row(vectors, DIM, 500), 1)[0].id, 't500');
  assert.equal(index.search(row(vectors, DIM, 501), 1)[0].id, 't0');
  assert.equal(index.has('t1'), false);
  assert.ok(index.verify().ok);
});

test('objects evicted from a terminal replica (no tombstone) are dropped from results and forgotten', async (t) => {
  const f = retailFixture(t, 'till-2');
  const vectors = clusteredVectors({ count: 50, dim: DIM, seed: 4 });
  fillSales(f.store, vectors, 50);
  const index = await f.open();
  const q = row(vectors, DIM, 10);
  assert.equal(index.search(q, 1)[0].id, 't10');
  // The sync filter no longer gives t10 to this terminal: the store removes it outright, and the
  // store's sequence does not move, so no change tells the index.
  assert.equal(f.store.evict([{ collection: C, id: 't10' }]), 1);
  const results = index.withObjects(index.search(q, 3));
  assert.ok(results.every((r) => r.id !== 't10'));
  assert.equal(index.has('t10'), false);
  assert.equal(index.withObjects(index.search(q, 3)).length, 3);
  assert.ok(index.verify().ok);
});

test('the feed refuses a field that is not a vector and a collection that does not exist', (t) => {
  const f = retailFixture(t);
  assert.throws(() => f.store.vectorSource(C, 'total'), { code: 'SYNC_ERR_INVALID_QUERY' });
  assert.throws(() => f.store.vectorSource('baskets', 'embedding'), { code: 'SYNC_ERR_UNKNOWN_COLLECTION' });
});

const WRITER = fileURLToPath(new URL('./fixtures/replica-crash-writer.ts', import.meta.url));
const ITERATIONS = 10;

/** Runs the writer until SIGKILL at a random point; returns its acknowledged writes. */
async function runAndKill(dir: string): Promise<string[]> {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', WRITER, dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  let ready: () => void;
  const isReady = new Promise<void>((r) => {
    ready = r;
  });
  child.stdout.on('data', (b: Buffer) => {
    out += b.toString();
    if (out.startsWith('ready\n')) ready();
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  await Promise.race([isReady, exited]);
  await sleep(20 + Math.random() * 300);
  child.kill('SIGKILL');
  await exited;
  assert.ok(out.startsWith('ready\n'), `writer failed to start: ${out.slice(0, 200)}`);
  const lines = out.split('\n');
  lines.pop(); // a line the kill cut short was never acknowledged
  return lines.filter((l) => l.startsWith('ack ')).map((l) => l.slice(4));
}

test(`SIGKILL while writing through the ReplicaStore, ${ITERATIONS} times: reopening agrees with the store`, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vector-replica-crash-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  let acked = 0;
  const reopenedFrom = { snapshot: 0, rebuild: 0 };
  for (let i = 0; i < ITERATIONS; i++) {
    const acks = await runAndKill(dir);
    acked += acks.length;
    const store = ReplicaStore.open({ path: join(dir, 'crash.db'), schema: retailSchema, nodeId: 'till-9' });
    try {
      const index = await VectorIndex.open({
        collection: C,
        field: 'embedding',
        dim: DIM,
        metric: 'cosine',
        source: store.vectorSource(C, 'embedding'),
        dir: join(dir, 'vectors'),
        exactBelow: 0,
      });
      reopenedFrom[index.stats().openedFrom]++;
      const report = index.verify();
      assert.ok(report.ok, `iteration ${i}: ${JSON.stringify(report).slice(0, 500)}`);
      // Every acknowledged write is in the store (or a later write of the same id: the kill may land
      // between a commit and its ack line), and where it is the latest, the index shows it.
      const last = new Map<string, { op: string; seq: number }>();
      for (const a of acks) {
        const [op, id, seq] = a.split(' ');
        last.set(id, { op, seq: Number(seq) });
      }
      for (const [id, { op, seq }] of last) {
        const now = store.get(C, id, { includeDeleted: true });
        const changedSince = store
          .changedSince(seq, 1_000_000)
          .some((c) => c.collection === C && c.id === id);
        if (op === 'put')
          assert.ok(now && (!now._meta.deleted || changedSince), `iteration ${i}: put ${id} lost`);
        else assert.ok(!now || now._meta.deleted || changedSince, `iteration ${i}: delete ${id} lost`);
        if (!changedSince)
          assert.equal(index.has(id), op === 'put', `iteration ${i}: index disagrees on ${id}`);
      }
      if (i % 2 === 0) await index.close(); // half the time the next run starts from this snapshot
    } finally {
      store.close();
    }
  }
  t.diagnostic(`acknowledged writes: ${acked}; reopened ${JSON.stringify(reopenedFrom)}`);
  assert.ok(acked > ITERATIONS, 'the writer got work done between kills');
});
