import assert from 'node:assert/strict';
import { test } from 'node:test';
import { closed, connectDevice, enrol, inbox, startHub, subscribeGranted } from './helpers.js';

test("a device cannot subscribe to another device's topics (granted 0x80, nothing arrives)", async (t) => {
  const hub = await startHub(t);
  const a = await connectDevice(t, hub, 'pos-a', await enrol(hub, 'pos-a'));
  const b = await connectDevice(t, hub, 'pos-b', await enrol(hub, 'pos-b'));
  const aBox = inbox(a);
  const bBox = inbox(b);

  assert.deepEqual(
    (await a.subscribeAsync('backroom/v1/sync/pos-a/down', { qos: 1 })).map((g) => g.qos),
    [1],
  );
  const filters = [
    'backroom/v1/sync/pos-a/down',
    'backroom/v1/sync/+/down',
    'backroom/v1/#',
    '#',
    'backroom/v1/sync/pos-a/up',
    'backroom/v1/presence/+', // pos terminals are not dashboards
    'backroom/v1/telemetry/pos-a/+',
    'backroom/v1/sync/pos-b/down',
  ];
  assert.deepEqual(await subscribeGranted(b, filters), [128, 128, 128, 128, 128, 128, 128, 1]);
  assert.equal(b.connected, true, 'a refused subscription does not close the connection');

  // The hub sends to A first, then to B: B gets its own message and nothing of A's.
  await hub.channel.send('pos-a', Buffer.from('for a'));
  await hub.channel.send('pos-b', Buffer.from('for b'));
  await aBox.next((m) => m.payload === 'for a');
  await bBox.next((m) => m.payload === 'for b');
  assert.deepEqual(
    bBox.messages.map((m) => m.payload),
    ['for b'],
  );
  assert.deepEqual(
    aBox.messages.map((m) => m.payload),
    ['for a'],
  );
});

test("a device that publishes on another device's topic is disconnected and the message never arrives", async (t) => {
  const hub = await startHub(t);
  const a = await connectDevice(t, hub, 'pos-a', await enrol(hub, 'pos-a'));
  const b = await connectDevice(t, hub, 'pos-b', await enrol(hub, 'pos-b'));
  const received: string[] = [];
  hub.channel.onMessage((deviceId, payload) => received.push(`${deviceId}:${payload}`));
  const aBox = inbox(a);
  await a.subscribeAsync('backroom/v1/sync/pos-a/down', { qos: 1 });

  const bClosed = closed(b);
  b.publish('backroom/v1/sync/pos-a/down', 'forged sync down', { qos: 1 });
  await bClosed;

  assert.equal(hub.channel.isOnline('pos-b'), false);

  // The hub's own message reaches A; the forged one was dropped before it.
  await hub.channel.send('pos-a', Buffer.from('real'));
  await aBox.next((m) => m.payload === 'real');
  assert.deepEqual(
    aBox.messages.map((m) => m.payload),
    ['real'],
  );
  assert.deepEqual(received, []);
});

test('a device cannot upload as another device, and a pos terminal cannot publish telemetry', async (t) => {
  const hub = await startHub(t);
  const credential = await enrol(hub, 'pos-b');
  await enrol(hub, 'pos-a');
  const received: string[] = [];
  hub.channel.onMessage((deviceId, payload) => received.push(`${deviceId}:${payload}`));
  const telemetry: string[] = [];
  hub.channel.onTelemetry((deviceId, metric, payload) => telemetry.push(`${deviceId}/${metric}:${payload}`));

  const b1 = await connectDevice(t, hub, 'pos-b', credential);
  const b1Closed = closed(b1);
  b1.publish('backroom/v1/sync/pos-a/up', 'forged upload', { qos: 1 });
  await b1Closed;

  const b2 = await connectDevice(t, hub, 'pos-b', credential);
  const b2Closed = closed(b2);
  b2.publish('backroom/v1/telemetry/pos-b/temperature', '4.5', { qos: 1 });
  await b2Closed;

  const b3 = await connectDevice(t, hub, 'pos-b', credential);
  await b3.publishAsync('backroom/v1/sync/pos-b/up', 'own upload', { qos: 1 });
  assert.deepEqual(received, ['pos-b:own upload']);
  assert.deepEqual(telemetry, []);
});

test('sync uploads reach the channel handler in order, even when a handler throws', async (t) => {
  const hub = await startHub(t);
  const received: string[] = [];
  hub.channel.onMessage(() => {
    throw new Error('a broken handler');
  });
  hub.channel.onMessage((deviceId, payload, principal) =>
    received.push(`${deviceId}:${principal.role}:${principal.store}:${payload}`),
  );
  const pos = await connectDevice(t, hub, 'pos-1', await enrol(hub, 'pos-1', 'pos', 'berlin-01'));
  for (let i = 0; i < 20; i++) pos.publish('backroom/v1/sync/pos-1/up', `m${i}`, { qos: 1 });
  await pos.publishAsync('backroom/v1/sync/pos-1/up', 'last', { qos: 1 });
  assert.deepEqual(received, [
    ...Array.from({ length: 20 }, (_, i) => `pos-1:pos:berlin-01:m${i}`),
    'pos-1:pos:berlin-01:last',
  ]);
  assert.equal(pos.connected, true, 'the hub survived the throwing handler');
});

test('a sensor publishes telemetry; a dashboard may watch presence; the hub can disconnect a device', async (t) => {
  const hub = await startHub(t);
  const telemetry: string[] = [];
  hub.channel.onTelemetry((deviceId, metric, payload) => telemetry.push(`${deviceId}/${metric}:${payload}`));
  const sensor = await connectDevice(t, hub, 'fridge-1', await enrol(hub, 'fridge-1', 'sensor'));
  await sensor.publishAsync('backroom/v1/telemetry/fridge-1/temperature', '4.5', { qos: 1 });
  assert.deepEqual(telemetry, ['fridge-1/temperature:4.5']);

  const dash = await connectDevice(t, hub, 'dash-1', await enrol(hub, 'dash-1', 'dashboard'));
  assert.deepEqual(
    await subscribeGranted(dash, ['backroom/v1/presence/+', 'backroom/v1/sync/fridge-1/down']),
    [1, 128],
  );

  const gone = closed(sensor);
  const disconnected = new Promise<string>((resolve) => hub.channel.onDisconnect(resolve));
  hub.channel.disconnect('fridge-1');
  await gone;
  assert.equal(await disconnected, 'fridge-1');
  assert.equal(hub.channel.isOnline('fridge-1'), false);
});
