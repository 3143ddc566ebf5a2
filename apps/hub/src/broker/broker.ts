/**
 * The hub's MQTT broker: aedes 1.x with Backroom's authentication, topic ACL, packet size limit, presence
 * and the {@link DeviceChannel} the sync server plugs into. Transports (TCP, TLS, WebSocket) live in
 * broker/listeners.ts and hand each connection to {@link HubBroker.handle}.
 *
 * Sessions use aedes' in-memory persistence: persistent sessions, queued QoS 1 messages and retained
 * presence survive reconnects but not a hub restart. That is enough because the sync protocol recovers
 * from its own cursors after a restart (docs/broker.md).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { Aedes, type AuthenticateError, type Client, type PublishPacket } from 'aedes';
import type { Authenticator } from '../auth/authenticator.js';
import { type DevicePrincipal, isDeviceId } from '../auth/device.js';
import { HubError } from '../errors.js';
import type { HubLogger } from '../logger.js';
import { mayPublish, maySubscribe } from './acl.js';
import type { DeviceChannel, DeviceSighting, TelemetryPacket } from './device-channel.js';
import { guardConnection } from './packet-size-guard.js';
import { parseTopic, presenceTopic, syncDownTopic } from './topics.js';

/** Why the broker refused something; a metrics label. */
export type RejectReason =
  | 'auth'
  | 'auth-rate-limited'
  | 'client-id'
  | 'packet-too-large'
  | 'packet-malformed'
  | 'acl-publish'
  | 'acl-subscribe';

/** Inputs of {@link createBroker}. */
export interface BrokerOptions {
  readonly authenticator: Authenticator;
  readonly logger: HubLogger;
  readonly maxPacketBytes: number;
  /** Called for every refusal (metrics). */
  readonly onReject?: (reason: RejectReason) => void;
  /** Called when a device connects or disconnects (the registry's `last seen`). */
  readonly onSeen?: (deviceId: string, at: number) => void;
}

/** The running broker. */
export interface HubBroker {
  readonly aedes: Aedes;
  readonly channel: DeviceChannel;
  /** Number of devices with an open, authenticated connection. */
  connectedDevices(): number;
  /** Serves MQTT on one new connection (TCP/TLS socket or WebSocket stream), behind the size guard. */
  handle(conn: Duplex, req?: IncomingMessage): void;
  /** Closes every client (their presence turns offline) and the broker. */
  close(): Promise<void>;
}

/** What the broker remembers about one MQTT connection. */
interface ConnectionState {
  /** The CONNECT packet carried an empty client id (aedes then invents one). */
  emptyClientId: boolean;
  /** The peer's IP address, for the rate limiting of failed logins. */
  address?: string;
  principal?: DevicePrincipal;
}

/** CONNACK return codes of MQTT 3.1.1 (table 3.1). */
const CONNACK = { IDENTIFIER_REJECTED: 2, SERVER_UNAVAILABLE: 3, NOT_AUTHORIZED: 5 } as const;

