import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { loadSchema, ReplicaStore } from '@backroom/sync-core';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { Access, parseFilterTable } from '../src/access/access.js';
import type { Hub } from '../src/app.js';
import { registerHubObjectRoutes } from '../src/http/objects.js';
import { http, startHub, tempDir } from './helpers.js';

type Json = Record<string, unknown>;

const SCHEMA = {
  collections: {
    products: { sync: 'down', fields: { name: 'string', price: 'float', category: 'string' } },
    inventory: { fields: { stock: 'counter', location: 'string' } },
    prices: {
      merge: 'object',
      fields: { amount: 'float', currency: 'string' },
      precedence: { role: { pos: 0, manager: 1 } },
    },
  },
};

/** A hub whose attachment opens a replica in the data dir and registers the object routes on it. */
async function hubWithObjects(t: TestContext, overrides: Json = {}): Promise<Hub> {
  const dir = tempDir(t);
  const schemaFile = join(dir, 'schema.json');
  writeFileSync(schemaFile, JSON.stringify(SCHEMA));
  return startHub(
    t,
    { schemaFile, ...overrides },
    {
      attach: async ({ config, fastify }) => {
        const schema = loadSchema(JSON.parse(readFileSync(config.schemaFile, 'utf8')));
        const store = ReplicaStore.open({
          path: join(config.dataDir, 'replica.db'),
          schema,
          nodeId: 'hub',
          role: 'hub',
          outbox: false,
        });
        const filters = parseFilterTable(schema, {});
        registerHubObjectRoutes(fastify, {
          store,
          access: (request) => new Access(request.principal!, schema, filters),
        });
        return { close: async () => store.close() };
      },
    },
  );
}

