/**
 * The error shape of Backroom's HTTP APIs, `{ "error": { "code", "message" } }`, used by every HTTP surface
 * (the hub's API and the device agent's local API), so that the same bad request gets the same answer on
 * both. Never a stack trace, never fastify's own `{ "error": "Bad Request", "code": "FST_..." }`.
 *
 * A host applies all of it with {@link httpConventions} (constructor options) and {@link useHttpConventions}
 * (error and not-found handlers, the JSON body parser).
 */
import type {
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  FastifyServerOptions,
} from 'fastify';
import { SyncError } from '../errors.js';
import { keepReadingRefusedBodies } from './refused-bodies.js';

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

/** Longest piece of a client's URL quoted back in an error message. */
const MAX_QUOTED = 120;

type ErrorLike = {
  code?: unknown;
  statusCode?: unknown;
  message?: unknown;
  validation?: unknown;
  validationContext?: unknown;
  details?: unknown;
};

/** One of ajv's validation errors, as fastify attaches them to `err.validation`. */
interface ValidationIssue {
  instancePath?: string;
  keyword?: string;
  params?: Record<string, unknown>;
  message?: string;
  propertyName?: string;
}

/**
 * The status and body for any error thrown by a route:
 * - a catalogued error (`SyncError`, `HubError`, anything with a `*_ERR_*` code and a numeric
 *   `statusCode`) keeps its code, status and message, plus its `details` when it is a client error;
 * - fastify's request validation is 400 `SYNC_ERR_INVALID_REQUEST` with a message naming what is wrong
 *   (an unknown key is named, with the allowed ones);
 * - fastify's other client errors (unsupported content type 415, a bad URL 400, a path segment too long
 *   414) are `SYNC_ERR_INVALID_REQUEST` with fastify's status; a body over the limit is 413
 *   `SYNC_ERR_PAYLOAD_TOO_LARGE`;
 * - anything else is 500 `SYNC_ERR_INTERNAL` with a message that says nothing about the cause.
 */
export function toErrorResponse(err: unknown): { status: number; body: ErrorBody } {
  const e = (typeof err === 'object' && err !== null ? err : {}) as ErrorLike;
  const code = typeof e.code === 'string' ? e.code : undefined;
  const rawStatus = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const status = rawStatus !== undefined && rawStatus >= 400 && rawStatus < 600 ? rawStatus : 500;
  const message = typeof e.message === 'string' && e.message !== '' ? e.message : 'error';

  if (Array.isArray(e.validation)) {
    const where = typeof e.validationContext === 'string' ? e.validationContext : 'request';
    return {
      status: 400,
      body: { error: { code: 'SYNC_ERR_INVALID_REQUEST', message: describeValidation(e.validation, where) } },
    };
  }
  if (code !== undefined && CATALOGUED.test(code) && rawStatus !== undefined) {
    const details = status < 500 ? jsonDetails(e.details) : undefined;
    return { status, body: { error: { code, message, ...(details ? { details } : {}) } } };
  }
  if (code?.startsWith('FST_') && status < 500) {
    const mapped =
      status === 413
        ? 'SYNC_ERR_PAYLOAD_TOO_LARGE'
        : status === 404
          ? 'SYNC_ERR_NOT_FOUND'
          : 'SYNC_ERR_INVALID_REQUEST';
    return { status, body: { error: { code: mapped, message: frameworkMessage(code, message) } } };
  }
  return {
    status: 500,
    body: { error: { code: 'SYNC_ERR_INTERNAL', message: 'internal error (see the log)' } },
  };
}

/** fastify's message for its own client errors, reworded where it would confuse or quote a huge URL. */
function frameworkMessage(code: string, message: string): string {
  switch (code) {
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return 'a path segment is too long (object ids are at most 256 characters)';
    case 'FST_ERR_BAD_URL':
      return `the URL is not valid: ${quote(message.replace(/ is not a valid url component$/, ''))} has a malformed percent-encoding`;
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'the request body is larger than this server accepts';
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'unsupported content type: send JSON with "content-type: application/json"';
    default:
      return message.length > MAX_QUOTED * 2 ? `${message.slice(0, MAX_QUOTED * 2)}…` : message;
  }
}

function quote(s: string): string {
  const t = s.replace(/^'|'$/g, '');
  return JSON.stringify(t.length > MAX_QUOTED ? `${t.slice(0, MAX_QUOTED)}…` : t);
}

/**
 * ajv's errors in words a client can act on: `unknown key "fliter" in the body (allowed: filter, sort)`,
 * `body.limit must be <= 1000`. ajv reports a refused property name twice (the `enum` and the
 * `propertyNames` keyword): once is enough.
 */
