import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { connectAsync } from 'mqtt';
import { runDevicesCommand } from '../src/cli/devices.js';
import { schemaFile, tempDir } from './helpers.js';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const NODE_ARGS = ['--conditions=source', '--import', 'tsx', MAIN];
/** The environment of the children, without any BACKROOM_* variable of the test runner's own. */
const ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BACKROOM_')));

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function spawnHub(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [...NODE_ARGS, ...args], {
    env: { ...ENV, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function run(args: string[], env: Record<string, string> = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawnHub(args, env);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => {
      stdout += d;
    });
    child.stderr?.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('devices add prints the credential once and stores only a hash; list and revoke work', async (t) => {
  const data = join(tempDir(t), 'data');
  const add = await run(['devices', 'add', 'pos-1', '--role', 'pos', '--store', 'berlin-01', '--data', data]);
  assert.equal(add.code, 0, add.stderr);
  const credential = add.stdout.split('\n').find((l) => /^[A-Za-z0-9_-]{43}$/.test(l));
  assert.ok(credential, add.stdout);
  assert.equal(add.stdout.split(credential).length, 2, 'printed exactly once');

  // Neither the database nor its WAL holds the credential.
  for (const f of readdirSync(data).filter((f) => f.startsWith('devices.db'))) {
    assert.ok(
      !readFileSync(join(data, f)).includes(Buffer.from(credential)),
      `${f} does not contain the credential`,
    );
  }
  assert.equal(statSync(join(data, 'devices.db')).mode & 0o077, 0);

  const json = await run(['devices', 'add', 'fridge-1', '--role', 'sensor', '--json', '--data', data]);
  assert.equal(json.code, 0, json.stderr);
  const enrolled = JSON.parse(json.stdout);
  assert.equal(enrolled.id, 'fridge-1');
  assert.equal(enrolled.role, 'sensor');
  assert.match(enrolled.credential, /^[A-Za-z0-9_-]{43}$/);

  const list = await run(['devices', 'list', '--data', data]);
  assert.equal(list.code, 0, list.stderr);
  const lines = list.stdout.trim().split('\n');
  assert.match(lines[0], /^ID\s+ROLE\s+STORE\s+CREATED\s+REVOKED\s+LAST SEEN$/);
  assert.match(lines[1], /^fridge-1\s+sensor\s+-\s+\d{4}-\d\d-\d\dT\S+\s+-\s+-$/);
  assert.match(lines[2], /^pos-1\s+pos\s+berlin-01\s+\S+\s+-\s+-$/);
  assert.ok(!list.stdout.includes(credential));

  const revoke = await run(['devices', 'revoke', 'pos-1', '--data', data]);
  assert.equal(revoke.code, 0, revoke.stderr);
  const after = JSON.parse((await run(['devices', 'list', '--json', '--data', data])).stdout);
  assert.equal(typeof after.find((d: { id: string }) => d.id === 'pos-1').revokedAt, 'number');
});

test('devices add --json and devices list --json print only JSON, for scripts', async (t) => {
  const data = join(tempDir(t), 'data');
  const sensor = await run(['devices', 'add', 'fridge-1', '--role', 'sensor', '--json', '--data', data]);
  assert.equal(sensor.code, 0, sensor.stderr);
  assert.match(sensor.stdout, /^\{.*\}\n$/, 'exactly one line of JSON on stdout');
  const enrolled = JSON.parse(sensor.stdout);
  assert.deepEqual(Object.keys(enrolled), ['id', 'role', 'store', 'credential']);
  assert.deepEqual(
    { ...enrolled, credential: '' },
    { id: 'fridge-1', role: 'sensor', store: null, credential: '' },
  );
  assert.match(enrolled.credential, /^[A-Za-z0-9_-]{43}$/);

  const till = await run([
    'devices',
    'add',
    'pos-1',
    '--role',
    'pos',
    '--store',
    'berlin-01',
    '--json',
    '--data',
    data,
  ]);
  assert.equal(till.code, 0, till.stderr);
  const { credential, ...record } = JSON.parse(till.stdout);
  assert.deepEqual(record, { id: 'pos-1', role: 'pos', store: 'berlin-01' });
  assert.notEqual(credential, enrolled.credential);

  // A script can pipe the credential straight into the agent's environment.
  const list = await run(['devices', 'list', '--json', '--data', data]);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^\[.*\]\n$/, 'one JSON array on one line');
  const devices = JSON.parse(list.stdout) as Record<string, unknown>[];
  assert.deepEqual(
    devices.map((d) => [d.id, d.role, d.store, d.revokedAt, d.lastSeen, typeof d.createdAt]),
    [
      ['fridge-1', 'sensor', null, null, null, 'number'],
      ['pos-1', 'pos', 'berlin-01', null, null, 'number'],
    ],
  );
  assert.ok(!list.stdout.includes(credential), 'list never shows a credential');

  // A failure prints nothing on stdout, so a script never parses an error as a device.
  const dup = await run(['devices', 'add', 'pos-1', '--role', 'pos', '--json', '--data', data]);
  assert.equal(dup.code, 1);
  assert.equal(dup.stdout, '');
  assert.match(dup.stderr, /already enrolled/);
});

test('devices commands refuse bad input with a clear message (in process)', async (t) => {
  const data = join(tempDir(t), 'data');
  const call = async (...argv: string[]) => {
    let stdout = '';
    let stderr = '';
    const io = {
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s) },
      env: {},
      cwd: process.cwd(),
    };
    const code = await runDevicesCommand([...argv, '--data', data], io);
    return { code, stdout, stderr };
  };
  assert.equal((await call('add', 'pos-1', '--role', 'pos')).code, 0);
  const dup = await call('add', 'pos-1', '--role', 'pos');
  assert.equal(dup.code, 1);
  assert.match(dup.stderr, /already enrolled/);
  const badRole = await call('add', 'pos-2', '--role', 'manager');
  assert.equal(badRole.code, 1);
  assert.match(badRole.stderr, /invalid role "manager"/);
  const badId = await call('add', 'pos/2', '--role', 'pos');
  assert.equal(badId.code, 1);
  assert.match(badId.stderr, /invalid device id/);
  const noRole = await call('add', 'pos-3');
  assert.equal(noRole.code, 2);
  assert.match(noRole.stderr, /--role is required/);
  const missing = await call('revoke', 'pos-404');
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no device "pos-404"/);
  const unknown = await call('rename', 'pos-1');
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown action "rename"/);
  assert.equal(dup.stdout + badRole.stdout + missing.stdout, '', 'errors go to stderr only');
});

