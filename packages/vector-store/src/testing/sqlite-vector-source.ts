/**
 * A `VectorSource` over float32 blob tables, for tests and benchmarks of the index: the replica store does
 * not create these tables (its feed, `ReplicaStore.vectorSource`, reads vectors from the objects' JSON
 * documents). It is the raw baseline the replica feed is measured against, and a store whose deletes,
 * pruning and horizon a test can drive directly through `ReplicaWriter`. The only file of this
 * package that imports better-sqlite3. The tables (created by {@link createVectorTables}) are:
 *
 * - `objects(collection, id, doc JSON, seq, alive)`: one row per object, `seq` = store change sequence
 *   of its last change, `alive` 0 once deleted.
 * - `vectors(collection, field, id, seq, vec BLOB float32 LE)`: one row per live vector.
 * - `vector_tombstones(collection, field, id, seq)`: a row per vector removed (object deleted, field
 *   cleared) so `changesSince` can report deletes; removed again when the id gets a vector back.
 * - `vector_horizon(collection, field, seq)` (optional): tombstones at or below `seq` were pruned, so a
 *   snapshot older than that must be rebuilt.
 */

import {
  type Filter,
  type FilterMatch,
  type FilterVars,
  filterToSql,
  type VectorChange,
  type VectorSource,
} from '@backroom/sync-core';
import Database from 'better-sqlite3';
import { VectorStoreError } from '../errors.js';

/** The better-sqlite3 database type, for the tests that write these tables. */
export type SqliteDatabase = Database.Database;

/**
 * Opens (creating if needed) a SQLite file in WAL mode with `synchronous=FULL`, so a committed write
 * survives a crash or power loss.
 */
export function openSqliteDatabase(path: string): SqliteDatabase {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  return db;
}

