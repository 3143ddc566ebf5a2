/**
 * Counters never silently stop counting: a write that would take one beyond ±(2^53 − 1) is refused
 * whole, and a schema may bound each increment (`maxDelta`), so a hostile till pushing `stock: -50000`
 * is refused with a code the hub's reject-and-quarantine path carries back.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  type Change,
  isSyncError,
  loadSchema,
  packStamp,
  type ReplicaStore,
  SyncError,
  type SyncErrorCode,
} from '@backroom/sync-core';
import { manualTime, openReplica, tempDir } from './helpers.js';

const MAX = Number.MAX_SAFE_INTEGER;

const schema = loadSchema({
  collections: {
    inventory: {
      fields: {
        stock: { type: 'counter', maxDelta: 10000 },
        reserved: 'counter',
        location: 'string',
      },
    },
  },
});

const coded =
  (code: SyncErrorCode, status: number, details: Record<string, unknown>) =>
  (e: unknown): boolean => {
    assert.ok(isSyncError(e, code), `expected ${code}, got ${String(e)}`);
    assert.equal(e.statusCode, status);
    for (const [k, v] of Object.entries(details)) assert.deepEqual(e.details[k], v, `details.${k}`);
    return true;
  };

/** What a user can see of a replica: the object, the outbox, the sequence. */
const snapshot = (s: ReplicaStore) => ({
  object: s.get('inventory', 'SKU-1'),
  pending: s.pendingCount(),
  seq: s.currentSeq(),
  digest: s.digest(),
});

test('an increment that would pass 2^53 − 1 is refused and changes nothing, not even the other field', (t) => {
  const till = openReplica(t, tempDir(t), 'till-1', { schema });
  till.setCounter('inventory', 'SKU-1', { stock: 5, reserved: MAX - 5 });
  const before = snapshot(till);
  assert.throws(
    () => till.increment('inventory', 'SKU-1', { stock: 1, reserved: 6 }),
    coded('SYNC_ERR_COUNTER_OVERFLOW', 422, { collection: 'inventory', id: 'SKU-1', field: 'reserved' }),
  );
  assert.deepEqual(snapshot(till), before);
  // Up to the limit it counts exactly, and on the negative side the same rule holds.
  assert.equal(till.increment('inventory', 'SKU-1', { reserved: 5 }).reserved, MAX);
  till.setCounter('inventory', 'SKU-2', { reserved: -MAX });
  assert.throws(
    () => till.increment('inventory', 'SKU-2', { reserved: -1 }),
    coded('SYNC_ERR_COUNTER_OVERFLOW', 422, { id: 'SKU-2', field: 'reserved' }),
  );
  assert.equal(till.get('inventory', 'SKU-2')?.reserved, -MAX);
});

test('a delta or stocktake value beyond the safe range is an overflow; a fraction stays invalid', (t) => {
  const till = openReplica(t, tempDir(t), 'till-1', { schema });
  assert.throws(
    () => till.increment('inventory', 'SKU-1', { reserved: 2 ** 53 }),
    coded('SYNC_ERR_COUNTER_OVERFLOW', 422, { collection: 'inventory', id: 'SKU-1', field: 'reserved' }),
  );
  assert.throws(
    () => till.setCounter('inventory', 'SKU-1', { reserved: -(2 ** 60) }),
    coded('SYNC_ERR_COUNTER_OVERFLOW', 422, { field: 'reserved' }),
  );
  assert.throws(
    () => till.increment('inventory', 'SKU-1', { reserved: 0.5 }),
    coded('SYNC_ERR_INVALID_OBJECT', 400, {}),
  );
  assert.throws(
    () => till.setCounter('inventory', 'SKU-1', { reserved: 1.5 }),
    coded('SYNC_ERR_INVALID_OBJECT', 400, {}),
  );
  assert.equal(till.currentSeq(), 0);
  assert.equal(till.pendingCount(), 0);
});

