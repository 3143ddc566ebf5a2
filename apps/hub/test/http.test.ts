import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { test } from 'node:test';
import { HubError } from '../src/errors.js';
import { connectDevice, enrol, http, startHub } from './helpers.js';

test('GET /health needs no token; everything else answers 401 with the error shape', async (t) => {
  const hub = await startHub(t);
  const health = await http(hub, '/health');
  assert.equal(health.status, 200);
  assert.equal(((await health.json()) as { status: string }).status, 'ok');

  for (const [path, token] of [
    ['/v1/devices', undefined],
    ['/v1/devices', 'not-the-token'],
    ['/metrics', undefined],
    ['/v1/nothing-here', undefined],
  ] as const) {
    const res = await http(hub, path, { token });
    assert.equal(res.status, 401, path);
    assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="backroom-hub"');
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'HUB_ERR_UNAUTHORIZED');
    assert.equal(typeof body.error.message, 'string');
  }
});

test('the admin token opens the API; the token file is mode 0600', async (t) => {
  const hub = await startHub(t);
  assert.equal(statSync(hub.adminToken.file).mode & 0o777, 0o600);
  assert.equal(statSync(hub.config.dataDir).mode & 0o077, 0, 'the data directory is private');
  const res = await http(hub, '/v1/devices', { token: hub.adminToken.token });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { devices: [] });
  const metrics = await http(hub, '/metrics', { token: hub.adminToken.token });
  assert.equal(metrics.status, 200);
  assert.match(metrics.headers.get('content-type') ?? '', /text\/plain/);
  assert.match(await metrics.text(), /backroom_mqtt_connected_devices 0/);
  const missing = await http(hub, '/v1/nothing-here', { token: hub.adminToken.token });
  assert.equal(missing.status, 404);
  assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'SYNC_ERR_NOT_FOUND');
});

test('GET /v1/devices lists enrolled devices with online state and last seen', async (t) => {
  const hub = await startHub(t);
  await enrol(hub, 'pos-1', 'pos', 'berlin-01');
  await enrol(hub, 'fridge-1', 'sensor', 'berlin-01');
  await enrol(hub, 'pos-2');
  hub.registry.revoke('pos-2');
  const credential = await enrol(hub, 'pos-3');
  await connectDevice(t, hub, 'pos-3', credential);

  const res = await http(hub, '/v1/devices', { token: hub.adminToken.token });
  const { devices } = (await res.json()) as { devices: Record<string, unknown>[] };
  assert.deepEqual(
    devices.map((d) => [d.id, d.role, d.store, d.online, d.revokedAt !== null]),
    [
      ['fridge-1', 'sensor', 'berlin-01', false, false],
      ['pos-1', 'pos', 'berlin-01', false, false],
      ['pos-2', 'pos', null, false, true],
      ['pos-3', 'pos', null, true, false],
    ],
  );
  assert.equal(typeof devices.find((d) => d.id === 'pos-3')?.lastSeen, 'number');
  assert.equal(devices.find((d) => d.id === 'pos-1')?.lastSeen, null);
});

test('errors from routes keep their code and status and never carry a stack trace', async (t) => {
  const hub = await startHub(
    t,
    {},
    {
      attach: async ({ fastify }) => {
        fastify.get('/v1/test/hub-error', async () => {
          throw new HubError('HUB_ERR_DEVICE_NOT_FOUND', 'no device "x"', { deviceId: 'x' });
        });
        // Shaped like sync-core's SyncError.
        fastify.get('/v1/test/sync-error', async () => {
          throw Object.assign(new Error('unknown collection "nope"'), {
            code: 'SYNC_ERR_UNKNOWN_COLLECTION',
            statusCode: 404,
          });
        });
        fastify.get('/v1/test/crash', async () => {
          throw new Error('secret internal detail at /etc/something');
        });
        fastify.post(
          '/v1/test/validated',
          {
            schema: { body: { type: 'object', required: ['sku'], properties: { sku: { type: 'string' } } } },
          },
          async () => ({ ok: true }),
        );
      },
    },
  );
  const token = hub.adminToken.token;
  const get = async (path: string, init: RequestInit = {}) => {
    const res = await http(hub, path, { token, ...init });
    const text = await res.text();
    assert.doesNotMatch(text, /at .*\.(ts|js):\d+/, 'no stack trace');
    return { status: res.status, body: JSON.parse(text) };
  };
  assert.deepEqual(await get('/v1/test/hub-error'), {
    status: 404,
    body: {
      error: { code: 'HUB_ERR_DEVICE_NOT_FOUND', message: 'no device "x"', details: { deviceId: 'x' } },
    },
  });
  assert.deepEqual(await get('/v1/test/sync-error'), {
    status: 404,
    body: { error: { code: 'SYNC_ERR_UNKNOWN_COLLECTION', message: 'unknown collection "nope"' } },
  });
  const crash = await get('/v1/test/crash');
  assert.equal(crash.status, 500);
  assert.equal(crash.body.error.code, 'SYNC_ERR_INTERNAL');
  assert.doesNotMatch(crash.body.error.message, /secret/);
  const invalid = await get('/v1/test/validated', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  assert.equal(invalid.status, 400);
  assert.equal(invalid.body.error.code, 'SYNC_ERR_INVALID_REQUEST');
  const malformed = await get('/v1/test/validated', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"sku":',
  });
  assert.equal(malformed.status, 400);
  assert.equal(malformed.body.error.code, 'SYNC_ERR_INVALID_REQUEST');
});

test('close() frees the ports; a failing attach makes createHub reject', async (t) => {
  const hub = await startHub(t);
  const { http: port } = hub.ports;
  await hub.close();
  await assert.rejects(fetch(`http://127.0.0.1:${port}/health`));
  await assert.rejects(
    startHub(
      t,
      {},
      {
        attach: async () => {
          throw new Error('sync server failed to start');
        },
      },
    ),
    /sync server failed to start/,
  );
});
