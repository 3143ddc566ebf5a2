/**
 * The object routes of CONTRACT.md "Hub HTTP API", served the same way by the hub (against its replica)
 * and by the device agent (against the terminal's local replica, on 127.0.0.1). The host app supplies
 * authentication and the error handler; these routes only validate, authorise and call the store.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { SyncError } from '../errors.js';
import { compileFilter, type Filter, type FilterVars, parseFilter } from '../filter/index.js';
import type { QueryResult, SortSpec } from '../replica/query.js';
import type { LocalWriter, ObjectReader } from '../replica/roles.js';
import type { CollectionDef, PrecedenceRule, SyncDirection, VectorMetric } from '../schema.js';
import {
  collectionParams,
  counterBody,
  fieldsBody,
  getQuerystring,
  MAX_OBJECT_ID,
  OBJECT_ROUTES_MAX_PARAM_LENGTH,
  objectParams,
  queryBody,
} from './schemas.js';

/** What a caller wants to do with a collection. */
export type ObjectAction = 'read' | 'write';

/** Options of {@link registerObjectRoutes}. */
export interface ObjectRoutesOptions {
  /** The replica the routes read and write (a `ReplicaStore`, or anything playing these two roles). */
  readonly store: ObjectReader & LocalWriter;
  /**
   * The writer role of a request for role-based precedence (`manager`, `pos`...), e.g. from its token.
   * `undefined` uses the store's default role.
   */
  readonly role?: (request: FastifyRequest) => string | undefined;
  /**
   * Called before every read or write of a collection (after the collection is known to exist); throws
   * to refuse, and the host's error handler answers with what it threw. Collections a caller may not
   * read are left out of `GET /v1/collections`.
   */
  readonly authorize?: (request: FastifyRequest, collection: string, action: ObjectAction) => void;
  /** Values of `$auth.*` and `$client.*` in query filters (e.g. the caller's token claims). */
  readonly vars?: (request: FastifyRequest) => FilterVars | undefined;
  /**
   * The part of a readable collection a caller sees: everything (`undefined`), nothing (`false`), or the
   * objects matching a filter (its variables from {@link vars}). Objects outside it answer 404 and never
   * appear in query results; a query's own filter is ANDed with it (as trees, never as text).
   */
  readonly restrict?: (request: FastifyRequest, collection: string) => ReadRestriction;
  /**
   * Runs every write (`write` does the store call and returns its result) inside one store transaction
   * with checks around it: throw before or after `write` to refuse, and nothing of it is kept.
   */
  readonly guardWrite?: <T>(request: FastifyRequest, collection: string, id: string, write: () => T) => T;
}

/** See {@link ObjectRoutesOptions.restrict}. */
export type ReadRestriction = Filter | false | undefined;

/** A field of `GET /v1/collections`. */
export interface FieldSummary {
  readonly type: string;
  readonly dim?: number;
  readonly metric?: VectorMetric;
}

/** A collection of `GET /v1/collections`. */
export interface CollectionSummary {
  readonly name: string;
  readonly description?: string;
  readonly fields: Readonly<Record<string, FieldSummary>>;
  readonly merge: 'field' | 'object';
  readonly precedence?: PrecedenceRule;
  readonly sync: SyncDirection;
  /** Live objects (tombstones not counted); absent when the caller sees only part of the collection. */
  readonly count?: number;
}

/** Body of `POST /v1/collections/:c/query`. */
export interface QueryBody {
  readonly filter?: string;
  readonly sort?: SortSpec[];
  readonly limit?: number;
  readonly after?: string;
  readonly includeDeleted?: boolean;
}

interface CollectionRoute {
  Params: { c: string };
}
interface ObjectRoute {
  Params: { c: string; id: string };
}

