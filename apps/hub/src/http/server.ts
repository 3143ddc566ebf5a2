/**
 * The hub's HTTP server (fastify): authentication of every route and the role check of
 * ../access/routes.ts, the error shape `{ error: { code, message } }` shared with the device agent,
 * `GET /health` and `GET /metrics`. Feature routes are registered on
 * the returned instance by app.ts (and by whatever the sync server attaches) before it listens.
 */
import {
  httpConventions,
  OBJECT_ROUTES_MAX_PARAM_LENGTH,
  useHttpConventions,
} from '@backroom/sync-core/http';
import { type FastifyInstance, fastify, LogController } from 'fastify';
import { roleMayCall, routeRequirement } from '../access/routes.js';
import type { Authenticator, Principal } from '../auth/authenticator.js';
import type { HubLogger } from '../logger.js';
import type { HubMetrics } from './metrics.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling; set for every route that needs credentials (null only on public routes). */
    principal: Principal | null;
  }
}

/** `METHOD URL-PATTERN` of every route registered on each server (HEAD twins left out). */
const routeLists = new WeakMap<FastifyInstance, Set<string>>();

/**
 * Every route registered on a server built by {@link buildHttpServer}, as `METHOD /url/:pattern`: what the
 * access table test checks docs/access.md against, so a route cannot be added without deciding who may
 * call it.
 */
export function registeredRoutes(app: FastifyInstance): string[] {
  return [...(routeLists.get(app) ?? [])].sort();
}

/** Inputs of {@link buildHttpServer}. */
export interface HttpServerOptions {
  readonly logger: HubLogger;
  readonly authenticator: Authenticator;
  readonly metrics: HubMetrics;
  /** Largest request body in bytes. Default 8 MiB (bulk object writes, vectors). */
  readonly bodyLimit?: number;
  /** Extra fields for `GET /health` (e.g. connected devices). Must be cheap and reveal nothing secret. */
  readonly health?: () => Record<string, unknown>;
}

/**
 * Builds the fastify instance (not listening yet).
 *
 * @example
 * const app = await buildHttpServer({ logger, authenticator, metrics });
 * app.get('/v1/things', async (req) => ({ caller: req.principal?.subject }));
 * await app.listen({ port: 8080 });
 */
export async function buildHttpServer(options: HttpServerOptions): Promise<FastifyInstance> {
  const started = Date.now();
  const bodyLimit = options.bodyLimit ?? 8 * 1024 * 1024;
  const app = fastify({
    ...httpConventions(),
    loggerInstance: options.logger.child({ component: 'http' }),
    // Request lines are logged at debug level by the onResponse hook below, not at info by fastify.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit,
    // Close keep-alive connections on shutdown instead of waiting for clients to hang up.
    forceCloseConnections: true,
    // Object ids may be up to 256 characters (percent-encoded: more); fastify's default stops at 100.
    routerOptions: { maxParamLength: OBJECT_ROUTES_MAX_PARAM_LENGTH },
  }) as unknown as FastifyInstance;

  app.decorateRequest('principal', null);
  const routes = new Set<string>();
  routeLists.set(app, routes);
  app.addHook('onRoute', (route) => {
    for (const m of [route.method].flat()) if (m !== 'HEAD') routes.add(`${m} ${route.url}`);
  });

  // Every request: who is calling (401 when nobody we know, 429 when the address tried too often), and
  // whether that role may call this route at all (403). What it sees inside is the route's business.
  app.addHook('onRequest', async (request, reply) => {
    const url = request.routeOptions.url;
    // No such route: still 401 without credentials (the route map is nobody else's business), then 404.
    const requirement = url === undefined ? undefined : routeRequirement(request.method, url);
    if (requirement === 'public') return;
    const outcome = await options.authenticator.authenticateHttp(request.headers.authorization, request.ip);
    if (!outcome.ok) {
      if (outcome.reason === 'rate-limited') {
        reply.header('retry-after', String(outcome.retryAfterS ?? 1));
        return reply
          .code(429)
          .send({ error: { code: 'HUB_ERR_TOO_MANY_ATTEMPTS', message: outcome.message } });
      }
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="backroom-hub"')
        .send({ error: { code: 'HUB_ERR_UNAUTHORIZED', message: outcome.message } });
    }
    const principal = outcome.principal;
    if (requirement !== undefined && !roleMayCall(principal.role, requirement)) {
      return reply.code(403).send({
        error: {
          code: 'HUB_ERR_FORBIDDEN',
          message: `the ${principal.role} role may not call ${request.method} ${url}`,
        },
      });
    }
    request.principal = principal;
  });

  app.addHook('onResponse', async (request, reply) => {
    request.log.debug(
      {
        method: request.method,
        url: request.url,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      'request',
    );
  });

  // The same error shape, codes and messages as the device agent's API (@backroom/sync-core/http).
  useHttpConventions(app, { bodyLimit });

  app.get('/health', async () => ({
    status: 'ok',
    uptimeS: Math.round((Date.now() - started) / 1000),
    ...(options.health?.() ?? {}),
  }));

  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', options.metrics.registry.contentType);
    return options.metrics.registry.metrics();
  });

  return app;
}
