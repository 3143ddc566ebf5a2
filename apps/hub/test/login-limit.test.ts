/**
 * Failed authentication is rate limited per address and per device id, over MQTT and HTTP, without
 * delaying a legitimate device: a burst of wrong passwords used to queue a terminal's CONNECT behind
 * seconds of scrypt. Timings are reported as diagnostics, never asserted (shared, noisy machines); what
 * is asserted is the work the hub did and what each client was answered.
 */
import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import { test } from 'node:test';
import { type IClientOptions, MqttClient } from 'mqtt';
import { LoginGuard } from '../src/auth/login-guard.js';
import { connectDevice, enrol, http, startHub } from './helpers.js';

/** One MQTT CONNECT from a chosen local address (127.0.0.2 is another source on loopback). */
function attempt(port: number, localAddress: string, options: IClientOptions): Promise<number> {
  return new Promise((resolve) => {
    const client = new MqttClient(() => netConnect({ host: '127.0.0.1', port, localAddress }), {
      reconnectPeriod: 0,
      connectTimeout: 30_000,
      ...options,
    });
    client.once('connect', () => {
      client.end(true);
      resolve(0);
    });
    client.once('error', (err) => {
      client.end(true);
      resolve((err as Error & { code?: number }).code ?? -1);
    });
  });
}

test('200 wrong passwords from one address: refused mostly unchecked, and a new terminal elsewhere still gets in', async (t) => {
  const hub = await startHub(t);
  const credential = await enrol(hub, 'till-1', 'pos');
  const port = hub.ports.mqtt;

  // Half guess till-1's password, half guess other ids; all from 127.0.0.2, all at once.
  const burst = Array.from({ length: 200 }, (_, i) => {
    const id = i % 2 ? 'till-1' : `guess-${i}`;
    return attempt(port, '127.0.0.2', { clientId: id, username: id, password: `wrong-${i}` });
  });
  await new Promise((r) => setTimeout(r, 50));
  // till-1 has never connected: nothing is remembered for it, its password must be hashed.
  const started = performance.now();
  const legit = await attempt(port, '127.0.0.1', {
    clientId: 'till-1',
    username: 'till-1',
    password: credential,
  });
  const connectMs = performance.now() - started;
  const refusals = await Promise.all(burst);

  assert.equal(legit, 0, 'the terminal is accepted during the attack');
  assert.ok(
    refusals.every((code) => code === 5 || code === 3),
    'every guess is refused (5: checked, 3: over budget)',
  );
  const { verified, limited } = hub.authenticator.guard.stats;
  assert.ok(verified <= 15, `at most the burst was hashed (${verified} checks ran)`);
  assert.ok(limited >= 185, `the rest was refused without hashing (${limited})`);
  assert.equal(refusals.filter((c) => c === 3).length, limited);
  t.diagnostic(`legitimate CONNECT during the burst: ${connectMs.toFixed(0)} ms (not asserted)`);

  const metrics = await (await http(hub, '/metrics', { token: hub.adminToken.token })).text();
  assert.match(metrics, /backroom_auth_checks_total\{outcome="limited"\} (\d+)/);
  assert.match(metrics, /backroom_mqtt_rejected_total\{reason="auth-rate-limited"\}/);
});

test('a terminal that connected before gets in at once from the attacked address itself', async (t) => {
  const hub = await startHub(t);
  const credential = await enrol(hub, 'till-1', 'pos');
  const first = await connectDevice(t, hub, 'till-1', credential);
  await first.endAsync(true);
  const port = hub.ports.mqtt;
  const guesses = await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      attempt(port, '127.0.0.1', { clientId: 'till-1', username: 'till-1', password: `wrong-${i}` }),
    ),
  );
  assert.ok(guesses.includes(3), 'the address ran out of its budget');
  const before = hub.authenticator.guard.stats.verified;
  const again = await attempt(port, '127.0.0.1', {
    clientId: 'till-1',
    username: 'till-1',
    password: credential,
  });
  assert.equal(again, 0);
  assert.equal(hub.authenticator.guard.stats.verified, before, 'remembered: no hash ran for it');
  // A wrong password is still wrong for a remembered device.
  assert.equal(
    await attempt(port, '127.0.0.3', { clientId: 'till-1', username: 'till-1', password: 'nope' }),
    5,
  );
});

