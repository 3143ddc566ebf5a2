/**
 * Builds a running hub from a validated config: logger, device registry, admin token, authenticator,
 * metrics, broker, HTTP server, transports, and whatever the caller attaches (the sync server).
 * `main.ts` only parses flags and calls {@link createHub}; tests call it directly.
 */
import type { FastifyInstance } from 'fastify';
import { type AdminToken, ensureAdminToken } from './auth/admin-token.js';
import { Authenticator } from './auth/authenticator.js';
import { DeviceRegistry } from './auth/device-registry.js';
import { createJwtVerifier } from './auth/jwt.js';
import { createBroker, type HubBroker } from './broker/broker.js';
import type { DeviceChannel } from './broker/device-channel.js';
import { attachMqttWebSocket, listenMqtt, type MqttListener } from './broker/listeners.js';
import type { HubConfig } from './config.js';
import { HubError } from './errors.js';
import { type DeviceInfoProvider, registerDeviceRoutes } from './http/devices.js';
import { createHubMetrics, type HubMetrics } from './http/metrics.js';
import { buildHttpServer } from './http/server.js';
import { createLogger, type HubLogger } from './logger.js';

/** What an attachment (the sync server, the AI routes, the uplink) gets to plug into the hub. */
export interface HubContext {
  readonly config: HubConfig;
  readonly logger: HubLogger;
  /** Devices: their sync messages, telemetry, presence; sending to them. */
  readonly channel: DeviceChannel;
  /**
   * The HTTP server, not listening yet: register routes here. Every route requires credentials and, unless
   * listed in access/routes.ts, the admin role.
   */
  readonly fastify: FastifyInstance;
  readonly registry: DeviceRegistry;
  readonly metrics: HubMetrics;
  /** Adds fields to each device of `GET /v1/devices` (pending changes, clock skew...). */
  addDeviceInfo(provider: DeviceInfoProvider): void;
}

/** Something attached to the hub; closed after the broker's clients are gone, before the HTTP server. */
export interface HubAttachment {
  close(): Promise<void>;
}

/** Options of {@link createHub}. */
export interface CreateHubOptions {
  /**
   * THE HOOK FOR THE SYNC SERVER. Called once everything is built and before any port listens, so the
   * attachment can register channel handlers and HTTP routes and no device message can be missed.
   * If it throws, everything built so far is closed and `createHub` rejects with that error.
   */
  attach?: (ctx: HubContext) => Promise<HubAttachment | undefined> | Promise<void>;
  /** A logger to use instead of a new one on stderr (tests pass a silent one). */
  logger?: HubLogger;
}

/** A running hub. */
export interface Hub {
  readonly config: HubConfig;
  readonly logger: HubLogger;
  readonly registry: DeviceRegistry;
  readonly authenticator: Authenticator;
  readonly channel: DeviceChannel;
  readonly fastify: FastifyInstance;
  readonly metrics: HubMetrics;
  readonly adminToken: AdminToken;
  /** The bound ports (the chosen ones when 0 was configured). `mqtts` only when TLS is configured. */
  readonly ports: { readonly mqtt: number; readonly http: number; readonly mqtts?: number };
  /**
   * Stops accepting connections, closes every client, the attachment, the HTTP server and the registry,
   * in that order, and flushes the log. Idempotent.
   */
  close(): Promise<void>;
}

/**
 * Starts a hub.
 *
 * @throws HubError `HUB_ERR_PORT_IN_USE`, `HUB_ERR_DATA_DIR`, `HUB_ERR_JWT_KEYS`, `HUB_ERR_CONFIG_INVALID`
 *   (TLS files unusable); whatever `attach` throws. Nothing stays open after a failure.
 * @example
 * const hub = await createHub(resolveConfig({ dataDir, mqttPort: 0, httpPort: 0 }), {
 *   attach: async ({ channel, fastify }) => startSyncServer({ channel, fastify }),
 * });
 * console.log(hub.ports.mqtt);
 * await hub.close();
 */
