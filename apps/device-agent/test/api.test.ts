import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadSchema, ReplicaStore } from '@backroom/sync-core';
import { AgentApiError, AgentApiErrorCodes } from '../src/api/errors.js';
import { type AgentApi, createAgentApi } from '../src/api/server.js';
import type { SyncStatus } from '../src/api/status.js';

type Json = Record<string, unknown>;

const schema = loadSchema(
  JSON.parse(
    readFileSync(fileURLToPath(import.meta.resolve('@backroom/sync-core/retail-schema.json')), 'utf8'),
  ),
);

/** The till's replica in a temp folder, closed (and removed) after the test. */
function openTill(t: TestContext): ReplicaStore {
  const dir = mkdtempSync(join(tmpdir(), 'backroom-agent-api-'));
  const store = ReplicaStore.open({ path: join(dir, 'replica.db'), schema, nodeId: 'till-1', role: 'pos' });
  t.after(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return store;
}

async function startApi(t: TestContext, status: () => SyncStatus = offline) {
  const store = openTill(t);
  const api = await createAgentApi({ store, status, port: 0 });
  t.after(() => api.close());
  return { store, api };
}

const offline = (): SyncStatus => ({ connected: false, pendingUp: 0, lastSyncAt: null, clockOffsetMs: 0 });

async function call(api: AgentApi, method: string, path: string, body?: unknown) {
  const res = await fetch(api.url + path, {
    method,
    ...(body === undefined
      ? {}
      : {
          body: typeof body === 'string' ? body : JSON.stringify(body),
          headers: { 'content-type': 'application/json' },
        }),
  });
  const text = await res.text();
  return { status: res.status, text, body: (text ? JSON.parse(text) : {}) as Json };
}

function assertError(r: { status: number; text: string; body: Json }, status: number, code: string) {
  assert.equal(r.status, status, r.text);
  assert.deepEqual(Object.keys(r.body), ['error']);
  assert.equal((r.body.error as Json).code, code, r.text);
  assert.equal(typeof (r.body.error as Json).message, 'string');
  assert.doesNotMatch(r.text, /\bat .*\.(ts|js):\d+|stack/i, 'no stack trace');
}

test('a till sells from its local replica through the API, with no hub anywhere', async (t) => {
  const { store, api } = await startApi(t);
  assert.match(api.url, /^http:\/\/127\.0\.0\.1:\d+$/);

  const order = await call(api, 'PUT', '/v1/collections/orders/objects/o-1', {
    status: 'open',
    total: 12.5,
    terminalId: 'till-1',
    items: [{ sku: 'SKU-1', qty: 2 }],
  });
  assert.equal(order.status, 200, order.text);
  assert.equal((order.body._meta as Json).origin, 'till-1');
  assert.deepEqual(order.body.items, [{ sku: 'SKU-1', qty: 2 }]);
  assert.equal(
    (await call(api, 'PATCH', '/v1/collections/orders/objects/o-1', { status: 'closed' })).body.status,
    'closed',
  );

  await call(api, 'POST', '/v1/collections/inventory/stocktake/SKU-1', { stock: 12 });
  const sold = await call(api, 'POST', '/v1/collections/inventory/increment/SKU-1', { stock: -2 });
  assert.equal(sold.body.stock, 10);
  assert.equal(store.get('inventory', 'SKU-1')?.stock, 10, 'the write is in the replica');
  assert.ok(store.pendingCount() > 0, 'and queued for the hub');

  const q = await call(api, 'POST', '/v1/collections/orders/query', { filter: 'status == "closed"' });
  assert.deepEqual(
    (q.body.objects as Json[]).map((o) => o.id),
    ['o-1'],
  );
  const list = await call(api, 'GET', '/v1/collections');
  const orders = (list.body.collections as Json[]).find((c) => c.name === 'orders');
  assert.equal(orders?.count, 1);

  assert.deepEqual((await call(api, 'DELETE', '/v1/collections/orders/objects/o-1')).body, {
    id: 'o-1',
    deleted: true,
  });
  assertError(await call(api, 'GET', '/v1/collections/orders/objects/o-1'), 404, 'SYNC_ERR_NOT_FOUND');
});

test('errors: the error shape with sync-core codes, never a stack trace', async (t) => {
  const { api } = await startApi(t);
  assertError(
    await call(api, 'PUT', '/v1/collections/orders/objects/o-1', '{"status":'),
    400,
    'SYNC_ERR_INVALID_REQUEST',
  );
  assertError(
    await call(api, 'PUT', '/v1/collections/orders/objects/o-1', [1]),
    400,
    'SYNC_ERR_INVALID_REQUEST',
  );
  assertError(
    await call(api, 'PUT', '/v1/collections/orders/objects/o-1', { total: 'a lot' }),
    400,
    'SYNC_ERR_INVALID_OBJECT',
  );
  assertError(
    await call(api, 'PUT', '/v1/collections/nope/objects/o-1', {}),
    404,
    'SYNC_ERR_UNKNOWN_COLLECTION',
  );
  assertError(
    await call(api, 'POST', '/v1/collections/orders/query', { filter: 'status ==' }),
    400,
    'SYNC_ERR_FILTER_SYNTAX',
  );
  assertError(await call(api, 'GET', '/v1/no-such-route'), 404, 'SYNC_ERR_NOT_FOUND');
  // The catalogue is the hub's: a terminal cannot change a price locally.
  assertError(
    await call(api, 'PUT', '/v1/collections/products/objects/SKU-1', { name: 'x', price: 0.01 }),
    403,
    'SYNC_ERR_FORBIDDEN',
  );
});

test('GET /v1/sync/status reports the sync client, GET /health answers', async (t) => {
  let current: SyncStatus = offline();
  const { api } = await startApi(t, () => current);
  assert.deepEqual((await call(api, 'GET', '/v1/sync/status')).body, {
    connected: false,
    pendingUp: 0,
    lastSyncAt: null,
    clockOffsetMs: 0,
  });
  current = { connected: true, pendingUp: 3, lastSyncAt: '2025-05-01T09:30:00.000Z', clockOffsetMs: -42 };
  const r = await call(api, 'GET', '/v1/sync/status');
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, current);

  const health = await call(api, 'GET', '/health');
  assert.equal(health.status, 200);
  assert.equal(health.body.status, 'ok');
});

