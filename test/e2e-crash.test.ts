/**
 * End to end: `kill -9` of the hub while two terminals push sales. After the hub restarts on the same data
 * directory, nothing acknowledged is lost and nothing is applied twice: every sale is there once and the
 * stock counter is exact.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { enrol, startAgent, startHub, tempDir, waitFor, waitSynced } from './helpers/procs.js';
import { startProxy } from './helpers/proxy.js';

const SALES = 150;

test('kill -9 of the hub while terminals push: no sale lost, none counted twice', async (t) => {
  const dir = tempDir(t);
  const hubDir = join(dir, 'hub');
  const tokens = ['till-1', 'till-2'].map((id) => enrol(hubDir, id));
  let hub = await startHub(t, hubDir);
  const r = await hub.http('POST', '/v1/collections/inventory/stocktake/SKU-1', { stock: 1000 });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const proxies = await Promise.all(tokens.map(() => startProxy(t, hub.mqttPort)));
  const agents = await Promise.all(
    tokens.map((token, i) =>
      startAgent(t, {
        hubUrl: proxies[i].url,
        deviceId: `till-${i + 1}`,
        token,
        dataDir: join(dir, `till-${i + 1}`),
      }),
    ),
  );
  await Promise.all(
    agents.map((a) =>
      waitFor(
        `${a.deviceId} has the stock`,
        async () => (await a.http('GET', '/v1/collections/inventory/objects/SKU-1')).body.stock === 1000,
      ),
    ),
  );

  let killed = false;
  const sell = async (i: number) => {
    const a = agents[i];
    for (let n = 0; n < SALES; n++) {
      const put = await a.http('PUT', `/v1/collections/transactions/objects/S-${i + 1}-${n}`, {
        terminalId: a.deviceId,
        kind: 'sale',
        total: 2.5,
      });
      assert.equal(put.status, 200);
      const inc = await a.http('POST', '/v1/collections/inventory/increment/SKU-1', { stock: -1 });
      assert.equal(inc.status, 200);
      if (i === 0 && n === Math.floor(SALES / 3) && !killed) {
        killed = true;
        await hub.kill(); // kill -9 in the middle of the pushes
        hub = await startHub(t, hubDir);
        for (const p of proxies) p.retarget(hub.mqttPort);
      }
    }
  };
  await Promise.all([sell(0), sell(1)]);
  assert.ok(killed);
  await Promise.all(agents.map((a) => waitSynced(a, 30_000)));

  await waitFor('every sale at the hub', async () => {
    const q = await hub.http('POST', '/v1/collections/transactions/query', { limit: 1000 });
    return q.body.objects.length === 2 * SALES;
  });
  const q = await hub.http('POST', '/v1/collections/transactions/query', { limit: 1000, sort: ['id'] });
  const ids = q.body.objects.map((o: { id: string }) => o.id);
  assert.equal(new Set(ids).size, 2 * SALES);
  const stock = await hub.http('GET', '/v1/collections/inventory/objects/SKU-1');
  assert.equal(stock.body.stock, 1000 - 2 * SALES, 'each sale decremented the stock exactly once');
  await waitFor('terminals agree on the stock', async () => {
    const s = await Promise.all(agents.map((a) => a.http('GET', '/v1/collections/inventory/objects/SKU-1')));
    return s.every((x) => x.body.stock === 1000 - 2 * SALES);
  });
});