test('a stocktake that, with the sales stamped after it, would pass the limit is refused', (t) => {
  const dir = tempDir(t);
  const hubTime = manualTime(1_700_000_000_000);
  const tillTime = manualTime(1_700_000_000_000);
  const hub = openReplica(t, dir, 'hub', { schema, time: hubTime.source });
  const till = openReplica(t, dir, 'till-1', { schema, time: tillTime.source });
  hub.setCounter('inventory', 'SKU-1', { reserved: 0 });
  till.applyRemote([hub.changeFor('inventory', 'SKU-1')!]);
  // 10:00:02 the till sells; the hub hears of it before a stocktake counted at 10:00:01.
  tillTime.t.wall += 2000;
  till.increment('inventory', 'SKU-1', { reserved: 100 });
  hub.applyRemote(till.pendingChanges(10).map((p) => p.change));
  const stocktake: Change = {
    collection: 'inventory',
    id: 'SKU-1',
    bases: { reserved: { v: MAX - 50, ver: { p: 0, s: packStamp(1_700_000_001_000, 0), n: 'manager-pad' } } },
  };
  const before = hub.digest();
  assert.throws(
    () => hub.applyRemote([stocktake]),
    coded('SYNC_ERR_COUNTER_OVERFLOW', 422, { collection: 'inventory', id: 'SKU-1', field: 'reserved' }),
  );
  assert.equal(hub.digest(), before);
  assert.equal(hub.get('inventory', 'SKU-1')?.reserved, 100);
});

test('a remote batch carrying increments past the limit is refused whole, naming the object', (t) => {
  const dir = tempDir(t);
  const hub = openReplica(t, dir, 'hub', { schema });
  const till = openReplica(t, dir, 'till-1', { schema });
  hub.setCounter('inventory', 'SKU-9', { reserved: MAX - 1 });
  till.applyRemote([hub.changeFor('inventory', 'SKU-9')!]);
  till.put('inventory', 'SKU-1', { location: 'aisle 3' });
  // Each side counts one more, concurrently: each alone reaches the limit, together they would pass it.
  hub.increment('inventory', 'SKU-9', { reserved: 1 });
  assert.equal(till.increment('inventory', 'SKU-9', { reserved: 1, stock: -1 }).reserved, MAX);
  const batch = till.pendingChanges(10).map((p) => p.change);
  const before = { digest: hub.digest(), seq: hub.currentSeq() };
  assert.throws(
    () => hub.applyRemote(batch),
    coded('SYNC_ERR_COUNTER_OVERFLOW', 422, { collection: 'inventory', id: 'SKU-9', field: 'reserved' }),
  );
  assert.deepEqual({ digest: hub.digest(), seq: hub.currentSeq() }, before);
  assert.equal(
    hub.get('inventory', 'SKU-1'),
    undefined,
    'the good change of the batch is not applied either',
  );
  // A delta beyond the safe range in a change is refused before anything is read.
  const huge: Change = {
    collection: 'inventory',
    id: 'SKU-1',
    incs: [
      { field: 'reserved', delta: 2 ** 53, ver: { p: 0, s: hub.clock.now(), n: 'till-1' }, op: 'till-1/x' },
    ],
  };
  assert.throws(
    () => hub.applyRemote([huge]),
    coded('SYNC_ERR_COUNTER_OVERFLOW', 422, { index: 0, id: 'SKU-1' }),
  );
});

test('near the limit a counter stays exact when a batch passes 2^53 on the way back', (t) => {
  const dir = tempDir(t);
  const hub = openReplica(t, dir, 'hub', { schema });
  hub.setCounter('inventory', 'SKU-1', { reserved: MAX - 1 });
  const ver = (n: string) => ({ p: 0, s: hub.clock.now(), n });
  // +11 then −11: summed one by one in floating point, MAX − 1 + 11 rounds (2^53 + 9 is not a double).
  hub.applyRemote([
    {
      collection: 'inventory',
      id: 'SKU-1',
      incs: [
        { field: 'reserved', delta: 11, ver: ver('till-1'), op: 'till-1/a' },
        { field: 'reserved', delta: -11, ver: ver('till-2'), op: 'till-2/b' },
      ],
    },
  ]);
  assert.equal(hub.get('inventory', 'SKU-1')?.reserved, MAX - 1);
});

