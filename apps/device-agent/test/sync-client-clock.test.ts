/**
 * The sync client places a terminal's offline writes at hub time on the `welcome` that answers its own
 * `hello`, before pushing; a welcome to an earlier hello (a resent hello, a queued welcome) is ignored.
 * The terminal's clock is a day ahead; the hub is played by the test through a fake transport.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  type Change,
  decodeMessage,
  encodeMessage,
  loadSchema,
  ReplicaStore,
  type SyncMessage,
  type TimeSource,
  unpackStamp,
} from '@backroom/sync-core';
import { SyncClient } from '../src/sync/sync-client.js';
import type { Transport, TransportEvents } from '../src/transport/transport.js';

const DAY = 86_400_000;
const REAL = 1_800_000_000_000;

const schema = loadSchema(
  JSON.parse(
    readFileSync(fileURLToPath(import.meta.resolve('@backroom/sync-core/retail-schema.json')), 'utf8'),
  ),
);

/** The hub's end of the link, driven by the test. */
class FakeHubLink implements Transport {
  readonly sent: SyncMessage[] = [];
  private readonly events = new EventEmitter();
  private up = false;
  start(): void {}
  async send(payload: Uint8Array): Promise<void> {
    this.sent.push(decodeMessage(payload));
  }
  isConnected(): boolean {
    return this.up;
  }
  on<K extends keyof TransportEvents>(event: K, listener: TransportEvents[K]): void {
    this.events.on(event, listener);
  }
  async close(): Promise<void> {}
  connect(): void {
    this.up = true;
    this.events.emit('connect');
  }
  deliver(m: SyncMessage): void {
    this.events.emit('message', Buffer.from(encodeMessage(m)));
  }
}

function setup(t: TestContext) {
  const dir = mkdtempSync(join(tmpdir(), 'backroom-agent-clock-'));
  const time = { wall: REAL + DAY, mono: 10_000 };
  const source: TimeSource = { wall: () => time.wall, monotonic: () => time.mono, bootId: () => 'boot-1' };
  const store = ReplicaStore.open({
    path: join(dir, 'replica.db'),
    schema,
    nodeId: 'till-1',
    role: 'pos',
    time: source,
  });
  const link = new FakeHubLink();
  const client = new SyncClient({ store, transport: link, deviceId: 'till-1' });
  t.after(async () => {
    await client.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { store, link, client, time };
}

const welcome = (hubTime: number, offsetMs: number): SyncMessage => ({
  k: 'welcome',
  hubId: 'hub',
  hubTime,
  offsetMs,
  resync: false,
  maxMessageBytes: 1_000_000,
  maxSkewMs: 60_000,
});
const tick = () => new Promise((r) => setImmediate(r));
const pushes = (link: FakeHubLink) =>
  link.sent.filter((m): m is Extract<SyncMessage, { k: 'push' }> => m.k === 'push');
const stampsOf = (changes: readonly Change[]) =>
  changes.flatMap((c) => [
    ...Object.values(c.fields ?? {}).map((w) => w.ver.s),
    ...(c.incs ?? []).map((i) => i.ver.s),
    ...(c.exists ? [c.exists.ver.s] : []),
  ]);

test('offline writes go up at hub time once the welcome to this hello arrives; a welcome to an earlier hello is ignored', async (t) => {
  const { store, link, client, time } = setup(t);
  // Offline, a day ahead: a sale and an order.
  store.increment('inventory', 'SKU-1', { stock: -1 });
  time.wall += 1000;
  time.mono += 1000;
  store.put('orders', 'O-1', { status: 'open', total: 5 });
  const dayAhead = store.get('orders', 'O-1')!._meta.stamp;

  time.wall += 4000;
  time.mono += 4000;
  client.start();
  link.connect();
  const hello = link.sent.find((m) => m.k === 'hello');
  assert.ok(hello && hello.k === 'hello');
  assert.equal(hello.wallTime, REAL + DAY + 5000);

  // The hub answers a hello resent from an earlier connection, made 3 s before this one.
  const hubTime = REAL + 5010;
  link.deliver(welcome(hubTime, hubTime - (hello.wallTime - 3000)));
  await tick();
  assert.equal(pushes(link).length, 0, 'nothing pushed on a welcome to another hello');
  assert.equal(store.get('orders', 'O-1')!._meta.stamp, dayAhead);
  assert.equal(client.status().connected, false);

  // Then the welcome to this hello: the writes move to hub time before the push.
  link.deliver(welcome(hubTime, hubTime - hello.wallTime));
  await tick();
  assert.equal(client.status().connected, true);
  const sent = pushes(link).flatMap((p) => p.changes);
  assert.equal(sent.length, 2);
  for (const s of stampsOf(sent)) {
    const ms = unpackStamp(s).ms;
    assert.ok(ms >= REAL - 100 && ms <= REAL + 1100, `pushed at hub time: ${ms - REAL}`);
  }
  const inc = sent.find((c) => c.id === 'SKU-1')!.incs![0];
  assert.equal(inc.op, `till-1/${inc.ver.s.toString(16).padStart(16, '0')}`);
  assert.ok(Math.abs(client.status().clockOffsetMs + DAY) < 1000);
  // New writes are stamped at hub time too.
  const next = store.patch('orders', 'O-1', { note: 'after the welcome' });
  assert.ok(Math.abs(unpackStamp(BigInt(`0x${next._meta.stamp}`)).ms - hubTime) < 100);
});

test('a terminal whose clock was set by hand since its offline writes pushes them as they are (the hub rebases)', async (t) => {
  const { store, link, client, time } = setup(t);
  store.put('orders', 'O-1', { status: 'open', total: 5 });
  const dayAhead = store.get('orders', 'O-1')!._meta.stamp;
  time.wall -= DAY; // set right by hand; the monotonic clock does not move with it
  time.mono += 2000;
  client.start();
  link.connect();
  const hello = link.sent.find((m) => m.k === 'hello');
  assert.ok(hello && hello.k === 'hello');
  link.deliver(welcome(hello.wallTime + 20, 20));
  await tick();
  const sent = pushes(link).flatMap((p) => p.changes);
  assert.equal(sent.length, 1);
  assert.equal(store.get('orders', 'O-1')!._meta.stamp, dayAhead);
  assert.ok(stampsOf(sent).every((s) => unpackStamp(s).ms > REAL + DAY - 1000));
});
