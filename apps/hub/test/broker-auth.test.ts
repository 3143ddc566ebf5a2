import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import { test } from 'node:test';
import mqttPacket from 'mqtt-packet';
import { connectDevice, enrol, refusedConnect, startHub } from './helpers.js';

test('a device connects with its id and credential; wrong credentials are refused with CONNACK 5', async (t) => {
  const hub = await startHub(t);
  const credential = await enrol(hub, 'pos-1');
  const other = await enrol(hub, 'pos-2');
  const url = `mqtt://127.0.0.1:${hub.ports.mqtt}`;

  const ok = await connectDevice(t, hub, 'pos-1', credential);
  assert.equal(ok.connected, true);

  const wrong = await refusedConnect(url, {
    clientId: 'pos-1',
    username: 'pos-1',
    password: `${credential}x`,
  });
  assert.equal(wrong.code, 5, 'wrong password');
  const swapped = await refusedConnect(url, { clientId: 'pos-1', username: 'pos-1', password: other });
  assert.equal(swapped.code, 5, "another device's credential");
  const unknown = await refusedConnect(url, { clientId: 'ghost', username: 'ghost', password: credential });
  assert.equal(unknown.code, 5, 'unknown device');
  const none = await refusedConnect(url, { clientId: 'pos-1' });
  assert.equal(none.code, 5, 'no username or password');
});

test('a client id other than the device id is refused (identifier rejected)', async (t) => {
  const hub = await startHub(t);
  const credential = await enrol(hub, 'pos-1');
  await enrol(hub, 'pos-10');
  const err = await refusedConnect(`mqtt://127.0.0.1:${hub.ports.mqtt}`, {
    clientId: 'pos-10',
    username: 'pos-1',
    password: credential,
  });
  assert.equal(err.code, 2);
});

test('a revoked device can no longer connect', async (t) => {
  const hub = await startHub(t);
  const credential = await enrol(hub, 'pos-1');
  hub.registry.revoke('pos-1');
  const err = await refusedConnect(`mqtt://127.0.0.1:${hub.ports.mqtt}`, {
    clientId: 'pos-1',
    username: 'pos-1',
    password: credential,
  });
  assert.equal(err.code, 5);
});

/** A raw MQTT 3.1.1 CONNECT (mqtt-packet refuses to generate an empty client id with clean=false). */
function connectBytes(clientId: string, clean: boolean, username: string, password: string): Buffer {
  const str = (s: string) => {
    const b = Buffer.from(s);
    return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
  };
  const flags = 0x80 | 0x40 | (clean ? 0x02 : 0);
  const body = Buffer.concat([
    str('MQTT'),
    Buffer.from([4, flags, 0, 0]),
    str(clientId),
    str(username),
    str(password),
  ]);
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

/** Sends one raw CONNECT; resolves with the CONNACK return code once the hub has closed the socket. */
function rawConnect(port: number, bytes: Buffer): Promise<{ returnCode: number; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(port, '127.0.0.1');
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    let returnCode: number | undefined;
    parser.on('packet', (p) => {
      if (p.cmd === 'connack') returnCode = p.returnCode;
    });
    socket.on('data', (d) => parser.parse(d));
    socket.on('error', reject);
    socket.on('close', () =>
      returnCode === undefined
        ? reject(new Error('closed without CONNACK'))
        : resolve({ returnCode, closed: true }),
    );
    socket.write(bytes);
  });
}

test('an empty client id with clean=false gets CONNACK 2 and is disconnected [MQTT-3.1.3-8]', async (t) => {
  const hub = await startHub(t);
  const credential = await enrol(hub, 'pos-1');
  const res = await rawConnect(hub.ports.mqtt, connectBytes('', false, 'pos-1', credential));
  assert.deepEqual(res, { returnCode: 2, closed: true });
  assert.equal(hub.channel.isOnline('pos-1'), false);
});

test('an empty client id with clean=true is given the device id', async (t) => {
  const hub = await startHub(t);
  const credential = await enrol(hub, 'pos-1');
  const connected = new Promise<string>((resolve) => hub.channel.onConnect((p) => resolve(p.deviceId)));
  const socket = netConnect(hub.ports.mqtt, '127.0.0.1');
  t.after(() => socket.destroy());
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const connack = new Promise<number>((resolve) =>
    parser.on('packet', (p) => resolve((p as { returnCode: number }).returnCode)),
  );
  socket.on('data', (d) => parser.parse(d));
  socket.write(connectBytes('', true, 'pos-1', credential));
  assert.equal(await connack, 0);
  assert.equal(await connected, 'pos-1');
  assert.equal(hub.channel.isOnline('pos-1'), true);
});

test('with insecureNoAuth anyone connects, the client id being the device id', async (t) => {
  const hub = await startHub(t, { insecureNoAuth: true });
  const principal = new Promise<{ deviceId: string; method: string; claims: unknown }>((resolve) =>
    hub.channel.onConnect((p) => resolve(p)),
  );
  const client = await connectDevice(t, hub, 'kiosk-7', 'anything');
  assert.equal(client.connected, true);
  const p = await principal;
  assert.equal(p.deviceId, 'kiosk-7');
  assert.equal(p.method, 'insecure');
  assert.deepEqual(p.claims, { sub: 'kiosk-7' });
  // HTTP is open too.
  const res = await fetch(`http://127.0.0.1:${hub.ports.http}/v1/devices`);
  assert.equal(res.status, 200);
});
