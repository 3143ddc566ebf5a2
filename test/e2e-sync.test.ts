/**
 * End to end: a hub and three POS agents as real processes on real sockets. Terminals go offline (their
 * network is cut while they keep selling), are restarted mid-sync, one stays away for a while; after
 * healing every terminal and the hub hold identical data and the counters are exact.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { JsonBody } from './helpers/procs.js';
import {
  type AgentProc,
  enrol,
  type HubProc,
  startAgent,
  startHub,
  tempDir,
  waitFor,
  waitSynced,
} from './helpers/procs.js';
import { startProxy } from './helpers/proxy.js';

/** Every object of the shared collections, as a terminal or the hub sees it, keyed by collection/id. */
async function shared(
  get: (m: string, p: string, b?: unknown) => Promise<{ status: number; body: JsonBody }>,
) {
  const out: Record<string, unknown> = {};
  for (const c of ['products', 'inventory', 'orders']) {
    const r = await get('POST', `/v1/collections/${c}/query`, { limit: 1000, sort: ['id'] });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    for (const o of r.body.objects) out[`${c}/${o.id}`] = o;
  }
  return out;
}

async function transactionsOf(agent: AgentProc | HubProc, terminalId?: string) {
  const r = await agent.http('POST', '/v1/collections/transactions/query', {
    limit: 1000,
    sort: ['id'],
    ...(terminalId ? { filter: `terminalId == "${terminalId}"` } : {}),
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.objects as { id: string; terminalId: string; total: number }[];
}

test('three terminals sell offline, restart mid-sync and converge with the hub; stock is exact', async (t) => {
  const dir = tempDir(t);
  const hubDir = join(dir, 'hub');
  const creds = ['till-1', 'till-2', 'till-3'].map((id) => enrol(hubDir, id));
  const hub = await startHub(t, hubDir);
  const ok = async (p: Promise<{ status: number; body: JsonBody }>) => {
    const r = await p;
    assert.ok(r.status < 300, `${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  for (let i = 1; i <= 5; i++) {
    await ok(
      hub.http('PUT', `/v1/collections/products/objects/SKU-${i}`, { name: `Item ${i}`, price: i * 1.5 }),
    );
  }
  await ok(hub.http('POST', '/v1/collections/inventory/stocktake/SKU-1', { stock: 2 }));

  const proxies = await Promise.all([1, 2, 3].map(() => startProxy(t, hub.mqttPort)));
  const agentOpts = (i: number) => ({
    hubUrl: proxies[i].url,
    deviceId: `till-${i + 1}`,
    token: creds[i],
    dataDir: join(dir, `till-${i + 1}`),
    // fast reconnects keep the test short
    env: { BACKROOM_RECONNECT_MIN_MS: '50', BACKROOM_RECONNECT_MAX_MS: '300' },
  });
  const agents = await Promise.all([0, 1, 2].map((i) => startAgent(t, agentOpts(i))));
  for (const a of agents) {
    await waitFor(
      `${a.deviceId} has the catalogue`,
      async () => (await a.http('GET', '/v1/collections/products/objects/SKU-5')).status === 200,
    );
  }
  await waitFor(
    'stock 2 on till-2',
    async () => (await agents[1].http('GET', '/v1/collections/inventory/objects/SKU-1')).body.stock === 2,
  );

  // Till 3 goes away for a while (process stopped); tills 1 and 2 lose the network but keep selling.
  assert.equal(await agents[2].stop(), 0);
  proxies[0].cut();
  proxies[1].cut();
  await ok(agents[0].http('POST', '/v1/collections/inventory/increment/SKU-1', { stock: -2 }));
  await ok(agents[1].http('POST', '/v1/collections/inventory/increment/SKU-1', { stock: -1 }));
  for (let n = 0; n < 20; n++) {
    for (const [i, a] of agents.slice(0, 2).entries()) {
      await ok(
        a.http('PUT', `/v1/collections/transactions/objects/T-${i + 1}-${n}`, {
          terminalId: a.deviceId,
          kind: 'sale',
          total: n + 0.5,
        }),
      );
      await ok(a.http('PUT', `/v1/collections/orders/objects/O-${i + 1}-${n}`, { status: 'open', total: n }));
    }
  }
  assert.equal((await agents[0].http('GET', '/v1/collections/inventory/objects/SKU-1')).body.stock, 0);
  assert.ok((await agents[0].status()).pendingUp > 0);
  assert.equal((await agents[0].status()).connected, false);

  // Till 2 comes back and is stopped again while it is pushing; then restarted.
  proxies[1].restore();
  await waitFor('till-2 reconnected', async () => (await agents[1].status()).connected, 20_000);
  assert.equal(await agents[1].stop(), 0);
  agents[1] = await startAgent(t, agentOpts(1));
  proxies[0].restore();
  await Promise.all(agents.slice(0, 2).map((a) => waitSynced(a)));

  // Till 3 returns with writes of its own made... after everyone else.
  agents[2] = await startAgent(t, agentOpts(2));
  await waitSynced(agents[2]);
  await ok(agents[2].http('PATCH', '/v1/collections/orders/objects/O-1-3', { note: 'from till 3' }));
  await waitSynced(agents[2]);

  // Healed: every terminal and the hub hold identical shared data; stock is 2 - 2 - 1 = -1 everywhere.
  const want = await waitFor('hub has every write', async () => {
    const s = await shared(hub.http);
    return (s['orders/O-1-3'] as { note?: string } | undefined)?.note === 'from till 3' &&
      Object.keys(s).length === 46
      ? s
      : undefined;
  });
  assert.equal((want['inventory/SKU-1'] as { stock: number }).stock, -1);
  for (const a of agents) {
    await waitFor(`${a.deviceId} identical to the hub`, async () => {
      const s = await shared(a.http);
      assert.deepEqual(s, want);
      return true;
    });
  }
  // Each terminal sees exactly its own transactions; the hub has all 40, each once.
  assert.equal((await transactionsOf(hub)).length, 40);
  assert.deepEqual(
    (await transactionsOf(agents[0])).map((x) => x.id),
    (await transactionsOf(hub, 'till-1')).map((x) => x.id),
  );
  assert.equal((await transactionsOf(agents[1])).length, 20);
  assert.equal((await transactionsOf(agents[2])).length, 0);
});