test('maxDelta: a hostile till pushing stock −50000 is refused with a code naming the object', (t) => {
  const dir = tempDir(t);
  const hub = openReplica(t, dir, 'hub', { schema });
  const ok = openReplica(t, dir, 'till-1', { schema });
  ok.put('inventory', 'SKU-2', { location: 'aisle 1' });
  ok.increment('inventory', 'SKU-2', { stock: -10000 }); // exactly the bound: fine
  // A till with an older schema, or a modified one, writes what the bounded schema refuses.
  const hostile = openReplica(t, dir, 'till-6', {
    schema: loadSchema({
      collections: { inventory: { fields: { stock: 'counter', reserved: 'counter', location: 'string' } } },
    }),
  });
  hostile.increment('inventory', 'SKU-1', { stock: -50000 });
  const batch = [...ok.pendingChanges(10), ...hostile.pendingChanges(10)].map((p) => p.change);
  const before = hub.digest();
  let refused: SyncError | undefined;
  try {
    hub.applyRemote(batch);
  } catch (e) {
    refused = e as SyncError;
  }
  assert.ok(refused);
  coded('SYNC_ERR_DELTA_TOO_LARGE', 400, {
    collection: 'inventory',
    id: 'SKU-1',
    field: 'stock',
    delta: -50000,
    maxDelta: 10000,
    index: 1,
  })(refused);
  assert.match(
    refused.message,
    /inventory\/SKU-1: an increment of -50000 to stock is larger than its maxDelta of 10000/,
  );
  assert.equal(hub.digest(), before, 'nothing of the batch applied');
  // The well-behaved till's writes go through on their own.
  hub.applyRemote(ok.pendingChanges(10).map((p) => p.change));
  assert.equal(hub.get('inventory', 'SKU-2')?.stock, -10000);
});

test('maxDelta bounds local increments, not stocktakes', (t) => {
  const till = openReplica(t, tempDir(t), 'till-1', { schema });
  assert.throws(
    () => till.increment('inventory', 'SKU-1', { stock: 10001 }),
    coded('SYNC_ERR_DELTA_TOO_LARGE', 400, {
      collection: 'inventory',
      id: 'SKU-1',
      field: 'stock',
      maxDelta: 10000,
    }),
  );
  assert.equal(till.pendingCount(), 0);
  assert.equal(till.setCounter('inventory', 'SKU-1', { stock: 250000 }).stock, 250000);
  assert.equal(till.increment('inventory', 'SKU-1', { stock: 10000, reserved: 1e9 }).stock, 260000);
});

test('maxDelta is validated when the schema loads, every problem listed', () => {
  let err: unknown;
  try {
    loadSchema({
      collections: {
        inventory: {
          fields: {
            a: { type: 'counter', maxDelta: 0 },
            b: { type: 'counter', maxDelta: 1.5 },
            c: { type: 'counter', maxDelta: '100' },
            d: { type: 'int', maxDelta: 5 },
            e: { type: 'counter', maxDelta: -3 },
          },
        },
      },
    });
  } catch (e) {
    err = e;
  }
  assert.ok(isSyncError(err, 'SYNC_ERR_SCHEMA_INVALID'));
  const problems = err.details.problems as string[];
  assert.deepEqual(
    problems.map((p) => p.split(':')[0]),
    [
      'collections.inventory.fields.a',
      'collections.inventory.fields.b',
      'collections.inventory.fields.c',
      'collections.inventory.fields.d',
      'collections.inventory.fields.e',
    ],
  );
  assert.match(problems[0], /"maxDelta" must be a positive integer/);
  assert.match(problems[3], /"maxDelta" applies to counter fields only/);
  assert.ok(err instanceof SyncError);
});

test('the shipped retail schema bounds inventory.stock at 10,000 per increment', () => {
  const doc = JSON.parse(readFileSync(new URL('../schema/retail.json', import.meta.url), 'utf8'));
  const retail = loadSchema(doc);
  assert.equal(retail.collections.inventory.fields.stock.maxDelta, 10000);
  assert.deepEqual(retail.collections.inventory.counters, ['stock']);
});
