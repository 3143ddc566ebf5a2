import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { type Change, packStamp, ReplicaStore, type SyncError } from '@backroom/sync-core';
import { manualTime, openReplica, pushAll, retailSchema, tempDir } from './helpers.js';

const code = (c: string) => (e: SyncError) => e.code === c;

test('put, get, patch and delete a product; _meta carries stamp, precedence, origin, deleted', (t) => {
  const dir = tempDir(t);
  const hub = openReplica(t, dir, 'hub');
  const p = hub.put('products', 'SKU-1', { name: 'Milk 1L', price: 1.19, category: 'dairy' });
  assert.equal(p.name, 'Milk 1L');
  assert.equal(p._meta.origin, 'hub');
  assert.equal(p._meta.deleted, false);
  assert.match(p._meta.stamp, /^[0-9a-f]{16}$/);
  hub.patch('products', 'SKU-1', { price: 1.29 });
  assert.deepEqual(
    { ...hub.get('products', 'SKU-1'), _meta: undefined },
    { id: 'SKU-1', name: 'Milk 1L', price: 1.29, category: 'dairy', _meta: undefined },
  );
  // PUT replaces: fields not given become null.
  hub.put('products', 'SKU-1', { name: 'Milk 1L' });
  assert.equal(hub.get('products', 'SKU-1')?.price, null);
  assert.equal(hub.delete('products', 'SKU-1'), true);
  assert.equal(hub.get('products', 'SKU-1'), undefined);
  assert.equal(hub.get('products', 'SKU-1', { includeDeleted: true })?._meta.deleted, true);
  assert.equal(hub.delete('products', 'SKU-1'), false);
});

test('bad input gets a coded error and changes nothing', (t) => {
  const hub = openReplica(t, tempDir(t), 'hub');
  assert.throws(() => hub.put('nope', 'x', {}), code('SYNC_ERR_UNKNOWN_COLLECTION'));
  assert.throws(() => hub.put('products', '', {}), code('SYNC_ERR_INVALID_ID'));
  assert.throws(() => hub.put('products', 'x', { price: 'cheap' }), code('SYNC_ERR_INVALID_OBJECT'));
  assert.throws(() => hub.put('products', 'x', { colour: 'red' }), code('SYNC_ERR_INVALID_OBJECT'));
  assert.throws(() => hub.increment('inventory', 'x', { location: 1 }), code('SYNC_ERR_INVALID_OBJECT'));
  assert.throws(() => hub.increment('inventory', 'x', { stock: 0.5 }), code('SYNC_ERR_INVALID_OBJECT'));
  assert.equal(hub.currentSeq(), 0);
});

test('a remote batch with one bad change is rejected whole: nothing half-applied', (t) => {
  const dir = tempDir(t);
  const till = openReplica(t, dir, 'till-1');
  const hub = openReplica(t, dir, 'hub');
  till.put('orders', 'o1', { status: 'open', total: 5 });
  const good = till.pendingChanges(10).map((p) => p.change);
  const bad = {
    ...good[0],
    id: 'o2',
    fields: { total: { v: 'ten', ver: good[0].fields!.total.ver } },
  } as Change;
  assert.throws(() => hub.applyRemote([...good, bad]), code('SYNC_ERR_INVALID_OBJECT'));
  assert.equal(hub.get('orders', 'o1'), undefined);
  assert.equal(hub.currentSeq(), 0);
});

test('per-field merge: concurrent edits of different fields both survive', (t) => {
  const dir = tempDir(t);
  const hub = openReplica(t, dir, 'hub');
  const a = openReplica(t, dir, 'till-a');
  const b = openReplica(t, dir, 'till-b');
  a.put('orders', 'o1', { status: 'open', total: 10, note: '' });
  pushAll(a, hub);
  b.applyRemote([hub.changeFor('orders', 'o1')!]);
  a.patch('orders', 'o1', { note: 'gift wrap' });
  b.patch('orders', 'o1', { total: 12 });
  pushAll(a, hub);
  pushAll(b, hub);
  const o = hub.get('orders', 'o1')!;
  assert.equal(o.note, 'gift wrap');
  assert.equal(o.total, 12);
});

test('object merge: the newest write wins as a whole', (t) => {
  const dir = tempDir(t);
  const hub = openReplica(t, dir, 'hub');
  const a = openReplica(t, dir, 'till-a');
  const b = openReplica(t, dir, 'till-b');
  a.put('prices', 'SKU-1', { amount: 1, currency: 'EUR' });
  pushAll(a, hub);
  b.applyRemote([hub.changeFor('prices', 'SKU-1')!]);
  a.patch('prices', 'SKU-1', { amount: 2 });
  b.patch('prices', 'SKU-1', { currency: 'USD' }); // later stamp: wins as a whole
  pushAll(a, hub);
  pushAll(b, hub);
  const p = hub.get('prices', 'SKU-1')!;
  assert.deepEqual([p.amount, p.currency], [1, 'USD']);
});

