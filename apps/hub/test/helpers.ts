/** Shared set-up for the hub's tests: temp data dirs, a real hub on port 0, mqtt.js clients. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { connectAsync, type IClientOptions, type MqttClient, type Packet } from 'mqtt';
import { pino } from 'pino';
import { type CreateHubOptions, createHub, type Hub } from '../src/app.js';
import { resolveConfig } from '../src/config.js';
import { attachSync, type SyncAttachment } from '../src/sync/attach.js';

/** A fresh temp folder, removed after the test. */
export function tempDir(t: TestContext, prefix = 'backroom-hub-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A schema file for the hub config (the broker and HTTP layers do not read it). */
export function schemaFile(dir: string): string {
  const file = join(dir, 'schema.json');
  writeFileSync(file, '{"collections":{}}\n');
  return file;
}

/** A running hub on 127.0.0.1 with free ports and silent logs, closed after the test. */
export async function startHub(
  t: TestContext,
  overrides: Record<string, unknown> = {},
  options: CreateHubOptions = {},
): Promise<Hub> {
  const dir = tempDir(t);
  const config = resolveConfig({
    dataDir: join(dir, 'data'),
    host: '127.0.0.1',
    mqttPort: 0,
    httpPort: 0,
    schemaFile: schemaFile(dir),
    logLevel: 'silent',
    ...overrides,
  });
  const hub = await createHub(config, { logger: pino({ level: 'silent' }), ...options });
  t.after(() => hub.close());
  return hub;
}

/**
 * A running hub with the sync server attached (the shipped retail schema unless overridden), on
 * 127.0.0.1 with free ports and silent logs, closed after the test.
 */
export async function startSyncHub(
  t: TestContext,
  overrides: Record<string, unknown> = {},
): Promise<{ hub: Hub; attachment: SyncAttachment; dir: string }> {
  const dir = tempDir(t);
  let attachment: SyncAttachment | undefined;
  const config = resolveConfig({
    dataDir: join(dir, 'hub'),
    host: '127.0.0.1',
    mqttPort: 0,
    httpPort: 0,
    logLevel: 'silent',
    ...overrides,
  });
  const hub = await createHub(config, {
    logger: pino({ level: 'silent' }),
    attach: async (ctx) => {
      attachment = await attachSync(ctx);
      return attachment;
    },
  });
  t.after(() => hub.close());
  return { hub, attachment: attachment!, dir };
}

/** Enrols a device and returns its credential. */
export async function enrol(hub: Hub, id: string, role = 'pos', store?: string): Promise<string> {
  return (await hub.registry.add({ id, role, store })).credential;
}

/** Connects mqtt.js to the hub's TCP port as `id` (no retries), closed after the test. */
export async function connectDevice(
  t: TestContext,
  hub: Hub,
  id: string,
  password: string | undefined,
  extra: IClientOptions = {},
): Promise<MqttClient> {
  const client = await connectAsync(`mqtt://127.0.0.1:${hub.ports.mqtt}`, {
    clientId: id,
    username: id,
    password,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ...extra,
  });
  t.after(() => client.endAsync(true));
  return client;
}

/** Resolves with the CONNACK error of a refused connection; fails the test if it is accepted. */
export async function refusedConnect(
  url: string,
  options: IClientOptions,
): Promise<Error & { code?: number }> {
  try {
    const client = await connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
    await client.endAsync(true);
  } catch (e) {
    return e as Error & { code?: number };
  }
  throw new Error('the connection was accepted');
}

/** Resolves when `client`'s connection closes. */
export function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve) => {
    if (!client.connected) return resolve();
    client.once('close', () => resolve());
  });
}

/** Collects the messages `client` receives, and waits for one matching a predicate. */
export function inbox(client: MqttClient) {
  const messages: { topic: string; payload: string; retain: boolean }[] = [];
  const waiters: {
    match: (m: (typeof messages)[number]) => boolean;
    resolve: (m: (typeof messages)[number]) => void;
  }[] = [];
  client.on('message', (topic, payload, packet) => {
    const m = { topic, payload: payload.toString(), retain: packet.retain };
    messages.push(m);
    for (const w of [...waiters]) {
      if (w.match(m)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  return {
    messages,
    next(match: (m: (typeof messages)[number]) => boolean): Promise<(typeof messages)[number]> {
      const found = messages.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve) => waiters.push({ match, resolve }));
    },
  };
}

/** fetch() against the hub's HTTP port. */
export function http(hub: Hub, path: string, init: RequestInit & { token?: string } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.token) headers.set('authorization', `Bearer ${init.token}`);
  return fetch(`http://127.0.0.1:${hub.ports.http}${path}`, { ...init, headers });
}

/**
 * Subscribes and returns the SUBACK's granted codes in request order (0x80 = refused). mqtt.js turns any
 * 0x80 into an error, so the SUBACK packet is read directly.
 */
export function subscribeGranted(client: MqttClient, filters: string[], qos: 0 | 1 = 1): Promise<number[]> {
  return new Promise((resolve) => {
    const onPacket = (packet: Packet) => {
      if (packet.cmd !== 'suback') return;
      client.off('packetreceive', onPacket);
      resolve(packet.granted as number[]);
    };
    client.on('packetreceive', onPacket);
    client.subscribe(
      filters.map((f) => f),
      { qos },
      () => {},
    );
  });
}
