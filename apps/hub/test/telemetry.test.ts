/**
 * Plain MQTT sensors land in `readings`: every accepted message is kept (even many in one millisecond),
 * and a QoS 1 redelivery is stored once. Real hub with the sync server, real mqtt.js sensor.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { IMessageIdProvider } from 'mqtt';
import { connectDevice, enrol, startSyncHub } from './helpers.js';

/** Hands out the same packet id every time: lets a test send what a sensor sends when it redelivers. */
function fixedIds(id: number): IMessageIdProvider {
  return {
    allocate: () => id,
    getLastAllocated: () => id,
    register: () => true,
    deallocate: () => {},
    clear: () => {},
  };
}

test('20 QoS 1 readings published at once are 20 readings', async (t) => {
  const { hub, attachment } = await startSyncHub(t);
  const credential = await enrol(hub, 'fridge-1', 'sensor');
  const sensor = await connectDevice(t, hub, 'fridge-1', credential);
  await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      sensor.publishAsync('backroom/v1/telemetry/fridge-1/temperature', String(3 + i / 10), { qos: 1 }),
    ),
  );
  const { objects } = attachment.server.store.query('readings', { limit: 100 });
  assert.equal(objects.length, 20);
  assert.deepEqual(
    objects.map((o) => o.value).sort(),
    Array.from({ length: 20 }, (_, i) => 3 + i / 10).sort(),
  );
  assert.ok(objects.every((o) => o.deviceId === 'fridge-1' && o.metric === 'temperature'));
});

test('a redelivered QoS 1 reading (DUP, same packet id and payload) is stored once; a new one with that id is kept', async (t) => {
  const { hub, attachment } = await startSyncHub(t);
  const credential = await enrol(hub, 'fridge-1', 'sensor');
  const sensor = await connectDevice(t, hub, 'fridge-1', credential, { messageIdProvider: fixedIds(7) });
  const topic = 'backroom/v1/telemetry/fridge-1/temperature';
  await sensor.publishAsync(topic, '{"value":4.5,"unit":"C"}', { qos: 1 });
  await sensor.publishAsync(topic, '{"value":4.5,"unit":"C"}', { qos: 1, dup: true });
  const count = () => attachment.server.store.query('readings', { limit: 100 }).objects.length;
  assert.equal(count(), 1, 'the redelivery was not stored again');
  // Packet ids are reused once acknowledged: a new message (no DUP) under the same id is a new reading,
  // and so is a DUP with another payload.
  await sensor.publishAsync(topic, '{"value":4.5,"unit":"C"}', { qos: 1 });
  await sensor.publishAsync(topic, '{"value":4.7,"unit":"C"}', { qos: 1, dup: true });
  assert.equal(count(), 3);
  const [first] = attachment.server.store.query('readings', { limit: 1 }).objects;
  assert.equal(first.unit, 'C');
});
