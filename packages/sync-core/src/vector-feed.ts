/**
 * The replica store seen as a feed of one vector field: what a nearest-neighbour index (vector-store's
 * `VectorIndex`) needs to build itself from the store and stay caught up with it. sync-core does not
 * depend on vector-store: {@link VectorFeed} has the same method signatures as vector-store's
 * `VectorSource`, so a feed is accepted there as it is.
 *
 * It reads the `objects` table directly: `seq` is the rowid and a change moves the row to a new one, so
 * "what changed after S" is a rowid range scan and needs no index of its own. Vectors are stored in the
 * object's JSON document as arrays of numbers.
 */
import type { Filter, FilterVars } from './filter/index.js';
import { filterToSql } from './filter/index.js';
import { assertFilterFields } from './filter-fields.js';
import type { CollectionDef } from './schema.js';
import type { Db, Statement } from './sqlite.js';
import type { StoredObject } from './types.js';

/**
 * One vector's state as of store sequence `seq`. `vector` null: the object was deleted or has no vector
 * in the field (the index drops the id).
 */
export interface VectorFeedChange {
  readonly id: string;
  readonly vector: Float32Array | null;
  readonly seq: number;
}

/** Whether object `id` passes a filter now (false for deleted objects and ones without a vector). */
export interface VectorFeedMatch {
  readonly id: string;
  readonly matches: boolean;
}

/**
 * One collection's vector field as a feed of changes (structurally vector-store's `VectorSource`).
 * Returned by `ReplicaStore.vectorSource(collection, field)`.
 */
export interface VectorFeed {
  /** The store's change sequence: at least the `seq` of every committed change. No I/O. */
  currentSeq(): number;
  /**
   * The current state of every object of the collection changed after `afterSeq`, ascending by `seq`
   * (state, not history: each object once). Throws {@link VectorFeedPrunedError}
   * (`VEC_ERR_CHANGES_PRUNED`) when tombstones after `afterSeq` were collected: the caller must rescan.
   */
  changesSince(afterSeq: number): Iterable<VectorFeedChange>;
  /** Every live object with a vector in the field, read in pages by id (no cursor held between items). */
  scanAll(): Iterable<VectorFeedChange>;
  /**
   * Without `afterSeq`: the live objects with a vector that match the filter (all `matches: true`).
   * With it: every object changed after `afterSeq`, each with its current verdict. The filter may read
   * `id`; a field the collection does not have is refused (`SYNC_ERR_UNKNOWN_FIELD`) when the iteration
   * starts.
   */
  matchingIds(filter: Filter, vars: FilterVars, afterSeq?: number): Iterable<VectorFeedMatch>;
  /** The live objects by id, as `ReplicaStore.get` returns them (`id`, fields, `_meta`); gone ids are absent. */
  getObjects(ids: readonly string[]): Map<string, Record<string, unknown>>;
  /** Drops the feed's prepared filter statements. The database belongs to the store and stays open. */
  close(): void;
}

/**
 * Thrown by {@link VectorFeed.changesSince} when the store collected tombstones newer than `afterSeq`.
 * Its `code` is the one vector-store recognises (`VEC_ERR_CHANGES_PRUNED`): the index rebuilds, or
 * resyncs with a full scan. Internal to the index; never reaches an HTTP client.
 */
export class VectorFeedPrunedError extends Error {
  readonly code = 'VEC_ERR_CHANGES_PRUNED';
  readonly statusCode = 500;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(details: { collection: string; field: string; afterSeq: number; horizon: number }) {
    super(`tombstones of ${details.collection} after sequence ${details.afterSeq} were collected`);
    this.name = 'VectorFeedPrunedError';
    this.details = details;
  }
}

/** What the replica store hands to {@link createVectorFeed}. */
export interface VectorFeedOptions {
  /** The store's database (read only here). */
  readonly db: Db;
  readonly collection: string;
  /** A field of type `vector` of the collection (checked by the store). */
  readonly field: string;
  /**
   * The collection's definition: when given, `matchingIds` refuses a filter naming a field the collection
   * does not have (`SYNC_ERR_UNKNOWN_FIELD`) rather than matching nothing.
   */
  readonly def?: CollectionDef;
  /** The store's committed change sequence. */
  readonly currentSeq: () => number;
  /** Highest sequence up to which tombstones were collected (`ReplicaStore.tombstoneHorizon`). */
  readonly horizon: () => number;
  /** A live object by id (`ReplicaStore.get`). */
  readonly getObject: (id: string) => StoredObject | undefined;
  /** Rows per page of `changesSince` and `scanAll`. Default 2048. */
  readonly pageSize?: number;
}

interface VectorRow {
  id: string;
  seq: number;
  /** The document's JSON text; null when the object is dead. */
  doc: string | null;
}

