/**
 * The role interface between a nearest-neighbour index (vector-store's `VectorIndex`) and the store that
 * holds the truth, {@link VectorSource}, and the replica store's implementation of it, {@link VectorFeed}.
 * Declared here, in the lower layer: vector-store imports it, and sync-core needs no dependency on
 * vector-store.
 *
 * The feed reads the `objects` table directly: `seq` is the rowid and a change moves the row to a new one,
 * so "what changed after S" is a rowid range scan and needs no index of its own. Vectors are read from
 * the float32 blobs the store keeps beside its documents (`object_vectors`, replica/vectors.ts), never by
 * parsing the documents' JSON.
 */
import { defineErrorCatalogue } from './error-catalogue.js';
import type { Filter, FilterVars } from './filter/index.js';
import { filterToSql } from './filter/index.js';
import { assertFilterFields } from './filter-fields.js';
import { decodeVector } from './replica/vectors.js';
import type { CollectionDef } from './schema.js';
import type { Db, Statement } from './sqlite.js';
import type { StoredObject } from './types.js';

/**
 * One vector's state as of store sequence `seq`. `vector` null means the object was deleted, lost its
 * vector, or holds none in the field; the index then drops the id.
 */
export interface VectorChange {
  readonly id: string;
  readonly vector: Float32Array | null;
  readonly seq: number;
}

/** Whether object `id` currently passes a filter (false for deleted objects and ones without a vector). */
export interface FilterMatch {
  readonly id: string;
  readonly matches: boolean;
}

/**
 * The store behind one vector index: one collection and one vector field. The index is a cache of what
 * its source says; everything it needs to rebuild, catch up and filter comes through these methods.
 * Implemented by the replica store ({@link VectorFeed}, from `ReplicaStore.vectorSource(collection,
 * field)`) and, over float32 blob tables, by vector-store's `./testing` entry.
 */
export interface VectorSource {
  /**
   * The store's change sequence for this collection: at least the `seq` of every committed change to its
   * objects or to this field's vectors. Called before every search, so it must be cheap.
   */
  currentSeq(): number;
  /**
   * The current state of every object changed after `afterSeq` (upserts and deletes), ascending by `seq`.
   * State, not history: an id changed twice appears once, with its latest state. Throws an error whose
   * `code` is `VEC_ERR_CHANGES_PRUNED` when deletes after `afterSeq` are no longer kept: the caller must
   * rescan.
   */
  changesSince(afterSeq: number): Iterable<VectorChange>;
  /** Every live vector of the field, in any order. Read in pages: holds no cursor between items. */
  scanAll(): Iterable<VectorChange>;
  /**
   * Without `afterSeq`: the live objects with a vector that match the filter now (all `matches: true`).
   * With it: every object changed after `afterSeq`, each with its current verdict.
   */
  matchingIds(filter: Filter, vars: FilterVars, afterSeq?: number): Iterable<FilterMatch>;
  /** The live objects' fields by id; ids that are gone are absent from the map. */
  getObjects(ids: readonly string[]): Map<string, Record<string, unknown>>;
  /** Releases what the source opened itself (not a database handed to it). */
  close?(): void;
}

/**
 * The replica store's {@link VectorSource} for one collection's vector field, returned by
 * `ReplicaStore.vectorSource(collection, field)`. `matchingIds` may filter on `id`, and refuses a filter
 * naming a field the collection does not have (`SYNC_ERR_UNKNOWN_FIELD`) when the iteration starts;
 * `getObjects` returns objects as `ReplicaStore.get` does (`id`, fields, `_meta`).
 */
export interface VectorFeed extends VectorSource {
  /** Drops the feed's prepared filter statements. The database belongs to the store and stays open. */
  close(): void;
}

/**
 * Thrown by {@link VectorFeed.changesSince} when the store collected tombstones newer than `afterSeq`.
 * Its `code` is the one vector-store recognises (`VEC_ERR_CHANGES_PRUNED`, documented with vector-store's
 * codes): the index rebuilds, or resyncs with a full scan. Internal to the index; never reaches an HTTP
 * client.
 */
export class VectorFeedPrunedError extends defineErrorCatalogue('VectorFeedPrunedError', {
  VEC_ERR_CHANGES_PRUNED: 500,
}) {
  constructor(details: { collection: string; field: string; afterSeq: number; horizon: number }) {
    super(
      'VEC_ERR_CHANGES_PRUNED',
      `tombstones of ${details.collection} after sequence ${details.afterSeq} were collected`,
      details,
    );
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
  /** The field's float32 blob; null when the object is dead or holds no array in the field. */
  vec: Buffer | null;
}

/**
 * Builds the feed of `collection.field` over the store's `objects` table.
 * Called by `ReplicaStore.vectorSource`; use that.
 */
export function createVectorFeed(o: VectorFeedOptions): VectorFeed {
  const { db, collection, field } = o;
  const path = `$.${field}`;
  const pageSize = o.pageSize ?? 2048;
  // `+o.collection`: keeps SQLite off the (collection, id) index, so `seq > ?` stays a rowid range scan
  // touching only the rows changed since, whatever the collection's size; each row's blob is one
  // primary-key seek (a dead object has none: the store removes it with the object's life).
  const changes = db.prepare(
    `SELECT o.id, o.seq, v.vec FROM objects o
     LEFT JOIN object_vectors v ON v.collection = o.collection AND v.id = o.id AND v.field = ?
     WHERE o.seq > ? AND +o.collection = ? ORDER BY o.seq LIMIT ?`,
  );
  // Only the blob table: it holds exactly the live objects with an array in the field.
  const scanPage = db.prepare(
    `SELECT id, seq, vec FROM object_vectors
     WHERE collection = ? AND id > ? AND field = ? ORDER BY id LIMIT ?`,
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

    *changesSince(afterSeq: number): Iterable<VectorChange> {
      checkHorizon(afterSeq);
      let after = afterSeq;
      for (;;) {
        // One page at a time: no cursor stays open while the caller applies changes or yields.
        const rows = changes.all(field, after, collection, pageSize) as VectorRow[];
        // The caller may have yielded to the event loop since the last page: tombstones collected
        // meanwhile would be missed, so the caller must rescan.
        if (after !== afterSeq) checkHorizon(afterSeq);
        for (const r of rows) yield { id: r.id, seq: r.seq, vector: r.vec && decodeVector(r.vec) };
        if (rows.length < pageSize) return;
        after = rows[rows.length - 1].seq;
      }
    },

    *scanAll(): Iterable<VectorChange> {
      let after = '';
      for (;;) {
        const rows = scanPage.all(collection, after, field, pageSize) as VectorRow[];
        for (const r of rows) if (r.vec) yield { id: r.id, seq: r.seq, vector: decodeVector(r.vec) };
        if (rows.length < pageSize) return;
        after = rows[rows.length - 1].id;
      }
    },

    *matchingIds(filter: Filter, vars: FilterVars, afterSeq?: number): Iterable<FilterMatch> {
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
