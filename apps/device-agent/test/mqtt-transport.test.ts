import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { Aedes } from 'aedes';
import { MqttTransport } from '../src/transport/mqtt-transport.js';

test('the transport reaches a plain TCP hub (mqtt://) and hears its downlink', async (t) => {
  const aedes = await Aedes.createBroker();
  const server = createServer((socket) => aedes.handle(socket));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(async () => {
    server.close(); // not awaited: it waits for the agent's socket, which aedes.close ends
    await new Promise<void>((r) => aedes.close(() => r()));
  });
  const port = (server.address() as { port: number }).port;
  const transport = new MqttTransport({ url: `mqtt://127.0.0.1:${port}`, deviceId: 'till-1', token: 't' });
  t.after(() => transport.close());
  const connected = new Promise<void>((r) => transport.on('connect', r));
  transport.start();
  await connected;
  assert.equal(transport.isConnected(), true);
  const heard = new Promise<Buffer>((r) => transport.on('message', (p) => r(Buffer.from(p))));
  aedes.publish(
    {
      cmd: 'publish',
      topic: 'backroom/v1/sync/till-1/down',
      payload: Buffer.from('hi'),
      qos: 1,
      retain: false,
      dup: false,
    },
    () => {},
  );
  assert.equal((await heard).toString(), 'hi');
});

test('a WebSocket hub URL goes through mqtt.connect: start and close work with no hub there', async () => {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r())); // a port with nothing listening
  const transport = new MqttTransport({
    url: `ws://127.0.0.1:${port}/mqtt`,
    deviceId: 'till-2',
    token: 't',
    minBackoffMs: 10_000,
  });
  transport.start();
  assert.equal(transport.isConnected(), false);
  await transport.close();
});
