/**
 * `POST /v1/collections/{c}/search` (CONTRACT.md) against a real ReplicaStore, through fastify inject with
 * the error handler the hub and the device agent use.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { loadSchema, ReplicaStore } from '@backroom/sync-core';
import { errorHandler } from '@backroom/sync-core/http';
import { VectorStore } from '@backroom/vector-store';
import { registerSearchRoute } from '@backroom/vector-store/http';
import { clusteredVectors } from '@backroom/vector-store/testing';
import fastify from 'fastify';
import { row } from './helpers.js';
import { DIM, retailFixture, sale } from './replica-helpers.js';

const C = 'transactions';

/** A retail store with `count` sales, the search route on a fresh app, all closed after the test. */
async function serve(t: TestContext, count = 300) {
  const f = retailFixture(t);
  const vectors = clusteredVectors({ count: count + 10, dim: DIM, seed: 21 });
  f.store.transaction(() => {
    for (let i = 0; i < count; i++) f.store.put(C, `t${i}`, sale(i, row(vectors, DIM, i)));
  });
  const dir = join(f.dir, 'vectors');
  const store = new VectorStore({ dir });
  const app = fastify();
  app.setErrorHandler(errorHandler);
  registerSearchRoute(app, { store: f.store, vectors: store, vars: () => ({ auth: { sub: 'till-3' } }) });
  await app.ready();
  t.after(async () => {
    await app.close();
    await store.close();
  });
  const search = async (body: unknown, collection = C) => {
    const res = await app.inject({
      method: 'POST',
      url: `/v1/collections/${collection}/search`,
      payload: body as object,
    });
    return { status: res.statusCode, body: res.json() };
  };
  return { f, vectors, dir, store, search, query: (i: number) => Array.from(row(vectors, DIM, i)) };
}

test('search by vector returns the k nearest objects, nearest first, fresh after writes', async (t) => {
  const s = await serve(t);
  const res = await s.search({ vector: s.query(5), k: 4 });
  assert.equal(res.status, 200);
  const results = res.body.results as { id: string; distance: number; object: Record<string, unknown> }[];
  assert.equal(results.length, 4);
  assert.equal(results[0].id, 't5');
  assert.ok(Math.abs(results[0].distance) < 1e-5);
  for (let i = 1; i < results.length; i++) assert.ok(results[i - 1].distance <= results[i].distance);
  // The object as GET .../objects/:id shows it.
  assert.equal(results[0].object.id, 't5');
  assert.equal(results[0].object.terminalId, 'till-5');
  assert.equal((results[0].object._meta as { deleted: boolean }).deleted, false);
  assert.equal(Array.isArray(results[0].object.embedding), true);

  // The index was opened on the first search, in the folder given, and is fresh on the next one.
  assert.ok(s.store.has(C, 'embedding'));
  s.f.store.delete(C, 't5');
  s.f.store.put(C, 'new-sale', sale(3, s.query(300)));
  const after = await s.search({ vector: s.query(300), k: 4 });
  assert.equal(after.body.results[0].id, 'new-sale');
  assert.ok(
    (await s.search({ vector: s.query(5), k: 4 })).body.results.every((r: { id: string }) => r.id !== 't5'),
  );
  // Default k is 10.
  assert.equal((await s.search({ vector: s.query(1) })).body.results.length, 10);
  await s.store.close();
  assert.ok(
    readdirSync(s.dir).some((f) => f.endsWith('.meta')),
    'snapshot written on close',
  );
});

test('search by id leaves the object itself out; filters and their variables apply', async (t) => {
  const s = await serve(t);
  const byId = await s.search({ id: 't7', k: 3 });
  assert.equal(byId.status, 200);
  assert.equal(byId.body.results.length, 3);
  assert.ok(byId.body.results.every((r: { id: string }) => r.id !== 't7'));
  // The same as searching with its vector, minus itself.
  const byVector = await s.search({ vector: s.query(7), k: 4 });
  assert.deepEqual(
    byId.body.results.map((r: { id: string }) => r.id),
    byVector.body.results.slice(1).map((r: { id: string }) => r.id),
  );

  const filtered = await s.search({
    vector: s.query(7),
    k: 5,
    filter: 'terminalId == $auth.sub AND total > 10',
  });
  assert.equal(filtered.status, 200);
  assert.equal(filtered.body.results.length, 5);
  for (const r of filtered.body.results as { object: { terminalId: string; total: number } }[]) {
    assert.equal(r.object.terminalId, 'till-3');
    assert.ok(r.object.total > 10);
  }
});