/**
 * Registers, on `app` itself (not in an encapsulated plugin, so the host's hooks and error handler
 * apply):
 *
 * | Route | Answer |
 * | --- | --- |
 * | `GET /v1/collections` | `{ collections: [{ name, fields, merge, precedence?, sync, count }] }` |
 * | `PUT /v1/collections/:c/objects/:id` | the object, fields not given set to null; counters ignored |
 * | `PATCH /v1/collections/:c/objects/:id` | the object, only the given fields changed |
 * | `GET /v1/collections/:c/objects/:id` | the object (`?includeDeleted=true` shows a tombstone) |
 * | `DELETE /v1/collections/:c/objects/:id` | `{ id, deleted: true }` |
 * | `POST /v1/collections/:c/increment/:id` | the object, `{ FIELD: DELTA }` added to its counters |
 * | `POST /v1/collections/:c/stocktake/:id` | the object, its counters set to `{ FIELD: VALUE }` |
 * | `POST /v1/collections/:c/query` | `{ objects, next? }` for `{ filter?, sort?, limit?, after?, includeDeleted? }` |
 *
 * Bodies must be JSON objects and ids 1 to 256 characters (fastify schema validation, a 400); the store
 * throws {@link SyncError} for the rest (`SYNC_ERR_UNKNOWN_COLLECTION` 404, `SYNC_ERR_NOT_FOUND` 404,
 * `SYNC_ERR_INVALID_OBJECT` 400, `SYNC_ERR_FILTER_SYNTAX` 400, `SYNC_ERR_INVALID_QUERY` 400...). Build the
 * host with `routerOptions: { maxParamLength: OBJECT_ROUTES_MAX_PARAM_LENGTH }` (see there); a warning is
 * logged when it is smaller.
 *
 * @example
 * const app = fastify({ routerOptions: { maxParamLength: OBJECT_ROUTES_MAX_PARAM_LENGTH } });
 * app.setErrorHandler(errorHandler);
 * registerObjectRoutes(app, { store, role: (req) => req.headers['x-role'] === 'manager' ? 'manager' : 'pos' });
 * await app.listen({ host: '127.0.0.1', port: 7070 });
 */
