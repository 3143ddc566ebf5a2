import assert from 'node:assert/strict';
import { test } from 'node:test';
import { evaluateFilter, parseFilter } from '@backroom/sync-core';
import { clusteredVectors, recall } from '@backroom/vector-store/testing';
import { bruteForceCosine, fill, fixture, row } from './helpers.js';

const N = 20_000;
const DIM = 64;
const QUERIES = 150;

test('recall@10 ≥ 0.95 against brute force on 20k × 64 clustered vectors, unfiltered and filtered', async (t) => {
  const f = fixture(t);
  const vectors = clusteredVectors({ count: N + QUERIES, dim: DIM, seed: 1 });
  const docs = fill(f.writer, vectors, DIM, N);
  // exactBelow 500: the 5% and 50% filters walk the graph, the 0.1% and 0.5% ones search exactly.
  const index = await f.open({ dim: DIM, exactBelow: 500 });
  assert.equal(index.stats().size, N);

  const cases = [
    { filter: undefined, path: 'graph' },
    { filter: 'bucket < 10', path: 'exact' }, // 0.1%
    { filter: 'bucket < 50', path: 'exact' }, // 0.5%
    { filter: 'bucket < 500', path: 'graph-filtered' }, // 5%
    { filter: 'bucket < 5000 AND storeId != "none"', path: 'graph-filtered' }, // 50%
    { filter: 'bucket >= 0', path: 'graph' }, // 100%: every object matches, the plain walk answers
  ];
  const all = Array.from({ length: N }, (_, i) => i);
  for (const c of cases) {
    const parsed = c.filter ? parseFilter(c.filter) : undefined;
    const rows = parsed ? all.filter((i) => evaluateFilter(parsed, docs[i])) : all;
    let sum = 0;
    for (let q = 0; q < QUERIES; q++) {
      const query = row(vectors, DIM, N + q);
      const truth = bruteForceCosine(vectors, DIM, rows, query, 10);
      const got = index.search(query, 10, { filter: c.filter });
      assert.equal(index.stats().lastPath, c.path, `path for ${c.filter}`);
      sum += recall(got, truth);
      if (q < 20) {
        // The exact search is the ground truth for the other tests: it must agree with brute force.
        assert.ok(recall(index.searchExact(query, 10, { filter: c.filter }), truth) >= 0.99);
        for (const h of got) assert.ok(!parsed || evaluateFilter(parsed, docs[Number(h.id.slice(1))]));
      }
    }
    const r = sum / QUERIES;
    t.diagnostic(`recall@10 ${c.filter ?? 'unfiltered'} (${rows.length} match): ${r.toFixed(4)}`);
    assert.ok(r >= 0.95, `recall ${r} for ${c.filter ?? 'no filter'}`);
  }
});

test('distances are in hnswlib units for every metric and nearest first', async (t) => {
  const f = fixture(t);
  const dim = 4;
  f.writer.put('transactions', 'a', {}, { embedding: [1, 0, 0, 0] });
  f.writer.put('transactions', 'b', {}, { embedding: [0, 2, 0, 0] });
  f.writer.put('transactions', 'c', {}, { embedding: [3, 3, 0, 0] });
  const q = [2, 0, 0, 0];
  const cos = await f.open({ dim, metric: 'cosine', dir: `${f.dir}/cos`, exactBelow: 0 });
  const hits = cos.search(q, 3);
  assert.deepEqual(
    hits.map((h) => h.id),
    ['a', 'c', 'b'],
  );
  assert.ok(Math.abs(hits[0].distance) < 1e-6 && Math.abs(hits[1].distance - (1 - Math.SQRT1_2)) < 1e-6);
  const l2 = await f.open({ dim, metric: 'l2', dir: `${f.dir}/l2`, exactBelow: 0 });
  assert.deepEqual(
    l2.search(q, 3).map((h) => [h.id, h.distance]),
    [
      ['a', 1],
      ['b', 8],
      ['c', 10],
    ],
  );
  const ip = await f.open({ dim, metric: 'ip', dir: `${f.dir}/ip`, exactBelow: 0 });
  assert.deepEqual(
    ip.search(q, 3).map((h) => [h.id, h.distance]),
    [
      ['c', -5],
      ['a', -1],
      ['b', 1],
    ],
  );
  // Exact search speaks the same units as the graph.
  assert.deepEqual(ip.searchExact(q, 3), ip.search(q, 3));
});
