/**
 * Writes the blob tables that `SqliteVectorSource` reads (see sqlite-vector-source.ts for the
 * shape): every change in one transaction with a fresh store sequence, deletes leaving a vector tombstone,
 * tombstone collection recording its horizon. For tests and benchmarks of code that reads a `VectorSource`.
 */
import { createVectorTables, type SqliteDatabase } from './sqlite-vector-source.js';

const toBlob = (v: ArrayLike<number>): Buffer => {
  const f = Float32Array.from(v);
  return Buffer.from(f.buffer, f.byteOffset, f.byteLength);
};

/** A writer over the blob tables of one database. */
export class ReplicaWriter {
  readonly db: SqliteDatabase;
  private readonly s;

  constructor(db: SqliteDatabase) {
    this.db = db;
    createVectorTables(db);
    db.exec(`CREATE TABLE IF NOT EXISTS replica_seq (k INTEGER PRIMARY KEY CHECK (k = 0), seq INTEGER NOT NULL);
             INSERT OR IGNORE INTO replica_seq VALUES (0, 0);`);
    this.s = {
      next: db.prepare('UPDATE replica_seq SET seq = seq + 1 WHERE k = 0 RETURNING seq').pluck(),
      upsertObject: db.prepare(
        `INSERT INTO objects (collection, id, doc, seq, alive) VALUES (?, ?, ?, ?, 1)
         ON CONFLICT (collection, id) DO UPDATE SET doc = excluded.doc, seq = excluded.seq, alive = 1`,
      ),
      killObject: db.prepare(
        'UPDATE objects SET alive = 0, seq = ? WHERE collection = ? AND id = ? AND alive = 1',
      ),
      upsertVector: db.prepare(
        `INSERT INTO vectors (collection, field, id, seq, vec) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (collection, field, id) DO UPDATE SET seq = excluded.seq, vec = excluded.vec`,
      ),
      dropTombstone: db.prepare(
        'DELETE FROM vector_tombstones WHERE collection = ? AND field = ? AND id = ?',
      ),
      fieldsOf: db.prepare('SELECT field FROM vectors WHERE collection = ? AND id = ?').pluck(),
      dropVector: db.prepare('DELETE FROM vectors WHERE collection = ? AND field = ? AND id = ?'),
      tombstone: db.prepare(
        `INSERT INTO vector_tombstones (collection, field, id, seq) VALUES (?, ?, ?, ?)
         ON CONFLICT (collection, field, id) DO UPDATE SET seq = excluded.seq`,
      ),
      prune: db.prepare('DELETE FROM vector_tombstones WHERE collection = ? AND field = ? AND seq <= ?'),
      horizon: db.prepare(
        `INSERT INTO vector_horizon (collection, field, seq) VALUES (?, ?, ?)
         ON CONFLICT (collection, field) DO UPDATE SET seq = max(seq, excluded.seq)`,
      ),
    };
  }

  /**
   * Creates or replaces object `id` with `doc`, and sets each vector field named in `vectors` (null
   * removes that field's vector). Returns the store sequence of the change.
   */
  put(
    collection: string,
    id: string,
    doc: Record<string, unknown>,
    vectors: Record<string, ArrayLike<number> | null> = {},
  ): number {
    return this.db.transaction(() => {
      const seq = this.s.next.get() as number;
      this.s.upsertObject.run(collection, id, JSON.stringify(doc), seq);
      for (const [field, v] of Object.entries(vectors)) {
        if (v) {
          this.s.upsertVector.run(collection, field, id, seq, toBlob(v));
          this.s.dropTombstone.run(collection, field, id);
        } else if (this.s.dropVector.run(collection, field, id).changes > 0) {
          this.s.tombstone.run(collection, field, id, seq);
        }
      }
      return seq;
    })();
  }

  /** Deletes object `id` (tombstoning each of its vectors). Returns the change's sequence. */
  delete(collection: string, id: string): number {
    return this.db.transaction(() => {
      const seq = this.s.next.get() as number;
      this.s.killObject.run(seq, collection, id);
      for (const field of this.s.fieldsOf.all(collection, id) as string[]) {
        this.s.dropVector.run(collection, field, id);
        this.s.tombstone.run(collection, field, id, seq);
      }
      return seq;
    })();
  }

  /** Runs `fn` in one transaction (its writes commit together or not at all). */
  batch<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /** Collects tombstones up to `seq`, recording the horizon so older snapshots are rebuilt. */
  pruneTombstones(collection: string, field: string, seq: number): void {
    this.db.transaction(() => {
      this.s.prune.run(collection, field, seq);
      this.s.horizon.run(collection, field, seq);
    })();
  }
}
