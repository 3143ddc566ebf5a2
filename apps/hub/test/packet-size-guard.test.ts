import assert from 'node:assert/strict';
import { test } from 'node:test';
import mqttPacket from 'mqtt-packet';
import { MqttPacketSizeGuard } from '../src/broker/packet-size-guard.js';

function publish(bytes: number): Buffer {
  return mqttPacket.generate({
    cmd: 'publish',
    topic: 'backroom/v1/sync/pos-1/up',
    payload: Buffer.alloc(bytes),
    qos: 0,
    retain: false,
    dup: false,
  } as never);
}

/** Feeds `chunks` through a guard; resolves with the bytes passed through, or the error it failed with. */
function run(max: number, chunks: Buffer[]): Promise<{ passed: number; error?: { code: string } }> {
  return new Promise((resolve) => {
    const guard = new MqttPacketSizeGuard(max);
    let passed = 0;
    guard.on('data', (c: Buffer) => {
      passed += c.length;
    });
    guard.on('error', (error: { code: string }) => resolve({ passed, error }));
    guard.on('end', () => resolve({ passed }));
    for (const c of chunks) guard.write(c);
    guard.end();
  });
}

test('packets within the limit pass through unchanged, however the stream is chunked', async () => {
  const stream = Buffer.concat([publish(10), publish(300), publish(1000), publish(0)]);
  assert.deepEqual(await run(2048, [stream]), { passed: stream.length });
  // One byte at a time: the remaining-length varint spans chunks.
  const bytes = [...stream].map((b) => Buffer.from([b]));
  assert.deepEqual(await run(2048, bytes), { passed: stream.length });
});

test('the first oversized packet fails the stream as soon as its header is known', async () => {
  const ok = publish(100);
  const tooBig = publish(5000);
  // Only the header of the big packet is sent: the guard must not wait for its body.
  const res = await run(1024, [ok, tooBig.subarray(0, 2), tooBig.subarray(2, 4)]);
  assert.equal(res.error?.code, 'HUB_ERR_PACKET_TOO_LARGE');
  // The incomplete header in the first chunk was passed on (the guard counts, it does not buffer);
  // nothing after the completed header was.
  assert.equal(res.passed, ok.length + 2);
});

test('a remaining length longer than four bytes is malformed', async () => {
  const res = await run(1024, [Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])]);
  assert.equal(res.error?.code, 'HUB_ERR_PACKET_MALFORMED');
});
