/**
 * End-to-end helpers: the hub and agents as real child processes on real sockets (ports from 0), driven
 * through their command lines and HTTP APIs, exactly as a store's IT team would run them.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

/** A parsed JSON response body; the tests' assertions check its shape. */
// biome-ignore lint/suspicious/noExplicitAny: response bodies are asserted field by field in the tests
export type JsonBody = any;

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const HUB_MAIN = join(ROOT, 'apps/hub/src/main.ts');
const AGENT_MAIN = join(ROOT, 'apps/device-agent/src/main.ts');
const NODE_ARGS = ['--conditions=source', '--import', 'tsx'];
const SKEW_CLOCK = join(ROOT, 'test/helpers/skew-clock.mjs');

export function tempDir(t: TestContext, prefix = 'backroom-e2e-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A child process that printed its one-line JSON `listening` event. */
export interface Running {
  readonly proc: ChildProcess;
  readonly info: Record<string, number>;
  /** stderr so far (logs), for failure messages. */
  logs(): string;
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait. */
  kill(): Promise<void>;
}

function run(
  t: TestContext,
  main: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  nodeArgs: string[] = [],
): Promise<Running> {
  const proc = spawn(process.execPath, [...NODE_ARGS, ...nodeArgs, main, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (stderr.length > 200_000) stderr = stderr.slice(-100_000);
  });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const running = new Promise<Running>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${main} did not start in 30 s:\n${stderr}`)), 30_000);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${main} exited with ${code} before listening:\n${stderr}`));
    });
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      try {
        const ev = JSON.parse(line) as Record<string, unknown>;
        if (ev.event !== 'listening') return;
        clearTimeout(timer);
        resolve({
          proc,
          info: ev as Record<string, number>,
          logs: () => stderr,
          stop: async () => {
            if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
            return exited;
          },
          kill: async () => {
            if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
            await exited;
          },
        });
      } catch {
        // not JSON: ignore
      }
    });
  });
  t.after(async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await exited;
    }
  });
  return running;
}

export interface HubProc extends Running {
  readonly mqttPort: number;
  readonly httpPort: number;
  readonly dataDir: string;
  readonly url: string;
  readonly adminToken: string;
  /** Calls the hub's HTTP API with the admin token. */
  http(method: string, path: string, body?: unknown): Promise<{ status: number; body: JsonBody }>;
}

/** Starts `backroom-hub` on free ports. `mqttPort` lets a restart reuse the port the agents know. */
export async function startHub(
  t: TestContext,
  dataDir: string,
  opts: { mqttPort?: number; extraArgs?: string[]; env?: NodeJS.ProcessEnv } = {},
): Promise<HubProc> {
  const r = await run(
    t,
    HUB_MAIN,
    [
      '--data',
      dataDir,
      '--host',
      '127.0.0.1',
      '--mqtt-port',
      String(opts.mqttPort ?? 0),
      '--http-port',
      '0',
      ...(opts.extraArgs ?? []),
    ],
    { BACKROOM_LOG_LEVEL: 'warn', ...opts.env },
  );
  const adminToken = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
  const httpPort = r.info.http;
  return {
    ...r,
    mqttPort: r.info.mqtt,
    httpPort,
    dataDir,
    url: `mqtt://127.0.0.1:${r.info.mqtt}`,
    adminToken,
    http: (method, path, body) => request(httpPort, method, path, body, adminToken),
  };
}

/** `backroom-hub devices add ID --role ROLE --json`: returns the credential. */
export function enrol(dataDir: string, id: string, role = 'pos', store?: string): string {
  const r = spawnSync(
    process.execPath,
    [
      ...NODE_ARGS,
      HUB_MAIN,
      'devices',
      'add',
      id,
      '--role',
      role,
      '--data',
      dataDir,
      '--json',
      ...(store ? ['--store', store] : []),
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`devices add failed: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { credential: string }).credential;
}

/** `backroom-hub devices revoke ID`. */
export function revoke(dataDir: string, id: string): void {
  const r = spawnSync(
    process.execPath,
    [...NODE_ARGS, HUB_MAIN, 'devices', 'revoke', id, '--data', dataDir],
    {
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) throw new Error(`devices revoke failed: ${r.stderr}`);
}

export interface AgentProc extends Running {
  readonly apiPort: number;
  readonly deviceId: string;
  http(method: string, path: string, body?: unknown): Promise<{ status: number; body: JsonBody }>;
  status(): Promise<{
    connected: boolean;
    pendingUp: number;
    lastSyncAt: string | null;
    clockOffsetMs: number;
    quarantined?: number;
    refused?: { code: string; message: string; at: string } | null;
  }>;
}

/** Starts `backroom-agent` against a hub, with its local API on a free port. */
export async function startAgent(
  t: TestContext,
  opts: {
    hubUrl: string;
    deviceId: string;
    token: string;
    dataDir: string;
    env?: NodeJS.ProcessEnv;
    args?: string[];
    /** Shifts the agent's wall clock (Date.now) by this many ms. */
    clockSkewMs?: number;
  },
): Promise<AgentProc> {
  const r = await run(
    t,
    AGENT_MAIN,
    [
      '--hub',
      opts.hubUrl,
      '--device-id',
      opts.deviceId,
      `--token=${opts.token}`,
      '--data',
      opts.dataDir,
      '--api-port',
      '0',
      ...(opts.args ?? []),
    ],
    {
      BACKROOM_LOG_LEVEL: 'warn',
      BACKROOM_RECONNECT_MIN_MS: '50',
      BACKROOM_RECONNECT_MAX_MS: '500',
      BACKROOM_TEST_SKEW_MS: String(opts.clockSkewMs ?? 0),
      ...opts.env,
    },
    opts.clockSkewMs ? ['--import', SKEW_CLOCK] : [],
  );
  const apiPort = r.info.api;
  return {
    ...r,
    apiPort,
    deviceId: opts.deviceId,
    http: (method, path, body) => request(apiPort, method, path, body),
    status: async () => (await request(apiPort, 'GET', '/v1/sync/status')).body,
  };
}

/** One JSON HTTP request on 127.0.0.1. */
export async function request(
  port: number,
  method: string,
  path: string,
  body?: unknown,
  token?: string,
): Promise<{ status: number; body: JsonBody }> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed };
}

/** Polls `check` until it returns a truthy value or the time is up (then throws with `what`). */
export async function waitFor<T>(what: string, check: () => Promise<T> | T, timeoutMs = 20_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what} (last: ${String(last)})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until an agent reports it is connected with nothing left to push. */
export function waitSynced(agent: AgentProc, timeoutMs = 20_000) {
  return waitFor(
    `${agent.deviceId} synced`,
    async () => {
      const s = await agent.status();
      return s.connected && s.pendingUp === 0;
    },
    timeoutMs,
  );
}
