/**
 * A terminal whose wall clock is wrong places its offline writes at the hub's time before pushing them
 * (ReplicaStore.adoptHubOffset; rules in src/replica/restamp.ts) — but only writes that never left it, made while its wall
 * clock kept step with its monotonic clock.
 */
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import {
  type Change,
  type ReplicaStore,
  type StoredObject,
  stampFromString,
  stampToString,
  type TimeSource,
  unpackStamp,
} from '@backroom/sync-core';
import { openReplica, tempDir } from './helpers.js';

const DAY = 86_400_000;
const REAL = 1_700_000_000_000;

/** A hand-driven wall clock, monotonic clock and boot id. */
function deviceTime(wall: number) {
  const t = { wall, mono: 50_000, boot: 'boot-1' };
  const source: TimeSource = { wall: () => t.wall, monotonic: () => t.mono, bootId: () => t.boot };
  /** Real time passes: both clocks move. */
  const pass = (ms: number) => {
    t.wall += ms;
    t.mono += ms;
  };
  return { t, source, pass };
}

const msOf = (hex: string) => unpackStamp(stampFromString(hex)).ms;
const withoutMeta = (o: StoredObject | undefined) => {
  if (!o) return o;
  const { _meta, ...rest } = o;
  return rest;
};

/** Every version in a change, for checks over all of them. */
function versionsOf(c: Change) {
  return [
    ...Object.values(c.fields ?? {}).map((w) => w.ver),
    ...Object.values(c.bases ?? {}).map((w) => w.ver),
    ...(c.incs ?? []).map((i) => i.ver),
    ...(c.exists ? [c.exists.ver] : []),
  ];
}

/** A till a day ahead, offline since it was installed: an order, a sale, a stocktake, a delete. */
function writeOffline(till: ReplicaStore, pass: (ms: number) => void) {
  till.put('orders', 'O-1', { status: 'open', note: 'from the fast till', total: 5 }); // real +0
  pass(1000);
  till.increment('inventory', 'SKU-1', { stock: -1 }); // real +1000
  pass(1000);
  till.patch('orders', 'O-1', { total: 6 }); // real +2000
  till.setCounter('inventory', 'SKU-2', { stock: 3 });
  till.increment('inventory', 'SKU-2', { stock: -1 });
  till.put('orders', 'O-2', { status: 'open', total: 1 });
  till.delete('orders', 'O-2');
}

const snapshot = (s: ReplicaStore) =>
  ['orders/O-1', 'orders/O-2', 'inventory/SKU-1', 'inventory/SKU-2'].map((k) => {
    const [c, id] = k.split('/');
    return withoutMeta(s.get(c, id, { includeDeleted: true }));
  });

function setup(t: TestContext) {
  const dir = tempDir(t);
  const hubTime = { wall: REAL - 5000, mono: 0 };
  const hub = openReplica(t, dir, 'hub', {
    outbox: false,
    role: 'hub',
    time: { wall: () => hubTime.wall, monotonic: () => hubTime.mono },
  });
  const fast = deviceTime(REAL + DAY);
  const open = () => openReplica(t, dir, 'till-fast', { time: fast.source, role: 'pos' });
  return { dir, hub, hubTime, fast, open };
}