test('concurrent first searches open one index, and evicted objects never come back', async (t) => {
  const s = await serve(t);
  const [a, b] = await Promise.all([
    s.search({ vector: s.query(9), k: 2 }),
    s.search({ vector: s.query(9), k: 2 }),
  ]);
  assert.deepEqual(a.body, b.body);
  assert.equal(a.body.results[0].id, 't9');
  // A terminal's store drops objects its filter no longer gives it without a tombstone.
  s.f.store.evict([{ collection: C, id: 't9' }]);
  const res = await s.search({ vector: s.query(9), k: 2 });
  assert.equal(res.body.results.length, 2);
  assert.ok(res.body.results.every((r: { id: string }) => r.id !== 't9'));
});

test('bad requests get a stable code and status', async (t) => {
  const s = await serve(t, 20);
  const v = s.query(1);
  const cases: [unknown, number, string, string?][] = [
    [{ vector: v }, 404, 'SYNC_ERR_UNKNOWN_COLLECTION', 'baskets'],
    [{ vector: v }, 400, 'SYNC_ERR_INVALID_QUERY', 'products'], // no vector field
    [{ vector: v, field: 'total' }, 400, 'SYNC_ERR_INVALID_QUERY'],
    [{ vector: v.slice(1) }, 400, 'VEC_ERR_DIM_MISMATCH'],
    [{ vector: [...v.slice(1), null] }, 400, 'VEC_ERR_INVALID_VECTOR'], // JSON has no NaN: null stands in
    [{ vector: [...v.slice(1), 'NaN'] }, 400, 'VEC_ERR_INVALID_VECTOR'],
    [{ vector: new Array(DIM).fill(0) }, 400, 'VEC_ERR_INVALID_VECTOR'], // no cosine direction
    [{ vector: v, k: 0 }, 400, 'VEC_ERR_INVALID_OPTION'],
    [{ vector: v, k: 1001 }, 400, 'VEC_ERR_INVALID_OPTION'],
    [{ vector: v, k: 2.5 }, 400, 'VEC_ERR_INVALID_OPTION'],
    [{ vector: v, ef: -1 }, 400, 'VEC_ERR_INVALID_OPTION'],
    [{ vector: v, filter: 'total >' }, 400, 'SYNC_ERR_FILTER_SYNTAX'],
    [{ vector: v, id: 't1' }, 400, 'SYNC_ERR_INVALID_REQUEST'],
    [{ k: 3 }, 400, 'SYNC_ERR_INVALID_REQUEST'],
    [{ vector: v, fliter: 'total > 1' }, 400, 'SYNC_ERR_INVALID_REQUEST'],
    [{ id: 'no-such-sale' }, 404, 'SYNC_ERR_NOT_FOUND'],
  ];
  for (const [body, status, code, collection] of cases) {
    const res = await s.search(body, collection);
    assert.equal(res.status, status, `${JSON.stringify(body)} → ${JSON.stringify(res.body)}`);
    assert.equal(res.body.error.code, code, JSON.stringify(body));
  }
  s.f.store.patch(C, 't2', { embedding: null });
  assert.equal((await s.search({ id: 't2' })).body.error.code, 'SYNC_ERR_INVALID_QUERY');
  // k at the limit is fine.
  assert.equal((await s.search({ vector: v, k: 1000 })).body.results.length, 19);
});

test('a collection with several vector fields searches the one named by "field"', async (t) => {
  const schema = loadSchema({
    collections: {
      fraud_cases: {
        fields: {
          label: 'string',
          basket: { type: 'vector', dim: 3, metric: 'l2' },
          behaviour: { type: 'vector', dim: 2, metric: 'ip' },
        },
      },
    },
  });
  const f = retailFixture(t);
  const store = ReplicaStore.open({ path: join(f.dir, 'cases.db'), schema, nodeId: 'hub' });
  const vectors = new VectorStore({ dir: join(f.dir, 'case-vectors') });
  const app = fastify();
  app.setErrorHandler(errorHandler);
  registerSearchRoute(app, { store, vectors });
  t.after(async () => {
    await app.close();
    await vectors.close();
    store.close();
  });
  store.put('fraud_cases', 'a', { label: 'sweethearting', basket: [0, 0, 1], behaviour: [1, 0] });
  store.put('fraud_cases', 'b', { label: 'refund abuse', basket: [5, 5, 5], behaviour: [0, 1] });
  const search = (payload: object) =>
    app.inject({ method: 'POST', url: '/v1/collections/fraud_cases/search', payload });
  const ambiguous = await search({ vector: [0, 0, 1] });
  assert.equal(ambiguous.statusCode, 400);
  assert.equal(ambiguous.json().error.code, 'SYNC_ERR_INVALID_QUERY');
  const basket = await search({ vector: [5, 5, 4], field: 'basket', k: 1 });
  assert.deepEqual(
    basket.json().results.map((r: { id: string; distance: number }) => [r.id, r.distance]),
    [['b', 1]],
  );
  const behaviour = await search({ vector: [2, 0], field: 'behaviour', k: 1 });
  assert.deepEqual(
    behaviour.json().results.map((r: { id: string; distance: number }) => [r.id, r.distance]),
    [['a', -1]],
  );
});
