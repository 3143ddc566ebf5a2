/**
 * The hub's sync server with a real broker and real sockets: what a hostile terminal cannot do with a
 * well-formed push, and how tombstone collection and the resync keep deleted objects deleted.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { createAgent } from '@backroom/device-agent';
import {
  type Change,
  DEFAULT_MAX_MESSAGE_BYTES,
  decodeMessage,
  encodeMessage,
  packStamp,
  ReplicaStore,
  type SyncMessage,
  stampToString,
} from '@backroom/sync-core';
import { loadSchemaFile } from '../src/sync/attach.js';
import { connectDevice, startSyncHub } from './helpers.js';

/** A hub with the sync server (helpers.startSyncHub), with its server and replica at hand. */
async function syncHub(t: import('node:test').TestContext, overrides: Record<string, unknown> = {}) {
  const { hub, attachment, dir } = await startSyncHub(t, overrides);
  return { hub, dir, server: attachment.server, store: attachment.server.store };
}

/** A raw MQTT device speaking the sync protocol by hand. */
async function rawDevice(
  t: import('node:test').TestContext,
  hub: Awaited<ReturnType<typeof syncHub>>['hub'],
  id: string,
  { greet = true } = {},
) {
  const { credential } = await hub.registry.add({ id, role: 'pos' });
  const client = await connectDevice(t, hub, id, credential, { clean: false });
  const received: SyncMessage[] = [];
  const waiters: ((m: SyncMessage) => void)[] = [];
  client.on('message', (_topic, payload) => {
    const m = decodeMessage(payload, { maxBytes: DEFAULT_MAX_MESSAGE_BYTES });
    received.push(m);
    for (const w of waiters.splice(0)) w(m);
  });
  await client.subscribeAsync(`backroom/v1/sync/${id}/down`, { qos: 1 });
  const send = (m: SyncMessage) =>
    client.publishAsync(`backroom/v1/sync/${id}/up`, Buffer.from(encodeMessage(m)), { qos: 1 });
  const next = async <K extends SyncMessage['k']>(k: K): Promise<Extract<SyncMessage, { k: K }>> => {
    for (;;) {
      const found = received.findIndex((m) => m.k === k);
      if (found >= 0) return received.splice(found, 1)[0] as Extract<SyncMessage, { k: K }>;
      await new Promise<SyncMessage>((resolve) => waiters.push(resolve));
    }
  };
  const sayHello = (cursor = '0', deviceId = id) =>
    send({ k: 'hello', deviceId, clientVars: {}, cursor, wallTime: Date.now(), agentVersion: 'test' });
  if (greet) {
    await sayHello();
    await next('welcome');
  }
  return { send, next, hello: sayHello };
}

const ver = (n: string, p = 0) => ({ p, s: packStamp(Date.now(), 1), n });

test('a hostile terminal cannot pose as the hub, out-rank a closed order, or touch another till’s sale', async (t) => {
  const { hub, store } = await syncHub(t);
  store.put('orders', 'O-1', { status: 'closed', total: 10 });
  store.put('transactions', 'T-good', { terminalId: 'till-good', total: 5 });
  const evil = await rawDevice(t, hub, 'till-evil');
  const attempts: [string, Change][] = [
    [
      'signed as the hub',
      { collection: 'orders', id: 'O-1', fields: { note: { v: 'x', ver: ver('@hub', 2) } } },
    ],
    [
      'reopen with a forged rank',
      { collection: 'orders', id: 'O-1', fields: { status: { v: 'open', ver: ver('till-evil', 2) } } },
    ],
    [
      'delete another till’s sale',
      { collection: 'transactions', id: 'T-good', exists: { v: false, ver: ver('till-evil') } },
    ],
    [
      'sale in another till’s name',
      {
        collection: 'transactions',
        id: 'T-forged',
        exists: { v: true, ver: ver('till-evil') },
        fields: { terminalId: { v: 'till-good', ver: ver('till-evil') } },
      },
    ],
    [
      'write the catalogue',
      { collection: 'products', id: 'SKU-1', exists: { v: true, ver: ver('till-evil') } },
    ],
    [
      'increment under another id',
      {
        collection: 'inventory',
        id: 'SKU-1',
        exists: { v: true, ver: ver('till-evil') },
        incs: [{ field: 'stock', delta: -100, ver: ver('till-evil'), op: `till-good/${stampToString(1n)}` }],
      },
    ],
  ];
  for (const [what, change] of attempts) {
    const batchId = `b-${what}`;
    await evil.send({ k: 'push', batchId, changes: [change] });
    const r = await evil.next('reject');
    assert.equal(r.batchId, batchId, what);
    assert.equal(r.code, 'SYNC_ERR_FORBIDDEN', `${what}: ${r.message}`);
    assert.deepEqual(r.object, { collection: change.collection, id: change.id }, what);
  }
  assert.equal(store.get('orders', 'O-1')!.status, 'closed');
  assert.equal(store.get('orders', 'O-1')!.note, null);
  assert.equal(store.get('transactions', 'T-good')!.total, 5);
  assert.equal(store.get('transactions', 'T-forged'), undefined);
  assert.equal(store.get('products', 'SKU-1'), undefined);
  assert.equal(store.get('inventory', 'SKU-1'), undefined);
  // A well-formed write of its own still goes through.
  await evil.send({
    k: 'push',
    batchId: 'ok',
    changes: [{ collection: 'orders', id: 'O-1', fields: { note: { v: 'mine', ver: ver('till-evil', 2) } } }],
  });
  assert.equal((await evil.next('ack')).batchId, 'ok');
  assert.equal(store.get('orders', 'O-1')!.note, 'mine');
});

