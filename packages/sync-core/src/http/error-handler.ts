/**
 * The error shape of Backroom's HTTP APIs, `{ "error": { "code", "message" } }`, for hosts that serve the
 * object routes without an error handler of their own (the device agent's local API). Never a stack trace.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

/** The body of every error response. `details` only for client errors (4xx) that carry context. */
export interface ErrorBody {
  readonly error: {
    readonly code: string;
    readonly message: string;
    readonly details?: Readonly<Record<string, unknown>>;
  };
}

/** Codes of Backroom's catalogues (SYNC_ERR_*, HUB_ERR_*, VEC_ERR_*...); fastify's own are FST_ERR_*. */
const CATALOGUED = /^(?!FST_)[A-Z]+_ERR_[A-Z0-9_]+$/;

type ErrorLike = {
  code?: unknown;
  statusCode?: unknown;
  message?: unknown;
  validation?: unknown;
  details?: unknown;
};

/**
 * The status and body for any error thrown by a route:
 * - a catalogued error (`SyncError`, or anything with a `*_ERR_*` code and a numeric `statusCode`) keeps
 *   its code, status and message, plus its `details` when it is a client error;
 * - fastify's request validation is 400 `SYNC_ERR_INVALID_REQUEST`; malformed JSON and unsupported
 *   content types are `SYNC_ERR_INVALID_REQUEST` with fastify's status (400, 415); a body over the limit is
 *   413 `SYNC_ERR_PAYLOAD_TOO_LARGE`;
 * - anything else is 500 `SYNC_ERR_INTERNAL` with a message that says nothing about the cause.
 */
export function toErrorResponse(err: unknown): { status: number; body: ErrorBody } {
  const e = (typeof err === 'object' && err !== null ? err : {}) as ErrorLike;
  const code = typeof e.code === 'string' ? e.code : undefined;
  const rawStatus = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const status = rawStatus !== undefined && rawStatus >= 400 && rawStatus < 600 ? rawStatus : 500;
  const message = typeof e.message === 'string' && e.message !== '' ? e.message : 'error';

  if (e.validation) {
    return { status: 400, body: { error: { code: 'SYNC_ERR_INVALID_REQUEST', message } } };
  }
  if (code !== undefined && CATALOGUED.test(code) && rawStatus !== undefined) {
    const details = status < 500 ? jsonDetails(e.details) : undefined;
    return { status, body: { error: { code, message, ...(details ? { details } : {}) } } };
  }
  if (code?.startsWith('FST_') && status < 500) {
    // fastify's own client errors: malformed JSON, empty JSON body, unsupported media type, too large.
    const mapped =
      status === 413
        ? 'SYNC_ERR_PAYLOAD_TOO_LARGE'
        : status === 404
          ? 'SYNC_ERR_NOT_FOUND'
          : 'SYNC_ERR_INVALID_REQUEST';
    return { status, body: { error: { code: mapped, message } } };
  }
  return {
    status: 500,
    body: { error: { code: 'SYNC_ERR_INTERNAL', message: 'internal error (see the log)' } },
  };
}

/** `details` as plain JSON (bigint stamps as strings), or undefined when empty or not serialisable. */
function jsonDetails(details: unknown): Record<string, unknown> | undefined {
  if (typeof details !== 'object' || details === null || Object.keys(details).length === 0) return undefined;
  try {
    return JSON.parse(JSON.stringify(details, (_k, v) => (typeof v === 'bigint' ? v.toString(16) : v)));
  } catch {
    return undefined;
  }
}

/**
 * A fastify error handler answering with {@link toErrorResponse}; server errors are logged with the
 * request's logger (the client only sees the code).
 *
 * @example
 * const app = fastify();
 * app.setErrorHandler(errorHandler);
 * app.setNotFoundHandler(notFoundHandler);
 * registerObjectRoutes(app, { store });
 */
export function errorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const { status, body } = toErrorResponse(err);
  if (status >= 500) request.log.error({ err }, 'request failed');
  return reply.code(status).send(body);
}

/** A fastify not-found handler: 404 `SYNC_ERR_NOT_FOUND` naming the method and path (no query string). */
export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const body: ErrorBody = {
    error: { code: 'SYNC_ERR_NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` },
  };
  return reply.code(404).send(body);
}
