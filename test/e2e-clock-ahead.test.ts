/**
 * End to end: a till whose wall clock is a day ahead (run under libfaketime, see helpers/faketime.ts) never
 * wins over writes other tills really made later, whether it wrote before it ever met the hub (its
 * offline writes are placed at hub time before they are pushed) or after.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { LIBFAKETIME, shiftedClock } from './helpers/faketime.js';
import {
  type AgentProc,
  enrol,
  type HubProc,
  type JsonBody,
  startAgent,
  startHub,
  tempDir,
  waitFor,
  waitSynced,
} from './helpers/procs.js';
import { startProxy } from './helpers/proxy.js';

const DAY = 86_400_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function ok(p: Promise<{ status: number; body: JsonBody }>) {
  const r = await p;
  assert.ok(r.status < 300, `${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** Milliseconds part of an object's `_meta.stamp`. */
const stampMs = (o: JsonBody) => Number(BigInt(`0x${o._meta.stamp}`) >> 16n);

async function everywhere(
  what: string,
  nodes: (AgentProc | HubProc)[],
  path: string,
  check: (o: JsonBody) => boolean,
) {
  await waitFor(what, async () => {
    const all = await Promise.all(nodes.map((n) => n.http('GET', path)));
    return all.every((r) => r.status === 200 && check(r.body));
  });
}

test('a till a day ahead that writes before it ever met the hub does not win over later writes', async (t) => {
  t.diagnostic(LIBFAKETIME ? `libfaketime: ${LIBFAKETIME}` : 'no libfaketime: Date.now() shifted instead');
  const dir = tempDir(t);
  const hubDir = join(dir, 'hub');
  const fastToken = enrol(hubDir, 'till-fast');
  const goodToken = enrol(hubDir, 'till-good');
  const hub = await startHub(t, hubDir);
  await ok(hub.http('POST', '/v1/collections/inventory/stocktake/SKU-1', { stock: 10 }));
  const proxy = await startProxy(t, hub.mqttPort);
  proxy.cut(); // the fast till has never reached the hub
  const fastOpts = {
    hubUrl: proxy.url,
    deviceId: 'till-fast',
    token: fastToken,
    dataDir: join(dir, 'fast'),
    ...shiftedClock(DAY),
  };
  let fast = await startAgent(t, fastOpts);
  const good = await startAgent(t, {
    hubUrl: hub.url,
    deviceId: 'till-good',
    token: goodToken,
    dataDir: join(dir, 'good'),
  });
  await waitSynced(good);
  await sleep(1000); // the fast till's sale comes clearly after the shelf count

  // Offline, a day ahead by its own clock: an order, another order nobody else touches, a sale.
  const wroteAt = Date.now();
  const o1 = await ok(
    fast.http('PUT', '/v1/collections/orders/objects/O-1', { status: 'open', note: 'fast till', total: 5 }),
  );
  assert.ok(stampMs(o1) > wroteAt + DAY - 60_000, `stamped a day ahead: ${o1._meta.stamp}`);
  await ok(fast.http('PUT', '/v1/collections/orders/objects/O-9', { status: 'open', note: 'only fast' }));
  await ok(fast.http('POST', '/v1/collections/inventory/increment/SKU-1', { stock: -1 }));

  // The agent is restarted while still offline (same boot, clock untouched): its record survives.
  assert.equal(await fast.stop(), 0);
  fast = await startAgent(t, fastOpts);
  await sleep(1000);

  // Later in real time, a till with a good clock rewrites the note.
  await ok(good.http('PATCH', '/v1/collections/orders/objects/O-1', { note: 'good till, later' }));
  await waitSynced(good);
  await waitFor(
    'hub has the good till note',
    async () =>
      (await hub.http('GET', '/v1/collections/orders/objects/O-1')).body.note === 'good till, later',
  );
  await sleep(2000);

  // The fast till reaches the hub.
  proxy.restore();
  await waitSynced(fast);
  const connectedAt = Date.now();
  const status = await fast.status();
  assert.ok(Math.abs(status.clockOffsetMs + DAY) < 60_000, JSON.stringify(status));

  // The later write wins on the hub and on both tills; the fast till's other fields stay.
  await everywhere(
    'the later note everywhere',
    [hub, fast, good],
    '/v1/collections/orders/objects/O-1',
    (o) => o.note === 'good till, later' && o.total === 5,
  );
  // Its writes carry the time they were really made, not the time the hub received them.
  const o9 = await ok(hub.http('GET', '/v1/collections/orders/objects/O-9'));
  assert.ok(
    Math.abs(stampMs(o9) - wroteAt) < 1500,
    `O-9 stamped ${stampMs(o9) - wroteAt} ms from when it was written (${connectedAt - wroteAt} ms before it arrived)`,
  );
  // The sale after the shelf count counts once, everywhere.
  await everywhere(
    'stock 9 everywhere',
    [hub, fast, good],
    '/v1/collections/inventory/objects/SKU-1',
    (o) => {
      return o.stock === 9;
    },
  );
  // The fast till now stamps at hub time: its next write wins over the good till's earlier one.
  const next = await ok(
    fast.http('PATCH', '/v1/collections/orders/objects/O-1', { note: 'fast till, last' }),
  );
  assert.ok(Math.abs(stampMs(next) - Date.now()) < 60_000, `stamped at hub time: ${next._meta.stamp}`);
  await everywhere(
    'the fast till last note everywhere',
    [hub, fast, good],
    '/v1/collections/orders/objects/O-1',
    (o) => o.note === 'fast till, last',
  );
  // Its clock is still wrong: the hub says so.
  const devices = await ok(hub.http('GET', '/v1/devices'));
  const info = devices.devices.find((d: { id: string }) => d.id === 'till-fast');
  assert.equal(info.clockFlagged, true, JSON.stringify(info));
  assert.ok(info.clockSkewMs > DAY - 60_000, JSON.stringify(info));
});

test('a till a day ahead whose first write comes after it met the hub does not win over later writes', async (t) => {
  const dir = tempDir(t);
  const hubDir = join(dir, 'hub');
  const fastToken = enrol(hubDir, 'till-fast');
  const goodToken = enrol(hubDir, 'till-good');
  const hub = await startHub(t, hubDir);
  const fast = await startAgent(t, {
    hubUrl: hub.url,
    deviceId: 'till-fast',
    token: fastToken,
    dataDir: join(dir, 'fast'),
    ...shiftedClock(DAY),
  });
  const good = await startAgent(t, {
    hubUrl: hub.url,
    deviceId: 'till-good',
    token: goodToken,
    dataDir: join(dir, 'good'),
  });
  await Promise.all([waitSynced(fast), waitSynced(good)]);

  const o2 = await ok(
    fast.http('PUT', '/v1/collections/orders/objects/O-2', { status: 'open', note: 'fast till', total: 3 }),
  );
  assert.ok(Math.abs(stampMs(o2) - Date.now()) < 60_000, `stamped at hub time: ${o2._meta.stamp}`);
  await waitSynced(fast);
  await everywhere('O-2 everywhere', [hub, good], '/v1/collections/orders/objects/O-2', (o) => o.total === 3);
  await sleep(500);
  await ok(good.http('PATCH', '/v1/collections/orders/objects/O-2', { note: 'good till, later' }));
  await everywhere(
    'the later note everywhere',
    [hub, fast, good],
    '/v1/collections/orders/objects/O-2',
    (o) => o.note === 'good till, later' && o.total === 3,
  );
});
