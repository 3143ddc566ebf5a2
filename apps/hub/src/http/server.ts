/**
 * The hub's HTTP server (fastify): authentication of every route except those marked public, the error
 * shape `{ error: { code, message } }`, `GET /health` and `GET /metrics`. Feature routes are registered on
 * the returned instance by app.ts (and by whatever the sync server attaches) before it listens.
 */
import { OBJECT_ROUTES_MAX_PARAM_LENGTH } from '@backroom/sync-core/http';
import { type FastifyInstance, fastify, LogController } from 'fastify';
import type { Authenticator, HttpPrincipal } from '../auth/authenticator.js';
import type { HubLogger } from '../logger.js';
import { toErrorResponse } from './errors.js';
import type { HubMetrics } from './metrics.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A route anyone may call without a token (e.g. `/health`). Default: authentication required. */
    public?: boolean;
  }
  interface FastifyRequest {
    /** Who is calling; set for every authenticated route (null only on public routes). */
    principal: HttpPrincipal | null;
  }
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
  const app = fastify({
    loggerInstance: options.logger.child({ component: 'http' }),
    // Request lines are logged at debug level by the onResponse hook below, not at info by fastify.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimit ?? 8 * 1024 * 1024,
    // Close keep-alive connections on shutdown instead of waiting for clients to hang up.
    forceCloseConnections: true,
    // Object ids may be up to 256 characters (percent-encoded: more); fastify's default stops at 100.
    routerOptions: { maxParamLength: OBJECT_ROUTES_MAX_PARAM_LENGTH },
  }) as unknown as FastifyInstance;

  app.decorateRequest('principal', null);

  app.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.config?.public) return;
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    const principal = await options.authenticator.authenticateHttp(match?.[1]);
    if (!principal) {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="backroom-hub"')
        .send({
          error: {
            code: 'HUB_ERR_UNAUTHORIZED',
            message: match
              ? 'the bearer token is not the admin token nor a valid JWT'
              : 'missing "Authorization: Bearer TOKEN" header',
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

  app.setErrorHandler((err, request, reply) => {
    const { status, body } = toErrorResponse(err);
    if (status >= 500) request.log.error({ err }, 'request failed');
    return reply.code(status).send(body);
  });

  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({
      error: {
        code: 'HUB_ERR_NOT_FOUND',
        message: `no route ${request.method} ${request.url.split('?')[0]}`,
      },
    }),
  );

  app.get('/health', { config: { public: true } }, async () => ({
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