/** Starts `backroom-hub` and resolves with the parsed listening line and the child. */
function startMain(args: string[], env: Record<string, string> = {}) {
  const child = spawnHub(args, env);
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const listening = new Promise<{ event: string; mqtt: number; http: number }>((resolve, reject) => {
    child.stdout?.on('data', (d) => {
      stdout += d;
      const nl = stdout.indexOf('\n');
      if (nl !== -1) resolve(JSON.parse(stdout.slice(0, nl)));
    });
    child.on('close', () => reject(new Error(`exited before listening: ${stderr}`)));
  });
  return { child, listening, exited, output: () => ({ stdout, stderr }) };
}

test('backroom-hub prints one listening line, serves a device, and exits 0 on SIGTERM', async (t) => {
  const dir = tempDir(t);
  const data = join(dir, 'data');
  const add = await run(['devices', 'add', 'pos-1', '--role', 'pos', '--json', '--data', data]);
  const { credential } = JSON.parse(add.stdout);

  const hub = startMain(
    ['--mqtt-port', '0', '--http-port', '0', '--host', '127.0.0.1', '--schema', schemaFile(dir)],
    {
      BACKROOM_DATA: data,
    },
  );
  t.after(() => hub.child.kill('SIGKILL'));
  const line = await hub.listening;
  assert.equal(line.event, 'listening');
  assert.ok(line.mqtt > 0 && line.http > 0);

  const health = await fetch(`http://127.0.0.1:${line.http}/health`);
  assert.equal(((await health.json()) as { status: string }).status, 'ok');
  const token = readFileSync(join(data, 'admin-token'), 'utf8').trim();
  assert.equal(statSync(join(data, 'admin-token')).mode & 0o777, 0o600);
  assert.equal(
    (
      await fetch(`http://127.0.0.1:${line.http}/v1/devices`, {
        headers: { authorization: `Bearer ${token}` },
      })
    ).status,
    200,
  );
  const client = await connectAsync(`mqtt://127.0.0.1:${line.mqtt}`, {
    clientId: 'pos-1',
    username: 'pos-1',
    password: credential,
    reconnectPeriod: 0,
  });
  assert.equal(client.connected, true);

  const clientClosed = new Promise<void>((resolve) => client.once('close', () => resolve()));
  hub.child.kill('SIGTERM');
  assert.equal(await hub.exited, 0);
  await clientClosed;
  const { stdout, stderr } = hub.output();
  const lines = stdout.trim().split('\n');
  assert.equal(JSON.parse(lines[0]).event, 'listening', 'the listening line comes first');
  assert.match(lines[1], /^admin token created: .*admin-token \(mode 0600\)$/, 'a plain line for a person');
  assert.match(lines[2], /Authorization: Bearer \$\(cat .*admin-token\)/, 'and how to use it');
  assert.match(stderr, /admin token: .*admin-token/, 'the admin token path is in the log too');
});