/**
 * The field's vector from a document's JSON text, or null. Parsing the whole document with V8's
 * JSON.parse is faster than having SQLite extract the array as text first and parsing that (measured:
 * about 20 µs against 26 µs per 128-dim document); nearly all of it is reading the decimal numbers.
 */
function vectorOf(doc: string | null, field: string): Float32Array | null {
  if (doc === null) return null;
  const v = (JSON.parse(doc) as Record<string, unknown>)[field];
  // Not an array (null, absent, or a value a schema change made stale): no vector. Non-numbers become
  // NaN, which the index refuses with a warning.
  return Array.isArray(v) ? Float32Array.from(v as number[]) : null;
}

/**
 * Builds the feed of `collection.field` over the store's `objects` table.
 * Called by `ReplicaStore.vectorSource`; use that.
 */
export function createVectorFeed(o: VectorFeedOptions): VectorFeed {
  const { db, collection, field } = o;
  const path = `$.${field}`;
  const pageSize = o.pageSize ?? 2048;
  // `+collection`: keeps SQLite off the (collection, id) index, so `seq > ?` stays a rowid range scan
  // touching only the rows changed since, whatever the collection's size.
  const changes = db.prepare(
    `SELECT id, seq, CASE WHEN alive = 1 THEN doc END AS doc
     FROM objects WHERE seq > ? AND +collection = ? ORDER BY seq LIMIT ?`,
  );
  const scanPage = db.prepare(
    'SELECT id, seq, doc FROM objects WHERE collection = ? AND id > ? AND alive = 1 ORDER BY id LIMIT ?',
  );
  // Filter statements by SQL text: filters come from config and queries; a flood of distinct ones
  // must not grow memory, hence the bound.
  const filterStmts = new Map<string, Statement>();
  const filterStmt = (sql: string): Statement => {
    let stmt = filterStmts.get(sql);
    if (!stmt) {
      if (filterStmts.size >= 64) filterStmts.clear();
      stmt = db.prepare(sql);
      filterStmts.set(sql, stmt);
    }
    return stmt;
  };

  /** Collected tombstones all had a seq at or below both the recorded horizon and the current seq. */
  const checkHorizon = (afterSeq: number) => {
    const horizon = Math.min(o.horizon(), o.currentSeq());
    if (horizon > afterSeq) throw new VectorFeedPrunedError({ collection, field, afterSeq, horizon });
  };

  return {
    currentSeq: o.currentSeq,

    *changesSince(afterSeq: number): Iterable<VectorFeedChange> {
      checkHorizon(afterSeq);
      let after = afterSeq;
      for (;;) {
        // One page at a time: no cursor stays open while the caller applies changes or yields.
        const rows = changes.all(after, collection, pageSize) as VectorRow[];
        // The caller may have yielded to the event loop since the last page: tombstones collected
        // meanwhile would be missed, so the caller must rescan.
        if (after !== afterSeq) checkHorizon(afterSeq);
        for (const r of rows) yield { id: r.id, seq: r.seq, vector: vectorOf(r.doc, field) };
        if (rows.length < pageSize) return;
        after = rows[rows.length - 1].seq;
      }
    },

    *scanAll(): Iterable<VectorFeedChange> {
      let after = '';
      for (;;) {
        const rows = scanPage.all(collection, after, pageSize) as VectorRow[];
        for (const r of rows) {
          const vector = vectorOf(r.doc, field);
          if (vector) yield { id: r.id, seq: r.seq, vector };
        }
        if (rows.length < pageSize) return;
        after = rows[rows.length - 1].id;
      }
    },

    *matchingIds(filter: Filter, vars: FilterVars, afterSeq?: number): Iterable<VectorFeedMatch> {
      if (o.def) assertFilterFields(o.def, filter);
      const { sql, params } = filterToSql(filter, vars, 'doc', { idColumn: 'id' });
      if (afterSeq === undefined) {
        const stmt = filterStmt(
          `SELECT id FROM objects WHERE collection = ? AND alive = 1
           AND json_type(doc, ?) = 'array' AND (${sql})`,
        );
        for (const id of stmt.pluck().all(collection, path, ...params) as string[]) {
          yield { id, matches: true };
        }
        return;
      }
      const stmt = filterStmt(
        `SELECT id, (alive = 1 AND json_type(doc, ?) = 'array' AND coalesce((${sql}), 0)) AS m
         FROM objects WHERE seq > ? AND +collection = ?`,
      );
      for (const r of stmt.all(path, ...params, afterSeq, collection) as {
        id: string;
        m: number;
      }[]) {
        yield { id: r.id, matches: r.m === 1 };
      }
    },

    getObjects(ids: readonly string[]): Map<string, Record<string, unknown>> {
      const out = new Map<string, Record<string, unknown>>();
      for (const id of ids) {
        const object = o.getObject(id);
        if (object) out.set(id, object);
      }
      return out;
    },

    close(): void {
      filterStmts.clear();
    },
  };
}
