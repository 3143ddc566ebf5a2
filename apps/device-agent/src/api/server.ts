/**
 * The device agent's local API: the hub's object routes against the terminal's own replica, plus
 * `GET /v1/sync/status` and `GET /health`, on 127.0.0.1 only. It works with or without the hub: every
 * route reads and writes the local replica; writes reach the hub when the sync client pushes them.
 */

import type { IncomingMessage } from 'node:http';
import { type ReplicaStore, SyncError } from '@backroom/sync-core';
import {
  errorHandler,
  notFoundHandler,
  OBJECT_ROUTES_MAX_PARAM_LENGTH,
  registerObjectRoutes,
} from '@backroom/sync-core/http';
import type { VectorStore } from '@backroom/vector-store';
import { registerSearchRoute } from '@backroom/vector-store/http';
import { type FastifyBaseLogger, type FastifyInstance, fastify } from 'fastify';
import { AgentApiError } from './errors.js';
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
  /** Vector indexes for `POST /v1/collections/{c}/search` (offline similarity search); none: no route. */
  readonly vectors?: VectorStore;
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
    ...(options.logger ? { loggerInstance: options.logger.child({ component: 'api' }) } : { logger: false }),
    routerOptions: { maxParamLength: OBJECT_ROUTES_MAX_PARAM_LENGTH },
    bodyLimit,
    // Close keep-alive connections on shutdown instead of waiting for clients to hang up.
    forceCloseConnections: true,
  }) as unknown as FastifyInstance;
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  keepReadingRefusedBodies(app, { maxBytes: REFUSED_BODY_DRAIN_FACTOR * bodyLimit });

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
  if (options.vectors) registerSearchRoute(app, { store: options.store, vectors: options.vectors });
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

/** After refusing a body, read and discard at most this many times the body limit before hanging up. */
const REFUSED_BODY_DRAIN_FACTOR = 8;
/** ... and for at most this long. */
const REFUSED_BODY_DRAIN_MS = 30_000;

/**
 * Answers a request refused before its body was read (413 for a body over `bodyLimit`, or any other error
 * of fastify's body parsing while the body is still arriving) without resetting the connection.
 *
 * fastify marks such an answer `Connection: close`; Node then destroys the socket as soon as the answer
 * is written, with the rest of the body still unread in the kernel's buffer, so the kernel resets the
 * connection and a client that is still sending the body sees ECONNRESET or EPIPE instead of the 413
 * (the hazard of closing too early, RFC 9112 section 9.6). A server must read the whole body or close
 * after its answer (RFC 9112 section 9): here the answer keeps the connection and the rest of the body is
 * read and thrown away, so the client finishes sending, reads the 413 and may reuse the connection. A
 * client that sends more than `maxBytes` after the answer, or for longer than `maxMs`, is disconnected.
 *
 * @example
 * const app = fastify({ bodyLimit });
 * keepReadingRefusedBodies(app, { maxBytes: 8 * bodyLimit });
 */
export function keepReadingRefusedBodies(
  app: FastifyInstance,
  limits: { readonly maxBytes: number; readonly maxMs?: number },
): void {
  app.addHook('onSend', async (request, reply, payload) => {
    if (reply.statusCode >= 400 && !request.raw.complete && reply.getHeader('connection') === 'close') {
      reply.removeHeader('connection');
      discardRestOfBody(request.raw, limits.maxBytes, limits.maxMs ?? REFUSED_BODY_DRAIN_MS);
    }
    return payload;
  });
}

/** Reads `req` to its end, throwing the bytes away; destroys its socket past `maxBytes` or `maxMs`. */
function discardRestOfBody(req: IncomingMessage, maxBytes: number, maxMs: number): void {
  const socket = req.socket;
  let discarded = 0;
  const hangUp = () => {
    stop();
    socket.destroy();
  };
  const onData = (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > maxBytes) hangUp();
  };
  const timer = setTimeout(hangUp, maxMs).unref();
  const stop = () => {
    clearTimeout(timer);
    req.off('data', onData);
    req.off('end', stop);
    socket.off('close', stop);
  };
  req.on('data', onData);
  req.once('end', stop);
  socket.once('close', stop);
  req.resume();
}

/** The host name of a Host header (`127.0.0.1:7070` → `127.0.0.1`), lower-cased; undefined if absent. */
function hostnameOf(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^([^:]+)(?::\d+)?$/.exec(header.trim());
  return m ? m[1].toLowerCase() : undefined;
}
