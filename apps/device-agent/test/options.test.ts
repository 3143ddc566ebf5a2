/**
 * The agent's options as a library takes them: one schema (src/options.ts) fills the defaults, refuses
 * unknown keys, lists every problem in one error before anything is opened, and freezes the result.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type AgentOptions, createAgent } from '../src/index.js';
import { checkAgentOptions } from '../src/options.js';

test('createAgent lists every problem with its options in one error and opens nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'backroom-agent-options-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const data = join(dir, 'agent');
  const options = {
    hubUrl: 'http://hub.local',
    deviceId: 'till 1',
    token: 's3cret',
    dataDir: data,
    apiPort: 70_000,
    logLevel: 'loud',
    colour: 'red',
  } as AgentOptions;
  await assert.rejects(createAgent(options), (e: Error) => {
    assert.ok(e instanceof TypeError);
    const lines = e.message.split('\n').slice(1);
    assert.deepEqual(lines, [
      '  - hubUrl: expected mqtt://HOST:PORT (or mqtts://, ws://, wss://), got "http://hub.local"',
      '  - deviceId: 1 to 64 characters of A-Z a-z 0-9 . _ -',
      '  - apiPort: an integer from 0 to 65535, got 70000',
      '  - logLevel: one of fatal, error, warn, info, debug, trace, silent',
      '  - colour: not an option of the agent',
    ]);
    return true;
  });
  assert.deepEqual(readdirSync(dir), [], 'no data folder made for options that are refused');
});

test('checked options carry their defaults and are frozen; a credential is never shown back', () => {
  const ok = checkAgentOptions({ hubUrl: 'mqtt://hub:1883', deviceId: 'till-1', token: 't', dataDir: '/d' });
  assert.ok(ok.ok);
  assert.equal(ok.options.apiPort, 7070);
  assert.equal(ok.options.logLevel, 'info');
  assert.ok(Object.isFrozen(ok.options));

  const bad = checkAgentOptions({ hubUrl: 'mqtt://hub:1883', deviceId: 'till-1', token: '', dataDir: '/d' });
  assert.ok(!bad.ok);
  assert.deepEqual(bad.problems, [{ key: 'token', kind: 'invalid', problem: 'a non-empty string' }]);
});
