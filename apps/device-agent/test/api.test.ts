import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { connect, createServer } from 'node:net';
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

/** A 10 MB order: over the API's default body limit of 8 MiB. */
const TEN_MB_ORDER = Buffer.from(JSON.stringify({ status: 'open', note: 'x'.repeat(10 * 1024 * 1024) }));

/**
 * Sends a request over a raw socket: the head, then (once the whole answer has arrived, as a slow client
 * would see it) `body`, then ends. Resolves with the answer and any socket error.
 */
function sendAfterAnswer(port: number, head: string, body: Buffer) {
  return new Promise<{ status: number; headers: string; body: string; error?: string }>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let raw = Buffer.alloc(0);
    let answered = false;
    let error: string | undefined;
    const parse = () => {
      const text = raw.toString('utf8');
      const end = text.indexOf('\r\n\r\n');
      const headers = end < 0 ? text : text.slice(0, end);
      const length = Number(/^content-length:\s*(\d+)/im.exec(headers)?.[1] ?? Number.NaN);
      return { headers, body: end < 0 ? '' : text.slice(end + 4), length };
    };
    socket.on('data', (chunk) => {
      raw = Buffer.concat([raw, chunk]);
      const r = parse();
      if (!answered && Buffer.byteLength(r.body) >= r.length) {
        answered = true;
        socket.end(body);
      }
    });
    socket.on('error', (e) => {
      error = (e as NodeJS.ErrnoException).code ?? e.message;
    });
    socket.on('close', () => {
      const r = parse();
      resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(r.headers)?.[1] ?? 0), ...r, error });
    });
    socket.write(head);
  });
}

test('a 10 MB body gets 413 with the error envelope, and the client may finish sending it', async (t) => {
  const { api } = await startApi(t);
  const head =
    'PUT /v1/collections/orders/objects/O-1 HTTP/1.1\r\n' +
    `Host: 127.0.0.1:${api.port}\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${TEN_MB_ORDER.length}\r\n\r\n`;
  // The API answers from the Content-Length alone; the client sends the body after reading the answer.
  const r = await sendAfterAnswer(api.port, head, TEN_MB_ORDER);
  assert.equal(r.error, undefined, 'the connection is not reset while the client sends the rest');
  assert.equal(r.status, 413, r.headers);
  assertError(
    { status: r.status, text: r.body, body: JSON.parse(r.body) },
    413,
    'SYNC_ERR_PAYLOAD_TOO_LARGE',
  );
});

test('HTTP clients in another process sending 10 MB all at once read the 413, never a reset', async (t) => {
  const { api, store } = await startApi(t);
  // A separate process, so the client writes while the API answers (in one event loop they take turns).
  const client = `
    import { request } from 'node:http';
    const [url, mode] = process.argv.slice(1);
    const body = Buffer.from(JSON.stringify({ status: 'open', note: 'x'.repeat(10 * 1024 * 1024) }));
    const headers = { 'content-type': 'application/json' };
    if (mode === 'content-length') headers['content-length'] = body.length;
    const send = () =>
      mode === 'fetch'
        ? fetch(url, { method: 'PUT', body, headers }).then(async (r) => ({ status: r.status, text: await r.text() }))
        : new Promise((resolve, reject) => {
            const req = request(url, { method: 'PUT', headers }, (res) => {
              let text = '';
              res.on('data', (c) => (text += c));
              res.on('end', () => resolve({ status: res.statusCode, text }));
            });
            req.on('error', reject);
            req.end(body);
          });
    const out = [];
    for (let i = 0; i < 3; i++) out.push(await send().catch((e) => ({ error: e.cause?.code ?? e.code ?? e.message })));
    process.stdout.write(JSON.stringify(out));
  `;
  const url = `${api.url}/v1/collections/orders/objects/O-1`;
  for (const mode of ['content-length', 'chunked', 'fetch']) {
    const child = spawn(process.execPath, ['--input-type=module', '-e', client, url, mode], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    await new Promise((resolve) => child.on('close', resolve));
    const results = JSON.parse(stdout) as { status?: number; text?: string; error?: string }[];
    for (const r of results) {
      assert.equal(r.error, undefined, `${mode}: ${JSON.stringify(r)}`);
      assertError(
        { status: r.status ?? 0, text: r.text ?? '', body: JSON.parse(r.text ?? '{}') },
        413,
        'SYNC_ERR_PAYLOAD_TOO_LARGE',
      );
    }
  }
  assert.equal(store.get('orders', 'O-1'), undefined, 'nothing was written');
});

test('after refusing a body the API reads on for a while, then hangs up on a client that never stops', async (t) => {
  const store = openTill(t);
  const api = await createAgentApi({ store, status: offline, port: 0, bodyLimit: 64 * 1024 });
  t.after(() => api.close());
  const head =
    'PUT /v1/collections/orders/objects/O-2 HTTP/1.1\r\n' +
    `Host: 127.0.0.1:${api.port}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`;
  const socket = connect(api.port, '127.0.0.1');
  socket.on('error', () => {});
  let answer = '';
  socket.on('data', (d) => {
    answer += d;
  });
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.write(head);
  // 64 KiB chunks, forever: the API answers 413 after the first 64 KiB and hangs up after 8 x 64 KiB more.
  const chunk = Buffer.concat([Buffer.from('10000\r\n'), Buffer.alloc(0x10000, 0x20), Buffer.from('\r\n')]);
  let sent = 0;
  let open = true;
  void closed.then(() => {
    open = false;
  });
  while (open && sent < 4096 * 0x10000) {
    if (!socket.write(chunk))
      await new Promise((resolve) => socket.once('drain', resolve).once('close', resolve));
    sent += 0x10000;
  }
  await closed;
  assert.match(answer, /^HTTP\/1\.1 413 /);
  assert.ok(sent < 4096 * 0x10000, `hung up after ${sent} bytes`);
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
