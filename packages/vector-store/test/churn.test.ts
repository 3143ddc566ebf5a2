import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { clusteredVectors, recall, seededRandom } from '@backroom/vector-store/testing';
import { COLLECTION, FIELD, fill, fixture, row } from './helpers.js';

const DIM = 32;

function meanRecall(
  index: Awaited<ReturnType<ReturnType<typeof fixture>['open']>>,
  queries: Float32Array,
  n: number,
) {
  let sum = 0;
  for (let q = 0; q < n; q++) {
    const v = row(queries, DIM, q);
    sum += recall(index.search(v, 10), index.searchExact(v, 10));
  }
  return sum / n;
}

test('an update replaces the vector and a delete leaves results at once, without a refresh', async (t) => {
  const f = fixture(t);
  const vectors = clusteredVectors({ count: 2002, dim: DIM, seed: 5 });
  fill(f.writer, vectors, DIM, 2000);
  const index = await f.open({ dim: DIM, exactBelow: 0 });
  const target = row(vectors, DIM, 2000);
  f.writer.put(COLLECTION, 't7', {}, { [FIELD]: target });
  const top = index.search(target, 1)[0];
  assert.equal(top.id, 't7');
  assert.ok(top.distance < 1e-5);
  assert.notEqual(index.search(row(vectors, DIM, 7), 1)[0].id, 't7', 'the old vector is gone');
  f.writer.delete(COLLECTION, 't7');
  assert.ok(!index.search(target, 50).some((h) => h.id === 't7'));
  f.writer.put(COLLECTION, 't8', { note: 'vector cleared' }, { [FIELD]: null });
  assert.equal(index.has('t8'), false);
  assert.ok(index.verify().ok);
});

test('30% churn keeps recall within one point and slots bounded; deleted slots are reused', async (t) => {
  const f = fixture(t);
  const N = 6000;
  const vectors = clusteredVectors({ count: N * 2, dim: DIM, seed: 8 });
  const queries = clusteredVectors({ count: 200, dim: DIM, seed: 8 }).map(
    (x, i) => x + ((i * 7919) % 13) / 100,
  );
  fill(f.writer, vectors, DIM, N);
  const index = await f.open({ dim: DIM, exactBelow: 0, compactMin: 100_000 });
  const before = meanRecall(index, queries, 200);
  const slotsBefore = index.stats().slots;
  const rand = seededRandom(11);
  let next = N;
  // 30% of the objects churn: half get a new vector, half are deleted and replaced by new objects.
  for (let c = 0; c < N * 0.3; c++) {
    const i = Math.floor(rand() * N);
    if (c % 2 === 0) f.writer.put(COLLECTION, `t${i}`, {}, { [FIELD]: row(vectors, DIM, next++) });
    else {
      f.writer.delete(COLLECTION, `t${i}`);
      f.writer.put(COLLECTION, `n${c}`, {}, { [FIELD]: row(vectors, DIM, next++) });
    }
    if (c % 100 === 0) index.refresh();
  }
  index.refresh();
  const after = meanRecall(index, queries, 200);
  const s = index.stats();
  t.diagnostic(
    `recall before ${before.toFixed(4)} after ${after.toFixed(4)}; slots ${slotsBefore} → ${s.slots}`,
  );
  assert.ok(after >= before - 0.01, `recall fell from ${before} to ${after}`);
  // Every deleted slot was taken again by a new object: no slot is spent on churn itself.
  assert.equal(s.free, 0);
  assert.equal(s.slots, s.size, `slots ${s.slots} for ${s.size} live vectors (started at ${slotsBefore})`);
  assert.ok(index.verify().ok);
});

test('when deletes pile up the graph is compacted in the background and swapped in', async (t) => {
  const f = fixture(t);
  const N = 4000;
  const vectors = clusteredVectors({ count: N, dim: DIM, seed: 9 });
  fill(f.writer, vectors, DIM, N);
  const index = await f.open({ dim: DIM, exactBelow: 0, compactMin: 500, compactRatio: 0.25 });
  f.writer.batch(() => {
    for (let i = 0; i < N * 0.4; i++) f.writer.delete(COLLECTION, `t${i}`);
  });
  index.refresh(); // applies the deletes and starts the compaction
  assert.equal(index.stats().building, true);
  // Searches keep working on the old graph meanwhile.
  assert.equal(index.search(row(vectors, DIM, N - 1), 1)[0].id, `t${N - 1}`);
  f.writer.put(COLLECTION, 'during', {}, { [FIELD]: row(vectors, DIM, 0) });
  await index.compact();
  while (index.stats().building) await yieldToLoop();
  const s = index.stats();
  assert.equal(s.compactions, 1);
  assert.equal(s.free, 0);
  assert.equal(s.slots, s.size);
  assert.equal(s.size, N * 0.6 + 1);
  assert.equal(
    index.search(row(vectors, DIM, 0), 1)[0].id,
    'during',
    'a write made during the build survives',
  );
  assert.ok(index.verify().ok);
});

test('capacity grows by itself past the initial allocation', async (t) => {
  const f = fixture(t);
  const index = await f.open({ dim: DIM, exactBelow: 0 });
  const vectors = clusteredVectors({ count: 2500, dim: DIM, seed: 10 });
  fill(f.writer, vectors, DIM, 2500);
  index.refresh();
  assert.equal(index.stats().size, 2500);
  assert.ok(index.stats().capacity >= 2500);
  assert.equal(index.search(row(vectors, DIM, 2400), 1)[0].id, 't2400');
});