function describeValidation(issues: readonly ValidationIssue[], where: string): string {
  const out: string[] = [];
  for (const i of issues) {
    if (i.keyword === 'propertyNames') continue;
    const path = `${where}${(i.instancePath ?? '').replaceAll('/', '.')}`;
    let text: string;
    if (i.propertyName !== undefined) {
      const allowed = i.params?.allowedValues;
      text = `unknown key ${JSON.stringify(i.propertyName)} in ${path}${
        Array.isArray(allowed) ? ` (allowed: ${allowed.join(', ')})` : ''
      }`;
    } else if (i.keyword === 'additionalProperties' && typeof i.params?.additionalProperty === 'string') {
      text = `unknown key ${JSON.stringify(i.params.additionalProperty)} in ${path}`;
    } else {
      text = `${path} ${i.message ?? 'is not valid'}`;
    }
    if (!out.includes(text)) out.push(text);
  }
  return out.length ? out.join('; ') : `the ${where} is not valid`;
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
 */
export function errorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const { status, body } = toErrorResponse(err);
  if (status >= 500) request.log.error({ err }, 'request failed');
  return reply.code(status).send(body);
}

/** A fastify not-found handler: 404 `SYNC_ERR_NOT_FOUND` naming the method and path (no query string). */
export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const path = request.url.split('?')[0];
  const body: ErrorBody = {
    error: {
      code: 'SYNC_ERR_NOT_FOUND',
      message: `no route ${request.method} ${path.length > MAX_QUOTED ? `${path.slice(0, MAX_QUOTED)}…` : path}`,
    },
  };
  return reply.code(404).send(body);
}

/**
 * fastify constructor options every Backroom HTTP surface shares: errors fastify raises before routing (a
 * malformed percent-encoding, a path segment over `maxParamLength`) answered in the same envelope as
 * everything else.
 *
 * @example
 * const app = fastify({ ...httpConventions(), bodyLimit });
 * useHttpConventions(app);
 */
export function httpConventions(): Pick<FastifyServerOptions, 'frameworkErrors'> {
  return {
    frameworkErrors: (error: FastifyError, _request: FastifyRequest, reply: FastifyReply) => {
      const { status, body } = toErrorResponse(error);
      reply.code(status).send(body);
    },
  };
}

/** After refusing a body, read and discard at most this many times the body limit before hanging up. */
const REFUSED_BODY_DRAIN_FACTOR = 8;

/**
 * Installs on `app` the error handler, the not-found handler, the JSON body parser (which tells a
 * malformed body from a forbidden `__proto__` key, instead of calling both "not valid JSON"), and the
 * reading of refused bodies so a client sending too much gets its 413 rather than a reset connection.
 * `bodyLimit` must be the one the app was built with.
 */
export function useHttpConventions(app: FastifyInstance, options: { readonly bodyLimit: number }): void {
  keepReadingRefusedBodies(app, { maxBytes: REFUSED_BODY_DRAIN_FACTOR * options.bodyLimit });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (e) {
      done(e as Error, undefined);
    }
  });
}

/**
 * Parses a request body. A key that would reach an object's prototype when merged (`__proto__`, or
 * `constructor.prototype`) is refused: Backroom never needs one, and merging code must not meet one.
 *
 * @throws SyncError `SYNC_ERR_INVALID_REQUEST` (400) naming what is wrong.
 */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') {
    throw new SyncError(
      'SYNC_ERR_INVALID_REQUEST',
      'the body is empty but content-type is application/json: send a JSON value',
      {},
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new SyncError(
      'SYNC_ERR_INVALID_REQUEST',
      `the body is not valid JSON: ${(e as Error).message}`,
      {},
    );
  }
  const bad = forbiddenKey(value, '');
  if (bad !== undefined) {
    throw new SyncError(
      'SYNC_ERR_INVALID_REQUEST',
      `the body contains the key ${JSON.stringify(bad)}, which is not allowed (it could change object prototypes)`,
      { key: bad },
    );
  }
  return value;
}

/** The path of the first `__proto__` key or `constructor.prototype`, or undefined. Iterative: no stack limit. */
function forbiddenKey(root: unknown, rootPath: string): string | undefined {
  const stack: [unknown, string][] = [[root, rootPath]];
  while (stack.length) {
    const [v, path] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) stack.push([v[i], `${path}[${i}]`]);
      continue;
    }
    for (const k of Object.keys(v)) {
      const child = (v as Record<string, unknown>)[k];
      const at = path ? `${path}.${k}` : k;
      if (k === '__proto__') return at;
      if (
        k === 'constructor' &&
        typeof child === 'object' &&
        child !== null &&
        Object.hasOwn(child, 'prototype')
      )
        return `${at}.prototype`;
      stack.push([child, at]);
    }
  }
  return undefined;
}