test('edits of an order the hub never had are refused as not found, not as "deleted while away"', async (t) => {
  const { hub, store } = await syncHub(t);
  const till = await rawDevice(t, hub, 'till-1');
  await till.send({
    k: 'push',
    batchId: 'b1',
    changes: [{ collection: 'orders', id: 'O-never', fields: { note: { v: 'hi', ver: ver('till-1') } } }],
  });
  const r = await till.next('reject');
  assert.equal(r.code, 'SYNC_ERR_NOT_FOUND', r.message);
  assert.match(r.message, /does not exist on the hub/);
  assert.doesNotMatch(r.message, /deleted/);
  assert.deepEqual(r.object, { collection: 'orders', id: 'O-never' });
  assert.equal(store.get('orders', 'O-never', { includeDeleted: true }), undefined);
});

test('a terminal away longer than the tombstone retention is resynced and cannot resurrect a deleted order', async (t) => {
  const { hub, dir, server, store } = await syncHub(t, { tombstoneRetentionMs: 200 });
  const { credential } = await hub.registry.add({ id: 'till-1', role: 'pos' });
  const agentDir = join(dir, 'till-1');
  const start = () =>
    createAgent({
      hubUrl: `mqtt://127.0.0.1:${hub.ports.mqtt}`,
      deviceId: 'till-1',
      token: credential,
      dataDir: agentDir,
      apiPort: 0,
      logLevel: 'silent',
      reconnectMinMs: 20,
      reconnectMaxMs: 100,
    });
  store.put('orders', 'O-1', { status: 'open', total: 10 });
  store.put('orders', 'O-2', { status: 'open', total: 20 });
  // A catalogue larger than one page, so the resync below takes several pages.
  store.transaction(() => {
    for (let i = 0; i < 2100; i++) store.put('products', `SKU-${i}`, { name: `item ${i}`, price: 1 });
  });
  let agent = await start();
  await agent.idle();
  assert.equal(agent.store.get('orders', 'O-1')!.total, 10);
  // The till's own order, synced long ago: after the resync it must come back to it (a later page).
  agent.store.put('orders', 'O-mine', { status: 'open', total: 7 });
  await agent.idle();
  assert.equal(store.get('orders', 'O-mine')!.total, 7);
  await agent.close();

  // While the till is away: it edits O-1 offline (its replica file, as the agent would)...
  const offline = ReplicaStore.open({
    path: join(agentDir, 'replica.db'),
    schema: loadSchemaFile(hub.config.schemaFile),
    nodeId: 'till-1',
    role: 'pos',
  });
  offline.patch('orders', 'O-1', { note: 'edited offline' });
  offline.put('orders', 'O-new', { status: 'open', total: 1 });
  offline.close();
  // ...and the hub deletes O-1; once every active replica acknowledged, the tombstone is collected.
  store.delete('orders', 'O-1');
  store.put('orders', 'O-3', { status: 'open', total: 30 });
  await new Promise((r) => setTimeout(r, 300));
  // (The hub's own collection timer may have got there first: either way the tombstone is gone.)
  server.collectGarbage();
  assert.equal(store.get('orders', 'O-1', { includeDeleted: true }), undefined);
  assert.ok(store.tombstoneHorizon() > 0, 'a tombstone was collected');

  agent = await start();
  t.after(() => agent.close());
  await agent.idle();
  // The offline edit of the deleted order is set aside, not applied: O-1 stays deleted everywhere.
  assert.equal(store.get('orders', 'O-1', { includeDeleted: true }), undefined);
  assert.equal(agent.store.get('orders', 'O-1'), undefined);
  assert.deepEqual(
    agent.store.quarantined().map((q) => [q.id, q.code]),
    [['O-1', 'SYNC_ERR_GONE']],
  );
  // Its other offline work arrived, and it has everything the hub has.
  assert.equal(store.get('orders', 'O-new')!.total, 1);
  assert.equal(agent.store.get('orders', 'O-3')!.total, 30);
  assert.equal(agent.store.get('orders', 'O-mine')!.total, 7);
  assert.equal(agent.store.count('products'), 2100);
  // (The set-aside edit stays in the till's file as a hidden row, so compare what both show.)
  const live = (s: ReplicaStore) => s.query('orders', { sort: ['id'] }).objects;
  assert.deepEqual(live(agent.store), live(store));
});

