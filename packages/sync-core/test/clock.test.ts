import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  packStamp,
  SyncClock,
  type SyncError,
  stampFromString,
  stampToString,
  type TimeSource,
  unpackStamp,
} from '@backroom/sync-core';

/** A hand-driven time source: wall and monotonic clocks move only when the test says so. */
function fakeTime(start = 1_700_000_000_000) {
  const t = { wall: start, mono: 0 };
  const source: TimeSource = { wall: () => t.wall, monotonic: () => t.mono };
  return { t, source };
}

const ms = (s: bigint) => unpackStamp(s).ms;

test('stamps pack 48-bit ms and 16-bit counter, and the string form sorts like the stamp', () => {
  const s = packStamp(2 ** 48 - 1, 0xffff);
  assert.equal(typeof s, 'bigint');
  assert.deepEqual(unpackStamp(s), { ms: 2 ** 48 - 1, counter: 0xffff });
  assert.equal(stampFromString(stampToString(s)), s);
  const list = [packStamp(5, 1), packStamp(4, 65535), packStamp(1_700_000_000_000, 0), packStamp(5, 0)];
  const byBig = [...list].sort((a, b) => (a < b ? -1 : 1)).map(stampToString);
  const byStr = list.map(stampToString).sort();
  assert.deepEqual(byStr, byBig);
  assert.ok(stampToString(packStamp(1, 0)).length === 16);
});

test('a frozen clock still issues strictly increasing stamps', () => {
  const { source } = fakeTime();
  const clock = new SyncClock({ time: source });
  let prev = clock.now();
  for (let i = 0; i < 1000; i++) {
    const s = clock.now();
    assert.ok(s > prev);
    prev = s;
  }
  assert.equal(ms(prev), 1_700_000_000_000);
});

test('70,000 stamps in one millisecond roll the counter into the next millisecond, never wrap', () => {
  const { source } = fakeTime();
  const clock = new SyncClock({ time: source });
  let prev = clock.now();
  for (let i = 0; i < 70_000; i++) {
    const s = clock.now();
    assert.ok(s > prev, `stamp ${i} went backwards`);
    prev = s;
  }
  assert.equal(ms(prev), 1_700_000_000_001);
  assert.equal(unpackStamp(prev).counter, 70_000 - 65_536);
});

test('a wall clock jumping back an hour does not move stamps backwards', () => {
  const { t, source } = fakeTime();
  const clock = new SyncClock({ time: source });
  const before = clock.now();
  t.wall -= 3_600_000;
  const after = clock.now();
  assert.ok(after > before);
  assert.equal(ms(after), ms(before));
  t.wall += 3_600_000 + 5;
  assert.equal(ms(clock.now()), 1_700_000_000_005);
});

test('restart: a clock restored from its persisted high-water mark starts above it even if time went back', () => {
  const { t, source } = fakeTime();
  const a = new SyncClock({ time: source });
  for (let i = 0; i < 10; i++) a.now();
  const hw = a.highWater();
  t.wall -= 60_000; // the machine rebooted with a wrong clock
  const b = new SyncClock({ time: source, highWater: hw });
  assert.ok(b.now() > hw);
});

test('HLC receive rule: a peer slightly ahead moves the clock forward and later stamps follow it', () => {
  const { source } = fakeTime();
  const clock = new SyncClock({ time: source });
  const remote = packStamp(1_700_000_030_000, 7); // 30 s ahead: within the 60 s skew
  const r = clock.receive(remote);
  assert.equal(r.rebased, false);
  assert.equal(r.stamp, remote);
  const next = clock.now();
  assert.ok(next > remote);
  assert.equal(ms(next), 1_700_000_030_000);
});

test('a peer one day in the future never advances the clock and is rebased', () => {
  const { source } = fakeTime();
  const clock = new SyncClock({ time: source });
  const day = 86_400_000;
  const remote = packStamp(1_700_000_000_000 + day, 0);
  assert.equal(clock.isTooFarAhead(remote), true);
  const r = clock.receive(remote);
  assert.equal(r.rebased, true);
  assert.ok(r.stamp < remote);
  assert.equal(ms(r.stamp), 1_700_000_000_000);
  assert.ok(ms(clock.now()) < 1_700_000_000_000 + 1000, 'clock stayed near local time');
});

test('the allowed skew is configurable', () => {
  const { source } = fakeTime();
  const clock = new SyncClock({ time: source, maxSkewMs: 1000 });
  assert.equal(clock.receive(packStamp(1_700_000_002_000, 0)).rebased, true);
  assert.equal(clock.receive(packStamp(1_700_000_000_900, 0)).rebased, false);
});

test('after adopting the hub offset, changing the wall clock while offline does not distort stamps', () => {
  const { t, source } = fakeTime();
  const clock = new SyncClock({ time: source });
  // The terminal's wall clock is a day ahead of the hub; it learns the offset at connection.
  const day = 86_400_000;
  t.wall += day;
  clock.adoptOffset(-day);
  assert.ok(Math.abs(clock.physicalNow() - 1_700_000_000_000) < 2);
  // Offline: 10 s pass on the monotonic clock while someone sets the wall clock back a year.
  t.mono += 10_000;
  t.wall -= 365 * day;
  assert.equal(clock.physicalNow(), 1_700_000_010_000);
  const s = clock.now();
  assert.equal(ms(s), 1_700_000_010_000);
});

test('time beyond 48 bits is a clock error, not a silently wrong stamp', () => {
  const clock = new SyncClock({ time: { wall: () => 2 ** 49, monotonic: () => 0 } });
  assert.throws(
    () => clock.now(),
    (e: SyncError) => e.code === 'SYNC_ERR_CLOCK',
  );
});
