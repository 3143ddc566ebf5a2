/**
 * Vector fields as float32 blobs, beside the objects: the form a nearest-neighbour index reads
 * (`vector-feed.ts`), so a rebuild or a catch-up copies bytes instead of parsing decimal JSON.
 *
 * The object's document keeps the vector as its JSON array of numbers: that is what `get`, queries and the
 * sync protocol serve, with the exact values written (a float64 array, not rounded to float32). The blob
 * is a derived copy, written with the row in the same transaction (core.ts `flush`) and removed with the
 * row by a trigger (tombstone collection, eviction, clear), so it cannot disagree with the document.
 *
 * Table `object_vectors(collection, id, field, seq, vec)`: one row per live object holding an array in a
 * `vector` field; `vec` is the array as float32 in the machine's byte order (little-endian on every
 * platform Backroom runs on), `seq` the object's change sequence when it was written.
 *
 * Replicas written before blobs existed (format 1), and vector fields a schema change declares later,
 * are filled from the documents at open: `meta.vector_blobs` lists the `collection.field`s filled.
 */
import type { ObjectState } from '../merge.js';
import type { CollectionDef, Schema } from '../schema.js';
import type { Db, Statement } from '../sqlite.js';

/** The blob table and its trigger, created when missing (run at every open, after the objects table). */
export const VECTOR_SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS object_vectors (
  collection TEXT NOT NULL,
  id TEXT NOT NULL,
  field TEXT NOT NULL,
  seq INTEGER NOT NULL,
  vec BLOB NOT NULL,
  -- (collection, id) first: the trigger below and the writes find an object's vectors by prefix.
  PRIMARY KEY (collection, id, field)
);
CREATE TRIGGER IF NOT EXISTS object_vectors_follow_delete AFTER DELETE ON objects BEGIN
  DELETE FROM object_vectors WHERE collection = old.collection AND id = old.id;
END;
`;

/** A vector as stored: its numbers as float32, in a Buffer of 4 bytes per number. */
export function encodeVector(v: ArrayLike<number>): Buffer {
  const f = Float32Array.from(v);
  return Buffer.from(f.buffer, f.byteOffset, f.byteLength);
}

/** A stored blob as a Float32Array (a view when the Buffer is 4-aligned, else a copy). */
export function decodeVector(b: Uint8Array): Float32Array {
  if (b.byteOffset % 4 === 0) return new Float32Array(b.buffer, b.byteOffset, b.byteLength >>> 2);
  return new Float32Array(b.slice().buffer, 0, b.byteLength >>> 2);
}

interface BlobStatements {
  readonly upsert: Statement<
    [collection: string, id: string, field: string, seq: number, vec: Buffer],
    never
  >;
  readonly remove: Statement<[collection: string, id: string, field: string], never>;
  readonly getMeta: Statement<[key: string], string>;
  readonly setMeta: Statement<[key: string, value: string], never>;
}

const META_KEY = 'vector_blobs';

/** Keeps `object_vectors` in step with the objects written by the core's flush (see the file comment). */
export class VectorBlobs {
  private readonly st: BlobStatements;
  /** Vector field names per collection; collections without any are absent (writes skip them at once). */
  private readonly fields = new Map<string, readonly string[]>();

  constructor(
    private readonly db: Db,
    schema: Schema,
  ) {
    for (const def of Object.values(schema.collections)) {
      const names = def.fieldNames.filter((f) => def.fields[f].type === 'vector');
      if (names.length) this.fields.set(def.name, names);
    }
    this.st = {
      upsert: db.prepare(
        `INSERT INTO object_vectors (collection, id, field, seq, vec) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (collection, id, field) DO UPDATE SET seq = excluded.seq, vec = excluded.vec`,
      ),
      remove: db.prepare('DELETE FROM object_vectors WHERE collection = ? AND id = ? AND field = ?'),
      getMeta: db.prepare<[key: string], string>('SELECT value FROM meta WHERE key = ?').pluck(),
      setMeta: db.prepare(
        'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value',
      ),
    };
    this.fillMissing();
  }

  /**
   * Writes the blobs of an object the open transaction changed: one per vector field holding an array
   * while the object is alive; none otherwise. Called by the core's flush after the object's row.
   */
  write(def: CollectionDef, s: ObjectState): void {
    const names = this.fields.get(def.name);
    if (!names) return;
    for (const f of names) {
      const v = s.alive ? s.doc[f] : undefined;
      if (Array.isArray(v)) this.st.upsert.run(s.collection, s.id, f, s.seq, encodeVector(v as number[]));
      else if (s.stored) this.st.remove.run(s.collection, s.id, f);
    }
  }

  /**
   * Fills the blobs of every vector field not yet listed in `meta.vector_blobs` from the documents (a
   * replica of format 1, or a field a schema change made a vector), in one transaction, and lists it.
   */
  private fillMissing(): void {
    const done = new Set<string>(JSON.parse(this.st.getMeta.get(META_KEY) ?? '[]') as string[]);
    const todo: [collection: string, field: string][] = [];
    for (const [collection, names] of this.fields) {
      for (const f of names) if (!done.has(`${collection}.${f}`)) todo.push([collection, f]);
    }
    if (todo.length === 0) return;
    // Paged by seq (the rowid): a large collection is never held in memory at once.
    const page = this.db.prepare<
      [path: string, after: number, collection: string, path2: string],
      { id: string; seq: number; v: string }
    >(
      `SELECT id, seq, json_extract(doc, ?) AS v FROM objects
       WHERE seq > ? AND collection = ? AND alive = 1 AND json_type(doc, ?) = 'array'
       ORDER BY seq LIMIT 2048`,
    );
    this.db.transaction(() => {
      for (const [collection, field] of todo) {
        for (let after = 0; ; ) {
          // A page collected first: better-sqlite3 refuses writes while a statement iterates.
          const rows = page.all(`$.${field}`, after, collection, `$.${field}`);
          for (const r of rows) {
            this.st.upsert.run(collection, r.id, field, r.seq, encodeVector(JSON.parse(r.v) as number[]));
          }
          if (rows.length < 2048) break;
          after = rows[rows.length - 1].seq;
        }
        done.add(`${collection}.${field}`);
      }
      this.st.setMeta.run(META_KEY, JSON.stringify([...done].sort()));
    })();
  }
}
