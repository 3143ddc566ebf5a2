/**
 * The device agent's local API: the hub's object routes against the terminal's own replica, plus
 * `GET /v1/sync/status` and `GET /health`, on 127.0.0.1 only. It works with or without the hub: every
 * route reads and writes the local replica; writes reach the hub when the sync client pushes them.
 */

import { type ReplicaStore, SyncError } from '@backroom/sync-core';
import {
  httpConventions,
  OBJECT_ROUTES_MAX_PARAM_LENGTH,
  registerObjectRoutes,
  useHttpConventions,
} from '@backroom/sync-core/http';
import type { VectorStore } from '@backroom/vector-store';
import { registerSearchRoute } from '@backroom/vector-store/http';
import { type FastifyBaseLogger, type FastifyInstance, fastify } from 'fastify';
import { AgentApiError } from './errors.js';
import type { VectorIndexes } from './lazy-vectors.js';
import type { SyncStatus } from './status.js';

/** The only address the API binds: it has no authentication, so nothing off the terminal may reach it. */
export const LOOPBACK_HOST = '127.0.0.1';

/** Default port of the local API. */
export const DEFAULT_API_PORT = 7070;

/** Host header names a local caller uses; anything else is a web page's DNS rebinding attempt. */
const LOCAL_HOST_NAMES = new Set(['127.0.0.1', 'localhost']);

/** Options of {@link createAgentApi}. */
export interface AgentApiOptions {
  /** The terminal's replica. */
  readonly store: ReplicaStore;
  /**
   * Vector indexes for `POST /v1/collections/{c}/search` (offline similarity search): a `VectorStore`, or
   * the agent's `LazyVectorStore` (./lazy-vectors.ts) that loads one on the first search; none: no route.
   */
  readonly vectors?: VectorIndexes;
  /** The sync client's current state, read on each `GET /v1/sync/status`. */
  readonly status: () => SyncStatus;
  /** Must be `127.0.0.1` (the default); any other value is refused. */
  readonly host?: string;
  /** Default 7070; 0 picks a free port (see {@link AgentApi.port}). */
  readonly port?: number;
  /** A pino-compatible logger for request errors; default: none. */
  readonly logger?: FastifyBaseLogger;
  /** Largest request body in bytes. Default 8 MiB. */
  readonly bodyLimit?: number;
}

/** A listening local API. */
export interface AgentApi {
  /** The bound port (the chosen one when 0 was asked). */
  readonly port: number;
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  readonly fastify: FastifyInstance;
  /** Stops listening and closes open connections. Idempotent. Does not close the store. */
  close(): Promise<void>;
}

/**
 * Starts the local API on 127.0.0.1.
 *
 * Routes: the object routes of `@backroom/sync-core/http` (`/v1/collections...`, no authentication),
 * `GET /v1/sync/status` → `{ connected, pendingUp, lastSyncAt, clockOffsetMs, quarantined, refused }`, `GET /health` →
 * `{ status: "ok", uptimeS }`. Errors are `{ error: { code, message } }`. Requests whose Host header is
 * not `127.0.0.1` or `localhost` are refused (403 `AGENT_ERR_HOST_NOT_ALLOWED`) so a web page cannot
 * reach the API through DNS rebinding.
 *
 * @throws AgentApiError `AGENT_ERR_NOT_LOOPBACK` for any host but 127.0.0.1 (before anything listens),
 *   `AGENT_ERR_PORT_IN_USE` when the port is taken.
 * @example
 * const api = await createAgentApi({ store, status: () => client.status(), port: 7070 });
 * console.log(api.url);
 * await api.close();
 */
export async function createAgentApi(options: AgentApiOptions): Promise<AgentApi> {
  const host = options.host ?? LOOPBACK_HOST;
  if (host !== LOOPBACK_HOST) {
    throw new AgentApiError(
      'AGENT_ERR_NOT_LOOPBACK',
      `the agent's local API has no authentication and listens on ${LOOPBACK_HOST} only, not on "${host}"`,
      { host },
    );
  }
  const port = options.port ?? DEFAULT_API_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`API port must be an integer from 0 to 65535, got ${port}`);
  }

  const started = Date.now();
  const bodyLimit = options.bodyLimit ?? 8 * 1024 * 1024;
  const app = fastify({
    ...httpConventions(),
    ...(options.logger ? { loggerInstance: options.logger.child({ component: 'api' }) } : { logger: false }),
    routerOptions: { maxParamLength: OBJECT_ROUTES_MAX_PARAM_LENGTH },
    bodyLimit,
    // Close keep-alive connections on shutdown instead of waiting for clients to hang up.
    forceCloseConnections: true,
  }) as unknown as FastifyInstance;
  // The same error shape, codes, JSON parsing and 413 handling as the hub (@backroom/sync-core/http).
  useHttpConventions(app, { bodyLimit });

  app.addHook('onRequest', async (request, reply) => {
    const hostname = hostnameOf(request.headers.host);
    if (hostname !== undefined && LOCAL_HOST_NAMES.has(hostname)) return;
    return reply.code(403).send({
      error: {
        code: 'AGENT_ERR_HOST_NOT_ALLOWED',
        message: 'the Host header must be 127.0.0.1 or localhost',
      },
    });
  });

  registerObjectRoutes(app, {
    store: options.store,
    // Hub-only collections (the catalogue, fraud cases, alerts) are read-only on a terminal: refuse the
    // write here, with a clear error, rather than let the hub refuse it later.
    authorize: (_req, collection, action) => {
      if (action === 'write' && options.store.collection(collection).sync === 'down') {
        throw new SyncError('SYNC_ERR_FORBIDDEN', `${collection} is written at the hub only`, { collection });
      }
    },
  });
  if (options.vectors) {
    // The route uses only has/index/open of the VectorStore it names (see VectorIndexes).
    registerSearchRoute(app, { store: options.store, vectors: options.vectors as VectorStore });
  }
  app.get('/v1/sync/status', async (): Promise<SyncStatus> => {
    const s = options.status();
    // The documented fields, whatever else the provider's object carries.
    return {
      connected: s.connected,
      pendingUp: s.pendingUp,
      lastSyncAt: s.lastSyncAt,
      clockOffsetMs: s.clockOffsetMs,
      ...(s.quarantined === undefined ? {} : { quarantined: s.quarantined }),
      ...(s.refused === undefined ? {} : { refused: s.refused }),
    };
  });
  app.get('/health', async () => ({ status: 'ok', uptimeS: Math.round((Date.now() - started) / 1000) }));

  try {
    await app.listen({ host, port });
  } catch (e) {
    await app.close().catch(() => {});
    if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new AgentApiError('AGENT_ERR_PORT_IN_USE', `API port ${port} is already in use`, { port }, e);
    }
    throw e;
  }
  const address = app.server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  let closing: Promise<void> | undefined;
  return {
    port: bound,
    url: `http://${LOOPBACK_HOST}:${bound}`,
    fastify: app,
    close: () => {
      closing ??= app.close();
      return closing;
    },
  };
}

/** The host name of a Host header (`127.0.0.1:7070` → `127.0.0.1`), lower-cased; undefined if absent. */
function hostnameOf(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^([^:]+)(?::\d+)?$/.exec(header.trim());
  return m ? m[1].toLowerCase() : undefined;
}
