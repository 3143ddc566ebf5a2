/**
 * `POST /v1/collections/{c}/search` (CONTRACT.md "Hub HTTP API"), served the same way by the hub and the
 * device agent against their replica store. It lives here rather than in sync-core's object routes
 * because sync-core must not depend on vector-store. Depends on fastify only for types.
 */
import type { CollectionDef, Filter, FilterVars, ReplicaStore } from '@backroom/sync-core';
import { compileFilter, parseFilter, printFilter, SyncError } from '@backroom/sync-core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { VectorStoreError } from '../errors.js';
import type { Metric } from '../metric.js';
import type { SearchHit, VectorIndex } from '../vector-index.js';
import type { VectorStore } from '../vector-store.js';

/** Options of {@link registerSearchRoute}. */
export interface SearchRouteOptions {
  /** The replica searched: the truth the indexes are caches of. */
  readonly store: ReplicaStore;
  /**
   * Where the indexes live (e.g. `new VectorStore({ dir: join(data, 'vectors'), logger })`). Each
   * collection's vector field is opened on its first search. Close it before the store.
   */
  readonly vectors: VectorStore;
  /** Called before every search (after the collection is known to exist); throws to refuse. */
  readonly authorize?: (request: FastifyRequest, collection: string, action: 'read') => void;
  /** Values of `$auth.*` and `$client.*` in filters (e.g. the caller's token claims). */
  readonly vars?: (request: FastifyRequest) => FilterVars | undefined;
  /**
   * The part of the collection the caller sees (as the object routes' `restrict`): everything
   * (`undefined`), nothing (`false`), or the objects matching a filter, ANDed with the request's filter.
   */
  readonly restrict?: (request: FastifyRequest, collection: string) => Filter | false | undefined;
}

/** Body of `POST /v1/collections/:c/search`: exactly one of `vector` and `id`. */
export interface SearchBody {
  /** The query vector. */
  readonly vector?: number[];
  /** Search by this object's vector; the object itself is left out of the results. */
  readonly id?: string;
  /** Number of results, 1 to {@link MAX_SEARCH_K}. Default 10. */
  readonly k?: number;
  /** A filter over the objects' fields, CONTRACT.md syntax. */
  readonly filter?: string;
  /** The vector field, when the collection has more than one. */
  readonly field?: string;
  /** Search breadth for this query (recall against speed). */
  readonly ef?: number;
}

/** One result: nearest first. `distance` in hnswlib's units (1 − cos, squared L2, 1 − dot). */
export interface SearchResult {
  readonly id: string;
  readonly distance: number;
  /** The object as `GET .../objects/:id` returns it. */
  readonly object: Record<string, unknown>;
}

/** Largest `k` of a search request. */
export const MAX_SEARCH_K = 1000;

/** Shape only: values are checked in the handler, so each problem gets its own VEC_ERR_ code. */
const searchBody = {
  type: 'object',
  // `propertyNames` rather than `additionalProperties: false`: fastify's validator silently strips
  // additional properties instead of refusing them, and a misspelt `fliter` must not search everything.
  propertyNames: { enum: ['vector', 'id', 'k', 'filter', 'field', 'ef'] },
} as const;

const collectionParams = {
  type: 'object',
  required: ['c'],
  properties: { c: { type: 'string', minLength: 1, maxLength: 128 } },
} as const;

const badRequest = (message: string, details: Record<string, unknown> = {}) =>
  new SyncError('SYNC_ERR_INVALID_REQUEST', message, details);

/**
 * Registers `POST /v1/collections/:c/search` on `app` itself, so the host's hooks and error handler
 * apply. `{ vector | id, k?, filter?, field?, ef? }` → `{ results: [{ id, distance, object }] }`, nearest
 * first. The index is fresh on every search: writes the store acknowledged are never answered stale.
 *
 * Errors (thrown with `code` and `statusCode`, for the host's error handler): unknown collection 404
 * `SYNC_ERR_UNKNOWN_COLLECTION`; unknown `id` 404 `SYNC_ERR_NOT_FOUND`; no vector field, an unknown
 * `field`, or several and none chosen 400 `SYNC_ERR_INVALID_QUERY`; a vector of the wrong length 400
 * `VEC_ERR_DIM_MISMATCH`; NaN, non-numbers or all zeros under cosine 400 `VEC_ERR_INVALID_VECTOR`; `k`
 * outside 1..1000 or a bad `ef` 400 `VEC_ERR_INVALID_OPTION`; a bad filter 400 `SYNC_ERR_FILTER_SYNTAX`
 * / `SYNC_ERR_FILTER_VARIABLE`; a malformed body 400 `SYNC_ERR_INVALID_REQUEST`.
 *
 * @example
 * const vectors = new VectorStore({ dir: join(dataDir, 'vectors'), logger });
 * registerSearchRoute(app, { store, vectors });
 * // on shutdown: await app.close(); await vectors.close(); store.close();
 */