test('precedence: a closed order stays closed when an older edit arrives later', (t) => {
  const dir = tempDir(t);
  const hub = openReplica(t, dir, 'hub');
  const till = openReplica(t, dir, 'till-1');
  const { t: time, source } = manualTime();
  const late = openReplica(t, dir, 'till-late', { time: source });
  hub.put('orders', 'o1', { status: 'open', total: 20 });
  late.applyRemote([hub.changeFor('orders', 'o1')!]);
  till.applyRemote([hub.changeFor('orders', 'o1')!]);
  // The offline terminal approves the order, with a stamp far later than the hub's close.
  time.wall += 30_000;
  late.patch('orders', 'o1', { status: 'approved' });
  till.patch('orders', 'o1', { status: 'closed' });
  pushAll(till, hub);
  pushAll(late, hub);
  assert.equal(hub.get('orders', 'o1')!.status, 'closed');
  const c = hub.conflicts();
  assert.equal(c[0].loser, 'approved');
  assert.equal(c[0].field, 'status');
});

test('role precedence: a manager correction beats a later terminal price', (t) => {
  const dir = tempDir(t);
  const hub = openReplica(t, dir, 'hub');
  const mgr = openReplica(t, dir, 'office', { role: 'manager' });
  const { t: time, source } = manualTime();
  const pos = openReplica(t, dir, 'till-1', { role: 'pos', time: source });
  mgr.put('prices', 'SKU-1', { amount: 2.49, currency: 'EUR' });
  time.wall += 20_000;
  pos.put('prices', 'SKU-1', { amount: 1.99, currency: 'EUR' });
  pushAll(pos, hub);
  pushAll(mgr, hub);
  assert.equal(hub.get('prices', 'SKU-1')!.amount, 2.49);
});

test('counters: two offline tills sell the last unit; stock is -1 everywhere; redelivery counts once', (t) => {
  const dir = tempDir(t);
  const hub = openReplica(t, dir, 'hub');
  const a = openReplica(t, dir, 'till-a');
  const b = openReplica(t, dir, 'till-b');
  hub.setCounter('inventory', 'SKU-1', { stock: 1 });
  a.applyRemote([hub.changeFor('inventory', 'SKU-1')!]);
  b.applyRemote([hub.changeFor('inventory', 'SKU-1')!]);
  a.increment('inventory', 'SKU-1', { stock: -1 });
  b.increment('inventory', 'SKU-1', { stock: -1 });
  assert.equal(a.get('inventory', 'SKU-1')!.stock, 0);
  const batchA = a.pendingChanges(100).map((p) => p.change);
  const batchB = b.pendingChanges(100).map((p) => p.change);
  hub.applyRemote(batchA);
  hub.applyRemote(batchB);
  hub.applyRemote(batchA); // redelivered
  assert.equal(hub.get('inventory', 'SKU-1')!.stock, -1);
  a.applyRemote([hub.changeFor('inventory', 'SKU-1')!]);
  b.applyRemote([hub.changeFor('inventory', 'SKU-1')!]);
  assert.equal(a.get('inventory', 'SKU-1')!.stock, -1);
  assert.equal(b.get('inventory', 'SKU-1')!.stock, -1);
});

test('PUT and PATCH leave counters alone; a stocktake sets the value and later sales count on top', (t) => {
  const dir = tempDir(t);
  const clock = manualTime();
  const hub = openReplica(t, dir, 'hub', { time: clock.source });
  const till = openReplica(t, dir, 'till', { time: clock.source });
  hub.increment('inventory', 'SKU-1', { stock: 10 });
  hub.put('inventory', 'SKU-1', { location: 'A1', stock: 999 } as Record<string, unknown>);
  assert.equal(hub.get('inventory', 'SKU-1')!.stock, 10);
  till.applyRemote([hub.changeFor('inventory', 'SKU-1')!]);
  till.increment('inventory', 'SKU-1', { stock: -2 }); // sold before the stocktake
  clock.t.wall += 1000;
  hub.setCounter('inventory', 'SKU-1', { stock: 7 }); // stocktake counted the shelf
  hub.increment('inventory', 'SKU-1', { stock: -1 }); // sold after it
  pushAll(till, hub); // the old sale arrives late: the stocktake already counted it
  assert.equal(hub.get('inventory', 'SKU-1')!.stock, 6);
});

