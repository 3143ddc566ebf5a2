/**
 * The hub's API and the device agent's local API answer the same bad request the same way (one error
 * handler, @backroom/sync-core/http): never fastify's own `{ "error": "Bad Request", "code": "FST_..." }`,
 * never a reset connection for a body that is too large. Both servers are real, on real sockets.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createAgentApi } from '@backroom/device-agent';
import { attachSync, createHub, resolveConfig } from '@backroom/hub';
import { loadSchema, ReplicaStore } from '@backroom/sync-core';
import { pino } from 'pino';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'backroom-http-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A hub (with the admin token) and a till's local API, both on free ports. */
async function bothServers(t: TestContext) {
  const dir = tempDir(t);
  const hub = await createHub(
    resolveConfig({
      dataDir: join(dir, 'hub'),
      host: '127.0.0.1',
      mqttPort: 0,
      httpPort: 0,
      logLevel: 'silent',
    }),
    { logger: pino({ level: 'silent' }), attach: attachSync },
  );
  t.after(() => hub.close());
  const schema = loadSchema(
    JSON.parse(
      readFileSync(fileURLToPath(import.meta.resolve('@backroom/sync-core/retail-schema.json')), 'utf8'),
    ),
  );
  const store = ReplicaStore.open({
    path: join(dir, 'till', 'replica.db'),
    schema,
    nodeId: 'till-1',
    role: 'pos',
  });
  t.after(() => store.close());
  const offline = () => ({ connected: false, pendingUp: 0, lastSyncAt: null, clockOffsetMs: 0 });
  const api = await createAgentApi({ store, status: offline, port: 0 });
  t.after(() => api.close());
  return [
    { name: 'hub', port: hub.ports.http, auth: `Bearer ${hub.adminToken.token}` },
    { name: 'agent', port: api.port, auth: undefined },
  ];
}

/**
 * A raw HTTP/1.1 request (fetch would refuse to send some of these, and hides resets): head and body
 * written at once, resolved when the whole answer (by its content-length) has arrived or the socket closed.
 */
function raw(
  port: number,
  head: string,
  body = '',
): Promise<{ status: number; body: string; error?: string }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    let error: string | undefined;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      const end = text.indexOf('\r\n\r\n');
      resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0), body: text.slice(end + 4), error });
      socket.destroy();
    };
    socket.on('data', (d) => {
      text += d;
      const end = text.indexOf('\r\n\r\n');
      const length = Number(/^content-length:\s*(\d+)/im.exec(text.slice(0, end))?.[1] ?? Number.NaN);
      if (end >= 0 && Buffer.byteLength(text.slice(end + 4)) >= length) finish();
    });
    socket.on('error', (e) => {
      error = (e as NodeJS.ErrnoException).code ?? e.message;
    });
    socket.on('close', finish);
    socket.write(`${head}\r\n\r\n${body}`);
  });
}