/** Creates the tables and indexes described above if they do not exist. */
export function createVectorTables(db: SqliteDatabase): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS objects (
      collection TEXT NOT NULL, id TEXT NOT NULL, doc TEXT NOT NULL,
      seq INTEGER NOT NULL, alive INTEGER NOT NULL DEFAULT 1,
      PRIMARY KEY (collection, id));
    CREATE INDEX IF NOT EXISTS objects_by_seq ON objects (collection, seq);
    CREATE TABLE IF NOT EXISTS vectors (
      collection TEXT NOT NULL, field TEXT NOT NULL, id TEXT NOT NULL,
      seq INTEGER NOT NULL, vec BLOB NOT NULL,
      PRIMARY KEY (collection, field, id));
    CREATE INDEX IF NOT EXISTS vectors_by_seq ON vectors (collection, field, seq);
    CREATE TABLE IF NOT EXISTS vector_tombstones (
      collection TEXT NOT NULL, field TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL,
      PRIMARY KEY (collection, field, id));
    CREATE INDEX IF NOT EXISTS vector_tombstones_by_seq ON vector_tombstones (collection, field, seq);
    CREATE TABLE IF NOT EXISTS vector_horizon (
      collection TEXT NOT NULL, field TEXT NOT NULL, seq INTEGER NOT NULL,
      PRIMARY KEY (collection, field));
  `);
}

/** Options of {@link SqliteVectorSource}. */
export interface SqliteVectorSourceOptions {
  /** A path to open, or an open database (then `close()` leaves it open). */
  database: string | SqliteDatabase;
  collection: string;
  /** The vector field of the collection. */
  field: string;
  /** Rows per page of `scanAll`. Default 2048. */
  pageSize?: number;
}

const toFloat32 = (buf: Buffer): Float32Array => {
  // Copy: a Buffer's byteOffset need not be 4-aligned, and the index keeps the array.
  const out = new Float32Array(buf.byteLength >>> 2);
  new Uint8Array(out.buffer).set(buf.subarray(0, out.length * 4));
  return out;
};

/** Reads one collection's vector field from the blob tables. */
export class SqliteVectorSource implements VectorSource {
  readonly collection: string;
  readonly field: string;
  private readonly db: SqliteDatabase;
  private readonly ownsDb: boolean;
  private readonly pageSize: number;
  private readonly stmts;
  private readonly filterStmts = new Map<string, Database.Statement>();

  constructor(options: SqliteVectorSourceOptions) {
    this.collection = options.collection;
    this.field = options.field;
    this.ownsDb = typeof options.database === 'string';
    this.db = typeof options.database === 'string' ? openSqliteDatabase(options.database) : options.database;
    this.pageSize = options.pageSize ?? 2048;
    const hasHorizon = this.db
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'vector_horizon'")
      .get();
    this.stmts = {
      currentSeq: this.db
        .prepare(
          `SELECT max(coalesce((SELECT max(seq) FROM objects WHERE collection = ?), 0),
                      coalesce((SELECT max(seq) FROM vector_tombstones WHERE collection = ? AND field = ?), 0))`,
        )
        .pluck(),
      changes: this.db.prepare(
        `SELECT id, vec, seq FROM vectors WHERE collection = ? AND field = ? AND seq > ?
         UNION ALL
         SELECT id, NULL AS vec, seq FROM vector_tombstones WHERE collection = ? AND field = ? AND seq > ?
         ORDER BY seq`,
      ),
      horizon: hasHorizon
        ? this.db.prepare('SELECT seq FROM vector_horizon WHERE collection = ? AND field = ?').pluck()
        : null,
      scanPage: this.db.prepare(
        'SELECT id, vec, seq FROM vectors WHERE collection = ? AND field = ? AND id > ? ORDER BY id LIMIT ?',
      ),
      tombstonesSince: this.db
        .prepare('SELECT id FROM vector_tombstones WHERE collection = ? AND field = ? AND seq > ?')
        .pluck(),
      objects: this.db.prepare(
        'SELECT id, doc FROM objects WHERE collection = ? AND alive = 1 AND id IN (SELECT value FROM json_each(?))',
      ),
    };
  }

  currentSeq(): number {
    return Number(this.stmts.currentSeq.get(this.collection, this.collection, this.field));
  }

  *changesSince(afterSeq: number): Iterable<VectorChange> {
    const horizon = this.stmts.horizon?.get(this.collection, this.field) as number | undefined;
    if (horizon !== undefined && afterSeq < horizon) {
      throw new VectorStoreError('VEC_ERR_CHANGES_PRUNED', 'deletes after this sequence were pruned', {
        afterSeq,
        horizon,
      });
    }
    const { collection: c, field: f } = this;
    // .all(): no cursor stays open while the caller applies the changes.
    const rows = this.stmts.changes.all(c, f, afterSeq, c, f, afterSeq) as {
      id: string;
      vec: Buffer | null;
      seq: number;
    }[];
    for (const r of rows) yield { id: r.id, vector: r.vec ? toFloat32(r.vec) : null, seq: r.seq };
  }

  *scanAll(): Iterable<VectorChange> {
    let after = '';
    for (;;) {
      const rows = this.stmts.scanPage.all(this.collection, this.field, after, this.pageSize) as {
        id: string;
        vec: Buffer;
        seq: number;
      }[];
      for (const r of rows) yield { id: r.id, vector: toFloat32(r.vec), seq: r.seq };
      if (rows.length < this.pageSize) return;
      after = rows[rows.length - 1].id;
    }
  }

  *matchingIds(filter: Filter, vars: FilterVars, afterSeq?: number): Iterable<FilterMatch> {
    const { sql, params } = filterToSql(filter, vars, 'o.doc');
    const { collection: c, field: f } = this;
    if (afterSeq === undefined) {
      const stmt = this.filterStmt(
        `SELECT o.id FROM objects o
         JOIN vectors v ON v.collection = o.collection AND v.field = ? AND v.id = o.id
         WHERE o.collection = ? AND o.alive = 1 AND (${sql})`,
      );
      for (const id of stmt.pluck().all(f, c, ...params) as string[]) yield { id, matches: true };
      return;
    }
    // Tombstones first, then objects: for an id in both, the object's current verdict comes last and wins.
    for (const id of this.stmts.tombstonesSince.all(c, f, afterSeq) as string[]) yield { id, matches: false };
    const stmt = this.filterStmt(
      `SELECT o.id AS id, (o.alive = 1 AND v.id IS NOT NULL AND coalesce((${sql}), 0)) AS m FROM objects o
       LEFT JOIN vectors v ON v.collection = o.collection AND v.field = ? AND v.id = o.id
       WHERE o.collection = ? AND o.seq > ?`,
    );
    for (const r of stmt.all(...params, f, c, afterSeq) as { id: string; m: number }[]) {
      yield { id: r.id, matches: r.m === 1 };
    }
  }

  getObjects(ids: readonly string[]): Map<string, Record<string, unknown>> {
    const out = new Map<string, Record<string, unknown>>();
    if (ids.length === 0) return out;
    for (const r of this.stmts.objects.all(this.collection, JSON.stringify(ids)) as {
      id: string;
      doc: string;
    }[]) {
      out.set(r.id, JSON.parse(r.doc));
    }
    return out;
  }

  close(): void {
    if (this.ownsDb && this.db.open) this.db.close();
  }

  private filterStmt(sql: string): Database.Statement {
    let stmt = this.filterStmts.get(sql);
    if (!stmt) {
      // Bounded: filters come from config and queries; a flood of distinct ones must not grow memory.
      if (this.filterStmts.size >= 64) this.filterStmts.clear();
      stmt = this.db.prepare(sql);
      this.filterStmts.set(sql, stmt);
    }
    return stmt;
  }
}
