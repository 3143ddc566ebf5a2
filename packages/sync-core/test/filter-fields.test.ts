/**
 * A filter naming a field the collection does not have is refused with a coded 400 that names it,
 * instead of silently matching nothing (a missing field reads as null).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertFilterFields,
  isSyncError,
  loadSchema,
  parseFilter,
  type SyncError,
} from '@backroom/sync-core';
import { openReplica, retailSchema, tempDir } from './helpers.js';

const unknownField =
  (collection: string, field: string, fields = [field]) =>
  (e: unknown) => {
    assert.ok(isSyncError(e, 'SYNC_ERR_UNKNOWN_FIELD'), String(e));
    assert.equal(e.statusCode, 400);
    assert.deepEqual(e.details, { collection, field, fields });
    assert.match(e.message, new RegExp(`^${collection} has no fields? "${field}"`));
    return true;
  };

test('a query on a field the collection does not have is a 400 naming it, not an empty page', (t) => {
  const store = openReplica(t, tempDir(t), 'hub');
  store.put('orders', 'o-1', { status: 'open', total: 12 });
  assert.throws(() => store.query('orders', { filter: 'colour == "red"' }), unknownField('orders', 'colour'));
  assert.throws(
    () => store.query('orders', { filter: 'status == "open" OR colour == "red" OR size > 2' }),
    unknownField('orders', 'colour', ['colour', 'size']),
  );
  // A pre-parsed filter is checked the same way.
  assert.throws(
    () => store.query('orders', { filter: parseFilter('colour == "red"') }),
    unknownField('orders', 'colour'),
  );
  // Declared fields, counters and variables still work.
  assert.equal(store.query('orders', { filter: 'status == "open" AND total > 10' }).objects.length, 1);
  store.increment('inventory', 'SKU-1', { stock: 3 });
  assert.equal(store.query('inventory', { filter: 'stock == 3' }).objects.length, 1);
});

test('paths reach into json fields only; id is a field of every object; _meta is not', (t) => {
  const store = openReplica(t, tempDir(t), 'hub');
  store.put('transactions', 't-1', { terminalId: 'pos-1', items: { sku: 'SKU-1', qty: 2 } });
  store.put('transactions', 't-2', { terminalId: 'pos-2', items: { sku: 'SKU-2', qty: 1 } });
  const q = (filter: string) =>
    store
      .query('transactions', { filter })
      .objects.map((o) => o.id)
      .sort();
  assert.deepEqual(q('items.sku == "SKU-1"'), ['t-1']);
  assert.deepEqual(q('id == "t-2"'), ['t-2']);
  assert.deepEqual(q('id ^= "t-" AND id != "t-1"'), ['t-2']);
  assert.deepEqual(q('id IN ["t-1", "nope"]'), ['t-1']);
  assert.throws(
    () => q('terminalId.site == "x"'),
    (e: SyncError) =>
      unknownField('transactions', 'terminalId.site')(e) &&
      /only json fields have sub-fields/.test(e.message),
  );
  assert.throws(() => q('_meta.deleted == true'), unknownField('transactions', '_meta.deleted'));
  assert.throws(() => q('id.x == 1'), unknownField('transactions', 'id.x'));
});

test('assertFilterFields: the same rule for the hub to check its configured sync filters at start-up', () => {
  const orders = retailSchema.collections.orders;
  assert.doesNotThrow(() =>
    assertFilterFields(orders, parseFilter('store == $client.store AND status != "closed"')),
  );
  assert.throws(
    () => assertFilterFields(orders, parseFilter('stor == $client.store')),
    unknownField('orders', 'stor'),
  );
  assert.doesNotThrow(() => assertFilterFields(orders, parseFilter('id ^= "o-"')));
  // Where filters are evaluated on documents that carry fields only, `id` can be refused too.
  assert.throws(
    () => assertFilterFields(orders, parseFilter('id ^= "o-"'), { id: false }),
    unknownField('orders', 'id'),
  );
});

test('vector search filters are checked against the collection too', (t) => {
  const schema = loadSchema({
    collections: { cases: { fields: { label: 'string', embedding: { type: 'vector', dim: 2 } } } },
  });
  const store = openReplica(t, tempDir(t), 'hub', { schema });
  store.put('cases', 'c-1', { label: 'void', embedding: [1, 0] });
  store.put('cases', 'c-2', { label: 'refund', embedding: [0, 1] });
  const feed = store.vectorSource('cases', 'embedding');
  t.after(() => feed.close());
  assert.throws(
    () => [...feed.matchingIds(parseFilter('lable == "void"'), {})],
    unknownField('cases', 'lable'),
  );
  assert.throws(
    () => [...feed.matchingIds(parseFilter('lable == "void"'), {}, 0)],
    unknownField('cases', 'lable'),
  );
  assert.deepEqual([...feed.matchingIds(parseFilter('label == "void"'), {})], [{ id: 'c-1', matches: true }]);
  assert.deepEqual([...feed.matchingIds(parseFilter('id == "c-2"'), {})], [{ id: 'c-2', matches: true }]);
});
