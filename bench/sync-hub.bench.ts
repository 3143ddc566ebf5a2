/**
 * Hub sync benchmarks (issue 4), against the compiled packages, each printing one JSON line:
 * - `sync_ingest`: 50 terminals with offline outboxes of ~1 KB sales connect to one hub at once; changes/s
 *   until the hub's replica holds (durably, committed) every one of them. Raw: 50 mqtt.js clients
 *   publishing the same payloads at QoS 1 to a bare aedes broker, messages/s.
 * - `sync_propagation`: one order written on a terminal until another terminal's replica reports it,
 *   with 100 sales/s of background load from other terminals. Raw: one QoS 1 publish to a subscriber
 *   through bare aedes with the same background publishes.
 * - `sync_catchup`: one terminal with 100k queued changes reconnects; seconds until its outbox is empty
 *   and the hub holds all of them. Raw: one mqtt.js client publishing 100k payloads at QoS 1.
 * - `hub_idle_connections`: RSS of a hub process (dist/main.js) holding 1,000 idle device connections,
 *   against a bare aedes process with the same clients (bench/sync-hub-raw.mjs).
 * - `agent_idle_rss`: RSS of an idle, synced agent process (dist/main.js), against a process holding one
 *   idle mqtt.js connection.
 *
 * The hub runs in this process (createHub + attachSync, real TCP on 127.0.0.1) and the terminals in a
 * child process (this file with `--fleet`), so hub and terminals do not share one event loop. Every hub
 * here runs with `insecureNoAuth` (connections skip the scrypt check of the credential; the sync path is
 * the same). `BENCH_ROUNDS`, `BENCH_ONLY=ingest,propagation,catchup,idle,agent` and the sizes below may be
 * overridden from the environment. Medians of several rounds; the machine is shared and noisy.
 *
 * Run by scripts/run-bench.mjs without the `source` condition: `@backroom/*` resolve to the compiled dist/.
 * `BENCH_FLEET_NODE_ARGS` adds node flags to the terminals' process (e.g. `--cpu-prof`).
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type Agent, createAgent, MqttTransport, SyncClient } from '@backroom/device-agent';
import { attachSync, createHub, type Hub, resolveConfig, type SyncAttachment } from '@backroom/hub';
import { encodeMessage, loadSchema, ReplicaStore, type Schema } from '@backroom/sync-core';
import { Aedes } from 'aedes';
import Database from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';

const env = (name: string, dflt: number) => Number(process.env[name] ?? dflt);
const ROUNDS = env('BENCH_ROUNDS', 3);
const INGEST_AGENTS = env('BENCH_INGEST_AGENTS', 50);
const INGEST_PER_AGENT = env('BENCH_INGEST_PER_AGENT', 2000);
const PROP_AGENTS = env('BENCH_PROP_AGENTS', 20);
const PROBES = env('BENCH_PROBES', 300);
const WARMUP_PROBES = 20;
const BACKGROUND_PER_S = 100;
const CATCHUP = env('BENCH_CATCHUP', 100_000);
const IDLE_CONNECTIONS = env('BENCH_IDLE_CONNECTIONS', 1000);
const CATALOGUE = 500;
/** Bound on every wait: a stuck part fails the bench instead of hanging it. */
const PART_TIMEOUT_MS = env('BENCH_TIMEOUT_MS', 180_000);

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..');
const HUB_MAIN = join(ROOT, 'apps/hub/dist/main.js');
const AGENT_MAIN = join(ROOT, 'apps/device-agent/dist/main.js');
const RAW_SCRIPT = join(HERE, 'sync-hub-raw.mjs');
const SCHEMA_FILE = fileURLToPath(import.meta.resolve('@backroom/sync-core/retail-schema.json'));

