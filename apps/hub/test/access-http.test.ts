/**
 * A device's token on the hub's HTTP API sees and writes exactly what the device may over MQTT (issue:
 * any valid JWT used to be an admin). Real hub, real sockets, the shipped retail schema.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { enrol, startSyncHub } from './helpers.js';

type Json = Record<string, unknown>;

async function call(port: number, method: string, path: string, auth: string, body?: unknown) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { authorization: auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const json = res.headers.get('content-type')?.includes('json');
  return { status: res.status, body: (json ? JSON.parse(text) : {}) as Json, text };
}

test("a terminal's ES256 JWT reads only its own sales, cannot reprice products nor list devices", async (t) => {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const { hub, attachment } = await startSyncHub(t, {
    jwt: { publicKeyPem: await exportSPKI(publicKey), audience: 'backroom-hub', issuer: 'chain-idp' },
  });
  const store = attachment.server.store;
  store.put('products', 'SKU-1', { name: 'Milk 1l', price: 0.99, category: 'dairy' });
  store.put('transactions', 'T-1', { terminalId: 'till-1', kind: 'sale', total: 12 });
  store.put('transactions', 'T-2', { terminalId: 'till-2', kind: 'sale', total: 880 });
  const jwt = await new SignJWT({ role: 'pos' })
    .setProtectedHeader({ alg: 'ES256' })
    .setSubject('till-1')
    .setAudience('backroom-hub')
    .setIssuer('chain-idp')
    .setExpirationTime('5m')
    .sign(privateKey);
  const auth = `Bearer ${jwt}`;
  const port = hub.ports.http;

  const other = await call(port, 'GET', '/v1/collections/transactions/objects/T-2', auth);
  assert.equal(other.status, 404, "another terminal's sale does not exist for this terminal");
  assert.equal((other.body.error as Json).code, 'SYNC_ERR_NOT_FOUND');
  assert.equal((await call(port, 'GET', '/v1/collections/transactions/objects/T-1', auth)).status, 200);

  const query = await call(port, 'POST', '/v1/collections/transactions/query', auth, { filter: 'total > 0' });
  assert.deepEqual(
    (query.body.objects as Json[]).map((o) => o.id),
    ['T-1'],
  );
  // A filter cannot talk its way out of the terminal's view (the two are ANDed as trees, not text).
  const sneaky = await call(port, 'POST', '/v1/collections/transactions/query', auth, {
    filter: 'total > 0 OR terminalId == "till-2"',
  });
  assert.deepEqual(
    (sneaky.body.objects as Json[]).map((o) => o.id),
    ['T-1'],
  );

  const reprice = await call(port, 'PATCH', '/v1/collections/products/objects/SKU-1', auth, { price: 0.01 });
  assert.equal(reprice.status, 403);
  assert.equal((reprice.body.error as Json).code, 'SYNC_ERR_FORBIDDEN');
  assert.equal(store.get('products', 'SKU-1')?.price, 0.99, 'the price is unchanged');

  const devices = await call(port, 'GET', '/v1/devices', auth);
  assert.equal(devices.status, 403);
  assert.equal((devices.body.error as Json).code, 'HUB_ERR_FORBIDDEN');

  const list = await call(port, 'GET', '/v1/collections', auth);
  const transactions = (list.body.collections as Json[]).find((c) => c.name === 'transactions');
  assert.equal(transactions?.count, undefined, "no count of other terminals' sales");
  const products = (list.body.collections as Json[]).find((c) => c.name === 'products');
  assert.equal(products?.count, 1);
});

test("a terminal's refused write leaves nothing behind; a sensor sees only its readings; a dashboard only reads", async (t) => {
  const { hub, attachment } = await startSyncHub(t);
  const store = attachment.server.store;
  const port = hub.ports.http;
  const till = `Bearer till-1:${await enrol(hub, 'till-1', 'pos')}`;
  const fridge = `Bearer fridge-1:${await enrol(hub, 'fridge-1', 'sensor')}`;
  const screen = `Bearer screen-1:${await enrol(hub, 'screen-1', 'dashboard')}`;
  store.put('transactions', 'T-1', { terminalId: 'till-1', kind: 'sale', total: 12 });

  // Moving its own sale to another terminal: refused after the write, inside its transaction.
  const move = await call(port, 'PATCH', '/v1/collections/transactions/objects/T-1', till, {
    terminalId: 'till-2',
    total: 0,
  });
  assert.equal(move.status, 403, move.text);
  assert.match(String((move.body.error as Json).message), /outside this device's sync filter/);
  const kept = store.get('transactions', 'T-1');
  assert.equal(kept?.terminalId, 'till-1');
  assert.equal(kept?.total, 12, 'no field of the refused write was kept');

  // Its own new sale is written, ranked with its role.
  const sale = await call(port, 'PUT', '/v1/collections/transactions/objects/T-5', till, {
    terminalId: 'till-1',
    kind: 'sale',
    total: 3.5,
  });
  assert.equal(sale.status, 200, sale.text);

  store.put('readings', 'R-1', { deviceId: 'fridge-1', metric: 'temperature', value: 3.9 });
  store.put('readings', 'R-2', { deviceId: 'fridge-2', metric: 'temperature', value: 4.4 });
  const readings = await call(port, 'POST', '/v1/collections/readings/query', fridge, {});
  assert.deepEqual(
    (readings.body.objects as Json[]).map((o) => o.id),
    ['R-1'],
  );
  const sales = await call(port, 'POST', '/v1/collections/transactions/query', fridge, {});
  assert.equal(sales.status, 403, 'a sensor never sees sales');
  const sensorList = await call(port, 'GET', '/v1/collections', fridge);
  assert.deepEqual(
    (sensorList.body.collections as Json[]).map((c) => c.name),
    ['readings'],
  );

  const all = await call(port, 'POST', '/v1/collections/transactions/query', screen, {});
  assert.deepEqual(
    (all.body.objects as Json[]).map((o) => o.id),
    ['T-1', 'T-5'],
    "a dashboard reads every terminal's sales",
  );
  const write = await call(port, 'PATCH', '/v1/collections/transactions/objects/T-1', screen, { total: 1 });
  assert.equal(write.status, 403);
  assert.match(String((write.body.error as Json).message), /read-only/);
  assert.equal((await call(port, 'GET', '/v1/devices', screen)).status, 200);
  assert.equal((await call(port, 'GET', '/metrics', screen)).status, 200);
});

test('sync filters are checked at start-up: a field the collection lacks is a config error, listed with the rest', async (t) => {
  await assert.rejects(
    startSyncHub(t, {
      filters: { transactions: 'till == $auth.sub', orders: 'terminalId == $auth.sub AND (', nope: 'a == 1' },
    }),
    (e: Error & { code?: string; details?: { problems?: string[] } }) => {
      assert.equal(e.code, 'HUB_ERR_CONFIG_INVALID');
      const problems = e.details?.problems ?? [];
      assert.equal(problems.length, 3, problems.join('\n'));
      assert.ok(problems.some((p) => /filters\.transactions: transactions has no field "till"/.test(p)));
      assert.ok(problems.some((p) => /filters\.orders:/.test(p)));
      assert.ok(problems.some((p) => /filters\.nope: no such collection/.test(p)));
      return true;
    },
  );
});
