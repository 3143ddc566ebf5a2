/**
 * End to end: the conflict rules as a store sees them, with real hub and agent processes.
 * - a terminal whose clock is a day ahead cannot win over later writes from correct terminals;
 * - a closed order stays closed when an older edit arrives later from an offline terminal;
 * - a terminal sees only what its sync filter gives it, and loses an object that stops matching.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { JsonBody } from './helpers/procs.js';
import { enrol, startAgent, startHub, tempDir, waitFor, waitSynced } from './helpers/procs.js';
import { startProxy } from './helpers/proxy.js';

const DAY = 86_400_000;

async function ok(p: Promise<{ status: number; body: JsonBody }>) {
  const r = await p;
  assert.ok(r.status < 300, `${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

test('a terminal with its clock a day ahead cannot win over later writes from correct terminals', async (t) => {
  const dir = tempDir(t);
  const hubDir = join(dir, 'hub');
  const fastToken = enrol(hubDir, 'till-fast');
  const goodToken = enrol(hubDir, 'till-good');
  const hub = await startHub(t, hubDir);
  const proxy = await startProxy(t, hub.mqttPort);
  proxy.cut(); // the fast terminal starts offline: its first writes carry stamps a day ahead
  const fast = await startAgent(t, {
    hubUrl: proxy.url,
    deviceId: 'till-fast',
    token: fastToken,
    dataDir: join(dir, 'fast'),
    clockSkewMs: DAY,
  });
  const good = await startAgent(t, {
    hubUrl: hub.url,
    deviceId: 'till-good',
    token: goodToken,
    dataDir: join(dir, 'good'),
  });
  await ok(
    fast.http('PUT', '/v1/collections/orders/objects/O-1', {
      status: 'open',
      note: 'written by the fast till',
      total: 5,
    }),
  );
  proxy.restore();
  await waitSynced(fast);
  await waitFor(
    'good till has O-1',
    async () => (await good.http('GET', '/v1/collections/orders/objects/O-1')).status === 200,
  );
  const atHub = await ok(hub.http('GET', '/v1/collections/orders/objects/O-1'));
  const hubStamp = BigInt(`0x${atHub._meta.stamp}`) >> 16n;
  assert.ok(Math.abs(Number(hubStamp) - Date.now()) < 60_000, 'the hub re-stamped the write to its own time');

  // A correct terminal edits the order afterwards: its write is later, so it wins everywhere.
  await ok(good.http('PATCH', '/v1/collections/orders/objects/O-1', { note: 'corrected at the good till' }));
  await waitSynced(good);
  await waitFor(
    'hub has the correction',
    async () =>
      (await hub.http('GET', '/v1/collections/orders/objects/O-1')).body.note ===
      'corrected at the good till',
  );
  await waitFor(
    'fast till has the correction',
    async () =>
      (await fast.http('GET', '/v1/collections/orders/objects/O-1')).body.note ===
      'corrected at the good till',
  );

  // Its writes after connecting are stamped at hub time (its offline write, never pushed before, was
  // placed at hub time too, so its clock came down): the later write at the good till still wins.
  await ok(fast.http('PATCH', '/v1/collections/orders/objects/O-1', { total: 6 }));
  await waitSynced(fast);
  await ok(good.http('PATCH', '/v1/collections/orders/objects/O-1', { total: 7 }));
  await waitFor('total 7 everywhere', async () => {
    const all = await Promise.all(
      [hub, fast, good].map((x) => x.http('GET', '/v1/collections/orders/objects/O-1')),
    );
    return all.every((r) => r.body.total === 7);
  });
  const devices = await ok(hub.http('GET', '/v1/devices'));
  const fastInfo = devices.devices.find((d: { id: string }) => d.id === 'till-fast');
  assert.equal(fastInfo.clockFlagged, true, JSON.stringify(fastInfo));
  assert.ok(fastInfo.clockSkewMs > DAY - 120_000, JSON.stringify(fastInfo));
  const goodInfo = devices.devices.find((d: { id: string }) => d.id === 'till-good');
  assert.equal(goodInfo.clockFlagged, false);
});

test('a closed order stays closed when an older edit arrives later from an offline terminal', async (t) => {
  const dir = tempDir(t);
  const hubDir = join(dir, 'hub');
  const aToken = enrol(hubDir, 'till-a');
  const bToken = enrol(hubDir, 'till-b');
  const hub = await startHub(t, hubDir);
  const proxy = await startProxy(t, hub.mqttPort);
  const a = await startAgent(t, {
    hubUrl: proxy.url,
    deviceId: 'till-a',
    token: aToken,
    dataDir: join(dir, 'a'),
  });
  const b = await startAgent(t, {
    hubUrl: hub.url,
    deviceId: 'till-b',
    token: bToken,
    dataDir: join(dir, 'b'),
  });
  await ok(hub.http('PUT', '/v1/collections/orders/objects/O-7', { status: 'open', total: 42 }));
  await waitFor('both tills have O-7', async () => {
    const r = await Promise.all([a, b].map((x) => x.http('GET', '/v1/collections/orders/objects/O-7')));
    return r.every((x) => x.status === 200);
  });
  proxy.cut();
  await ok(
    a.http('PATCH', '/v1/collections/orders/objects/O-7', { status: 'approved', note: 'approved offline' }),
  );
  await new Promise((r) => setTimeout(r, 20));
  await ok(b.http('PATCH', '/v1/collections/orders/objects/O-7', { status: 'closed' }));
  await waitFor(
    'hub closed O-7',
    async () => (await hub.http('GET', '/v1/collections/orders/objects/O-7')).body.status === 'closed',
  );
  // Later still, the offline till edits the status again (a newer stamp, a lower rank).
  await ok(a.http('PATCH', '/v1/collections/orders/objects/O-7', { status: 'open' }));
  proxy.restore();
  await waitSynced(a);
  await waitFor('closed everywhere, note kept', async () => {
    const r = await Promise.all([hub, a, b].map((x) => x.http('GET', '/v1/collections/orders/objects/O-7')));
    return r.every((x) => x.body.status === 'closed' && x.body.note === 'approved offline');
  });
});

test('a terminal sees only what its filter gives it; an object that stops matching leaves it', async (t) => {
  const dir = tempDir(t);
  const hubDir = join(dir, 'hub');
  const aToken = enrol(hubDir, 'till-a');
  const bToken = enrol(hubDir, 'till-b');
  const hub = await startHub(t, hubDir);
  const a = await startAgent(t, {
    hubUrl: hub.url,
    deviceId: 'till-a',
    token: aToken,
    dataDir: join(dir, 'a'),
  });
  const b = await startAgent(t, {
    hubUrl: hub.url,
    deviceId: 'till-b',
    token: bToken,
    dataDir: join(dir, 'b'),
  });
  await ok(
    a.http('PUT', '/v1/collections/transactions/objects/T-1', {
      terminalId: 'till-a',
      kind: 'sale',
      total: 9.99,
    }),
  );
  await ok(
    b.http('PUT', '/v1/collections/transactions/objects/T-2', {
      terminalId: 'till-b',
      kind: 'sale',
      total: 1,
    }),
  );
  await Promise.all([waitSynced(a), waitSynced(b)]);
  await waitFor(
    'hub has both sales',
    async () => (await hub.http('GET', '/v1/collections/transactions/objects/T-2')).status === 200,
  );
  // A marker written at the hub after both sales: once it reached a till, so did anything else for it.
  await ok(hub.http('PUT', '/v1/collections/products/objects/MARK-1', { name: 'marker' }));
  await waitFor(
    'till-b has the marker',
    async () => (await b.http('GET', '/v1/collections/products/objects/MARK-1')).status === 200,
  );
  assert.equal((await b.http('GET', '/v1/collections/transactions/objects/T-1')).status, 404);
  assert.equal((await a.http('GET', '/v1/collections/transactions/objects/T-2')).status, 404);

  // The hub reassigns the sale to till B: it moves out of A and into B.
  await ok(hub.http('PATCH', '/v1/collections/transactions/objects/T-1', { terminalId: 'till-b' }));
  await waitFor(
    'T-1 arrives at till-b',
    async () => (await b.http('GET', '/v1/collections/transactions/objects/T-1')).body?.total === 9.99,
  );
  await waitFor(
    'T-1 leaves till-a',
    async () => (await a.http('GET', '/v1/collections/transactions/objects/T-1')).status === 404,
  );
  // And a terminal cannot write a sale into another terminal's name.
  await ok(
    a.http('PUT', '/v1/collections/transactions/objects/T-forged', {
      terminalId: 'till-b',
      kind: 'sale',
      total: 1000,
    }),
  );
  await waitFor('the forged sale is set aside', async () => (await a.status()).quarantined === 1);
  assert.equal((await hub.http('GET', '/v1/collections/transactions/objects/T-forged')).status, 404);
  // Set aside, not dropped: the terminal still has it, and its other sales still sync.
  assert.equal((await a.http('GET', '/v1/collections/transactions/objects/T-forged')).body.total, 1000);
  await ok(
    a.http('PUT', '/v1/collections/transactions/objects/T-3', {
      terminalId: 'till-a',
      kind: 'sale',
      total: 3,
    }),
  );
  await waitSynced(a);
  await waitFor(
    'T-3 at the hub',
    async () => (await hub.http('GET', '/v1/collections/transactions/objects/T-3')).status === 200,
  );
});

test('similarity search works on the terminal offline and on the hub after sync', async (t) => {
  const dir = tempDir(t);
  const hubDir = join(dir, 'hub');
  const token = enrol(hubDir, 'till-a');
  const hub = await startHub(t, hubDir);
  const proxy = await startProxy(t, hub.mqttPort);
  proxy.cut();
  const a = await startAgent(t, { hubUrl: proxy.url, deviceId: 'till-a', token, dataDir: join(dir, 'a') });
  const vec = (x: number) => Array.from({ length: 16 }, (_, i) => (i === x ? 1 : 0.01));
  for (let x = 0; x < 4; x++) {
    await ok(
      a.http('PUT', `/v1/collections/transactions/objects/T-${x}`, {
        terminalId: 'till-a',
        total: x,
        embedding: vec(x),
      }),
    );
  }
  const local = await ok(a.http('POST', '/v1/collections/transactions/search', { vector: vec(2), k: 2 }));
  assert.equal(local.results[0].id, 'T-2');
  assert.equal(local.results[0].object.total, 2);
  proxy.restore();
  await waitSynced(a);
  const atHub = await waitFor('hub search finds T-3', async () => {
    const r = await hub.http('POST', '/v1/collections/transactions/search', { vector: vec(3), k: 1 });
    return r.status === 200 && r.body.results[0]?.id === 'T-3' ? r.body : undefined;
  });
  assert.ok(atHub.results[0].distance < 0.01);
  const bad = await hub.http('POST', '/v1/collections/transactions/search', { vector: [1, 2], k: 1 });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, 'VEC_ERR_DIM_MISMATCH');
});
