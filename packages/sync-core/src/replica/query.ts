/**
 * Queries over a replica's objects: a filter (CONTRACT.md syntax, compiled to SQL, never evaluated as
 * code), sort keys, and keyset pagination with an opaque cursor. One job: turning a query into one SQL
 * statement over the `objects` table, so paging stays correct while writes go on (each page starts
 * strictly after the last row of the previous one, not at an offset).
 */
import { SyncError } from '../errors.js';
import type { Filter, FilterVars } from '../filter/index.js';
import { filterToSql, parseFilter } from '../filter/index.js';
import { assertFilterFields } from '../filter-fields.js';
import type { CollectionDef } from '../schema.js';
import type { Db } from '../sqlite.js';
import type { StoredObject } from '../types.js';
import { type Row, rowToState, toStoredObject } from './rows.js';

/** A sort key: a field name, `-field` for descending, or `{ field, order }`. */
export type SortSpec = string | { readonly field: string; readonly order?: 'asc' | 'desc' };

/** A query of `ObjectReader.query`. */
export interface QueryOptions {
  /** A filter's text or its parsed tree; empty or absent: every object. */
  readonly filter?: string | Filter;
  /** Values of the filter's `$auth.*` and `$client.*` variables. */
  readonly vars?: FilterVars;
  /** Sort keys, most significant first; `id` always breaks ties. */
  readonly sort?: readonly SortSpec[];
  /** Default 100, at most 1000. */
  readonly limit?: number;
  /** The `next` cursor of the previous page. */
  readonly after?: string;
  /** Tombstones too (`_meta.deleted` true). */
  readonly includeDeleted?: boolean;
}

/** One page of a query. */
export interface QueryResult {
  readonly objects: StoredObject[];
  /** Pass as `after` to get the next page; absent on the last page. */
  readonly next?: string;
}

/**
 * Runs a query on the `objects` table.
 * @throws SyncError `SYNC_ERR_FILTER_SYNTAX`, `SYNC_ERR_FILTER_VARIABLE`, `SYNC_ERR_UNKNOWN_FIELD`,
 *   `SYNC_ERR_INVALID_QUERY`.
 */
export function runQuery(db: Db, def: CollectionDef, q: QueryOptions): QueryResult {
  const limit = q.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new SyncError('SYNC_ERR_INVALID_QUERY', 'limit must be an integer from 1 to 1000', { limit });
  }
  const keys = (q.sort ?? []).map((s) => parseSort(def, s));
  const where: string[] = ['collection = ?'];
  const params: unknown[] = [def.name];
  if (!q.includeDeleted) where.push('alive = 1');
  if (q.filter !== undefined && q.filter !== '') {
    const f = typeof q.filter === 'string' ? parseFilter(q.filter) : q.filter;
    assertFilterFields(def, f);
    const sql = filterToSql(f, q.vars ?? {}, 'doc', { idColumn: 'id' });
    where.push(`(${sql.sql})`);
    params.push(...sql.params);
  }
  const exprs = keys.map((k) => (k.field === 'id' ? 'id' : `json_extract(doc, '$.${k.field}')`));
  if (q.after !== undefined) {
    const after = decodeCursor(q.after, keys.length);
    // Keyset pagination: rows strictly after the last row of the previous page, in sort order.
    const ors: string[] = [];
    for (let i = 0; i <= keys.length; i++) {
      const ands: string[] = [];
      for (let j = 0; j < i; j++) {
        ands.push(`${j < keys.length ? exprs[j] : 'id'} IS ?`);
        params.push(after[j]);
      }
      if (i < keys.length) {
        const v = after[i];
        const desc = keys[i].order === 'desc';
        if (v === null) ands.push(desc ? 'FALSE' : `${exprs[i]} IS NOT NULL`);
        else {
          ands.push(desc ? `(${exprs[i]} < ? OR ${exprs[i]} IS NULL)` : `${exprs[i]} > ?`);
          params.push(v);
        }
      } else {
        ands.push('id > ?');
        params.push(after[i]);
      }
      ors.push(`(${ands.join(' AND ')})`);
    }
    where.push(`(${ors.join(' OR ')})`);
  }
  const order = [...keys.map((k, i) => `${exprs[i]} ${k.order === 'desc' ? 'DESC' : 'ASC'}`), 'id ASC'];
  const cols = exprs.map((e, i) => `, ${e} AS k${i}`).join('');
  const sql = `SELECT *${cols} FROM objects WHERE ${where.join(' AND ')} ORDER BY ${order.join(', ')} LIMIT ?`;
  params.push(limit + 1);
  const rows = db.prepare(sql).all(...params) as (Row & Record<string, unknown>)[];
  const more = rows.length > limit;
  const page = more ? rows.slice(0, limit) : rows;
  const objects = page.map((r) => toStoredObject(def, rowToState(def, r)));
  if (!more) return { objects };
  const last = page[page.length - 1];
  const cursor = [...keys.map((_, i) => last[`k${i}`] ?? null), last.id];
  return { objects, next: Buffer.from(JSON.stringify(cursor)).toString('base64url') };
}

function parseSort(def: CollectionDef, s: SortSpec): { field: string; order: 'asc' | 'desc' } {
  let field: string;
  let order: 'asc' | 'desc' = 'asc';
  if (typeof s === 'string') {
    field = s.startsWith('-') ? s.slice(1) : s;
    if (s.startsWith('-')) order = 'desc';
  } else if (s && typeof s === 'object' && typeof s.field === 'string') {
    field = s.field;
    if (s.order !== undefined && s.order !== 'asc' && s.order !== 'desc') {
      throw new SyncError('SYNC_ERR_INVALID_QUERY', 'sort order must be asc or desc', { sort: s });
    }
    order = s.order ?? 'asc';
  } else {
    throw new SyncError('SYNC_ERR_INVALID_QUERY', 'sort keys are "field", "-field" or { field, order }', {
      sort: s,
    });
  }
  if (field === 'id') return { field, order };
  // Only declared field names reach the SQL text (they match /^[A-Za-z_][A-Za-z0-9_]*$/).
  if (
    !Object.hasOwn(def.fields, field) ||
    def.fields[field].type === 'vector' ||
    def.fields[field].type === 'json'
  ) {
    throw new SyncError('SYNC_ERR_INVALID_QUERY', `cannot sort by "${field}"`, { field });
  }
  return { field, order };
}

function decodeCursor(after: string, nKeys: number): unknown[] {
  try {
    const v = JSON.parse(Buffer.from(after, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === nKeys + 1 && typeof v[nKeys] === 'string') return v;
  } catch {
    // fall through to the error below
  }
  throw new SyncError('SYNC_ERR_INVALID_QUERY', 'invalid "after" cursor (it must come from the same query)', {
    after,
  });
}