test('deletes: an older patch cannot bring the object or its old values back; a newer write does', (t) => {
  const dir = tempDir(t);
  const clock = manualTime();
  const hub = openReplica(t, dir, 'hub', { time: clock.source });
  const till = openReplica(t, dir, 'till', { time: clock.source });
  hub.put('orders', 'o1', { status: 'open', total: 5, note: 'x' });
  till.applyRemote([hub.changeFor('orders', 'o1')!]);
  till.patch('orders', 'o1', { note: 'older edit' });
  clock.t.wall += 1000;
  hub.delete('orders', 'o1');
  pushAll(till, hub);
  assert.equal(hub.get('orders', 'o1'), undefined);
  assert.equal(hub.get('orders', 'o1', { includeDeleted: true })!.note, null);
  hub.put('orders', 'o1', { status: 'open', total: 1 });
  assert.equal(hub.get('orders', 'o1')!.total, 1);
  assert.equal(hub.get('orders', 'o1')!.note, null);
});

test('a change stamped a day in the future is rebased: it cannot win over later writes', (t) => {
  const dir = tempDir(t);
  const { source } = manualTime();
  const hub = openReplica(t, dir, 'hub', { time: source });
  const fast = manualTime(1_700_000_000_000 + 86_400_000);
  const till = openReplica(t, dir, 'till-fast', { time: fast.source });
  till.put('orders', 'o1', { status: 'open', total: 99 });
  const res = hub.applyRemote(till.pendingChanges(10).map((p) => p.change));
  assert.equal(res.rebased.length, 1);
  assert.ok(res.rebased[0].to < res.rebased[0].from);
  assert.ok(hub.clock.highWater() < packStamp(1_700_000_000_000 + 60_000, 0), 'hub clock not dragged ahead');
  hub.patch('orders', 'o1', { total: 100 }); // a later write from a correct node
  assert.equal(hub.get('orders', 'o1')!.total, 100);
  // The terminal takes the hub's re-stamping and then agrees with the hub.
  till.applyRebase(res.rebased);
  till.applyRemote([hub.changeFor('orders', 'o1')!]);
  assert.equal(till.get('orders', 'o1')!.total, 100);
});

test('local write and outbox commit together; the clock high-water survives restart', (t) => {
  const dir = tempDir(t);
  const { t: time, source } = manualTime();
  const path = join(dir, 'till.db');
  const a = ReplicaStore.open({ path, schema: retailSchema, nodeId: 'till', time: source });
  a.put('orders', 'o1', { status: 'open' });
  const last = a.clock.highWater();
  a.close();
  time.wall -= 3_600_000; // restarted with the clock an hour back
  const b = ReplicaStore.open({ path, schema: retailSchema, nodeId: 'till', time: source });
  t.after(() => b.close());
  assert.equal(b.pendingCount(), 1);
  b.patch('orders', 'o1', { note: 'after restart' });
  assert.equal(b.pendingCount(), 2);
  const [pending] = b.pendingChanges(10);
  assert.ok(pending.change.fields!.note.ver.s > last);
  assert.equal(pending.change.fields!.status.v, 'open');
});

test('a transaction that throws leaves nothing behind', (t) => {
  const hub = openReplica(t, tempDir(t), 'hub');
  assert.throws(() =>
    hub.transaction(() => {
      hub.put('products', 'a', { name: 'A' });
      throw new Error('boom');
    }),
  );
  assert.equal(hub.get('products', 'a'), undefined);
  assert.equal(hub.currentSeq(), 0);
  assert.equal(hub.pendingCount(), 0);
  hub.put('products', 'b', { name: 'B' });
  assert.equal(hub.currentSeq(), 1);
});

test('subscribers hear committed changes only', (t) => {
  const hub = openReplica(t, tempDir(t), 'hub');
  const seen: string[] = [];
  const off = hub.subscribe((e) => seen.push(`${e.collection}/${e.id}@${e.seq}:${e.remote}`));
  hub.transaction(() => {
    hub.put('products', 'a', { name: 'A' });
    hub.put('products', 'b', { name: 'B' });
    assert.equal(seen.length, 0);
  });
  assert.deepEqual(seen, ['products/a@1:false', 'products/b@2:false']);
  off();
  hub.put('products', 'c', { name: 'C' });
  assert.equal(seen.length, 2);
});

