import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connect, connectAsync } from 'mqtt';
import { closed, connectDevice, enrol, inbox, startHub } from './helpers.js';

test('presence: retained online on connect, retained offline on disconnect, for any reason', async (t) => {
  const hub = await startHub(t);
  const dash = await connectDevice(t, hub, 'dash-1', await enrol(hub, 'dash-1', 'dashboard'));
  const box = inbox(dash);
  await dash.subscribeAsync('backroom/v1/presence/+', { qos: 1 });

  const credential = await enrol(hub, 'pos-1');
  const pos = await connectDevice(t, hub, 'pos-1', credential, {
    will: {
      topic: 'backroom/v1/presence/pos-1',
      payload: Buffer.from('{"online":false}'),
      qos: 1,
      retain: true,
    },
  });
  const online = await box.next(
    (m) => m.topic === 'backroom/v1/presence/pos-1' && JSON.parse(m.payload).online,
  );
  assert.equal(typeof JSON.parse(online.payload).at, 'number');
  assert.equal(hub.channel.isOnline('pos-1'), true);

  // A late subscriber sees the retained state.
  const late = await connectDevice(t, hub, 'dash-2', await enrol(hub, 'dash-2', 'dashboard'));
  const lateBox = inbox(late);
  await late.subscribeAsync('backroom/v1/presence/pos-1', { qos: 1 });
  const retained = await lateBox.next((m) => m.topic === 'backroom/v1/presence/pos-1');
  assert.equal(retained.retain, true);
  assert.equal(JSON.parse(retained.payload).online, true);

  // The terminal's network drops (no DISCONNECT packet).
  (pos as unknown as { stream: { destroy(): void } }).stream.destroy();
  const offline = await box.next(
    (m) =>
      m.topic === 'backroom/v1/presence/pos-1' &&
      JSON.parse(m.payload).online === false &&
      'at' in JSON.parse(m.payload),
  );
  assert.equal(typeof JSON.parse(offline.payload).at, 'number');
  assert.equal(hub.channel.isOnline('pos-1'), false);
  const seen = hub.channel.devices().find((d) => d.deviceId === 'pos-1');
  assert.equal(seen?.online, false);
  assert.ok((seen?.lastSeen ?? 0) > 0);
  assert.ok((hub.registry.get('pos-1')?.lastSeen ?? 0) > 0, 'last seen recorded in the registry');

  // A newcomer now sees the retained offline state.
  const third = await connectDevice(t, hub, 'dash-3', await enrol(hub, 'dash-3', 'dashboard'));
  const thirdBox = inbox(third);
  await third.subscribeAsync('backroom/v1/presence/pos-1', { qos: 1 });
  const now = await thirdBox.next((m) => m.topic === 'backroom/v1/presence/pos-1');
  assert.equal(JSON.parse(now.payload).online, false);
});

test('an oversized packet closes only its own connection; the other devices keep working', async (t) => {
  const hub = await startHub(t, { maxPacketBytes: 1024 });
  const received: string[] = [];
  hub.channel.onMessage((deviceId, payload) => received.push(`${deviceId}:${payload.length}`));
  const big = await connectDevice(t, hub, 'pos-big', await enrol(hub, 'pos-big'));
  const small = await connectDevice(t, hub, 'pos-small', await enrol(hub, 'pos-small'));

  await big.publishAsync('backroom/v1/sync/pos-big/up', Buffer.alloc(900), { qos: 1 });
  const gone = closed(big);
  big.publish('backroom/v1/sync/pos-big/up', Buffer.alloc(5000), { qos: 1 });
  await gone;

  await small.publishAsync('backroom/v1/sync/pos-small/up', Buffer.alloc(500), { qos: 1 });
  assert.equal(small.connected, true);
  assert.deepEqual(received, ['pos-big:900', 'pos-small:500']);
  assert.equal(hub.channel.isOnline('pos-big'), false);
  assert.equal(hub.channel.isOnline('pos-small'), true);

  const metrics = await (
    await fetch(`http://127.0.0.1:${hub.ports.http}/metrics`, {
      headers: { authorization: `Bearer ${hub.adminToken.token}` },
    })
  ).text();
  assert.match(metrics, /backroom_mqtt_rejected_total\{reason="packet-too-large"\} 1/);
  assert.match(metrics, /backroom_mqtt_connected_devices 1/);
});

test('MQTT over WebSocket at /mqtt', async (t) => {
  const hub = await startHub(t);
  const received: string[] = [];
  hub.channel.onMessage((deviceId, payload) => received.push(`${deviceId}:${payload}`));
  const credential = await enrol(hub, 'kiosk-1');
  const client = await connectAsync(`ws://127.0.0.1:${hub.ports.http}/mqtt`, {
    clientId: 'kiosk-1',
    username: 'kiosk-1',
    password: credential,
    reconnectPeriod: 0,
  });
  t.after(() => client.endAsync(true));
  const box = inbox(client);
  await client.subscribeAsync('backroom/v1/sync/kiosk-1/down', { qos: 1 });
  await client.publishAsync('backroom/v1/sync/kiosk-1/up', 'hello over ws', { qos: 1 });
  assert.deepEqual(received, ['kiosk-1:hello over ws']);
  await hub.channel.send('kiosk-1', new TextEncoder().encode('welcome'));
  assert.equal((await box.next((m) => m.topic === 'backroom/v1/sync/kiosk-1/down')).payload, 'welcome');

  const refused = await connectAsync(`ws://127.0.0.1:${hub.ports.http}/mqtt`, {
    clientId: 'kiosk-1',
    username: 'kiosk-1',
    password: 'wrong',
    reconnectPeriod: 0,
  }).then(
    () => undefined,
    (e: { code?: number }) => e.code,
  );
  assert.equal(refused, 5);
});

test('a persistent session receives what was sent while it was offline', async (t) => {
  const hub = await startHub(t);
  const credential = await enrol(hub, 'pos-1');
  const first = await connectDevice(t, hub, 'pos-1', credential, { clean: false });
  await first.subscribeAsync('backroom/v1/sync/pos-1/down', { qos: 1 });
  await first.endAsync();
  await hub.channel.send('pos-1', Buffer.from('while you were away'));
  // The listener must be in place before the CONNACK: the queued message follows it immediately.
  const again = connect(`mqtt://127.0.0.1:${hub.ports.mqtt}`, {
    clientId: 'pos-1',
    username: 'pos-1',
    password: credential,
    clean: false,
    reconnectPeriod: 0,
  });
  t.after(() => again.endAsync(true));
  const box = inbox(again);
  assert.equal((await box.next(() => true)).payload, 'while you were away');
});
