/**
 * The device agent: a local replica that keeps a POS terminal working offline, synced with the store hub
 * over MQTT, with the local HTTP API on 127.0.0.1. `main.ts` parses flags and calls {@link createAgent};
 * POS software written in Node calls it directly.
 */
import { chmodSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSchema, type ReplicaStore, type Schema, ReplicaStore as Store } from '@backroom/sync-core';
import { VectorStore } from '@backroom/vector-store';
import pino from 'pino';
import { createAgentApi } from './api/server.js';
import type { SyncStatus } from './api/status.js';
import { SyncClient } from './sync/sync-client.js';
import { MqttTransport } from './transport/mqtt-transport.js';

export interface AgentOptions {
  /** The hub: `mqtt://HOST:PORT` (or `mqtts://`, `ws://HOST:PORT/mqtt`). */
  readonly hubUrl: string;
  readonly deviceId: string;
  /** The credential printed by `backroom-hub devices add`, or a JWT. */
  readonly token: string;
  /** Where the replica lives (created if missing). */
  readonly dataDir: string;
  /** Local API port on 127.0.0.1; default 7070, 0 picks a free port. */
  readonly apiPort?: number;
  /** Collection schema (JSON); default the retail schema shipped with sync-core. */
  readonly schemaFile?: string;
  /** Values for `$client.VAR` in the hub's sync filters. */
  readonly clientVars?: Readonly<Record<string, string>>;
  readonly logLevel?: string;
  readonly maxMessageBytes?: number;
  /** Writer role for role-based precedence (default `pos`). */
  readonly role?: string;
  /**
   * Reconnect backoff bounds, ms (defaults 500 and 30 000, or BACKROOM_RECONNECT_MIN_MS and
   * BACKROOM_RECONNECT_MAX_MS).
   */
  readonly reconnectMinMs?: number;
  readonly reconnectMaxMs?: number;
}

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
 * Starts an agent: opens (or creates) the replica, serves the local API, and syncs with the hub whenever
 * it can be reached. Resolves once the API listens; the hub need not be up.
 * @example
 * const agent = await createAgent({ hubUrl: 'mqtt://hub.local:1883', deviceId: 'till-1', token, dataDir: './data' });
 * agent.store.increment('inventory', 'SKU-1', { stock: -1 });
 */
export async function createAgent(o: AgentOptions): Promise<Agent> {
  const logger = pino({ level: o.logLevel ?? 'info', base: { deviceId: o.deviceId } }, pino.destination(2));
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
  const vectors = new VectorStore({
    dir: join(o.dataDir, 'vectors'),
    logger: logger.child({ component: 'vectors' }),
  });
  let api: Awaited<ReturnType<typeof createAgentApi>>;
  try {
    api = await createAgentApi({
      store,
      vectors,
      status: () => client.status(),
      port: o.apiPort ?? 7070,
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
