/**
 * End to end: a misbehaving or hostile device never stops the hub from serving the store.
 * Wrong credentials are refused; a device cannot reach another device's topics; an oversized packet closes
 * only that connection; garbage gets a reject message; HTTP without a token gets 401.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodeMessage } from '@backroom/sync-core';
import mqtt from 'mqtt';
import {
  enrol,
  request,
  revoke,
  startAgent,
  startHub,
  tempDir,
  waitFor,
  waitSynced,
} from './helpers/procs.js';

function connect(url: string, id: string, password: string): Promise<mqtt.MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, {
      clientId: id,
      username: id,
      password,
      reconnectPeriod: 0,
      connectTimeout: 5000,
    });
    c.once('connect', () => resolve(c));
    c.once('error', (e) => {
      c.end(true);
      reject(e);
    });
  });
}

test('hostile devices are refused or cut off while a good terminal keeps syncing', async (t) => {
  const dir = tempDir(t);
  const hubDir = join(dir, 'hub');
  const goodToken = enrol(hubDir, 'till-good');
  const evilToken = enrol(hubDir, 'till-evil');
  const hub = await startHub(t, hubDir, { extraArgs: ['--max-packet-bytes', '65536'] });
  const good = await startAgent(t, {
    hubUrl: hub.url,
    deviceId: 'till-good',
    token: goodToken,
    dataDir: join(dir, 'good'),
  });
  await waitFor('good till connected', async () => (await good.status()).connected);

  // Wrong credentials: refused at CONNECT.
  await assert.rejects(connect(hub.url, 'till-good', 'not-the-credential'), /Not authorized|Bad username/i);
  await assert.rejects(connect(hub.url, 'till-nobody', goodToken), /Not authorized|Bad username/i);

  const evil = await connect(hub.url, 'till-evil', evilToken);
  t.after(() => evil.end(true));
  const fromHub: Buffer[] = [];
  evil.on('message', (_topic, payload) => fromHub.push(payload));
  // Another device's downlink: the subscription is refused (0x80) and nothing of it arrives.
  // (mqtt.js turns a SUBACK failure code 0x80 into an error.)
  await assert.rejects(evil.subscribeAsync('backroom/v1/sync/till-good/down', { qos: 1 }), /Subscribe error/);
  await assert.rejects(evil.subscribeAsync('backroom/v1/sync/+/down', { qos: 1 }), /Subscribe error/);
  await evil.subscribeAsync('backroom/v1/sync/till-evil/down', { qos: 1 });

  // Garbage on its own uplink: a reject comes back; the hub carries on.
  await evil.publishAsync('backroom/v1/sync/till-evil/up', Buffer.from([0xc1, 0xff, 0x00, 0x13, 0x37]), {
    qos: 1,
  });
  await waitFor('a reject for the garbage', () => fromHub.length > 0);
  const reject = decodeMessage(fromHub[0]);
  assert.equal(reject.k, 'reject');
  assert.equal(reject.k === 'reject' && reject.code, 'SYNC_ERR_MESSAGE_MALFORMED');

  // The good terminal still syncs.
  await good.http('PUT', '/v1/collections/orders/objects/O-1', { status: 'open', total: 1 });
  await waitSynced(good);
  await waitFor(
    'hub has O-1',
    async () => (await hub.http('GET', '/v1/collections/orders/objects/O-1')).status === 200,
  );

  // Publishing on another device's uplink closes the offender's connection.
  const closed = new Promise((resolve) => evil.once('close', resolve));
  evil.publish('backroom/v1/sync/till-good/up', Buffer.from('impersonation'), { qos: 1 });
  await closed;

  // An oversized packet closes only that connection.
  const evil2 = await connect(hub.url, 'till-evil', evilToken);
  t.after(() => evil2.end(true));
  const closed2 = new Promise((resolve) => evil2.once('close', resolve));
  evil2.publish('backroom/v1/sync/till-evil/up', Buffer.alloc(200_000, 1), { qos: 0 });
  await closed2;
  await good.http('PUT', '/v1/collections/orders/objects/O-2', { status: 'open', total: 2 });
  await waitSynced(good);
  await waitFor(
    'hub has O-2',
    async () => (await hub.http('GET', '/v1/collections/orders/objects/O-2')).status === 200,
  );
  assert.equal((await good.status()).connected, true);

  // HTTP without a token, or with a wrong one: 401 with the error shape, no stack trace.
  for (const token of [undefined, 'wrong-token']) {
    const r = await request(hub.httpPort, 'GET', '/v1/collections', undefined, token);
    assert.equal(r.status, 401);
    assert.equal(r.body.error.code, 'HUB_ERR_UNAUTHORIZED');
    assert.doesNotMatch(JSON.stringify(r.body), /at .*\.(ts|js):\d+/);
  }
  assert.equal((await request(hub.httpPort, 'GET', '/health')).status, 200);
});

test('a revoked terminal is cut off and cannot come back; its sales stay on the terminal', async (t) => {
  const dir = tempDir(t);
  const hubDir = join(dir, 'hub');
  const token = enrol(hubDir, 'till-lost');
  const hub = await startHub(t, hubDir);
  const till = await startAgent(t, {
    hubUrl: hub.url,
    deviceId: 'till-lost',
    token,
    dataDir: join(dir, 'till'),
  });
  await waitFor('connected', async () => (await till.status()).connected);
  revoke(hubDir, 'till-lost');
  await waitFor('cut off', async () => !(await till.status()).connected, 10_000);
  await till.http('PUT', '/v1/collections/orders/objects/O-9', { status: 'open', total: 3 });
  await new Promise((r) => setTimeout(r, 1500)); // reconnect attempts happen meanwhile, and fail
  const s = await till.status();
  assert.equal(s.connected, false);
  assert.equal(s.pendingUp, 1, 'the write waits in the outbox');
  assert.equal((await hub.http('GET', '/v1/collections/orders/objects/O-9')).status, 404);
  assert.equal((await till.http('GET', '/v1/collections/orders/objects/O-9')).body.total, 3);
});
