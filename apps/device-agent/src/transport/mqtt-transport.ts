/**
 * The agent's MQTT link to the hub (mqtt.js 5): a persistent session (`clean: false`, client id = device
 * id, so QoS 1 messages queued while the terminal was away are delivered), a will and a retained presence
 * on `backroom/v1/presence/{deviceId}`, and reconnects with exponential backoff and full jitter so a
 * store's terminals do not all hammer a restarting hub in the same second. A refusal by the hub (a wrong
 * credential) is reported as a `refused` event and backed off like any failed attempt.
 */
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { createConnection } from 'node:net';
import type { Logger } from '@backroom/sync-core';
import type { IClientOptions, MqttClient } from 'mqtt';
import { refusalOf } from './refusal.js';
import type { Transport, TransportEvents } from './transport.js';

export interface MqttTransportOptions {
  /** `mqtt://host:port`, `mqtts://...` or `ws://host:port/mqtt`. */
  readonly url: string;
  readonly deviceId: string;
  readonly token: string;
  readonly logger?: Logger;
  /** First reconnect delay, ms (default 500); doubles up to `maxBackoffMs` (default 30 000). */
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** Extra mqtt.js options (TLS CA, ...). */
  readonly mqttOptions?: IClientOptions;
}

/** Longest a clean stop waits for the hub to take the goodbye. */
const CLOSE_WAIT_MS = 1000;
/**
 * A session must stay up this long to reset the backoff: a hub that accepts the connection and drops it at
 * once (a session taken over by another agent with the same device id, a refused subscription) is retried
 * with growing delays too, never at the base interval forever.
 */
const STABLE_SESSION_MS = 10_000;
const require = createRequire(import.meta.url);

/**
 * `mqtt.connect` for a plain TCP hub (`mqtt://`, `tcp://`) without loading what mqtt.js's entry point
 * loads for every transport (WebSocket, TLS, SOCKS, their streams): the client class and a socket from
 * node:net, the stream mqtt.js's own `tcp` builder makes. Any other URL, a SOCKS proxy
 * (`MQTTJS_SOCKS_PROXY`) or a server list goes through `mqtt.connect` itself, loaded then.
 */
function connectToHub(url: string, options: IClientOptions): MqttClient {
  const u = new URL(url);
  if (
    (u.protocol === 'mqtt:' || u.protocol === 'tcp:') &&
    !process.env.MQTTJS_SOCKS_PROXY &&
    !options.servers
  ) {
    const Client = (require('mqtt/lib/client') as { default: typeof MqttClient }).default;
    const host = u.hostname.replace(/^\[(.*)\]$/, '$1'); // an IPv6 literal without its brackets
    const port = u.port ? Number(u.port) : 1883;
    const client = new Client(() => createConnection({ host, port }), {
      protocol: 'mqtt',
      host,
      port,
      ...options,
    });
    client.on('error', () => {}); // as mqtt.connect does: an error without a listener must not throw
    return client;
  }
  return (require('mqtt') as typeof import('mqtt')).connect(url, options);
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const presence = (id: string) => `backroom/v1/presence/${id}`;
const up = (id: string) => `backroom/v1/sync/${id}/up`;
const down = (id: string) => `backroom/v1/sync/${id}/down`;

export class MqttTransport implements Transport {
  private client: MqttClient | undefined;
  private readonly events = new EventEmitter();
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private ready = false;
  /** performance.now() when the current session became ready. */
  private readyAt = 0;
  private closing = false;

  constructor(private readonly opts: MqttTransportOptions) {}

  start(): void {
    if (this.client) return;
    const { deviceId, token } = this.opts;
    const client = connectToHub(this.opts.url, {
      clientId: deviceId,
      username: deviceId,
      password: token,
      clean: false,
      reconnectPeriod: 0, // reconnects are ours: backoff with jitter
      connectTimeout: 10_000,
      keepalive: 30,
      will: { topic: presence(deviceId), payload: Buffer.from('{"online":false}'), qos: 1, retain: true },
      ...this.opts.mqttOptions,
    });
    this.client = client;
    client.on('connect', () => {
      // Sync messages are small and answered at once (a page, then a pull): Nagle's algorithm would hold
      // each pull back for a delayed ACK (~40 ms per round trip).
      (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
      client.subscribe(down(deviceId), { qos: 1 }, (err) => {
        if (err) {
          this.opts.logger?.error({ err }, 'cannot subscribe to the hub downlink');
          client.end(true);
          return;
        }
        client.publish(presence(deviceId), JSON.stringify({ online: true, at: Date.now() }), {
          qos: 1,
          retain: true,
        });
        this.ready = true;
        this.readyAt = performance.now();
        this.events.emit('connect');
      });
    });
    client.on('message', (topic, payload) => {
      if (topic === down(deviceId)) this.events.emit('message', payload);
    });
    client.on('error', (err) => {
      const refusal = refusalOf(err);
      if (refusal) {
        // The hub's answer, not a network problem: say so in the status; the reconnect backs off.
        this.opts.logger?.warn(
          { code: refusal.code, returnCode: refusal.returnCode, attempt: this.attempt },
          `the hub refused the connection: ${refusal.message}`,
        );
        this.events.emit('refused', refusal);
        return;
      }
      this.opts.logger?.warn({ err: err.message }, 'hub connection error');
    });
    client.on('close', () => {
      const was = this.ready;
      this.ready = false;
      if (was && performance.now() - this.readyAt >= STABLE_SESSION_MS) this.attempt = 0;
      if (was) this.events.emit('disconnect', 'connection closed');
      this.scheduleReconnect();
    });
  }

  async send(payload: Uint8Array): Promise<void> {
    const client = this.client;
    if (!client || !this.ready) throw new Error('not connected to the hub');
    await client.publishAsync(up(this.opts.deviceId), Buffer.from(payload), { qos: 1 });
  }

  isConnected(): boolean {
    return this.ready;
  }

  on<K extends keyof TransportEvents>(event: K, listener: TransportEvents[K]): void {
    this.events.on(event, listener);
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
    const client = this.client;
    if (!client) return;
    if (this.ready) {
      // aedes sends no will on a clean disconnect: say we are offline ourselves — but never wait long
      // for a hub that may be gone (a QoS 1 publish would wait for a reconnect that is not coming).
      const goodbye = client
        .publishAsync(presence(this.opts.deviceId), JSON.stringify({ online: false, at: Date.now() }), {
          qos: 1,
          retain: true,
        })
        .catch(() => undefined);
      await Promise.race([goodbye, delay(CLOSE_WAIT_MS)]);
    }
    this.ready = false;
    await Promise.race([client.endAsync().catch(() => undefined), delay(CLOSE_WAIT_MS)]);
    if (!client.disconnected) client.end(true);
  }

  private scheduleReconnect(): void {
    if (this.closing || this.timer) return;
    const min = this.opts.minBackoffMs ?? 500;
    const max = this.opts.maxBackoffMs ?? 30_000;
    const ceiling = Math.min(max, min * 2 ** this.attempt);
    this.attempt++;
    const delay = Math.floor(Math.random() * ceiling); // full jitter
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.closing) this.client?.reconnect();
    }, delay);
    this.timer.unref?.();
  }
}