test('hub and agent answer the same bad requests with the same status, code and message', async (t) => {
  const servers = await bothServers(t);
  const longId = 'x'.repeat(10_000);
  const cases = [
    { what: 'a 10,000-character id', method: 'GET', path: `/v1/collections/orders/objects/${longId}` },
    { what: 'a malformed percent-encoding', method: 'GET', path: '/v1/collections/orders/objects/%E0%A4%A' },
    {
      what: 'malformed JSON',
      method: 'PUT',
      path: '/v1/collections/orders/objects/O-1',
      body: '{"status": ',
    },
    {
      what: 'a __proto__ key',
      method: 'PUT',
      path: '/v1/collections/orders/objects/O-1',
      body: '{"status":"open","__proto__":{"admin":true}}',
    },
    {
      what: 'an unknown query key',
      method: 'POST',
      path: '/v1/collections/orders/query',
      body: '{"fliter":"total > 1"}',
    },
    {
      what: 'a filter on a field orders does not have',
      method: 'POST',
      path: '/v1/collections/orders/query',
      body: '{"filter":"colour == \\"red\\""}',
    },
    {
      what: 'a filter of 999 ORs (8 KB)',
      method: 'POST',
      path: '/v1/collections/orders/query',
      body: JSON.stringify({ filter: Array(999).fill('id>1').join(' OR ') }),
    },
  ];
  const answers: Record<string, { status: number; code?: string; message?: string }[]> = {};
  for (const c of cases) {
    answers[c.what] = [];
    for (const s of servers) {
      const head =
        `${c.method} ${c.path} HTTP/1.1\r\nHost: 127.0.0.1:${s.port}` +
        (s.auth ? `\r\nAuthorization: ${s.auth}` : '') +
        (c.body ? `\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(c.body)}` : '');
      const r = await raw(s.port, head, c.body);
      const body = JSON.parse(r.body) as { error?: { code?: string; message?: string } } & Record<
        string,
        unknown
      >;
      if (r.status >= 400) {
        assert.deepEqual(Object.keys(body), ['error'], `${c.what} on the ${s.name}: ${r.body}`);
        assert.match(body.error?.code ?? '', /^[A-Z]+_ERR_[A-Z_]+$/, `${c.what} on the ${s.name}: ${r.body}`);
        assert.doesNotMatch(r.body, /FST_|Bad Request"|\bat .*\.(ts|js):\d+/);
        assert.ok((body.error?.message ?? '').length < 400, 'no 10,000-character echo');
      }
      answers[c.what].push({ status: r.status, code: body.error?.code, message: body.error?.message });
    }
    assert.deepEqual(answers[c.what][0], answers[c.what][1], `${c.what}: hub and agent agree`);
  }
  assert.equal(answers['a 10,000-character id'][0].status, 414);
  assert.equal(answers['a malformed percent-encoding'][0].code, 'SYNC_ERR_INVALID_REQUEST');
  assert.match(answers['malformed JSON'][0].message ?? '', /not valid JSON/);
  assert.match(answers['a __proto__ key'][0].message ?? '', /"__proto__".*not allowed/);
  assert.match(
    answers['an unknown query key'][0].message ?? '',
    /unknown key "fliter".*allowed: filter, sort/,
  );
  assert.equal(answers['a filter on a field orders does not have'][0].status, 400);
  assert.match(answers['a filter on a field orders does not have'][0].message ?? '', /colour/);
  assert.equal(answers['a filter of 999 ORs (8 KB)'][0].status, 200, 'every filter the parser accepts runs');
});

test('a 10 MB body to the hub gets its 413 in the error envelope, and the connection stays usable', async (t) => {
  const [hub] = await bothServers(t);
  const body = Buffer.from(JSON.stringify({ status: 'open', note: 'x'.repeat(10 * 1024 * 1024) }));
  // As a slow client sees it: the head, the hub's answer (from the content-length alone), then the body,
  // then a second request on the same connection. A hub that hangs up with the body unread resets it.
  const result = await new Promise<{ answers: string[]; error?: string }>((resolve) => {
    const socket = connect(hub.port, '127.0.0.1');
    let text = '';
    let error: string | undefined;
    let sentRest = false;
    socket.on('data', (d) => {
      text += d;
      const answers = text.split(/(?=HTTP\/1\.1 )/);
      if (!sentRest && /\r\n\r\n\{.*\}$/s.test(answers[0])) {
        sentRest = true;
        socket.write(body);
        socket.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
      }
    });
    socket.on('error', (e) => {
      error = (e as NodeJS.ErrnoException).code ?? e.message;
    });
    socket.on('close', () => resolve({ answers: text.split(/(?=HTTP\/1\.1 )/), error }));
    socket.write(
      `PUT /v1/collections/orders/objects/O-1 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${hub.auth}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
  });
  assert.equal(result.error, undefined, 'no reset while the client sends');
  assert.match(result.answers[0], /^HTTP\/1\.1 413 /);
  assert.match(result.answers[0], /"code":"SYNC_ERR_PAYLOAD_TOO_LARGE"/);
  assert.match(result.answers[1] ?? '', /^HTTP\/1\.1 200 /, 'the next request on the connection is served');
});
