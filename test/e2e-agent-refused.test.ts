/**
 * End to end: a terminal whose credential the hub refuses says why in `GET /v1/sync/status`, backs off
 * instead of hammering the hub, and clears the refusal once it connects with a good credential.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { enrol, startAgent, startHub, tempDir, waitFor, waitSynced } from './helpers/procs.js';
import { startProxy } from './helpers/proxy.js';

test('an agent with a wrong credential reports the refusal, backs off, and clears it once connected', async (t) => {
  const dir = tempDir(t);
  // Two hubs: the terminal's credential is valid at the second only (the first enrolled till-1 with
  // another credential). The proxy in front of them counts the agent's connection attempts.
  enrol(join(dir, 'hub-a'), 'till-1');
  const token = enrol(join(dir, 'hub-b'), 'till-1');
  const hubA = await startHub(t, join(dir, 'hub-a'));
  const hubB = await startHub(t, join(dir, 'hub-b'));
  const proxy = await startProxy(t, hubA.mqttPort);
  const agent = await startAgent(t, {
    hubUrl: proxy.url,
    deviceId: 'till-1',
    token,
    dataDir: join(dir, 'till-1'),
    env: { BACKROOM_RECONNECT_MIN_MS: '100', BACKROOM_RECONNECT_MAX_MS: '2000' },
  });

  const refused = await waitFor('the status shows the refusal', async () => {
    const s = await agent.status();
    return s.refused ? s : undefined;
  });
  assert.equal(refused.connected, false);
  assert.equal(refused.refused.code, 'AGENT_ERR_NOT_AUTHORIZED', JSON.stringify(refused));
  assert.match(refused.refused.message, /not authorized/i);
  assert.ok(!Number.isNaN(Date.parse(refused.refused.at)), JSON.stringify(refused));

  // Backoff: with a 100 ms base and full jitter, retrying at the base interval would make ~40 attempts
  // in 4 s; doubling ceilings (100, 200, 400, 800, 1600, 2000...) make about 7.
  const before = proxy.accepted();
  await new Promise((r) => setTimeout(r, 4000));
  const attempts = proxy.accepted() - before;
  assert.ok(attempts >= 1, `still trying (${attempts} attempts)`);
  assert.ok(attempts <= 14, `backs off: ${attempts} connection attempts in 4 s`);
  const still = await agent.status();
  assert.equal(still.connected, false);
  assert.equal(still.refused?.code, 'AGENT_ERR_NOT_AUTHORIZED', JSON.stringify(still));

  // The terminal now reaches the hub that knows its credential: it connects (within the 2 s ceiling) and
  // the refusal is gone.
  proxy.retarget(hubB.mqttPort);
  await waitSynced(agent, 10_000);
  const ok = await agent.status();
  assert.equal(ok.connected, true);
  assert.equal(ok.refused, null, JSON.stringify(ok));
});