test('a till a day ahead that never met the hub moves its unpushed writes to hub time, in order, and its clock comes down', (t) => {
  const { hub, hubTime, fast, open } = setup(t);
  hub.setCounter('inventory', 'SKU-1', { stock: 10 }); // the shelf count, at real −5 s
  let till = open();
  writeOffline(till, fast.pass);
  const before = snapshot(till);
  // The agent restarts (same boot, wall clock untouched) while still offline: the record survives.
  till.close();
  fast.pass(1000);
  till = open();

  // Another till, with a good clock, rewrites the note at real +2.5 s: later than the fast till's put.
  hubTime.wall = REAL + 2500;
  hub.patch('orders', 'O-1', { note: 'from the good till' });

  // real +5 s: hello and welcome; the hub measured offset = hub − wall = −1 day.
  fast.pass(2000);
  hubTime.wall = REAL + 5000;
  const measuredAt = till.clock.timeBase();
  const offsetMs = hubTime.wall - fast.t.wall;
  const r = till.adoptHubOffset(offsetMs, { measuredAt });
  assert.equal(r.skipped, undefined);
  assert.equal(r.shiftMs, -DAY);
  assert.equal(r.objects, 4);
  assert.ok(r.stamps >= 6, JSON.stringify(r));

  // Nothing changed but the stamps: the same winners, the same stock.
  assert.deepEqual(snapshot(till), before);
  assert.equal(msOf(till.get('orders', 'O-1')!._meta.stamp), REAL + 2000);

  // What is pushed carries real times, in the order written; increments are named after their new stamp.
  const pending = till.pendingChanges(1000);
  const all = pending.flatMap((p) => versionsOf(p.change));
  assert.ok(all.length > 0);
  for (const v of all) {
    assert.ok(unpackStamp(v.s).ms >= REAL && unpackStamp(v.s).ms <= REAL + 2000, stampToString(v.s));
  }
  const incs = pending.flatMap((p) => p.change.incs ?? []);
  assert.equal(incs.length, 2);
  for (const i of incs) assert.equal(i.op, `till-fast/${stampToString(i.ver.s)}`);
  const sku1 = pending.find((p) => p.change.id === 'SKU-1')!.change;
  const o1 = pending.find((p) => p.change.id === 'O-1')!.change;
  assert.ok(sku1.incs![0].ver.s > o1.exists!.ver.s && o1.fields!.total.ver.s > sku1.incs![0].ver.s);

  // The clock came down to the last write: new stamps are hub time, not a day ahead.
  assert.equal(unpackStamp(till.clock.highWater()).ms, REAL + 2000);
  for (const i of incs) assert.ok(i.ver.s <= till.clock.highWater(), 'no increment id above the clock');
  const later = till.patch('orders', 'O-3', { note: 'after the welcome' });
  assert.ok(Math.abs(msOf(later._meta.stamp) - (REAL + 5000)) < 100, later._meta.stamp);

  // At the hub: nothing to rebase; the good till's later note wins, the fast till's total stays, and the
  // sale after the shelf count counts on top of it. A redelivery changes nothing.
  const push = till.pendingChanges(1000).map((p) => p.change);
  assert.deepEqual(hub.applyRemote(push).rebased, []);
  hub.applyRemote(push);
  const atHub = hub.get('orders', 'O-1')!;
  assert.equal(atHub.note, 'from the good till');
  assert.equal(atHub.total, 6);
  assert.equal(hub.get('inventory', 'SKU-1')!.stock, 9);
  assert.equal(hub.get('inventory', 'SKU-2')!.stock, 2);
  assert.equal(hub.get('orders', 'O-2'), undefined);

  // Durable: after a restart the clock resumes from the lowered mark, and nothing moves twice.
  till.close();
  till = open();
  assert.equal(unpackStamp(till.clock.highWater()).ms, msOf(later._meta.stamp));
  assert.equal(
    till.adoptHubOffset(offsetMs, { measuredAt: till.clock.timeBase() }).skipped,
    'nothing-unsent',
  );
});

test('a till a day behind moves its offline writes forward, and its clock with them', (t) => {
  const { hub, hubTime } = setup(t);
  const dir = tempDir(t);
  const slow = deviceTime(REAL - DAY);
  const till = openReplica(t, dir, 'till-slow', { time: slow.source, role: 'pos' });
  till.put('orders', 'O-1', { status: 'open', note: 'from the slow till', total: 5 }); // real +0
  slow.pass(1000);
  till.increment('inventory', 'SKU-1', { stock: -1 }); // real +1000
  // Before it connects, a till with a good clock wrote the note at real −5 s: the slow till's is later.
  hub.patch('orders', 'O-1', { note: 'earlier, from the hub' });
  slow.pass(2000);
  hubTime.wall = REAL + 3000;
  const r = till.adoptHubOffset(hubTime.wall - slow.t.wall, { measuredAt: till.clock.timeBase() });
  assert.equal(r.shiftMs, DAY);
  assert.equal(unpackStamp(till.clock.highWater()).ms, REAL + 1000);
  const push = till.pendingChanges(100).map((p) => p.change);
  for (const v of push.flatMap(versionsOf)) assert.ok(unpackStamp(v.s).ms >= REAL, stampToString(v.s));
  assert.deepEqual(hub.applyRemote(push).rebased, []);
  assert.equal(hub.get('orders', 'O-1')!.note, 'from the slow till');
  // The next stamp is above every moved one.
  const top = push
    .flatMap(versionsOf)
    .map((v) => v.s)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .at(-1)!;
  const next = till.patch('orders', 'O-1', { total: 7 });
  assert.ok(stampFromString(next._meta.stamp) > top);
});

test('a wall clock set by hand since the writes keeps their stamps: the hub rebases them', (t) => {
  const { hub, fast, open } = setup(t);
  const till = open();
  writeOffline(till, fast.pass);
  const stamp = till.get('orders', 'O-1')!._meta.stamp;
  const highWater = till.clock.highWater();
  // The operator notices and sets the clock right: the monotonic clock does not move with it.
  fast.t.wall -= DAY;
  const r = till.adoptHubOffset(REAL + 3000 - fast.t.wall, { measuredAt: till.clock.timeBase() });
  assert.equal(r.skipped, 'clock-jumped');
  assert.equal(r.stamps, 0);
  assert.equal(till.get('orders', 'O-1')!._meta.stamp, stamp);
  assert.equal(till.clock.highWater(), highWater);
  const pushed = hub.applyRemote(till.pendingChanges(1000).map((p) => p.change));
  assert.ok(pushed.rebased.length > 0, 'the hub rebases the stamps a day ahead');
});