// ---------------------------------------------------------------------------------------------------------
// Shared helpers

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const percentile = (xs: readonly number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const round2 = (x: number) => Math.round(x * 100) / 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function withTimeout<T>(p: Promise<T>, what: string, ms = PART_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

const LINE_ITEMS = [
  'whole milk 1 l',
  'sourdough loaf',
  'free-range eggs x12',
  'cheddar 400 g',
  'bananas 1 kg',
];

/** A ~1 KB sale of terminal `terminalId` (the padded `items` json field carries most of it). */
function sale(terminalId: string, n: number): Record<string, unknown> {
  const items = Array.from({ length: 8 }, (_, i) => ({
    sku: `SKU-${(n * 7 + i) % 5000}`,
    name: LINE_ITEMS[(n + i) % LINE_ITEMS.length],
    qty: 1 + ((n + i) % 3),
    price: ((n + i) % 900) / 10 + 0.99,
    note: 'scanned at lane, loyalty card applied',
  }));
  return {
    terminalId,
    kind: 'sale',
    total: items.reduce((s, it) => s + it.qty * it.price, 0),
    items,
    payment: n % 3 ? 'card' : 'cash',
    cashier: `cashier-${n % 7}`,
    at: new Date(1_750_000_000_000 + n * 1000).toISOString(),
  };
}

/** A ~1 KB customer order (every terminal of the store receives orders). */
function order(terminalId: string, n: number): Record<string, unknown> {
  const { items, total } = sale(terminalId, n);
  return { status: 'open', total, terminalId, items, note: null, createdAt: new Date().toISOString() };
}

const CHANGE_BYTES = JSON.stringify(sale('till-00', 1)).length;

function readSchema(): Schema {
  return loadSchema(JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')));
}

const deviceId = (prefix: string, i: number) => `${prefix}-${String(i).padStart(2, '0')}`;

// ---------------------------------------------------------------------------------------------------------
// The fleet: terminals (and raw mqtt.js clients) in a child process, driven over IPC

type FleetHandler = (args: Record<string, unknown>) => Promise<unknown>;

async function runFleet(): Promise<void> {
  const schema = readSchema();
  const logger = pino({ level: 'warn', base: { component: 'bench-fleet' } }, pino.destination(2));
  let ingest: { stores: ReplicaStore[]; clients: SyncClient[]; downBytes: number } | undefined;
  let prop: { agents: Agent[] } | undefined;
  let catchup: { dir: string; agent?: Agent } | undefined;
  let rawClients: MqttClient[] = [];

  const prefill = (path: string, id: string, n: number) => {
    const store = ReplicaStore.open({ path, schema, nodeId: id, role: 'pos' });
    for (let i = 0; i < n; i += 1000) {
      store.transaction(() => {
        for (let j = i; j < Math.min(n, i + 1000); j++) store.put('transactions', `${id}-T${j}`, sale(id, j));
      });
    }
    store.close();
  };

  const closeRaw = async () => {
    await Promise.all(rawClients.map((c) => c.endAsync(true).catch(() => undefined)));
    rawClients = [];
  };

  const connectRaw = (url: string, ids: string[]) =>
    Promise.all(
      ids.map((id) =>
        mqtt.connectAsync(url, { clientId: id, clean: false, reconnectPeriod: 0, keepalive: 30 }),
      ),
    );

  const handlers: Record<string, FleetHandler> = {
    /** Writes each terminal's offline sales into a template replica once; rounds copy it. */
    async ingestTemplate({ dir, agents, perAgent }) {
      const t0 = performance.now();
      for (let i = 0; i < (agents as number); i++) {
        const id = deviceId('till', i);
        mkdirSync(join(dir as string, id), { recursive: true });
        prefill(join(dir as string, id, 'replica.db'), id, perAgent as number);
      }
      return { prefillPerS: ((agents as number) * (perAgent as number)) / ((performance.now() - t0) / 1000) };
    },
    /** Opens the copied replicas and wires each one as the agent does (store, MQTT transport, sync client). */
    async ingestPrepare({ template, dir, url, agents }) {
      cpSync(template as string, dir as string, { recursive: true });
      ingest = { stores: [], clients: [], downBytes: 0 };
      const state = ingest;
      for (let i = 0; i < (agents as number); i++) {
        const id = deviceId('till', i);
        const store = ReplicaStore.open({
          path: join(dir as string, id, 'replica.db'),
          schema,
          nodeId: id,
          role: 'pos',
          logger: logger.child({ deviceId: id }),
        });
        const transport = new MqttTransport({
          url: url as string,
          deviceId: id,
          token: 'bench',
          logger,
          minBackoffMs: 50,
          maxBackoffMs: 500,
        });
        // Bytes the hub sends down while the terminals push sales only they (each its own) may see.
        transport.on('message', (payload) => {
          state.downBytes += payload.length;
        });
        ingest.stores.push(store);
        ingest.clients.push(new SyncClient({ store, transport, deviceId: id, logger }));
      }
      return { pending: ingest.stores.reduce((s, st) => s + st.pendingCount(), 0) };
    },
    /** Connects every terminal; resolves when each has an empty outbox and nothing more from the hub. */
    async ingestGo() {
      if (!ingest) throw new Error('ingestPrepare first');
      for (const c of ingest.clients) c.start();
      // Not SyncClient.idle(): it waits for a `changes` page, which never comes when the hub has nothing
      // for the device (reported). The outboxes running empty is what this part measures anyway.
      const stores = ingest.stores;
      while (stores.some((st) => st.pendingCount() > 0)) await sleep(20);
      return { downBytes: ingest.downBytes };
    },
    async ingestDownBytes() {
      return { downBytes: ingest?.downBytes ?? 0 };
    },
    async ingestClose() {
      if (!ingest) return;
      await Promise.all(ingest.clients.map((c) => c.close()));
      for (const s of ingest.stores) s.close();
      ingest = undefined;
    },
    /** Raw: `clients` mqtt.js clients connect and publish `perClient` payloads each at QoS 1. */
    async rawIngest({ url, clients, perClient }) {
      const payload = Buffer.from(JSON.stringify(sale('till-00', 1)));
      const ids = Array.from({ length: clients as number }, (_, i) => deviceId('raw', i));
      await Promise.all(
        ids.map(async (id) => {
          const c = await mqtt.connectAsync(url as string, {
            clientId: id,
            clean: false,
            reconnectPeriod: 0,
            keepalive: 30,
          });
          rawClients.push(c);
          await publishWindowed(c, `backroom/v1/sync/${id}/up`, payload, perClient as number);
        }),
      );
      await closeRaw();
    },
    async propPrepare({ dir, url, agents }) {
      prop = { agents: [] };
      for (let i = 0; i < (agents as number); i++) {
        const id = deviceId('lane', i);
        prop.agents.push(
          await createAgent({
            hubUrl: url as string,
            deviceId: id,
            token: 'bench',
            dataDir: join(dir as string, id),
            apiPort: 0,
            logLevel: 'warn',
            reconnectMinMs: 50,
            reconnectMaxMs: 500,
          }),
        );
      }
      for (const a of prop.agents) {
        while (!(a.status().connected && a.status().pendingUp === 0)) await sleep(20);
      }
    },
    /** Probes: an order on lane-00 until lane-01's replica reports it, with background sales. */
    async propRun({ probes, warmup }) {
      if (!prop) throw new Error('propPrepare first');
      const [sender, receiver, ...others] = prop.agents;
      let waiting: { id: string; t: number; done: (ms: number) => void } | undefined;
      const unsubscribe = receiver.store.subscribe((e) => {
        if (waiting && e.remote && e.collection === 'orders' && e.id === waiting.id) {
          const w = waiting;
          waiting = undefined;
          w.done(performance.now() - w.t);
        }
      });
      const background = others.length
        ? backgroundLoad((k) => {
            const a = others[k % others.length];
            a.store.put('transactions', `${a.store.nodeId}-bg${k}`, sale(a.store.nodeId, k));
          })
        : () => undefined;
      const latencies: number[] = [];
      let lost = 0;
      try {
        for (let i = 0; i < (probes as number) + (warmup as number); i++) {
          await sleep(5 + Math.random() * 20);
          const id = `probe-${process.hrtime.bigint()}`;
          const ms = await new Promise<number>((resolve) => {
            const timer = setTimeout(() => {
              waiting = undefined;
              lost++;
              resolve(5000);
            }, 5000);
            waiting = {
              id,
              t: performance.now(),
              done: (v) => {
                clearTimeout(timer);
                resolve(v);
              },
            };
            sender.store.put('orders', id, order(sender.store.nodeId, i));
          });
          if (i >= (warmup as number)) latencies.push(ms);
        }
      } finally {
        background();
        unsubscribe();
      }
      return { latencies, lost };
    },
    async propClose() {
      if (!prop) return;
      await Promise.all(prop.agents.map((a) => a.close()));
      prop = undefined;
    },
    /** Raw: QoS 1 publish on lane-00 to subscribers (lane-01 times it), with background publishes. */
    async rawPropRun({ url, clients, probes, warmup }) {
      const ids = Array.from({ length: clients as number }, (_, i) => deviceId('rawlane', i));
      rawClients = await connectRaw(url as string, ids);
      const [sender, receiver, ...others] = rawClients;
      const topic = 'backroom/bench/orders';
      await Promise.all([receiver, ...others].map((c) => c.subscribeAsync(topic, { qos: 1 })));
      let waiting: { id: string; t: number; done: (ms: number) => void } | undefined;
      receiver.on('message', (_t, payload) => {
        if (waiting && payload.subarray(0, waiting.id.length).toString() === waiting.id) {
          const w = waiting;
          waiting = undefined;
          w.done(performance.now() - w.t);
        }
      });
      const body = JSON.stringify(order('rawlane-00', 1));
      const saleBody = Buffer.from(JSON.stringify(sale('rawlane-00', 1)));
      const background = others.length
        ? backgroundLoad((k) => {
            const c = others[k % others.length];
            c.publish(`backroom/bench/tx/${c.options.clientId}`, saleBody, { qos: 1 });
          })
        : () => undefined;
      const latencies: number[] = [];
      let lost = 0;
      try {
        for (let i = 0; i < (probes as number) + (warmup as number); i++) {
          await sleep(5 + Math.random() * 20);
          const id = `probe-${process.hrtime.bigint()}`;
          const ms = await new Promise<number>((resolve) => {
            const timer = setTimeout(() => {
              waiting = undefined;
              lost++;
              resolve(5000);
            }, 5000);
            waiting = {
              id,
              t: performance.now(),
              done: (v) => {
                clearTimeout(timer);
                resolve(v);
              },
            };
            sender.publish(topic, `${id}${body}`, { qos: 1 });
          });
          if (i >= (warmup as number)) latencies.push(ms);
        }
      } finally {
        background();
        await closeRaw();
      }
      return { latencies, lost };
    },
    async catchupTemplate({ dir, changes }) {
      mkdirSync(dir as string, { recursive: true });
      const t0 = performance.now();
      prefill(join(dir as string, 'replica.db'), 'till-catchup', changes as number);
      return { prefillPerS: (changes as number) / ((performance.now() - t0) / 1000) };
    },
    async catchupPrepare({ template, dir }) {
      cpSync(template as string, dir as string, { recursive: true });
      catchup = { dir: dir as string };
    },
    /** Starts the agent (createAgent, the library entry) on the replica; resolves when its outbox is empty. */
    async catchupGo({ url }) {
      if (!catchup) throw new Error('catchupPrepare first');
      const agent = await createAgent({
        hubUrl: url as string,
        deviceId: 'till-catchup',
        token: 'bench',
        dataDir: catchup.dir,
        apiPort: 0,
        logLevel: 'warn',
        reconnectMinMs: 50,
        reconnectMaxMs: 500,
      });
      catchup.agent = agent;
      const started = agent.status().pendingUp;
      while (agent.status().pendingUp > 0) await sleep(20);
      return { started };
    },
    async catchupClose() {
      await catchup?.agent?.close();
      catchup = undefined;
    },
    async rawCatchup({ url, changes }) {
      const payload = Buffer.from(JSON.stringify(sale('till-00', 1)));
      const [c] = await connectRaw(url as string, ['raw-catchup']);
      rawClients = [c];
      await publishWindowed(c, 'backroom/v1/sync/raw-catchup/up', payload, changes as number);
      await closeRaw();
    },
  };

  process.on('disconnect', () => process.exit(0));
  process.on('message', (m: { id: number; cmd: string; args: Record<string, unknown> }) => {
    const h = handlers[m.cmd];
    const run = h ? h(m.args) : Promise.reject(new Error(`unknown fleet command ${m.cmd}`));
    run.then(
      (result) => process.send?.({ id: m.id, ok: true, result }),
      (err: unknown) => process.send?.({ id: m.id, ok: false, error: (err as Error).stack ?? String(err) }),
    );
  });
  process.send?.({ id: 0, ok: true, result: 'ready' });
}

/**
 * Publishes `n` copies of `payload` at QoS 1 with at most 1,000 unacknowledged at a time: pipelined, and
 * clear of the 65,535 packet identifiers MQTT has per connection.
 */
async function publishWindowed(c: MqttClient, topic: string, payload: Buffer, n: number): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < n) {
      next++;
      await c.publishAsync(topic, payload, { qos: 1 });
    }
  };
  await Promise.all(Array.from({ length: Math.min(1000, n) }, lane));
}