test('backroom-hub warns loudly with --insecure-no-auth', async (t) => {
  const dir = tempDir(t);
  const hub = startMain([
    '--insecure-no-auth',
    '--mqtt-port',
    '0',
    '--http-port',
    '0',
    '--host',
    '127.0.0.1',
    '--data',
    join(dir, 'data'),
    '--schema',
    schemaFile(dir),
  ]);
  t.after(() => hub.child.kill('SIGKILL'));
  await hub.listening;
  hub.child.kill('SIGINT');
  assert.equal(await hub.exited, 0);
  assert.match(hub.output().stderr, /WARNING: --insecure-no-auth/);
});

test('backroom-hub exits non-zero listing every config problem, or naming the port in use', async (t) => {
  const dir = tempDir(t);
  const bad = await run(
    ['--mqtt-port', 'abc', '--log-level', 'loud', '--frobnicate', '--data', join(dir, 'd')],
    {
      BACKROOM_HTTP_PORT: '99999',
      BACKROOM_SCHEMA: schemaFile(dir),
    },
  );
  assert.equal(bad.code, 2);
  assert.equal(bad.stdout, '');
  assert.match(bad.stderr, /--mqtt-port: expected an integer/);
  assert.match(bad.stderr, /logLevel: expected one of/);
  assert.match(bad.stderr, /unknown flag --frobnicate/);
  assert.match(bad.stderr, /httpPort: .*65535/);

  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.after(() => blocker.close());
  const port = (blocker.address() as { port: number }).port;
  const busy = await run([
    '--mqtt-port',
    String(port),
    '--http-port',
    '0',
    '--host',
    '127.0.0.1',
    '--data',
    join(dir, 'd'),
    '--schema',
    schemaFile(dir),
  ]);
  assert.equal(busy.code, 1);
  assert.equal(busy.stdout, '');
  assert.match(busy.stderr, new RegExp(`mqtt port ${port} is already in use`));
});

test('a damaged, foreign or empty database at start-up: one line naming the file and what to do, exit 1', async (t) => {
  const dir = tempDir(t);
  const start = (data: string) =>
    run([
      '--mqtt-port',
      '0',
      '--http-port',
      '0',
      '--host',
      '127.0.0.1',
      '--data',
      data,
      '--schema',
      schemaFile(dir),
    ]);
  const cases: [string, string, Buffer, RegExp][] = [
    [
      'garbage',
      'hub.db',
      Buffer.from('this is not a database, it is a shopping list\n'.repeat(200)),
      /not a valid database/,
    ],
    ['empty', 'hub.db', Buffer.alloc(0), /is empty \(0 bytes\)/],
    ['registry', 'devices.db', Buffer.from('x'.repeat(8192)), /not a valid database/],
    ['empty registry', 'devices.db', Buffer.alloc(0), /is empty \(0 bytes\)/],
  ];
  for (const [name, file, bytes, what] of cases) {
    const data = join(dir, name.replace(' ', '-'));
    mkdirSync(data, { recursive: true, mode: 0o700 });
    writeFileSync(join(data, file), bytes);
    const r = await start(data);
    assert.equal(r.code, 1, `${name}: ${r.stderr}`);
    assert.equal(r.stdout, '', name);
    const lines = r.stderr
      .trim()
      .split('\n')
      .filter((l) => !l.startsWith('{'));
    assert.equal(lines.length, 1, `${name}: one line besides the JSON log: ${r.stderr}`);
    assert.match(lines[0], new RegExp(`^backroom-hub: .*${file.replace('.', '\\.')}`), name);
    assert.match(lines[0], what, name);
    assert.match(lines[0], /restore it from a backup/, name);
    assert.doesNotMatch(r.stderr, /\n\s+at /, `${name}: no stack trace`);
    assert.equal(readFileSync(join(data, file)).length, bytes.length, `${name}: the file is left as it was`);
  }
});

test('the hub keeps its data private: folder 0700, databases and their WAL files 0600', async (t) => {
  const dir = tempDir(t);
  const data = join(dir, 'data');
  const hub = startMain([
    '--mqtt-port',
    '0',
    '--http-port',
    '0',
    '--host',
    '127.0.0.1',
    '--data',
    data,
    '--schema',
    schemaFile(dir),
  ]);
  t.after(() => hub.child.kill('SIGKILL'));
  await hub.listening;
  assert.equal(statSync(data).mode & 0o777, 0o700);
  const files = readdirSync(data).filter((f) => /\.db(-wal|-shm)?$/.test(f));
  assert.ok(files.includes('hub.db') && files.includes('devices.db'), files.join(' '));
  for (const f of files) assert.equal(statSync(join(data, f)).mode & 0o777, 0o600, f);
  hub.child.kill('SIGTERM');
  assert.equal(await hub.exited, 0);
});
