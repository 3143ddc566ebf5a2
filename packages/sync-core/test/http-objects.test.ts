import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadSchema, ReplicaStore, type Schema, SyncError } from '@backroom/sync-core';
import {
  errorHandler,
  notFoundHandler,
  OBJECT_ROUTES_MAX_PARAM_LENGTH,
  type ObjectRoutesOptions,
  registerObjectRoutes,
} from '@backroom/sync-core/http';
import { fastify } from 'fastify';
import { retailSchema, tempDir } from './helpers.js';

type Json = Record<string, unknown>;
interface Reply {
  status: number;
  body: Json;
  text: string;
}

/** A store and the object routes on a real socket, with sync-core's error and not-found handlers. */
async function serve(
  t: TestContext,
  opts: { schema?: Schema; routes?: Partial<ObjectRoutesOptions>; bodyLimit?: number } = {},
) {
  const store = ReplicaStore.open({
    path: join(tempDir(t), 'hub.db'),
    schema: opts.schema ?? retailSchema,
    nodeId: 'hub',
    role: 'hub',
  });
  t.after(() => store.close());
  const app = fastify({
    routerOptions: { maxParamLength: OBJECT_ROUTES_MAX_PARAM_LENGTH },
    bodyLimit: opts.bodyLimit,
  });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  registerObjectRoutes(app, {
    store,
    role: (req) => (typeof req.headers['x-role'] === 'string' ? req.headers['x-role'] : undefined),
    ...opts.routes,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.after(() => app.close());
  const address = app.server.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

  /** Calls the API; `body` is sent as JSON unless it is already a string. */
  const call = async (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Reply> => {
    const init: RequestInit = { method, headers: { ...headers } };
    if (body !== undefined) {
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
      init.headers = { 'content-type': 'application/json', ...headers };
    }
    const res = await fetch(base + path, init);
    const text = await res.text();
    return { status: res.status, text, body: text ? (JSON.parse(text) as Json) : {} };
  };
  return { store, call };
}

/** Asserts the error shape `{ error: { code, message } }`, its status, and that no stack leaks. */
function assertError(r: Reply, status: number, code: string) {
  assert.equal(r.status, status, r.text);
  const error = r.body.error as Json;
  assert.equal(error.code, code, r.text);
  assert.equal(typeof error.message, 'string');
  assert.deepEqual(Object.keys(r.body), ['error']);
  assert.doesNotMatch(r.text, /\bat .*\.(ts|js):\d+|stack/i, 'no stack trace in an error response');
}

const shippedSchema = loadSchema(
  JSON.parse(
    readFileSync(fileURLToPath(import.meta.resolve('@backroom/sync-core/retail-schema.json')), 'utf8'),
  ),
);

test('GET /v1/collections describes the shipped retail schema with live object counts', async (t) => {
  const { call } = await serve(t, { schema: shippedSchema });
  await call('PUT', '/v1/collections/products/objects/SKU-1', { name: 'Milk 1L', price: 1.19 });
  await call('PUT', '/v1/collections/products/objects/SKU-2', { name: 'Bread', price: 2.5 });
  await call('DELETE', '/v1/collections/products/objects/SKU-2');

  const r = await call('GET', '/v1/collections');
  assert.equal(r.status, 200);
  const list = r.body.collections as Json[];
  assert.deepEqual(
    list.map((c) => c.name),
    ['products', 'inventory', 'orders', 'transactions', 'readings', 'fraud_cases', 'alerts'],
  );
  const byName = Object.fromEntries(list.map((c) => [c.name, c]));
  assert.equal(byName.products.count, 1, 'the deleted product does not count');
  assert.equal(byName.inventory.count, 0);
  assert.equal(byName.products.sync, 'down');
  assert.equal(byName.products.merge, 'field');
  assert.deepEqual((byName.products.fields as Json).price, { type: 'float' });
  assert.deepEqual((byName.inventory.fields as Json).stock, { type: 'counter' });
  assert.deepEqual((byName.transactions.fields as Json).embedding, {
    type: 'vector',
    dim: 16,
    metric: 'cosine',
  });
  assert.deepEqual(byName.orders.precedence, { field: 'status', order: ['open', 'approved', 'closed'] });
  assert.equal('precedence' in byName.products, false);
});

test('PUT replaces, PATCH updates, GET reads, DELETE tombstones; 404s for missing objects', async (t) => {
  const { call } = await serve(t);
  const path = '/v1/collections/products/objects/SKU-1';

  const put = await call('PUT', path, { name: 'Milk 1L', price: 1.19, category: 'dairy' });
  assert.equal(put.status, 200);
  const { _meta, ...fields } = put.body;
  assert.deepEqual(fields, { id: 'SKU-1', name: 'Milk 1L', price: 1.19, category: 'dairy' });
  assert.equal((_meta as Json).origin, 'hub');
  assert.equal((_meta as Json).deleted, false);
  assert.match((_meta as Json).stamp as string, /^[0-9a-f]{16}$/);

  const patched = await call('PATCH', path, { price: 1.29 });
  assert.equal(patched.status, 200);
  assert.equal(patched.body.price, 1.29);
  assert.equal(patched.body.name, 'Milk 1L', 'PATCH leaves other fields alone');

  const replaced = await call('PUT', path, { name: 'Milk 1.5L', id: 'ignored', _meta: { deleted: true } });
  assert.equal(replaced.body.price, null, 'PUT sets fields not given to null');
  assert.equal(replaced.body.id, 'SKU-1', 'the URL decides the id');

  const got = await call('GET', path);
  assert.equal(got.status, 200);
  assert.equal(got.body.name, 'Milk 1.5L');

  const del = await call('DELETE', path);
  assert.equal(del.status, 200);
  assert.deepEqual(del.body, { id: 'SKU-1', deleted: true });
  assertError(await call('GET', path), 404, 'SYNC_ERR_NOT_FOUND');
  assertError(await call('DELETE', path), 404, 'SYNC_ERR_NOT_FOUND');
  assertError(await call('GET', '/v1/collections/products/objects/never'), 404, 'SYNC_ERR_NOT_FOUND');
  const tomb = await call('GET', `${path}?includeDeleted=true`);
  assert.equal(tomb.status, 200);
  assert.equal((tomb.body._meta as Json).deleted, true);

  // A PUT after a delete brings the object back.
  assert.equal((await call('PUT', path, { name: 'Milk 1L' })).status, 200);
  assert.equal((await call('GET', path)).body.name, 'Milk 1L');
});

test('ids: percent-encoded characters round-trip, 256 characters pass, 257 are a 400', async (t) => {
  const { call } = await serve(t);
  const odd = 'SKU/7 ä?#&';
  const r = await call('PUT', `/v1/collections/products/objects/${encodeURIComponent(odd)}`, { name: 'x' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.id, odd);
  assert.equal(
    (await call('GET', `/v1/collections/products/objects/${encodeURIComponent(odd)}`)).body.id,
    odd,
  );

  assert.equal(
    (await call('PUT', `/v1/collections/products/objects/${'x'.repeat(256)}`, { name: 'x' })).status,
    200,
  );
  assertError(
    await call('PUT', `/v1/collections/products/objects/${'x'.repeat(257)}`, { name: 'x' }),
    400,
    'SYNC_ERR_INVALID_REQUEST',
  );
  // 256 characters that are 1536 once percent-encoded still reach the route.
  const wide = 'ä'.repeat(256);
  const r256 = await call('PUT', `/v1/collections/products/objects/${encodeURIComponent(wide)}`, {
    name: 'x',
  });
  assert.equal(r256.status, 200, r256.text);
  assert.equal(r256.body.id, wide);
});

test('counters: increments add, stocktake sets, PUT and PATCH leave them alone', async (t) => {
  const { call } = await serve(t);
  const obj = '/v1/collections/inventory/objects/SKU-1';

  const taken = await call('POST', '/v1/collections/inventory/stocktake/SKU-1', { stock: 40 });
  assert.equal(taken.status, 200, taken.text);
  assert.equal(taken.body.stock, 40);
  const sold = await call('POST', '/v1/collections/inventory/increment/SKU-1', { stock: -3 });
  assert.equal(sold.status, 200);
  assert.equal(sold.body.stock, 37);

  const put = await call('PUT', obj, { stock: 999, location: 'aisle 4' });
  assert.equal(put.status, 200);
  assert.equal(put.body.stock, 37, 'PUT ignores counter values');
  assert.equal(put.body.location, 'aisle 4');
  assert.equal((await call('PATCH', obj, { stock: 0 })).body.stock, 37, 'PATCH ignores counter values');

  // A new SKU's first sale creates it.
  const fresh = await call('POST', '/v1/collections/inventory/increment/SKU-2', { stock: -1 });
  assert.equal(fresh.body.stock, -1);
  assert.equal(fresh.body.location, null);

  // A stocktake after sales resets the count; later sales count on top of it.
  await call('POST', '/v1/collections/inventory/stocktake/SKU-1', { stock: 10 });
  assert.equal(
    (await call('POST', '/v1/collections/inventory/increment/SKU-1', { stock: 2 })).body.stock,
    12,
  );
  assert.equal((await call('GET', obj)).body.stock, 12);

  for (const bad of [{ stock: '5' }, { stock: 0.5 }, { location: 1 }, { nope: 1 }]) {
    assertError(
      await call('POST', '/v1/collections/inventory/increment/SKU-1', bad),
      400,
      'SYNC_ERR_INVALID_OBJECT',
    );
  }
  assertError(
    await call('POST', '/v1/collections/inventory/increment/SKU-1', {}),
    400,
    'SYNC_ERR_INVALID_REQUEST',
  );
  assertError(
    await call('POST', '/v1/collections/inventory/stocktake/SKU-1', { stock: 'many' }),
    400,
    'SYNC_ERR_INVALID_OBJECT',
  );
  assert.equal((await call('GET', obj)).body.stock, 12, 'refused requests changed nothing');
});

test('the writer role from the request decides role precedence', async (t) => {
  const { call } = await serve(t);
  const path = '/v1/collections/prices/objects/SKU-1';
  const manager = await call('PUT', path, { amount: 2.99, currency: 'EUR' }, { 'x-role': 'manager' });
  assert.equal(manager.status, 200);
  assert.equal((manager.body._meta as Json).precedence, 1);
  // A till's later write ranks below the manager's price and loses.
  const till = await call('PUT', path, { amount: 0.99, currency: 'EUR' }, { 'x-role': 'pos' });
  assert.equal(till.status, 200);
  assert.equal(till.body.amount, 2.99);
  assert.equal((await call('GET', path)).body.amount, 2.99);
});

test('query: filter, sort and pagination through 250 objects', async (t) => {
  const { store, call } = await serve(t);
  store.transaction(() => {
    for (let i = 0; i < 250; i++) {
      store.put('products', `SKU-${String(i).padStart(3, '0')}`, {
        name: `Product ${i}`,
        price: (i * 37) % 101, // many ties: the id breaks them
        category: i % 5 === 0 ? 'dairy' : 'grocery',
      });
    }
  });

  const seen: Json[] = [];
  let after: string | undefined;
  let pages = 0;
  do {
    const r = await call('POST', '/v1/collections/products/query', {
      sort: ['-price', { field: 'name', order: 'asc' }],
      limit: 100,
      ...(after ? { after } : {}),
    });
    assert.equal(r.status, 200, r.text);
    seen.push(...(r.body.objects as Json[]));
    after = r.body.next as string | undefined;
    pages++;
  } while (after);
  assert.equal(pages, 3);
  assert.equal(seen.length, 250);
  assert.equal(new Set(seen.map((o) => o.id)).size, 250, 'no object twice');
  for (let i = 1; i < seen.length; i++) {
    const [a, b] = [seen[i - 1], seen[i]];
    const ordered =
      (a.price as number) > (b.price as number) ||
      (a.price === b.price && (a.name as string) <= (b.name as string));
    assert.ok(ordered, `sorted by -price, name at ${i}`);
  }

  const dairy = await call('POST', '/v1/collections/products/query', {
    filter: 'category == "dairy" AND price >= 50',
    limit: 1000,
  });
  const expected = seen.filter((o) => o.category === 'dairy' && (o.price as number) >= 50);
  assert.equal((dairy.body.objects as Json[]).length, expected.length);
  assert.equal(dairy.body.next, undefined);

  // A bare POST lists the first page (default 100).
  const bare = await call('POST', '/v1/collections/products/query');
  assert.equal(bare.status, 200, bare.text);
  assert.equal((bare.body.objects as Json[]).length, 100);

  // Deleted objects only with includeDeleted (a tombstone's fields are null, so list them all).
  await call('DELETE', '/v1/collections/products/objects/SKU-000');
  const all = async (includeDeleted: boolean) =>
    (await call('POST', '/v1/collections/products/query', { limit: 1000, includeDeleted })).body
      .objects as Json[];
  assert.equal((await all(false)).length, 249);
  const tombstone = (await all(true)).find((o) => o.id === 'SKU-000');
  assert.ok(tombstone, 'the tombstone is listed');
  assert.equal((tombstone._meta as Json).deleted, true);
});

test('query errors are 400s with the store code or the request code', async (t) => {
  const { call } = await serve(t);
  const q = (body: unknown) => call('POST', '/v1/collections/products/query', body);
  const syntax = await q({ filter: 'price >>= 3' });
  assertError(syntax, 400, 'SYNC_ERR_FILTER_SYNTAX');
  assert.equal(
    typeof ((syntax.body.error as Json).details as Json).position,
    'number',
    'points at the problem',
  );
  assertError(await q({ filter: 'category == $auth.sub' }), 400, 'SYNC_ERR_FILTER_VARIABLE');
  // A field products do not have would match nothing: it is named instead.
  const unknown = await q({ filter: 'price > 1 AND colour == "red"' });
  assertError(unknown, 400, 'SYNC_ERR_UNKNOWN_FIELD');
  assert.deepEqual((unknown.body.error as Json).details, {
    collection: 'products',
    field: 'colour',
    fields: ['colour'],
  });
  assert.match(String((unknown.body.error as Json).message), /products has no field "colour"/);
  assertError(await q({ sort: ['colour'] }), 400, 'SYNC_ERR_INVALID_QUERY');
  assertError(await q({ after: 'not-a-cursor' }), 400, 'SYNC_ERR_INVALID_QUERY');
  assertError(await q({ limit: 0 }), 400, 'SYNC_ERR_INVALID_REQUEST');
  assertError(await q({ limit: 5000 }), 400, 'SYNC_ERR_INVALID_REQUEST');
  assertError(await q({ limit: 'ten' }), 400, 'SYNC_ERR_INVALID_REQUEST');
  assertError(await q({ fliter: 'price > 1' }), 400, 'SYNC_ERR_INVALID_REQUEST');
  assertError(await q({ sort: [{ field: 'price', order: 'up' }] }), 400, 'SYNC_ERR_INVALID_REQUEST');
  assertError(await q([]), 400, 'SYNC_ERR_INVALID_REQUEST');
  assertError(await call('POST', '/v1/collections/nope/query', {}), 404, 'SYNC_ERR_UNKNOWN_COLLECTION');
});

test('filter variables come from the vars provider', async (t) => {
  const { store, call } = await serve(t, {
    routes: { vars: (req) => ({ auth: { sub: String(req.headers['x-terminal']) } }) },
  });
  store.put('transactions', 't-1', { terminalId: 'pos-1', total: 5 });
  store.put('transactions', 't-2', { terminalId: 'pos-2', total: 7 });
  const r = await call(
    'POST',
    '/v1/collections/transactions/query',
    { filter: 'terminalId == $auth.sub' },
    { 'x-terminal': 'pos-2' },
  );
  assert.deepEqual(
    (r.body.objects as Json[]).map((o) => o.id),
    ['t-2'],
  );
});

test('bad input is a coded 4xx, never a 500: malformed JSON, wrong types, unknown names', async (t) => {
  const { call } = await serve(t, { bodyLimit: 4096 });
  const path = '/v1/collections/products/objects/SKU-1';
  assertError(await call('PUT', path, '{"name": "Milk'), 400, 'SYNC_ERR_INVALID_REQUEST');
  assertError(await call('PUT', path, ''), 400, 'SYNC_ERR_INVALID_REQUEST');
  assertError(await call('PUT', path, '[1, 2]'), 400, 'SYNC_ERR_INVALID_REQUEST');
  assertError(await call('PUT', path, 'null'), 400, 'SYNC_ERR_INVALID_REQUEST');
  assertError(await call('PUT', path, '"Milk"'), 400, 'SYNC_ERR_INVALID_REQUEST');
  assertError(await call('PUT', path), 400, 'SYNC_ERR_INVALID_REQUEST');
  assertError(
    await call('PUT', path, '{}', { 'content-type': 'application/xml' }),
    415,
    'SYNC_ERR_INVALID_REQUEST',
  );
  assertError(await call('PUT', path, '{"__proto__": {"x": 1}}'), 400, 'SYNC_ERR_INVALID_REQUEST');
  assertError(await call('PUT', path, { name: 'x'.repeat(5000) }), 413, 'SYNC_ERR_PAYLOAD_TOO_LARGE');

  const wrong = await call('PUT', path, { name: 'Milk', price: 'cheap', colour: 'white' });
  assertError(wrong, 400, 'SYNC_ERR_INVALID_OBJECT');
  assert.equal(
    (((wrong.body.error as Json).details as Json).problems as string[]).length,
    2,
    'every problem listed',
  );
  assertError(await call('PATCH', path, { active: 'yes' }), 400, 'SYNC_ERR_INVALID_OBJECT');
  assertError(await call('PUT', '/v1/collections/nope/objects/x', {}), 404, 'SYNC_ERR_UNKNOWN_COLLECTION');
  assertError(await call('GET', '/v1/collections/nope/objects/x'), 404, 'SYNC_ERR_UNKNOWN_COLLECTION');
  assertError(await call('GET', '/v1/nothing'), 404, 'SYNC_ERR_NOT_FOUND');
  assertError(await call('GET', path), 404, 'SYNC_ERR_NOT_FOUND');
});

test('authorize refuses per collection and action; unexpected failures are an opaque 500', async (t) => {
  const { call } = await serve(t, {
    routes: {
      authorize: (_req, collection, action) => {
        if (collection === 'transactions') throw new Error('secret detail');
        if (action === 'write' && collection === 'products') {
          throw new SyncError('SYNC_ERR_FORBIDDEN', 'products are written at the hub', { collection });
        }
      },
    },
  });
  assertError(
    await call('PUT', '/v1/collections/products/objects/SKU-1', { name: 'x' }),
    403,
    'SYNC_ERR_FORBIDDEN',
  );
  assertError(await call('DELETE', '/v1/collections/products/objects/SKU-1'), 403, 'SYNC_ERR_FORBIDDEN');
  assert.equal((await call('POST', '/v1/collections/products/query', {})).status, 200, 'reads still allowed');
  const list = await call('GET', '/v1/collections');
  assert.equal(
    (list.body.collections as Json[]).some((c) => c.name === 'transactions'),
    false,
    'collections the caller may not read are not listed',
  );
  const boom = await call('POST', '/v1/collections/transactions/query', {});
  assertError(boom, 500, 'SYNC_ERR_INTERNAL');
  assert.doesNotMatch(boom.text, /secret detail/);
});