test('requests out of order or out of range get a reject naming the problem, and the session carries on', async (t) => {
  const { hub } = await syncHub(t);
  const till = await rawDevice(t, hub, 'till-1', { greet: false });
  // Every connection starts with a hello: a push or pull before it is refused, the push by its batch id.
  await till.send({ k: 'push', batchId: 'early', changes: [] });
  let r = await till.next('reject');
  assert.deepEqual([r.code, r.batchId, r.message], ['SYNC_ERR_PROTOCOL', 'early', 'push before hello']);
  await till.send({ k: 'pull', since: '0' });
  r = await till.next('reject');
  assert.deepEqual([r.code, r.batchId, r.message], ['SYNC_ERR_PROTOCOL', undefined, 'pull before hello']);
  // A hello in another device's name is refused; no welcome.
  await till.hello('0', 'till-2');
  r = await till.next('reject');
  assert.deepEqual([r.code, r.message], ['SYNC_ERR_PROTOCOL', 'hello names another device']);
  // A cursor beyond 2^53 − 1 is malformed, in a hello as in a pull.
  await till.hello('9007199254740993');
  r = await till.next('reject');
  assert.deepEqual([r.code, r.message], ['SYNC_ERR_MESSAGE_MALFORMED', 'cursor out of range']);
  await till.hello();
  const welcome = await till.next('welcome');
  assert.equal(welcome.resync, false);
  await till.send({ k: 'pull', since: '9007199254740993' });
  r = await till.next('reject');
  assert.deepEqual([r.code, r.message], ['SYNC_ERR_MESSAGE_MALFORMED', 'cursor out of range']);
  // A kind only the hub sends is refused; a time probe is answered with the hub's clock.
  await till.send({ k: 'ack', batchId: 'x', rebased: [], state: [] });
  r = await till.next('reject');
  assert.deepEqual([r.code, r.message], ['SYNC_ERR_PROTOCOL', 'a device does not send "ack" messages']);
  const before = Date.now();
  await till.send({ k: 'time', t0: 42 });
  const time = await till.next('time');
  assert.equal(time.t0, 42);
  assert.ok(time.t1 !== undefined && time.t1 >= before && time.t1 <= Date.now());
  // After all that the session still syncs.
  await till.send({
    k: 'push',
    batchId: 'ok',
    changes: [
      {
        collection: 'orders',
        id: 'O-1',
        exists: { v: true, ver: ver('till-1') },
        fields: { status: { v: 'open', ver: ver('till-1') } },
      },
    ],
  });
  assert.equal((await till.next('ack')).batchId, 'ok');
});

test('a push the store refuses (counter overflow, an increment past maxDelta) is a reject naming the object, and nothing of it is applied', async (t) => {
  const { hub, store } = await syncHub(t);
  const MAX = 2 ** 53 - 1;
  store.setCounter('inventory', 'SKU-1', { stock: MAX - 1 });
  store.setCounter('inventory', 'SKU-2', { stock: 5 });
  const till = await rawDevice(t, hub, 'till-1');
  const inc = (id: string, delta: number, n: number): Change => {
    const v = ver('till-1');
    return {
      collection: 'inventory',
      id,
      incs: [{ field: 'stock', delta, ver: v, op: `till-1/${stampToString(v.s + BigInt(n))}` }],
    };
  };
  const cases: [string, Change[], string, string][] = [
    ['overflow', [inc('SKU-2', -1, 1), inc('SKU-1', 5, 2)], 'SYNC_ERR_COUNTER_OVERFLOW', 'SKU-1'],
    ['past maxDelta', [inc('SKU-2', -50_000, 3)], 'SYNC_ERR_DELTA_TOO_LARGE', 'SKU-2'],
  ];
  for (const [what, changes, code, id] of cases) {
    await till.send({ k: 'push', batchId: what, changes });
    const r = await till.next('reject');
    assert.deepEqual([r.code, r.batchId, r.object], [code, what, { collection: 'inventory', id }], r.message);
  }
  assert.equal(store.get('inventory', 'SKU-1')!.stock, MAX - 1);
  assert.equal(store.get('inventory', 'SKU-2')!.stock, 5);
});