/** JSON request against the hub; returns status, parsed body and raw text. */
async function call(hub: Hub, method: string, path: string, body?: unknown, token?: string) {
  const res = await http(hub, path, {
    method,
    token,
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
  const error = r.body.error as Json;
  assert.equal(error.code, code, r.text);
  assert.equal(typeof error.message, 'string');
  assert.doesNotMatch(r.text, /\bat .*\.(ts|js):\d+|stack/i, 'no stack trace');
}

test('object routes need a token: 401 without one, nothing written', async (t) => {
  const hub = await hubWithObjects(t);
  for (const [method, path, body] of [
    ['GET', '/v1/collections', undefined],
    ['PUT', '/v1/collections/products/objects/SKU-1', { name: 'Milk' }],
    ['GET', '/v1/collections/products/objects/SKU-1', undefined],
    ['POST', '/v1/collections/inventory/increment/SKU-1', { stock: -1 }],
    ['POST', '/v1/collections/products/query', {}],
  ] as const) {
    assertError(await call(hub, method, path, body), 401, 'HUB_ERR_UNAUTHORIZED');
    assertError(await call(hub, method, path, body, 'not-the-token'), 401, 'HUB_ERR_UNAUTHORIZED');
  }
  const list = await call(hub, 'GET', '/v1/collections', undefined, hub.adminToken.token);
  assert.equal(list.status, 200);
  assert.deepEqual(
    (list.body.collections as Json[]).map((c) => [c.name, c.count]),
    [
      ['products', 0],
      ['inventory', 0],
      ['prices', 0],
    ],
  );
});

test('CRUD, counters and query with the admin token; admin writes rank as manager', async (t) => {
  const hub = await hubWithObjects(t);
  const token = hub.adminToken.token;
  const product = '/v1/collections/products/objects/SKU-1';

  const put = await call(hub, 'PUT', product, { name: 'Milk 1L', price: 1.19, category: 'dairy' }, token);
  assert.equal(put.status, 200, put.text);
  assert.equal(put.body.id, 'SKU-1');
  assert.equal((put.body._meta as Json).origin, 'hub');
  assert.equal((await call(hub, 'PATCH', product, { price: 1.29 }, token)).body.price, 1.29);
  const got = await call(hub, 'GET', product, undefined, token);
  assert.deepEqual(
    { ...got.body, _meta: undefined },
    { id: 'SKU-1', name: 'Milk 1L', price: 1.29, category: 'dairy', _meta: undefined },
  );

  const q = await call(
    hub,
    'POST',
    '/v1/collections/products/query',
    { filter: 'category == "dairy"' },
    token,
  );
  assert.deepEqual(
    (q.body.objects as Json[]).map((o) => o.id),
    ['SKU-1'],
  );

  await call(hub, 'POST', '/v1/collections/inventory/stocktake/SKU-1', { stock: 24 }, token);
  const sold = await call(hub, 'POST', '/v1/collections/inventory/increment/SKU-1', { stock: -2 }, token);
  assert.equal(sold.body.stock, 22);
  const moved = await call(
    hub,
    'PUT',
    '/v1/collections/inventory/objects/SKU-1',
    { stock: 0, location: 'B2' },
    token,
  );
  assert.equal(moved.body.stock, 22, 'PUT leaves the counter alone');

  const price = await call(
    hub,
    'PUT',
    '/v1/collections/prices/objects/SKU-1',
    { amount: 1.29, currency: 'EUR' },
    token,
  );
  assert.equal((price.body._meta as Json).precedence, 1, 'the admin token writes as manager');

  assert.deepEqual((await call(hub, 'DELETE', product, undefined, token)).body, {
    id: 'SKU-1',
    deleted: true,
  });
  assertError(await call(hub, 'GET', product, undefined, token), 404, 'SYNC_ERR_NOT_FOUND');
  assertError(await call(hub, 'DELETE', product, undefined, token), 404, 'SYNC_ERR_NOT_FOUND');
});

test('errors keep the error shape, a fitting status and no stack trace', async (t) => {
  const hub = await hubWithObjects(t);
  const token = hub.adminToken.token;
  const product = '/v1/collections/products/objects/SKU-1';
  const invalid = await call(hub, 'PUT', product, { price: 'cheap' }, token);
  assertError(invalid, 400, 'SYNC_ERR_INVALID_OBJECT');
  assert.ok(Array.isArray(((invalid.body.error as Json).details as Json).problems), 'problems listed');
  assertError(
    await call(hub, 'PUT', '/v1/collections/nope/objects/x', {}, token),
    404,
    'SYNC_ERR_UNKNOWN_COLLECTION',
  );
  assertError(await call(hub, 'PUT', product, '{"name": ', token), 400, 'SYNC_ERR_INVALID_REQUEST');
  assertError(await call(hub, 'PUT', product, '[1]', token), 400, 'SYNC_ERR_INVALID_REQUEST');
  assertError(
    await call(hub, 'POST', '/v1/collections/products/query', { filter: 'price >' }, token),
    400,
    'SYNC_ERR_FILTER_SYNTAX',
  );
  assertError(
    await call(hub, 'POST', '/v1/collections/products/query', { limit: -1 }, token),
    400,
    'SYNC_ERR_INVALID_REQUEST',
  );
  assertError(
    await call(hub, 'POST', '/v1/collections/inventory/increment/SKU-1', { stock: 'one' }, token),
    400,
    'SYNC_ERR_INVALID_OBJECT',
  );
});

test("a JWT's role claim is the writer role: a till's price loses to an admin's", async (t) => {
  const dir = tempDir(t);
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwksFile = join(dir, 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), alg: 'ES256' }] }));
  const hub = await hubWithObjects(t, {
    jwt: { jwksFile, audience: 'backroom-hub', issuer: 'test-idp', allowAdmin: true },
  });
  const sign = (sub: string, role: string) =>
    new SignJWT({ role })
      .setProtectedHeader({ alg: 'ES256' })
      .setSubject(sub)
      .setAudience('backroom-hub')
      .setIssuer('test-idp')
      .setExpirationTime('5m')
      .sign(privateKey);
  const till = await sign('pos-1', 'pos');
  const manager = await sign('alice', 'admin');
  // A role the hub does not know is no role at all.
  assertError(
    await call(hub, 'GET', '/v1/collections', undefined, await sign('bob', 'manager')),
    401,
    'HUB_ERR_UNAUTHORIZED',
  );
  const path = '/v1/collections/prices/objects/SKU-9';

  const first = await call(hub, 'PUT', path, { amount: 0.99, currency: 'EUR' }, till);
  assert.equal(first.status, 200, first.text);
  assert.equal((first.body._meta as Json).precedence, 0);
  await call(hub, 'PUT', path, { amount: 2.49, currency: 'EUR' }, manager);
  const later = await call(hub, 'PUT', path, { amount: 0.5, currency: 'EUR' }, till);
  assert.equal(later.body.amount, 2.49, "the manager's price stands");
  assert.equal((later.body._meta as Json).precedence, 1);
});
