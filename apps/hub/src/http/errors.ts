/** Maps any error thrown by a route to the hub's error response `{ error: { code, message } }`. */
import type { FastifyError } from 'fastify';

/** The body of every error response. `details` only for client errors (4xx) that carry context. */
export interface ErrorBody {
  error: { code: string; message: string; details?: Readonly<Record<string, unknown>> };
}

/** Codes of our catalogues (HUB_ERR_*, SYNC_ERR_*, VEC_ERR_*, ...); fastify's own are FST_ERR_*. */
const CATALOGUED = /^(?!FST_)[A-Z]+_ERR_[A-Z0-9_]+$/;

/**
 * The status and body for `err`. Catalogued errors (HubError, sync-core's SyncError: anything with a
 * `*_ERR_*` code and a numeric `statusCode`) keep their code, status and message; fastify's request
 * validation becomes 400 `HUB_ERR_BAD_REQUEST`; anything else is a 500 `HUB_ERR_INTERNAL` whose message
 * says nothing about the cause. Never a stack trace.
 */
export function toErrorResponse(err: unknown): { status: number; body: ErrorBody } {
  const e = (typeof err === 'object' && err !== null ? err : {}) as Partial<FastifyError> & {
    details?: Record<string, unknown>;
  };
  const status =
    typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 600 ? e.statusCode : 500;
  const message = typeof e.message === 'string' ? e.message : 'error';

  if (e.validation) {
    return { status: 400, body: { error: { code: 'HUB_ERR_BAD_REQUEST', message } } };
  }
  if (typeof e.code === 'string' && CATALOGUED.test(e.code) && typeof e.statusCode === 'number') {
    const details = status < 500 && e.details && Object.keys(e.details).length > 0 ? e.details : undefined;
    return { status, body: { error: { code: e.code, message, ...(details ? { details } : {}) } } };
  }
  if (typeof e.code === 'string' && e.code.startsWith('FST_') && status < 500) {
    // fastify's own client errors: malformed JSON, unsupported media type, body too large.
    const code =
      status === 413
        ? 'HUB_ERR_PAYLOAD_TOO_LARGE'
        : status === 404
          ? 'HUB_ERR_NOT_FOUND'
          : 'HUB_ERR_BAD_REQUEST';
    return { status, body: { error: { code, message } } };
  }
  return {
    status: 500,
    body: { error: { code: 'HUB_ERR_INTERNAL', message: 'internal error (see the hub log)' } },
  };
}
