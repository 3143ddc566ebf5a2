/**
 * Failed-login limiting (issue 7): how long a terminal's CONNECT takes while another address fires a
 * burst of 200 wrong passwords at the hub, against the same CONNECT with no attack (the raw cost: a TCP
 * connection, aedes and one scrypt check). The hub and the attacker are separate processes, as in a
 * store; each round uses a new attacker address (127.0.0.x) and a terminal that never connected before
 * (so its password really is hashed: nothing remembered helps it).
 *
 * Prints `auth_connect_under_attack`: p50/p99 of the terminal's CONNECT → CONNACK during the burst, the
 * baseline p50 without one, and the ratio of the two medians.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { MqttClient } from 'mqtt';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const BURST = 200;
const HUB_MAIN = 'apps/hub/dist/main.js';

const quantile = (xs: number[], q: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];

function connectMs(port: number, id: string, password: string, localAddress = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const client = new MqttClient(() => netConnect({ host: '127.0.0.1', port, localAddress }), {
      clientId: id,
      username: id,
      password,
      reconnectPeriod: 0,
      connectTimeout: 60_000,
    });
    client.once('connect', () => {
      const ms = performance.now() - t0;
      client.end(true);
      resolve(ms);
    });
    client.once('error', (e) => {
      client.end(true);
      reject(e);
    });
  });
}

/** Another process firing `BURST` wrong CONNECTs at once from `address`; resolves when it has sent them. */
function attacker(
  port: number,
  address: string,
): { started: Promise<void>; done: Promise<void>; child: ChildProcess } {
  const script = `
    import { connect } from 'node:net';
    import { MqttClient } from 'mqtt';
    const [port, address, n] = process.argv.slice(1).map((v, i) => (i === 1 ? v : Number(v)));
    let left = n;
    for (let i = 0; i < n; i++) {
      const id = i % 2 ? 'till-' + i : 'guess-' + i;
      const c = new MqttClient(() => connect({ host: '127.0.0.1', port, localAddress: address }), {
        clientId: id, username: id, password: 'wrong-' + i, reconnectPeriod: 0, connectTimeout: 60000,
      });
      const end = () => { c.end(true); if (--left === 0) process.exit(0); };
      c.once('connect', end);
      c.once('error', end);
    }
    process.stdout.write('sent\\n');
  `;
  const child = spawn(
    process.execPath,
    ['--input-type=module', '-e', script, String(port), address, String(BURST)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const started = new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
  const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { started, done, child };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'backroom-bench-auth-'));
  const data = join(dir, 'hub');
  const credentials: string[] = [];
  for (let i = 0; i < 2 * ROUNDS; i++) {
    const out = execFileSync(process.execPath, [
      HUB_MAIN,
      'devices',
      'add',
      `legit-${i}`,
      '--role',
      'pos',
      '--json',
      '--data',
      data,
    ]);
    credentials.push((JSON.parse(out.toString()) as { credential: string }).credential);
  }
  const hub = spawn(
    process.execPath,
    [
      HUB_MAIN,
      '--data',
      data,
      '--mqtt-port',
      '0',
      '--http-port',
      '0',
      '--host',
      '127.0.0.1',
      '--log-level',
      'error',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    const port = await new Promise<number>((resolve) => {
      createInterface({ input: hub.stdout! }).on('line', (line) => {
        try {
          const ev = JSON.parse(line) as { event?: string; mqtt?: number };
          if (ev.event === 'listening') resolve(ev.mqtt!);
        } catch {}
      });
    });
    const baseline: number[] = [];
    const attacked: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      baseline.push(await connectMs(port, `legit-${2 * r}`, credentials[2 * r]));
      const attack = attacker(port, `127.0.0.${10 + r}`);
      await attack.started;
      attacked.push(await connectMs(port, `legit-${2 * r + 1}`, credentials[2 * r + 1]));
      await attack.done;
    }
    const p50 = quantile(attacked, 0.5);
    const base = quantile(baseline, 0.5);
    console.log(
      JSON.stringify({
        bench: 'auth_connect_under_attack',
        wrong_passwords: BURST,
        rounds: ROUNDS,
        p50_ms: Math.round(p50),
        p99_ms: Math.round(quantile(attacked, 0.99)),
        baseline_p50_ms: Math.round(base),
        ratio: Number((p50 / base).toFixed(2)),
      }),
    );
  } finally {
    hub.kill('SIGTERM');
    await new Promise((r) => hub.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
