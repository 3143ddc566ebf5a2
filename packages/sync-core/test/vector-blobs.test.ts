import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadSchema, ReplicaStore } from '@backroom/sync-core';
import Database from 'better-sqlite3';
import { tempDir } from './helpers.js';

const schema = loadSchema({
  collections: {
    transactions: {
      fields: { total: 'float', embedding: { type: 'vector', dim: 3, metric: 'l2' } },
    },
  },
});

const scan = (store: ReplicaStore) =>
  new Map([...store.vectorSource('transactions', 'embedding').scanAll()].map((c) => [c.id, [...c.vector!]]));

test('vectors read back exactly as written, and the feed reads them as float32 blobs', (t) => {
  const path = join(tempDir(t), 'hub.db');
  const store = ReplicaStore.open({ path, schema, nodeId: 'hub', outbox: false });
  t.after(() => store.close());
  store.put('transactions', 't1', { total: 1, embedding: [0.1, 0.2, 0.3] });
  store.put('transactions', 't2', { total: 2, embedding: [1, 2, 3] });
  store.put('transactions', 't3', { total: 3 });
  // get() and queries show the values written (float64), not their float32 rounding.
  assert.deepEqual(store.get('transactions', 't1')?.embedding, [0.1, 0.2, 0.3]);
  assert.deepEqual(
    store.query('transactions').objects.map((o) => o.embedding),
    [[0.1, 0.2, 0.3], [1, 2, 3], null],
  );
  assert.deepEqual(
    scan(store),
    new Map([
      ['t1', [Math.fround(0.1), Math.fround(0.2), Math.fround(0.3)]],
      ['t2', [1, 2, 3]],
    ]),
  );
  // Clearing the vector, deleting the object and collecting its tombstone each leave no blob behind.
  store.put('transactions', 't2', { total: 2, embedding: null });
  store.delete('transactions', 't1');
  assert.deepEqual(scan(store), new Map());
  const feed = store.vectorSource('transactions', 'embedding');
  assert.deepEqual(
    [...feed.changesSince(0)].map((c) => [c.id, c.vector]),
    [
      ['t3', null],
      ['t2', null],
      ['t1', null],
    ],
  );
  store.put('transactions', 't4', { total: 4, embedding: [4, 5, 6] });
  store.collectTombstones(store.vectorSource('transactions', 'embedding').currentSeq());
  assert.deepEqual(scan(store), new Map([['t4', [4, 5, 6]]]));
});

test('a replica of format 1 (vectors only in the JSON documents) is upgraded at open', (t) => {
  const path = join(tempDir(t), 'hub.db');
  const store = ReplicaStore.open({ path, schema, nodeId: 'hub', outbox: false });
  for (let i = 0; i < 3000; i++) store.put('transactions', `t${i}`, { total: i, embedding: [i, 0.5, -i] });
  store.delete('transactions', 't7');
  store.close();
  // What a format-1 file holds: no blobs, no record of them.
  const db = new Database(path);
  db.exec(
    "DELETE FROM object_vectors; DELETE FROM meta WHERE key = 'vector_blobs'; UPDATE meta SET value = '1' WHERE key = 'format'",
  );
  db.close();

  const again = ReplicaStore.open({ path, schema, nodeId: 'hub', outbox: false });
  t.after(() => again.close());
  const vectors = scan(again);
  assert.equal(vectors.size, 2999);
  assert.deepEqual(vectors.get('t2999'), [2999, 0.5, -2999]);
  assert.equal(vectors.has('t7'), false);
  assert.deepEqual(again.get('transactions', 't5')?.embedding, [5, 0.5, -5]);
  const check = new Database(path, { readonly: true });
  assert.equal(check.prepare("SELECT value FROM meta WHERE key = 'format'").pluck().get(), '2');
  check.close();
});