test('HTTP: wrong tokens from one address get 429 with Retry-After; the admin token still works there', async (t) => {
  const hub = await startHub(t);
  const statuses: number[] = [];
  let retryAfter: string | null = null;
  for (let i = 0; i < 14; i++) {
    const res = await http(hub, '/v1/devices', { token: `wrong-${i}` });
    statuses.push(res.status);
    const body = (await res.json()) as { error: { code: string } };
    if (res.status === 429) {
      retryAfter = res.headers.get('retry-after');
      assert.equal(body.error.code, 'HUB_ERR_TOO_MANY_ATTEMPTS');
    } else assert.equal(body.error.code, 'HUB_ERR_UNAUTHORIZED');
  }
  assert.deepEqual(statuses, [...Array(10).fill(401), ...Array(4).fill(429)]);
  assert.ok(Number(retryAfter) >= 1, 'Retry-After in seconds');
  assert.equal((await http(hub, '/v1/devices', { token: hub.adminToken.token })).status, 200);
  // Device credentials over HTTP share the budget (the same limiter as MQTT).
  const credential = await enrol(hub, 'screen-1', 'dashboard');
  const asDevice = await http(hub, '/v1/devices', { token: `screen-1:${credential}` });
  assert.equal(asDevice.status, 429, 'a never-seen credential from an address over budget is not checked');
});

test('the guard: admitted checks spend the budget until they succeed; trusted pairs skip the device budget; clean sources go first', async () => {
  let now = 0;
  const guard = new LoginGuard({
    burst: 2,
    deviceBurst: 3,
    refillMs: 1000,
    maxConcurrent: 1,
    now: () => now,
  });
  assert.equal(guard.admit('10.0.0.9', 'till-1'), true);
  assert.equal(guard.admit('10.0.0.9', 'till-1'), true);
  assert.equal(guard.admit('10.0.0.9'), false, 'two checks in flight or failed: the address is over budget');
  assert.equal(guard.retryAfterS('10.0.0.9'), 1);
  assert.equal(guard.admit('10.0.0.8', 'till-1'), true);
  assert.equal(
    guard.admit('10.0.0.7', 'till-1'),
    false,
    'the device id is over budget (3 from all addresses)',
  );
  now += 1000;
  assert.equal(guard.admit('10.0.0.9'), true, 'one more after a refill interval');
  assert.equal(guard.admit('10.0.0.1', 'till-2'), true);
  guard.succeeded('10.0.0.1', 'till-2', 'secret');
  assert.equal(guard.admit('10.0.0.1', 'till-2'), true, 'a success gave its unit back');
  guard.succeeded('10.0.0.1', 'till-1', 'secret', false);
  assert.equal(
    guard.admit('10.0.0.1', 'till-1'),
    true,
    'an address that logged in as till-1 skips its budget',
  );
  assert.equal(guard.remembers('till-1', 'secret'), true);
  assert.equal(guard.remembers('till-1', 'other'), false);
  guard.forget('till-1');
  assert.equal(guard.remembers('till-1', 'secret'), false);
  assert.ok(guard.stats.limited >= 2);

  const order: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const running = guard.schedule('10.0.0.5', () => gate.then(() => order.push('first')));
  const suspect = guard.schedule('10.0.0.9', async () => order.push('suspect'));
  const clean = guard.schedule('10.0.0.6', async () => order.push('clean'));
  release();
  await Promise.all([running, suspect, clean]);
  assert.deepEqual(order, ['first', 'clean', 'suspect']);
});