function connackError(returnCode: number, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

/**
 * Creates the broker. It accepts connections only through `handle()`.
 *
 * @example
 * const broker = await createBroker({ authenticator, logger, maxPacketBytes: 1 << 20 });
 * net.createServer((socket) => broker.handle(socket)).listen(1883);
 */
export async function createBroker(options: BrokerOptions): Promise<HubBroker> {
  const log = options.logger.child({ component: 'broker' });
  const auth = options.authenticator;
  const reject = (reason: RejectReason) => {
    try {
      options.onReject?.(reason);
    } catch {}
  };

  const connections = new WeakMap<Client, ConnectionState>();
  /** Peer addresses of the streams handed to aedes (the size guard wraps sockets, hiding theirs). */
  const addresses = new WeakMap<object, string>();
  /** The live client of each online device. One per device: client id = device id, takeover closes the old. */
  const sessions = new Map<string, Client>();
  const sightings = new Map<string, DeviceSighting>();

  const messageHandlers: ((deviceId: string, payload: Buffer, principal: DevicePrincipal) => void)[] = [];
  const connectHandlers: ((p: DevicePrincipal) => void)[] = [];
  const disconnectHandlers: ((deviceId: string) => void)[] = [];
  const telemetryHandlers: ((
    deviceId: string,
    metric: string,
    payload: Buffer,
    packet: TelemetryPacket,
  ) => void)[] = [];

  /** Runs one handler; a throw or a rejected promise is logged, never propagated into aedes. */
  const safely = (what: string, fn: () => unknown) => {
    try {
      const r = fn();
      if (r && typeof (r as Promise<unknown>).then === 'function') {
        (r as Promise<unknown>).then(undefined, (err: unknown) =>
          log.error({ err }, `${what} handler failed`),
        );
      }
    } catch (err) {
      log.error({ err }, `${what} handler failed`);
    }
  };

  const publishPresence = (deviceId: string, online: boolean, at: number) => {
    const packet = {
      cmd: 'publish',
      topic: presenceTopic(deviceId),
      payload: Buffer.from(JSON.stringify({ online, at })),
      qos: 1,
      retain: true,
      dup: false,
    } as PublishPacket;
    aedes.publish(packet, (err) => {
      if (err && !aedes.closed) log.warn({ err, deviceId }, 'presence publish failed');
    });
  };

  const seen = (deviceId: string, online: boolean) => {
    const at = Date.now();
    sightings.set(deviceId, { deviceId, online, lastSeen: at });
    try {
      options.onSeen?.(deviceId, at);
    } catch (err) {
      log.warn({ err, deviceId }, 'recording last seen failed');
    }
    return at;
  };

  const aedes = await Aedes.createBroker({
    // [MQTT-3.1.3-5] allows 23 characters at least; device ids go up to 64.
    maxClientsIdLength: 64,

    preConnect(client, packet, callback) {
      connections.set(client, { emptyClientId: !packet.clientId, address: addresses.get(client.conn) });
      callback(null, true);
    },

    authenticate(client, username, password, done) {
      const state = connections.get(client) ?? { emptyClientId: false };
      connections.set(client, state);
      // [MQTT-3.1.3-8]: a zero-byte client id with CleanSession=0 gets CONNACK 0x02 and the connection
      // is closed. aedes would otherwise invent an id and open a persistent session nobody can resume.
      if (state.emptyClientId && !client.clean) {
        reject('client-id');
        return done(connackError(CONNACK.IDENTIFIER_REJECTED, 'identifier rejected'), null);
      }

      if (auth.insecureNoAuth) {
        // No authentication: the client id is the device id (aedes' invented one if it sent none).
        if (!isDeviceId(client.id)) {
          reject('client-id');
          return done(connackError(CONNACK.IDENTIFIER_REJECTED, 'client id is not a valid device id'), null);
        }
        state.principal = auth.insecureDevicePrincipal(client.id);
        return done(null, true);
      }

      if (!isDeviceId(username) || password === undefined) {
        reject('auth');
        log.warn({ clientId: client.id }, 'refused: no device id as username, or no password');
        return done(connackError(CONNACK.NOT_AUTHORIZED, 'not authorized'), null);
      }
      // The client id must be the device id: one session per device, and a device cannot take over
      // another device's session. A clean-session client without an id gets its device id as client id.
      if (state.emptyClientId) {
        (client as { id: string }).id = username;
      }
      if (client.id !== username) {
        reject('client-id');
        log.warn(
          { clientId: client.id, username },
          'refused: client id differs from the username (device id)',
        );
        return done(connackError(CONNACK.IDENTIFIER_REJECTED, 'client id must equal the device id'), null);
      }

      auth.authenticateDevice(username, password, state.address).then(
        (outcome) => {
          if (!outcome.ok && outcome.reason === 'rate-limited') {
            // Not checked at all: "server unavailable" tells a real device to come back later.
            reject('auth-rate-limited');
            log.warn({ deviceId: username, address: state.address }, `refused: ${outcome.message}`);
            return done(connackError(CONNACK.SERVER_UNAVAILABLE, 'too many failed attempts'), null);
          }
          if (!outcome.ok) {
            reject('auth');
            log.warn({ deviceId: username, address: state.address }, `refused: ${outcome.message}`);
            return done(connackError(CONNACK.NOT_AUTHORIZED, 'not authorized'), null);
          }
          state.principal = outcome.principal;
          done(null, true);
        },
        (err: unknown) => {
          log.error({ err, deviceId: username }, 'authentication failed');
          done(connackError(CONNACK.SERVER_UNAVAILABLE, 'server unavailable'), null);
        },
      );
    },

    authorizePublish(client, packet, callback) {
      const topic = packet.topic;
      if (!client) {
        // A will left by a broker instance that is gone: only presence may be republished.
        return callback(parseTopic(topic)?.kind === 'presence' ? null : new Error('not authorized'));
      }
      const principal = connections.get(client)?.principal;
      if (!principal || !mayPublish({ ...principal, relaxRoles: auth.insecureNoAuth }, topic)) {
        reject('acl-publish');
        log.warn(
          { deviceId: principal?.deviceId ?? client.id, topic },
          'refused publish; closing the connection',
        );
        // [MQTT-3.3.5-2]: the server may close the connection of a client it does not authorize to publish.
        return callback(new Error(`not authorized to publish on ${topic}`));
      }
      const t = parseTopic(topic);
      // Delivered here, synchronously in arrival order, before the PUBACK is written: a message the
      // handler has seen is acknowledged, one it has not will be redelivered by the device.
      if (t?.kind === 'sync-up') {
        const payload = packet.payload as Buffer;
        for (const h of messageHandlers)
          safely('sync message', () => h(principal.deviceId, payload, principal));
      } else if (t?.kind === 'telemetry') {
        const payload = packet.payload as Buffer;
        const info: TelemetryPacket = { messageId: packet.messageId, dup: packet.dup };
        for (const h of telemetryHandlers) safely('telemetry', () => h(t.deviceId, t.metric, payload, info));
      }
      callback(null);
    },

    authorizeSubscribe(client, sub, callback) {
      const principal = connections.get(client)?.principal;
      if (!principal || !maySubscribe({ ...principal, relaxRoles: auth.insecureNoAuth }, sub.topic)) {
        reject('acl-subscribe');
        log.warn({ deviceId: principal?.deviceId ?? client.id, topic: sub.topic }, 'refused subscription');
        // [MQTT-3.9.3]: a null subscription makes aedes grant 0x80 (failure) for this filter only.
        return callback(null, null);
      }
      callback(null, sub);
    },

    authorizeForward(client, packet) {
      const t = parseTopic(packet.topic);
      // Sync uploads are for the hub only; downloads only ever reach their own device.
      if (t?.kind === 'sync-up') return null;
      if (t?.kind === 'sync-down' && connections.get(client)?.principal?.deviceId !== t.deviceId) return null;
      return packet;
    },
  });

  aedes.on('clientReady', (client) => {
    const principal = connections.get(client)?.principal;
    if (!principal) return;
    sessions.set(principal.deviceId, client);
    const at = seen(principal.deviceId, true);
    log.info(
      { deviceId: principal.deviceId, role: principal.role, method: principal.method },
      'device connected',
    );
    publishPresence(principal.deviceId, true, at);
    for (const h of connectHandlers) safely('connect', () => h(principal));
  });

  aedes.on('clientDisconnect', (client) => {
    const principal = connections.get(client)?.principal;
    // A client taken over by a newer connection of the same device is no longer its session.
    if (!principal || sessions.get(principal.deviceId) !== client) return;
    sessions.delete(principal.deviceId);
    const at = seen(principal.deviceId, false);
    log.info({ deviceId: principal.deviceId }, 'device disconnected');
    if (!aedes.closed) publishPresence(principal.deviceId, false, at);
    for (const h of disconnectHandlers) safely('disconnect', () => h(principal.deviceId));
  });

  aedes.on('clientError', (client, err) => {
    log.debug({ deviceId: client.id, err: err.message }, 'client error');
  });
  aedes.on('connectionError', (_client, err) => {
    log.debug({ err: err.message }, 'connection error before CONNECT');
  });
  aedes.on('keepaliveTimeout', (client) => {
    log.info({ deviceId: client.id }, 'keepalive timeout');
  });

  const channel: DeviceChannel = {
    onMessage: (h) => void messageHandlers.push(h),
    onConnect: (h) => void connectHandlers.push(h),
    onDisconnect: (h) => void disconnectHandlers.push(h),
    onTelemetry: (h) => void telemetryHandlers.push(h),
    send(deviceId, payload) {
      if (aedes.closed) {
        return Promise.reject(new HubError('HUB_ERR_SHUTTING_DOWN', 'the broker is closed', { deviceId }));
      }
      const packet = {
        cmd: 'publish',
        topic: syncDownTopic(deviceId),
        payload: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
        qos: 1,
        retain: false,
        dup: false,
      } as PublishPacket;
      return new Promise((resolve, fail) => aedes.publish(packet, (err) => (err ? fail(err) : resolve())));
    },
    isOnline: (deviceId) => sessions.has(deviceId),
    devices: () => [...sightings.values()].map((s) => ({ ...s })),
    disconnect(deviceId) {
      sessions.get(deviceId)?.close();
    },
  };

  return {
    aedes,
    channel,
    connectedDevices: () => sessions.size,
    handle(conn, req) {
      const address =
        (conn as Duplex & { remoteAddress?: string }).remoteAddress ?? req?.socket.remoteAddress;
      const wrapped = guardConnection(conn, options.maxPacketBytes, (err) => {
        const deviceId = (wrapped as Duplex & { client?: Client }).client?.id ?? undefined;
        reject(err.code === 'HUB_ERR_PACKET_TOO_LARGE' ? 'packet-too-large' : 'packet-malformed');
        log.warn({ deviceId, code: err.code, ...err.details }, 'closing connection: %s', err.message);
      });
      if (address) addresses.set(wrapped, address);
      aedes.handle(wrapped, req);
    },
    close: () => new Promise<void>((resolve) => aedes.close(() => resolve())),
  };
}