export function registerSearchRoute(app: FastifyInstance, opts: SearchRouteOptions): void {
  const { store, vectors } = opts;

  app.post<{ Params: { c: string }; Body: SearchBody }>(
    '/v1/collections/:c/search',
    { schema: { params: collectionParams, body: searchBody } },
    async (request): Promise<{ results: SearchResult[] }> => {
      const { c } = request.params;
      const def = store.collection(c);
      opts.authorize?.(request, c, 'read');
      const body = request.body;
      const field = vectorField(def, body.field);
      const { dim, metric } = def.fields[field] as { dim: number; metric: Metric };
      const k = body.k ?? 10;
      if (!Number.isInteger(k) || k < 1 || k > MAX_SEARCH_K) {
        throw new VectorStoreError(
          'VEC_ERR_INVALID_OPTION',
          `k must be an integer from 1 to ${MAX_SEARCH_K}`,
          {
            option: 'k',
            value: k,
          },
        );
      }
      if (body.filter !== undefined && typeof body.filter !== 'string') {
        throw badRequest('filter must be a string');
      }
      if ((body.vector === undefined) === (body.id === undefined)) {
        throw badRequest('give exactly one of "vector" and "id"');
      }
      const restriction = opts.restrict?.(request, c);
      const vars = opts.vars?.(request) ?? {};
      if (restriction === false) return { results: [] };
      let query: unknown = body.vector;
      let self: string | undefined;
      if (body.id !== undefined) {
        if (typeof body.id !== 'string') throw badRequest('id must be a string');
        const object = store.get(c, body.id);
        if (!object || !visible(restriction, vars, object)) {
          throw new SyncError('SYNC_ERR_NOT_FOUND', `no object "${body.id}" in ${c}`, {
            collection: c,
            id: body.id,
          });
        }
        query = object[field];
        if (!Array.isArray(query)) {
          throw new SyncError('SYNC_ERR_INVALID_QUERY', `object "${body.id}" has no ${field}`, {
            collection: c,
            id: body.id,
            field,
          });
        }
        self = body.id;
      }
      const index = vectors.has(c, field)
        ? vectors.index(c, field)
        : await vectors.open({ collection: c, field, dim, metric }, () => store.vectorSource(c, field));
      const results = search(index, query as number[], k, self, {
        filter: scoped(restriction, body.filter),
        vars,
        ef: body.ef,
      });
      return { results };
    },
  );
}

/** The request's filter ANDed with the caller's restriction, as a tree (never by pasting text together). */
function scoped(restriction: Filter | undefined, filter: string | undefined): string | undefined {
  if (restriction === undefined) return filter;
  if (filter === undefined || filter.trim() === '') return printFilter(restriction);
  return printFilter({ kind: 'and', args: [restriction, parseFilter(filter)] });
}

/** Whether an object is inside the caller's restriction. */
function visible(
  restriction: Filter | undefined,
  vars: FilterVars,
  object: Record<string, unknown>,
): boolean {
  if (restriction === undefined) return true;
  try {
    return compileFilter(restriction, vars)(object);
  } catch {
    return false;
  }
}

/** The vector field to search: `chosen`, or the collection's only one. */
function vectorField(def: CollectionDef, chosen: unknown): string {
  const fields = def.fieldNames.filter((f) => def.fields[f].type === 'vector');
  if (chosen !== undefined) {
    if (typeof chosen !== 'string' || !fields.includes(chosen)) {
      throw new SyncError(
        'SYNC_ERR_INVALID_QUERY',
        `${String(chosen)} is not a vector field of ${def.name}`,
        {
          collection: def.name,
          field: chosen,
          vectorFields: fields,
        },
      );
    }
    return chosen;
  }
  if (fields.length === 1) return fields[0];
  throw new SyncError(
    'SYNC_ERR_INVALID_QUERY',
    fields.length === 0
      ? `${def.name} has no vector field to search`
      : `${def.name} has several vector fields: choose one with "field"`,
    { collection: def.name, vectorFields: fields },
  );
}

/**
 * The `k` nearest objects, `self` left out. `withObjects` drops hits whose object the store no longer
 * has (and the index forgets them), so a short answer is searched again: at most a few rounds, since
 * each round removes the stale ids it met.
 */
function search(
  index: VectorIndex,
  vector: number[],
  k: number,
  self: string | undefined,
  options: { filter?: string; vars: FilterVars; ef?: number },
): SearchResult[] {
  const want = self === undefined ? k : k + 1;
  let results: (SearchHit & { object: Record<string, unknown> })[] = [];
  for (let round = 0; round < 3; round++) {
    const hits = index.search(vector, want, options);
    results = index.withObjects(hits);
    if (results.length === hits.length) break;
  }
  const out: SearchResult[] = [];
  for (const r of results) {
    if (r.id === self) continue;
    if (out.length === k) break;
    out.push({ id: r.id, distance: r.distance, object: r.object });
  }
  return out;
}