export async function createHub(config: HubConfig, options: CreateHubOptions = {}): Promise<Hub> {
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  const log = logger.child({ component: 'hub' });
  // Closers of what has been built, run in reverse on failure or in the order below on close().
  const undo: (() => Promise<void> | void)[] = [];
  const unwind = async () => {
    for (const fn of undo.reverse()) {
      try {
        await fn();
      } catch (err) {
        log.warn({ err }, 'cleanup after a failed start failed');
      }
    }
  };

  try {
    if (config.insecureNoAuth) {
      log.warn('--insecure-no-auth: ANYONE on the network can connect as any device and call the HTTP API');
    }
    const registry = DeviceRegistry.open(config.dataDir);
    undo.push(() => registry.close());

    const adminToken = ensureAdminToken(config.dataDir);
    log.info({ file: adminToken.file, created: adminToken.created }, `admin token: ${adminToken.file}`);
    if (adminToken.permissionsFixed) {
      log.warn(
        { file: adminToken.file },
        'the admin token file was readable by others; its mode is now 0600',
      );
    }

    const jwt = config.jwt ? await createJwtVerifier(config.jwt) : undefined;
    const authenticator = new Authenticator({
      devices: registry,
      adminToken: adminToken.token,
      jwt,
      allowAdminJwt: config.jwt?.allowAdmin ?? false,
      insecureNoAuth: config.insecureNoAuth,
    });
    const metrics = createHubMetrics();
    metrics.observeLogins(() => authenticator.guard.stats);

    const broker: HubBroker = await createBroker({
      authenticator,
      logger,
      maxPacketBytes: config.maxPacketBytes,
      onReject: (reason) => metrics.rejected(reason),
      onSeen: (deviceId, at) => registry.touch(deviceId, at),
    });
    undo.push(() => broker.close());
    metrics.observeConnectedDevices(() => broker.connectedDevices());

    const fastify = await buildHttpServer({
      logger,
      authenticator,
      metrics,
      health: () => ({ connectedDevices: broker.connectedDevices() }),
    });
    undo.push(() => fastify.close());
    const infoProviders: DeviceInfoProvider[] = [];
    registerDeviceRoutes(fastify, { registry, channel: broker.channel, infoProviders });
    const ws = attachMqttWebSocket(fastify.server, broker, config.maxPacketBytes);
    undo.push(() => ws.close());

    const ctx: HubContext = {
      config,
      logger,
      channel: broker.channel,
      fastify,
      registry,
      metrics,
      addDeviceInfo: (p) => void infoProviders.push(p),
    };
    const attachment: HubAttachment | undefined = (await options.attach?.(ctx)) ?? undefined;
    if (attachment) undo.push(() => attachment.close());

    try {
      await fastify.listen({ host: config.host, port: config.httpPort });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') {
        throw new HubError(
          'HUB_ERR_PORT_IN_USE',
          `http port ${config.httpPort} is already in use`,
          {
            port: config.httpPort,
            listener: 'http',
          },
          e,
        );
      }
      throw e;
    }
    const listeners: MqttListener[] = [];
    const mqtt = await listenMqtt(broker, config.host, config.mqttPort);
    listeners.push(mqtt);
    undo.push(() => mqtt.close());
    let mqtts: MqttListener | undefined;
    if (config.tls) {
      mqtts = await listenMqtt(broker, config.host, config.mqttsPort, config.tls);
      listeners.push(mqtts);
      undo.push(() => mqtts?.close());
    }

    const address = fastify.server.address();
    const ports = {
      mqtt: mqtt.port,
      http: typeof address === 'object' && address ? address.port : config.httpPort,
      ...(mqtts ? { mqtts: mqtts.port } : {}),
    };
    log.info({ ...ports, host: config.host, dataDir: config.dataDir }, 'hub listening');

    let closing: Promise<void> | undefined;
    const close = () => {
      closing ??= (async () => {
        const step = async (what: string, fn: () => Promise<void> | void) => {
          try {
            await fn();
          } catch (err) {
            log.warn({ err }, `closing ${what} failed`);
          }
        };
        // 1. stop accepting and drop the connections; 2. close the broker (the rest of its clients);
        // 3. the attachment (the sync server flushes with no device left to talk to); 4. HTTP; 5. files.
        for (const l of listeners) await step('an MQTT listener', () => l.close());
        await step('MQTT over WebSocket', () => ws.close());
        await step('the broker', () => broker.close());
        if (attachment) await step('the attachment', () => attachment.close());
        await step('the HTTP server', () => fastify.close());
        await step('the device registry', () => registry.close());
        log.info('hub closed');
        logger.flush();
      })();
      return closing;
    };

    return {
      config,
      logger,
      registry,
      authenticator,
      channel: broker.channel,
      fastify,
      metrics,
      adminToken,
      ports,
      close,
    };
  } catch (e) {
    await unwind();
    throw e;
  }
}
