import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAgentArgs } from '../src/cli-options.js';

const required = ['--hub', 'mqtt://hub.local:1883', '--device-id', 'till-1', '--token', 's3cret'];

test('flags parse into the agent options, with defaults', () => {
  const r = parseAgentArgs(required, {}, '/srv/store');
  assert.equal(r.kind, 'run');
  assert.deepEqual(r.kind === 'run' && r.options, {
    hubUrl: 'mqtt://hub.local:1883',
    deviceId: 'till-1',
    token: 's3cret',
    dataDir: '/srv/store/data/agent',
    apiPort: 7070,
    logLevel: 'info',
  });

  const all = parseAgentArgs(
    [
      ...required,
      '--data',
      'till',
      '--api-port',
      '0',
      '--schema',
      'schema.json',
      '--client-var',
      'store=berlin-01',
      '--client-var',
      'lane=3=a',
      '--log-level',
      'debug',
      '--max-message-bytes',
      '65536',
    ],
    {},
    '/srv',
  );
  assert.deepEqual(all.kind === 'run' && all.options, {
    hubUrl: 'mqtt://hub.local:1883',
    deviceId: 'till-1',
    token: 's3cret',
    dataDir: '/srv/till',
    apiPort: 0,
    schemaFile: '/srv/schema.json',
    clientVars: { store: 'berlin-01', lane: '3=a' },
    logLevel: 'debug',
    maxMessageBytes: 65536,
  });
});

test('every flag has an environment variable; a flag beats it', () => {
  const env = {
    BACKROOM_HUB: 'mqtts://hub:8883',
    BACKROOM_DEVICE_ID: 'till-2',
    BACKROOM_TOKEN: 'from-env',
    BACKROOM_AGENT_DATA: '/var/lib/backroom',
    BACKROOM_API_PORT: '7171',
    BACKROOM_SCHEMA: '/etc/backroom/schema.json',
    BACKROOM_CLIENT_VARS: 'store=hamburg-02,lane=1',
    BACKROOM_LOG_LEVEL: 'warn',
    BACKROOM_MAX_MESSAGE_BYTES: '4096',
  };
  const fromEnv = parseAgentArgs([], env, '/');
  assert.deepEqual(fromEnv.kind === 'run' && fromEnv.options, {
    hubUrl: 'mqtts://hub:8883',
    deviceId: 'till-2',
    token: 'from-env',
    dataDir: '/var/lib/backroom',
    apiPort: 7171,
    schemaFile: '/etc/backroom/schema.json',
    clientVars: { store: 'hamburg-02', lane: '1' },
    logLevel: 'warn',
    maxMessageBytes: 4096,
  });
  const flagged = parseAgentArgs(['--device-id', 'till-9', '--client-var', 'lane=7'], env, '/');
  assert.equal(flagged.kind === 'run' && flagged.options.deviceId, 'till-9');
  assert.deepEqual(flagged.kind === 'run' && flagged.options.clientVars, { store: 'hamburg-02', lane: '7' });
});

test('usage errors list every problem', () => {
  const missing = parseAgentArgs([], {});
  assert.equal(missing.kind, 'error');
  assert.deepEqual(missing.kind === 'error' && missing.problems, [
    '--hub (or BACKROOM_HUB) is required',
    '--device-id (or BACKROOM_DEVICE_ID) is required',
    '--token (or BACKROOM_TOKEN) is required',
  ]);
  const bad = parseAgentArgs(
    [
      '--hub',
      'http://hub',
      '--device-id',
      'till 1',
      '--token',
      't',
      '--api-port',
      '70000',
      '--client-var',
      'novalue',
      '--log-level',
      'loud',
    ],
    {},
  );
  assert.equal(bad.kind === 'error' && bad.problems.length, 5);
  const unknown = parseAgentArgs([...required, '--colour', 'red'], {});
  assert.equal(unknown.kind, 'error');
  assert.equal(parseAgentArgs(['--help'], {}).kind, 'help');
});

test('backroom-agent without its required flags exits 2 with the usage on stderr', () => {
  const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('BACKROOM_')) delete env[k];
  const r = spawnSync(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', main, '--hub', 'mqtt://h:1'],
    {
      env,
      cwd: resolve(fileURLToPath(new URL('..', import.meta.url))),
      encoding: 'utf8',
      timeout: 30_000,
    },
  );
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stdout, '', 'stdout is kept for the start-up line');
  assert.match(r.stderr, /--device-id \(or BACKROOM_DEVICE_ID\) is required/);
  assert.match(r.stderr, /Usage: backroom-agent --hub mqtt:\/\/HOST:PORT/);
});

test('backroom-agent prints the listening line, serves the API without a hub, and exits 0 on SIGTERM', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'backroom-agent-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
  // Port 1 on loopback: nothing listens there, so the agent runs offline.
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', main, '--api-port', '0', '--log-level', 'warn'],
    {
      env: {
        ...process.env,
        BACKROOM_HUB: 'mqtt://127.0.0.1:1',
        BACKROOM_DEVICE_ID: 'till-1',
        BACKROOM_TOKEN: 'not-checked-offline',
        BACKROOM_AGENT_DATA: join(dir, 'agent'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  t.after(() => child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.on('data', (c) => {
    stderr += c;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
      if (out.includes('\n')) resolve(out.split('\n')[0]);
    });
    child.on('exit', (code) => reject(new Error(`exited ${code} before listening: ${stderr}`)));
  });
  const started = JSON.parse(line) as { event: string; api: number };
  assert.equal(started.event, 'listening');
  assert.ok(Number.isInteger(started.api) && started.api > 0);

  const status = await fetch(`http://127.0.0.1:${started.api}/v1/sync/status`);
  assert.equal(status.status, 200);
  assert.equal(((await status.json()) as { connected: boolean }).connected, false);

  child.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
});

test('the agent keeps a terminal private (folder 0700, replica 0600) and stops on a damaged replica with one line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'backroom-agent-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
  const data = join(dir, 'agent');
  mkdirSync(data, { mode: 0o755 });
  const start = () =>
    spawn(process.execPath, ['--conditions=source', '--import', 'tsx', main, '--api-port', '0'], {
      env: {
        ...process.env,
        BACKROOM_HUB: 'mqtt://127.0.0.1:1',
        BACKROOM_DEVICE_ID: 'till-1',
        BACKROOM_TOKEN: 'not-checked-offline',
        BACKROOM_AGENT_DATA: data,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  const child = start();
  t.after(() => child.kill('SIGKILL'));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  assert.equal(statSync(data).mode & 0o777, 0o700, 'an existing 0755 folder is made private');
  for (const f of readdirSync(data).filter((n) => n.startsWith('replica.db'))) {
    assert.equal(statSync(join(data, f)).mode & 0o777, 0o600, f);
  }
  child.kill('SIGTERM');
  assert.equal(await exited, 0);

  for (const f of readdirSync(data).filter((n) => n.startsWith('replica.db'))) rmSync(join(data, f));
  writeFileSync(join(data, 'replica.db'), 'not a database at all\n'.repeat(300));
  const broken = start();
  let stderr = '';
  broken.stderr.on('data', (c) => {
    stderr += c;
  });
  const code = await new Promise<number | null>((resolve) => broken.on('exit', (c) => resolve(c)));
  assert.equal(code, 1);
  const lines = stderr
    .trim()
    .split('\n')
    .filter((l) => !l.startsWith('{'));
  assert.equal(lines.length, 1, stderr);
  assert.match(lines[0], /^backroom-agent: .*replica\.db is not a valid database.*restore it from a backup/);
  assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
});