/** Calls `write(k)` for k = 0, 1, ... at BACKGROUND_PER_S, catching up after timer delays. Returns stop. */
function backgroundLoad(write: (k: number) => void): () => void {
  const start = performance.now();
  let k = 0;
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - start) / 1000) * BACKGROUND_PER_S);
    for (; k < due; k++) write(k);
  }, 5);
  return () => clearInterval(timer);
}

/** The parent's handle on the fleet process. */
class Fleet {
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private next = 1;
  private exited = false;

  private constructor(readonly proc: ChildProcess) {
    proc.on('message', (m: { id: number; ok: boolean; result?: unknown; error?: string }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.result);
      else p.reject(new Error(`fleet: ${m.error}`));
    });
    proc.on('exit', (code) => {
      this.exited = true;
      for (const p of this.pending.values()) p.reject(new Error(`fleet process exited with ${code}`));
      this.pending.clear();
    });
  }

  static async start(): Promise<Fleet> {
    const proc = fork(fileURLToPath(import.meta.url), ['--fleet'], {
      execArgv: ['--import', 'tsx', ...(process.env.BENCH_FLEET_NODE_ARGS ?? '').split(' ').filter(Boolean)],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const fleet = new Fleet(proc);
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        fleet.pending.set(0, { resolve: () => resolve(), reject });
      }),
      'fleet process start',
      60_000,
    );
    return fleet;
  }

  call<T = unknown>(cmd: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.next++;
    const p = new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
    });
    this.proc.send({ id, cmd, args });
    return withTimeout(p, `fleet ${cmd}`);
  }

  async close(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise((r) => this.proc.once('exit', r));
    this.proc.disconnect();
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Hubs and brokers in this process

interface SyncHub {
  readonly hub: Hub;
  readonly sync: SyncAttachment;
  readonly url: string;
  /** Resolves (performance.now()) when the hub's replica has committed `n` remote changes to `collection`. */
  arrivals(collection: string, n: number): Promise<number>;
}

async function startSyncHub(dataDir: string): Promise<SyncHub> {
  let sync: SyncAttachment | undefined;
  const config = resolveConfig({
    dataDir,
    host: '127.0.0.1',
    mqttPort: 0,
    httpPort: 0,
    insecureNoAuth: true,
    logLevel: 'error',
  });
  const hub = await createHub(config, {
    attach: async (ctx) => {
      sync = await attachSync(ctx);
      return sync;
    },
  });
  const attached = sync!;
  return {
    hub,
    sync: attached,
    url: `mqtt://127.0.0.1:${hub.ports.mqtt}`,
    arrivals: (collection, n) =>
      new Promise((resolve) => {
        let seen = 0;
        // Subscribers hear of a change after its transaction committed: it is in the hub's database.
        const off = attached.server.store.subscribe((e) => {
          if (e.remote && e.collection === collection && ++seen === n) {
            off();
            resolve(performance.now());
          }
        });
      }),
  };
}

interface RawBroker {
  readonly url: string;
  /** Resolves (performance.now()) when clients have published `n` messages on topics starting with `prefix`. */
  arrivals(prefix: string, n: number): Promise<number>;
  close(): Promise<void>;
}

async function startRawBroker(): Promise<RawBroker> {
  const aedes = await Aedes.createBroker();
  const server: Server = createServer((socket) => {
    socket.setNoDelay(true); // as the hub's listener does
    aedes.handle(socket);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    arrivals: (prefix, n) =>
      new Promise((resolve) => {
        let seen = 0;
        const on = (packet: { topic: string }, client: unknown) => {
          if (client && packet.topic.startsWith(prefix) && ++seen === n) {
            aedes.off('publish', on);
            resolve(performance.now());
          }
        };
        aedes.on('publish', on);
      }),
    close: async () => {
      await new Promise<void>((r) => server.close(() => r()));
      await new Promise<void>((r) => aedes.close(() => r()));
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Child processes measured for RSS

/** Processes this bench started: killed at the end whatever happens. */
const children = new Set<ChildProcess>();

interface Proc {
  readonly proc: ChildProcess;
  readonly info: Record<string, number>;
  rssMb(): number;
  stop(): Promise<void>;
}

function startProc(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Proc> {
  const proc = spawn(process.execPath, args, {
    env: { ...process.env, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(proc);
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-20_000);
  });
  const exited = new Promise<void>((r) =>
    proc.once('exit', () => {
      children.delete(proc);
      r();
    }),
  );
  const started = new Promise<Proc>((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}:\n${stderr}`)));
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      let ev: Record<string, unknown>;
      try {
        ev = JSON.parse(line);
      } catch {
        return;
      }
      if (ev.event !== 'listening') return;
      resolve({
        proc,
        info: ev as Record<string, number>,
        rssMb: () => rssMb(proc.pid!),
        stop: async () => {
          if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
          const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
          await exited;
          clearTimeout(timer);
        },
      });
    });
  });
  return withTimeout(started, `start ${args.join(' ')}`, 60_000);
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1]);
  return kb / 1024;
}

/** Median of a few RSS samples over `ms`. */
async function sampleRss(p: Proc, ms = 2000, samples = 5): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < samples; i++) {
    await sleep(ms / samples);
    xs.push(p.rssMb());
  }
  return median(xs);
}

/**
 * The raw store: better-sqlite3 inserting the same rows (collection, id, ~1 KB JSON document) in batches
 * of `batch` per transaction, WAL with synchronous=NORMAL like the hub's replica. Rows/s.
 */
function rawSqliteInserts(dir: string, rows: number, terminals: number, batch = 500): number {
  mkdirSync(dir, { recursive: true });
  const db = new Database(join(dir, 'raw.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(
    'CREATE TABLE objects (collection TEXT NOT NULL, id TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (collection, id))',
  );
  const ins = db.prepare('INSERT INTO objects (collection, id, doc) VALUES (?, ?, ?)');
  const docs = Array.from({ length: rows }, (_, i) => {
    const till = `till-${String(i % terminals).padStart(2, '0')}`;
    return [`${till}-${i}`, JSON.stringify(sale(till, i))] as const;
  });
  const insertBatch = db.transaction((from: number) => {
    for (let i = from; i < Math.min(rows, from + batch); i++) ins.run('transactions', docs[i][0], docs[i][1]);
  });
  const t0 = performance.now();
  for (let i = 0; i < rows; i += batch) insertBatch(i);
  const perS = rows / ((performance.now() - t0) / 1000);
  db.close();
  rmSync(dir, { recursive: true, force: true });
  return perS;
}

// ---------------------------------------------------------------------------------------------------------
// The parts

async function benchIngest(fleet: Fleet, root: string): Promise<void> {
  const total = INGEST_AGENTS * INGEST_PER_AGENT;
  const template = join(root, 'ingest-template');
  const { prefillPerS } = await fleet.call<{ prefillPerS: number }>('ingestTemplate', {
    dir: template,
    agents: INGEST_AGENTS,
    perAgent: INGEST_PER_AGENT,
  });
  const ours: number[] = [];
  const idle: number[] = [];
  const downMb: number[] = [];
  const raw: number[] = [];
  const rawDb: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    rawDb.push(rawSqliteInserts(join(root, `ingest-raw-db-${r}`), total, INGEST_AGENTS));
    global.gc?.();
    // Raw: bare aedes, 50 mqtt.js clients connecting at t0 and publishing the same payloads at QoS 1.
    const broker = await startRawBroker();
    try {
      const done = broker.arrivals('backroom/v1/sync/', total);
      const t0 = performance.now();
      await fleet.call('rawIngest', { url: broker.url, clients: INGEST_AGENTS, perClient: INGEST_PER_AGENT });
      raw.push(total / (((await withTimeout(done, 'raw ingest')) - t0) / 1000));
    } finally {
      await broker.close();
    }
    global.gc?.();

    const dir = join(root, `ingest-${r}`);
    const hub = await startSyncHub(join(dir, 'hub'));
    try {
      const { pending } = await fleet.call<{ pending: number }>('ingestPrepare', {
        template,
        dir: join(dir, 'agents'),
        url: hub.url,
        agents: INGEST_AGENTS,
      });
      if (pending !== total) throw new Error(`expected ${total} queued changes, found ${pending}`);
      const done = hub.arrivals('transactions', total);
      const t0 = performance.now();
      const outboxesEmpty = fleet
        .call<{ downBytes: number }>('ingestGo')
        .then((r) => ({ ...r, t: performance.now() }));
      const t1 = await withTimeout(done, 'sync ingest');
      const { t: t2 } = await outboxesEmpty;
      // Let the hub's last pages arrive, then count what it sent down.
      await sleep(1000);
      downMb.push((await fleet.call<{ downBytes: number }>('ingestDownBytes')).downBytes / 2 ** 20);
      const held = hub.sync.server.store.count('transactions');
      if (held !== total) throw new Error(`hub holds ${held} of ${total} sales`);
      ours.push(total / ((t1 - t0) / 1000));
      idle.push((Math.max(t1, t2) - t0) / 1000);
    } finally {
      await fleet.call('ingestClose').catch(() => undefined);
      await hub.hub.close();
      rmSync(dir, { recursive: true, force: true });
    }
    global.gc?.();
  }
  const o = median(ours);
  const b = median(raw);
  const d = median(rawDb);
  console.log(
    JSON.stringify({
      bench: 'sync_ingest',
      agents: INGEST_AGENTS,
      changes: total,
      change_bytes: CHANGE_BYTES,
      setup: 'offline outboxes (written before the clock), clock starts when the agents connect',
      auth: 'insecure-no-auth',
      changes_per_s: Math.round(o),
      seconds: round2(total / o),
      outboxes_empty_s: round2(median(idle)),
      pushed_mb: round2((total * CHANGE_BYTES) / 2 ** 20),
      hub_to_terminals_mb: round2(median(downMb)),
      raw_changes_per_s: Math.round(d),
      raw_what: 'better-sqlite3 inserting the same rows, 500 per transaction, WAL, synchronous=NORMAL',
      ratio: +(o / d).toFixed(3),
      target_ratio: 0.3,
      target_met: o / d >= 0.3,
      raw_aedes_changes_per_s: Math.round(b),
      raw_aedes_what: 'aedes QoS 1 messages/s, 50 mqtt.js clients, one 1 KB payload each',
      ratio_to_aedes: +(o / b).toFixed(3),
      agent_prefill_changes_per_s: Math.round(prefillPerS),
      rounds: ROUNDS,
      all_changes_per_s: ours.map(Math.round),
    }),
  );
}

async function benchPropagation(fleet: Fleet, root: string): Promise<void> {
  const p50: number[] = [];
  const p99: number[] = [];
  const rawP50: number[] = [];
  const rawP99: number[] = [];
  let lost = 0;
  let rawLost = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const broker = await startRawBroker();
    try {
      const res = await fleet.call<{ latencies: number[]; lost: number }>('rawPropRun', {
        url: broker.url,
        clients: PROP_AGENTS,
        probes: PROBES,
        warmup: WARMUP_PROBES,
      });
      rawP50.push(percentile(res.latencies, 50));
      rawP99.push(percentile(res.latencies, 99));
      rawLost += res.lost;
    } finally {
      await broker.close();
    }

    const dir = join(root, `prop-${r}`);
    const hub = await startSyncHub(join(dir, 'hub'));
    try {
      await fleet.call('propPrepare', { dir: join(dir, 'agents'), url: hub.url, agents: PROP_AGENTS });
      const res = await fleet.call<{ latencies: number[]; lost: number }>('propRun', {
        probes: PROBES,
        warmup: WARMUP_PROBES,
      });
      p50.push(percentile(res.latencies, 50));
      p99.push(percentile(res.latencies, 99));
      lost += res.lost;
    } finally {
      await fleet.call('propClose').catch(() => undefined);
      await hub.hub.close();
      rmSync(dir, { recursive: true, force: true });
    }
    global.gc?.();
  }
  const o50 = median(p50);
  const o99 = median(p99);
  console.log(
    JSON.stringify({
      bench: 'sync_propagation',
      agents: PROP_AGENTS,
      probes: PROBES,
      probe: 'orders put on lane-00 until a remote ChangeEvent on lane-01 (every lane receives orders)',
      background_writes_per_s: BACKGROUND_PER_S,
      background: `~1 KB sales from ${PROP_AGENTS - 2} other agents`,
      auth: 'insecure-no-auth',
      p50_ms: round2(o50),
      p99_ms: round2(o99),
      lost,
      raw_p50_ms: round2(median(rawP50)),
      raw_p99_ms: round2(median(rawP99)),
      raw_lost: rawLost,
      raw_what: 'aedes QoS 1 publish to subscribers, same clients and background publishes',
      ratio: +(o50 / median(rawP50)).toFixed(3),
      target_p50_ms: 10,
      target_p99_ms: 50,
      target_met: o50 <= 10 && o99 <= 50 && lost === 0,
      rounds: ROUNDS,
      all_p50_ms: p50.map(round2),
      all_p99_ms: p99.map(round2),
    }),
  );
}

async function benchCatchup(fleet: Fleet, root: string): Promise<void> {
  const template = join(root, 'catchup-template');
  const { prefillPerS } = await fleet.call<{ prefillPerS: number }>('catchupTemplate', {
    dir: template,
    changes: CATCHUP,
  });
  const secs: number[] = [];
  const raw: number[] = [];
  const rawDb: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    rawDb.push(rawSqliteInserts(join(root, `catchup-raw-db-${r}`), CATCHUP, 1));
    global.gc?.();
    const broker = await startRawBroker();
    try {
      const done = broker.arrivals('backroom/v1/sync/', CATCHUP);
      const t0 = performance.now();
      await fleet.call('rawCatchup', { url: broker.url, changes: CATCHUP });
      raw.push(((await withTimeout(done, 'raw catchup')) - t0) / 1000);
    } finally {
      await broker.close();
    }
    global.gc?.();

    const dir = join(root, `catchup-${r}`);
    const hub = await startSyncHub(join(dir, 'hub'));
    try {
      await fleet.call('catchupPrepare', { template, dir: join(dir, 'agent') });
      const done = hub.arrivals('transactions', CATCHUP);
      const t0 = performance.now();
      const { started } = await fleet.call<{ started: number }>('catchupGo', { url: hub.url });
      const outboxEmpty = performance.now();
      const hubHasAll = await withTimeout(done, 'catchup at the hub');
      if (started !== CATCHUP) throw new Error(`expected ${CATCHUP} queued changes, found ${started}`);
      secs.push((Math.max(outboxEmpty, hubHasAll) - t0) / 1000);
    } finally {
      await fleet.call('catchupClose').catch(() => undefined);
      await hub.hub.close();
      rmSync(dir, { recursive: true, force: true });
    }
    global.gc?.();
  }
  const s = median(secs);
  const b = median(raw);
  const d = median(rawDb);
  console.log(
    JSON.stringify({
      bench: 'sync_catchup',
      changes: CATCHUP,
      change_bytes: CHANGE_BYTES,
      setup:
        'queued in the replica before the agent starts; clock from createAgent() to outbox empty and hub holding all',
      auth: 'insecure-no-auth',
      seconds: round2(s),
      changes_per_s: Math.round(CATCHUP / s),
      raw_changes_per_s: Math.round(d),
      raw_what: 'better-sqlite3 inserting the same rows, 500 per transaction, WAL, synchronous=NORMAL',
      ratio: +(CATCHUP / s / d).toFixed(3),
      target_ratio: 0.3,
      target_met: CATCHUP / s / d >= 0.3,
      raw_aedes_seconds: round2(b),
      raw_aedes_what: 'one mqtt.js client publishing the payloads at QoS 1 to bare aedes',
      ratio_to_aedes: +(b / s).toFixed(3),
      agent_prefill_changes_per_s: Math.round(prefillPerS),
      rounds: ROUNDS,
      all_seconds: secs.map(round2),
    }),
  );
}

/**
 * Connects `n` clients made like an agent's connection (clean: false, will, downlink subscription,
 * retained presence) that each send a `hello`; with `welcome`, waits for the hub's answer.
 */
async function connectIdle(url: string, n: number, welcome: boolean): Promise<MqttClient[]> {
  const clients: MqttClient[] = [];
  const one = async (i: number) => {
    const id = `idle-${String(i).padStart(4, '0')}`;
    const presence = `backroom/v1/presence/${id}`;
    const down = `backroom/v1/sync/${id}/down`;
    const c = await mqtt.connectAsync(url, {
      clientId: id,
      username: id,
      password: 'bench',
      clean: false,
      reconnectPeriod: 0,
      keepalive: 30,
      will: { topic: presence, payload: Buffer.from('{"online":false}'), qos: 1, retain: true },
    });
    clients.push(c);
    const welcomed = new Promise<void>((resolve) => c.once('message', () => resolve()));
    await c.subscribeAsync(down, { qos: 1 });
    await c.publishAsync(presence, JSON.stringify({ online: true, at: Date.now() }), {
      qos: 1,
      retain: true,
    });
    const hello = encodeMessage({
      k: 'hello',
      deviceId: id,
      clientVars: {},
      cursor: '0',
      wallTime: Date.now(),
      agentVersion: 'bench',
    });
    await c.publishAsync(`backroom/v1/sync/${id}/up`, Buffer.from(hello), { qos: 1 });
    if (welcome) await welcomed;
  };
  for (let i = 0; i < n; i += 50) {
    await Promise.all(Array.from({ length: Math.min(50, n - i) }, (_, j) => one(i + j)));
  }
  return clients;
}

async function closeClients(clients: MqttClient[]): Promise<void> {
  await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
}

async function benchIdleConnections(root: string): Promise<void> {
  const ours: number[] = [];
  const oursBefore: number[] = [];
  const raw: number[] = [];
  const rawBefore: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const bare = await startProc([RAW_SCRIPT, 'broker']);
    try {
      rawBefore.push(await sampleRss(bare, 1000));
      const clients = await withTimeout(
        connectIdle(`mqtt://127.0.0.1:${bare.info.mqtt}`, IDLE_CONNECTIONS, false),
        'idle clients on aedes',
      );
      await sleep(2000);
      raw.push(await sampleRss(bare));
      await closeClients(clients);
    } finally {
      await bare.stop();
    }

    const dir = join(root, `idle-${r}`);
    const hub = await startProc(
      [
        HUB_MAIN,
        '--insecure-no-auth',
        '--data',
        dir,
        '--host',
        '127.0.0.1',
        '--mqtt-port',
        '0',
        '--http-port',
        '0',
        '--log-level',
        'error',
      ],
      {},
    );
    try {
      oursBefore.push(await sampleRss(hub, 1000));
      const clients = await withTimeout(
        connectIdle(`mqtt://127.0.0.1:${hub.info.mqtt}`, IDLE_CONNECTIONS, true),
        'idle clients on the hub',
      );
      await sleep(2000);
      ours.push(await sampleRss(hub));
      await closeClients(clients);
    } finally {
      await hub.stop();
      rmSync(dir, { recursive: true, force: true });
    }
    global.gc?.();
  }
  const o = median(ours);
  const b = median(raw);
  console.log(
    JSON.stringify({
      bench: 'hub_idle_connections',
      connections: IDLE_CONNECTIONS,
      clients:
        'mqtt.js, clean: false, will, downlink subscription, retained presence, hello (welcome awaited on the hub)',
      hub: 'apps/hub/dist/main.js --insecure-no-auth, empty store',
      rss_mb: round2(o),
      rss_mb_no_clients: round2(median(oursBefore)),
      kb_per_connection: Math.round(((o - median(oursBefore)) * 1024) / IDLE_CONNECTIONS),
      raw_rss_mb: round2(b),
      raw_rss_mb_no_clients: round2(median(rawBefore)),
      raw_what: 'bare aedes process (bench/sync-hub-raw.mjs), same clients',
      ratio: +(o / b).toFixed(3),
      target_rss_mb: 300,
      target_met: o <= 300,
      rounds: ROUNDS,
      all_rss_mb: ours.map(round2),
    }),
  );
}

async function benchAgentIdle(root: string): Promise<void> {
  const dir = join(root, 'agent-idle');
  const hub = await startProc([
    HUB_MAIN,
    '--insecure-no-auth',
    '--data',
    join(dir, 'hub'),
    '--host',
    '127.0.0.1',
    '--mqtt-port',
    '0',
    '--http-port',
    '0',
    '--log-level',
    'error',
  ]);
  const ours: number[] = [];
  const raw: number[] = [];
  try {
    const http = `http://127.0.0.1:${hub.info.http}`;
    for (let i = 0; i < CATALOGUE; i++) {
      const res = await fetch(`${http}/v1/collections/products/objects/SKU-${i}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          name: `Item ${i}`,
          price: (i % 90) + 0.99,
          category: 'grocery',
          active: true,
        }),
      });
      if (!res.ok) throw new Error(`catalogue PUT: ${res.status} ${await res.text()}`);
    }
    const url = `mqtt://127.0.0.1:${hub.info.mqtt}`;
    for (let r = 0; r < ROUNDS; r++) {
      const id = `till-idle-${r}`;
      const agent = await startProc(
        [
          AGENT_MAIN,
          '--hub',
          url,
          '--device-id',
          id,
          '--token',
          'bench',
          '--data',
          join(dir, id),
          '--api-port',
          '0',
        ],
        { BACKROOM_LOG_LEVEL: 'warn' },
      );
      try {
        const api = `http://127.0.0.1:${agent.info.api}`;
        await withTimeout(
          (async () => {
            for (;;) {
              const s = (await (await fetch(`${api}/v1/sync/status`)).json()) as Record<string, unknown>;
              const last = await fetch(`${api}/v1/collections/products/objects/SKU-${CATALOGUE - 1}`);
              if (s.connected && s.pendingUp === 0 && last.ok) return;
              await sleep(100);
            }
          })(),
          'agent synced',
          60_000,
        );
        await sleep(3000);
        ours.push(await sampleRss(agent));
      } finally {
        await agent.stop();
      }
      const client = await startProc([RAW_SCRIPT, 'client', url, `raw-idle-${r}`]);
      try {
        await sleep(3000);
        raw.push(await sampleRss(client));
      } finally {
        await client.stop();
      }
    }
  } finally {
    await hub.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const o = median(ours);
  const b = median(raw);
  console.log(
    JSON.stringify({
      bench: 'agent_idle_rss',
      agent: 'apps/device-agent/dist/main.js, synced with a hub holding a 500-product catalogue, idle 3 s',
      rss_mb: round2(o),
      raw_rss_mb: round2(b),
      raw_what: 'node process holding one idle mqtt.js connection (bench/sync-hub-raw.mjs client)',
      ratio: +(o / b).toFixed(3),
      target_rss_mb: 80,
      target_met: o < 80,
      rounds: ROUNDS,
      all_rss_mb: ours.map(round2),
    }),
  );
}

// ---------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const only = (process.env.BENCH_ONLY ?? '').split(',').filter(Boolean);
  const want = (name: string) => only.length === 0 || only.includes(name);
  const root = mkdtempSync(join(tmpdir(), 'backroom-bench-sync-'));
  let fleet: Fleet | undefined;
  let failed = false;
  try {
    if (want('ingest') || want('propagation') || want('catchup')) fleet = await Fleet.start();
    if (fleet && want('ingest')) await benchIngest(fleet, root);
    if (fleet && want('propagation')) await benchPropagation(fleet, root);
    if (fleet && want('catchup')) await benchCatchup(fleet, root);
    if (want('idle')) await benchIdleConnections(root);
    if (want('agent')) await benchAgentIdle(root);
  } catch (err) {
    failed = true;
    console.error(err);
  } finally {
    await fleet?.close().catch(() => undefined);
    for (const c of children) c.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  }
  // Agents' and clients' sockets may hold the loop open for a while after close: exit explicitly.
  process.exit(failed ? 1 : 0);
}

if (process.argv[2] === '--fleet') await runFleet();
else await main();