export function registerObjectRoutes(app: FastifyInstance, opts: ObjectRoutesOptions): void {
  const { store } = opts;
  warnOnShortParams(app);

  /** The collection's definition once it is known to exist and the caller may do `action` with it. */
  const allow = (request: FastifyRequest, collection: string, action: ObjectAction): CollectionDef => {
    const def = store.collection(collection);
    opts.authorize?.(request, collection, action);
    return def;
  };
  const writer = (request: FastifyRequest): { role?: string } => {
    const role = opts.role?.(request);
    return role === undefined ? {} : { role };
  };
  const guarded = <T>(request: FastifyRequest, collection: string, id: string, write: () => T): T =>
    opts.guardWrite ? store.transaction(() => opts.guardWrite!(request, collection, id, write)) : write();
  /** Whether the caller's view of the collection holds this object. */
  const inView = (request: FastifyRequest, collection: string, object: Record<string, unknown>): boolean => {
    const r = opts.restrict?.(request, collection);
    if (r === undefined) return true;
    if (r === false) return false;
    try {
      return compileFilter(r, opts.vars?.(request) ?? {})(object);
    } catch {
      return false; // a variable the caller cannot fill: it sees nothing, never everything
    }
  };

  app.get('/v1/collections', async (request) => {
    const collections: CollectionSummary[] = [];
    for (const name of Object.keys(store.schema.collections)) {
      try {
        opts.authorize?.(request, name, 'read');
      } catch {
        continue; // not the caller's to see
      }
      const whole = opts.restrict?.(request, name) === undefined;
      collections.push(summarise(store.collection(name), whole ? store.count(name) : undefined));
    }
    return { collections };
  });

  app.put<ObjectRoute & { Body: Record<string, unknown> }>(
    '/v1/collections/:c/objects/:id',
    { schema: { params: objectParams, body: fieldsBody } },
    async (request) => {
      const { c, id } = request.params;
      allow(request, c, 'write');
      return guarded(request, c, id, () => store.put(c, id, request.body, writer(request)));
    },
  );

  app.patch<ObjectRoute & { Body: Record<string, unknown> }>(
    '/v1/collections/:c/objects/:id',
    { schema: { params: objectParams, body: fieldsBody } },
    async (request) => {
      const { c, id } = request.params;
      allow(request, c, 'write');
      return guarded(request, c, id, () => store.patch(c, id, request.body, writer(request)));
    },
  );

  app.get<ObjectRoute & { Querystring: { includeDeleted?: boolean } }>(
    '/v1/collections/:c/objects/:id',
    { schema: { params: objectParams, querystring: getQuerystring } },
    async (request) => {
      const { c, id } = request.params;
      allow(request, c, 'read');
      const object = store.get(c, id, { includeDeleted: request.query.includeDeleted === true });
      if (!object || !inView(request, c, object)) throw notFound(c, id);
      return object;
    },
  );

  app.delete<ObjectRoute>(
    '/v1/collections/:c/objects/:id',
    { schema: { params: objectParams } },
    async (request) => {
      const { c, id } = request.params;
      allow(request, c, 'write');
      if (!guarded(request, c, id, () => store.delete(c, id, writer(request)))) throw notFound(c, id);
      return { id, deleted: true };
    },
  );

  app.post<ObjectRoute & { Body: Record<string, number> }>(
    '/v1/collections/:c/increment/:id',
    { schema: { params: objectParams, body: counterBody } },
    async (request) => {
      const { c, id } = request.params;
      allow(request, c, 'write');
      return guarded(request, c, id, () => store.increment(c, id, request.body, writer(request)));
    },
  );

  app.post<ObjectRoute & { Body: Record<string, number> }>(
    '/v1/collections/:c/stocktake/:id',
    { schema: { params: objectParams, body: counterBody } },
    async (request) => {
      const { c, id } = request.params;
      allow(request, c, 'write');
      return guarded(request, c, id, () => store.setCounter(c, id, request.body, writer(request)));
    },
  );

  app.post<CollectionRoute & { Body: QueryBody }>(
    '/v1/collections/:c/query',
    {
      schema: { params: collectionParams, body: queryBody },
      // A bare `POST .../query` (no body) lists the collection's first page.
      preValidation: async (request) => {
        if (request.body === undefined || request.body === null) request.body = {};
      },
    },
    async (request): Promise<QueryResult> => {
      const { c } = request.params;
      allow(request, c, 'read');
      const { filter, sort, limit, after, includeDeleted } = request.body;
      const restriction = opts.restrict?.(request, c);
      if (restriction === false) return { objects: [] };
      let where: string | Filter | undefined = filter;
      if (restriction !== undefined) {
        where =
          filter === undefined || filter.trim() === ''
            ? restriction
            : { kind: 'and', args: [restriction, parseFilter(filter)] };
      }
      return store.query(c, {
        filter: where,
        sort,
        limit,
        after,
        includeDeleted,
        vars: opts.vars?.(request),
      });
    },
  );
}

function notFound(collection: string, id: string): SyncError {
  return new SyncError('SYNC_ERR_NOT_FOUND', `no object "${id}" in ${collection}`, { collection, id });
}

function summarise(def: CollectionDef, count: number | undefined): CollectionSummary {
  const fields: Record<string, FieldSummary> = {};
  for (const name of def.fieldNames) {
    const f = def.fields[name];
    fields[name] = f.type === 'vector' ? { type: f.type, dim: f.dim, metric: f.metric } : { type: f.type };
  }
  return {
    name: def.name,
    ...(def.description ? { description: def.description } : {}),
    fields,
    merge: def.merge,
    ...(def.precedence ? { precedence: def.precedence } : {}),
    sync: def.sync,
    ...(count === undefined ? {} : { count }),
  };
}

/** Ids up to 256 characters, percent-encoded, must reach the schema check rather than a router 404. */
function warnOnShortParams(app: FastifyInstance): void {
  const config = app.initialConfig as {
    routerOptions?: { maxParamLength?: number };
    maxParamLength?: number;
  };
  const max = config.routerOptions?.maxParamLength ?? config.maxParamLength ?? 100;
  if (max < MAX_OBJECT_ID * 3) {
    app.log.warn(
      { maxParamLength: max, recommended: OBJECT_ROUTES_MAX_PARAM_LENGTH },
      'object ids longer than maxParamLength URL characters will get 404: build fastify with routerOptions.maxParamLength',
    );
  }
}