test('a file that is not a replica is a coded error, not a crash', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'junk.db');
  writeFileSync(path, Buffer.alloc(8192, 7));
  assert.throws(
    () => ReplicaStore.open({ path, schema: retailSchema, nodeId: 'x' }),
    code('SYNC_ERR_STORE_CORRUPT'),
  );
  const ok = openReplica(t, dir, 'till');
  ok.close();
  assert.throws(
    () => ReplicaStore.open({ path: join(dir, 'till.db'), schema: retailSchema, nodeId: 'other' }),
    code('SYNC_ERR_STORE_CORRUPT'),
  );
});

test('online backup writes a replica that opens with the same data', async (t) => {
  const dir = tempDir(t);
  const hub = openReplica(t, dir, 'hub');
  for (let i = 0; i < 100; i++) hub.put('products', `SKU-${i}`, { name: `P${i}`, price: i });
  await hub.backup(join(dir, 'backup.db'));
  const copy = ReplicaStore.open({ path: join(dir, 'backup.db'), schema: retailSchema, nodeId: 'hub' });
  t.after(() => copy.close());
  assert.equal(copy.get('products', 'SKU-42')!.price, 42);
  assert.equal(copy.currentSeq(), 100);
});

test('peer cursors, outbox acks and tombstone collection', (t) => {
  const hub = openReplica(t, tempDir(t), 'hub');
  hub.setPeerCursor('till-1', '42');
  assert.equal(hub.peerCursor('till-1'), '42');
  hub.put('orders', 'o1', { status: 'open' });
  hub.put('orders', 'o2', { status: 'open' });
  hub.delete('orders', 'o1');
  assert.equal(hub.pendingCount(), 3);
  hub.ackPending(2);
  assert.equal(hub.pendingCount(), 1);
  assert.equal(hub.collectTombstones(hub.currentSeq()), 1);
  assert.equal(hub.get('orders', 'o1', { includeDeleted: true }), undefined);
  assert.equal(hub.tombstoneHorizon(), hub.currentSeq());
  assert.ok(hub.get('orders', 'o2'));
});

test('an object too large for one sync message is refused and nothing of its batch is written', (t) => {
  const hub = openReplica(t, tempDir(t), 'hub', { maxObjectBytes: 4096 });
  assert.throws(
    () =>
      hub.transaction(() => {
        hub.put('products', 'small', { name: 'fine' });
        hub.put('products', 'huge', { name: 'x'.repeat(5000) });
      }),
    code('SYNC_ERR_PAYLOAD_TOO_LARGE'),
  );
  assert.equal(hub.get('products', 'small'), undefined);
  hub.put('products', 'grows', { name: 'x'.repeat(3000) });
  assert.throws(
    () => hub.patch('products', 'grows', { category: 'y'.repeat(2000) }),
    code('SYNC_ERR_PAYLOAD_TOO_LARGE'),
  );
  assert.equal(hub.get('products', 'grows')!.category, null);
});

test('acknowledging a split push keeps the entries of objects that did not travel yet', (t) => {
  const till = openReplica(t, tempDir(t), 'till');
  till.increment('inventory', 'A', { stock: -1 }); // outbox 1: object A
  till.put('orders', 'B', { status: 'open' }); // outbox 2: object B
  till.increment('inventory', 'A', { stock: -1 }); // outbox 3: object A again
  const pending = till.pendingChanges(100);
  assert.deepEqual(
    pending.map((p) => [p.change.id, p.seq]),
    [
      ['B', 2],
      ['A', 3],
    ],
  );
  // Only B's batch went (a size split): entry 1 (A's first sale) is below 2 but must stay.
  till.ackPending(2, [{ collection: 'orders', id: 'B' }]);
  const [left] = till.pendingChanges(100);
  assert.equal(left.change.id, 'A');
  assert.equal(left.change.incs!.length, 2, 'both sales of A still travel');
});

test('quarantine sets refused writes aside: out of the outbox, kept in the replica, listed', (t) => {
  const till = openReplica(t, tempDir(t), 'till');
  till.put('transactions', 'T-1', { terminalId: 'other', total: 5 });
  till.put('orders', 'O-1', { status: 'open' });
  assert.equal(till.quarantine('transactions', 'T-1', 'SYNC_ERR_FORBIDDEN', 'outside the filter'), 1);
  assert.deepEqual(
    till.pendingChanges(10).map((p) => p.change.id),
    ['O-1'],
  );
  assert.equal(till.get('transactions', 'T-1')!.total, 5);
  assert.deepEqual(
    till.quarantined().map((q) => [q.collection, q.id, q.code]),
    [['transactions', 'T-1', 'SYNC_ERR_FORBIDDEN']],
  );
});
