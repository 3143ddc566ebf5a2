/**
 * The device agent: a local replica that keeps a POS terminal working offline, synced with the store hub
 * over MQTT, with the local HTTP API on 127.0.0.1. `main.ts` parses flags and calls {@link createAgent};
 * POS software written in Node calls it directly.
 */
import { chmodSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSchema, type ReplicaStore, type Schema, ReplicaStore as Store } from '@backroom/sync-core';
import pino from 'pino';
import { LazyVectorStore } from './api/lazy-vectors.js';
import { createAgentApi } from './api/server.js';
import type { SyncStatus } from './api/status.js';
import { type AgentOptions, resolveAgentOptions } from './options.js';
import { SyncClient } from './sync/sync-client.js';
import { MqttTransport } from './transport/mqtt-transport.js';

export type { AgentOptions } from './options.js';

/** A running agent. */
export interface Agent {
  readonly apiPort: number;
  readonly store: ReplicaStore;
  status(): SyncStatus;
  /** Resolves when the outbox is empty and the hub has nothing more to send (for tests and tools). */
  idle(): Promise<void>;
  /** Stops the API, says offline to the hub, closes the replica. */
  close(): Promise<void>;
}

/** The retail schema shipped with sync-core. */
export const DEFAULT_SCHEMA_FILE = fileURLToPath(
  import.meta.resolve('@backroom/sync-core/retail-schema.json'),
);

function envNumber(name: string): number | undefined {
  const v = process.env[name];
  return v === undefined || v === '' || !Number.isFinite(Number(v)) ? undefined : Number(v);
}

function readSchema(file: string): Schema {
  return loadSchema(JSON.parse(readFileSync(file, 'utf8')));
}

/**
 * Starts an agent: checks the options (./options.ts; those from `backroom-agent`'s command line are checked
 * already), opens (or creates) the replica, serves the local API, and syncs with the hub whenever it can be
 * reached. Resolves once the API listens; the hub need not be up.
 *
 * @throws TypeError listing every problem with the options, before anything is opened.
 * @example
 * const agent = await createAgent({ hubUrl: 'mqtt://hub.local:1883', deviceId: 'till-1', token, dataDir: './data' });
 * agent.store.increment('inventory', 'SKU-1', { stock: -1 });
 */
export async function createAgent(options: AgentOptions): Promise<Agent> {
  const o = resolveAgentOptions(options);
  const logger = pino({ level: o.logLevel, base: { deviceId: o.deviceId } }, pino.destination(2));
  const schema = readSchema(o.schemaFile ?? DEFAULT_SCHEMA_FILE);
  // A terminal's sales are nobody else's business on that machine: the data folder is private (0700),
  // also when it already existed; the replica files are 0600 (the store sees to that).
  mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
  chmodSync(o.dataDir, 0o700);
  const store = Store.open({
    path: join(o.dataDir, 'replica.db'),
    schema,
    nodeId: o.deviceId,
    role: o.role ?? 'pos',
    logger: logger.child({ component: 'store' }),
  });
  const transport = new MqttTransport({
    url: o.hubUrl,
    deviceId: o.deviceId,
    token: o.token,
    logger: logger.child({ component: 'mqtt' }),
    // Unset by a library caller: the environment's, as documented on AgentOptions (backroom-agent has
    // read and checked those variables already).
    minBackoffMs: o.reconnectMinMs ?? envNumber('BACKROOM_RECONNECT_MIN_MS'),
    maxBackoffMs: o.reconnectMaxMs ?? envNumber('BACKROOM_RECONNECT_MAX_MS'),
  });
  const client = new SyncClient({
    store,
    transport,
    deviceId: o.deviceId,
    clientVars: o.clientVars,
    logger: logger.child({ component: 'sync' }),
    maxMessageBytes: o.maxMessageBytes,
  });
  // Loaded on the first similarity search: most terminals never search (./api/lazy-vectors.ts).
  const vectors = new LazyVectorStore({
    dir: join(o.dataDir, 'vectors'),
    logger: logger.child({ component: 'vectors' }),
  });
  let api: Awaited<ReturnType<typeof createAgentApi>>;
  try {
    api = await createAgentApi({
      store,
      vectors,
      status: () => client.status(),
      port: o.apiPort,
      logger,
    });
  } catch (e) {
    await vectors.close();
    store.close();
    throw e;
  }
  client.start();
  let closed = false;
  return {
    apiPort: api.port,
    store,
    status: () => client.status(),
    idle: () => client.idle(),
    async close() {
      if (closed) return;
      closed = true;
      await api.close();
      await client.close();
      await vectors.close(); // writes the final snapshots: before the store closes
      store.close();
      logger.flush();
    },
  };
}