test('loopback only: other hosts are refused before anything listens', async (t) => {
  const store = openTill(t);
  for (const host of ['0.0.0.0', '::', '192.168.1.20', 'localhost', 'till-1.local']) {
    await assert.rejects(
      createAgentApi({ store, status: offline, host, port: 0 }),
      (e: unknown) =>
        e instanceof AgentApiError && e.code === 'AGENT_ERR_NOT_LOOPBACK' && e.message.includes(host),
      host,
    );
  }
  const api = await createAgentApi({ store, status: offline, host: '127.0.0.1', port: 0 });
  t.after(() => api.close());
  const address = api.fastify.server.address();
  assert.equal(typeof address === 'object' && address?.address, '127.0.0.1');
});

test('a web page cannot reach the API through DNS rebinding: foreign Host headers get 403', async (t) => {
  const { api } = await startApi(t);
  const get = (host: string) =>
    new Promise<{ status: number; body: Json }>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: api.port, path: '/v1/sync/status', headers: { host } },
        (res) => {
          let text = '';
          res.on('data', (c) => {
            text += c;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Json }));
        },
      );
      req.on('error', reject);
      req.end();
    });
  const evil = await get('attacker.example:7070');
  assert.equal(evil.status, 403);
  assert.equal((evil.body.error as Json).code, 'AGENT_ERR_HOST_NOT_ALLOWED');
  assert.equal((await get(`localhost:${api.port}`)).status, 200);
  assert.equal((await get(`127.0.0.1:${api.port}`)).status, 200);
});

test('a taken port is a coded error', async (t) => {
  const store = openTill(t);
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  const port = (blocker.address() as { port: number }).port;
  await assert.rejects(
    createAgentApi({ store, status: offline, port }),
    (e: unknown) =>
      e instanceof AgentApiError && e.code === 'AGENT_ERR_PORT_IN_USE' && e.details.port === port,
  );
});

test('every AGENT_ERR code is documented in docs/errors.md, section "Device agent", with its status', () => {
  const docs = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
  const section = docs.split(/^## /m).find((s) => s.startsWith('Device agent'));
  assert.ok(section, 'docs/errors.md has a "Device agent" section');
  for (const [code, status] of Object.entries(AgentApiErrorCodes)) {
    const row = section.split('\n').find((l) => l.startsWith(`| \`${code}\``));
    assert.ok(row, `${code} is listed`);
    assert.match(row, new RegExp(`\\|\\s*${status}\\s*\\|`), `${code} is listed with status ${status}`);
  }
});