test('a reboot since the writes keeps their stamps', (t) => {
  const { fast, open } = setup(t);
  let till = open();
  writeOffline(till, fast.pass);
  const stamp = till.get('orders', 'O-1')!._meta.stamp;
  till.close();
  fast.t.boot = 'boot-2';
  fast.t.mono = 3000; // a new boot: the monotonic clock restarted
  till = open();
  const r = till.adoptHubOffset(-DAY, { measuredAt: till.clock.timeBase() });
  assert.equal(r.skipped, 'rebooted');
  assert.equal(till.get('orders', 'O-1')!._meta.stamp, stamp);
});

test('stamps that left the till are never passed: later offline writes keep theirs', (t) => {
  const { hub, fast, open } = setup(t);
  let till = open();
  till.put('orders', 'O-1', { status: 'open', total: 1 });
  // Welcomed while its clock looked set by hand: the write keeps its stamp and is pushed.
  fast.t.wall += 10_000;
  assert.equal(till.adoptHubOffset(-DAY).skipped, 'clock-jumped');
  hub.applyRemote(till.pendingChanges(10).map((p) => p.change));
  till.ackPending(Number.MAX_SAFE_INTEGER);
  const highWater = till.clock.highWater();

  // The agent restarts (wall clock time again) and sells offline: these stamps cannot go below the pushed one.
  till.close();
  till = open();
  till.put('orders', 'O-2', { status: 'open', total: 2 });
  const stamp = till.get('orders', 'O-2')!._meta.stamp;
  assert.ok(stampFromString(stamp) > highWater);
  const r = till.adoptHubOffset(-DAY - 10_000, { measuredAt: till.clock.timeBase() });
  assert.equal(r.skipped, 'below-kept-stamps');
  assert.equal(till.get('orders', 'O-2')!._meta.stamp, stamp);
  assert.ok(till.clock.highWater() >= stampFromString(stamp));
});

test('a change from the hub ends the run: writes before it keep their stamps', (t) => {
  const { hub, open } = setup(t);
  const till = open();
  till.put('orders', 'O-5', { status: 'open', total: 5 });
  hub.put('products', 'SKU-9', { name: 'Gift set', price: 30 });
  till.applyRemote([hub.changeFor('products', 'SKU-9')!], { rebase: false });
  const stamp = till.get('orders', 'O-5')!._meta.stamp;
  assert.equal(till.adoptHubOffset(-DAY).skipped, 'nothing-unsent');
  assert.equal(till.get('orders', 'O-5')!._meta.stamp, stamp);
});

test('a small offset moves nothing', (t) => {
  const { fast, open } = setup(t);
  const till = open();
  till.put('orders', 'O-1', { status: 'open', total: 1 });
  const stamp = till.get('orders', 'O-1')!._meta.stamp;
  fast.pass(100);
  assert.equal(till.adoptHubOffset(-250).skipped, 'small-offset');
  assert.equal(till.get('orders', 'O-1')!._meta.stamp, stamp);
});

test('the move is all or nothing: a failure leaves registers, outbox and clock as they were', (t) => {
  const { fast, open, dir } = setup(t);
  let till = open();
  till.put('orders', 'O-1', { status: 'open', note: 'x'.repeat(2000), total: 5 });
  till.increment('inventory', 'SKU-1', { stock: -1 });
  const before = till.pendingChanges(100);
  const highWater = till.clock.highWater();
  till.close();
  // Reopened with a smaller object limit, rewriting O-1 fails inside the move's transaction.
  till = openReplica(t, dir, 'till-fast', { time: fast.source, role: 'pos', maxObjectBytes: 500 });
  assert.throws(() => till.adoptHubOffset(-DAY), { code: 'SYNC_ERR_PAYLOAD_TOO_LARGE' });
  assert.deepEqual(till.pendingChanges(100), before);
  assert.equal(till.clock.highWater(), highWater);
  assert.equal(till.clock.hasHubTime(), false);
  assert.throws(
    () => till.transaction(() => till.adoptHubOffset(-DAY)),
    (e: { code?: string }) => e.code === 'SYNC_ERR_PROTOCOL',
  );
  // The run is still open: with the usual limit the move succeeds.
  till.close();
  till = open();
  const r = till.adoptHubOffset(-DAY, { measuredAt: till.clock.timeBase() });
  assert.equal(r.objects, 2);
  const inc = till.pendingChanges(100).find((p) => p.change.id === 'SKU-1')!.change.incs![0];
  assert.equal(inc.op, `till-fast/${stampToString(inc.ver.s)}`);
  assert.ok(unpackStamp(inc.ver.s).ms < REAL + 60_000);
});
