import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { VectorIndex, type VectorIndexOptions } from '@backroom/vector-store';
import {
  openSqliteDatabase,
  ReplicaWriter,
  type SqliteDatabase,
  SqliteVectorSource,
  seededRandom,
  transactionDoc,
} from '@backroom/vector-store/testing';

export const COLLECTION = 'transactions';
export const FIELD = 'embedding';

/** Blob tables in a fresh temp folder: database, writer, source; all closed after the test. */
export interface Fixture {
  dir: string;
  db: SqliteDatabase;
  writer: ReplicaWriter;
  source: SqliteVectorSource;
  /** Opens an index of the fixture (closed after the test). */
  open(o: Partial<VectorIndexOptions> & { dim: number }): Promise<VectorIndex>;
}

export function fixture(t: TestContext): Fixture {
  const dir = mkdtempSync(join(tmpdir(), 'vector-store-'));
  const db = openSqliteDatabase(join(dir, 'replica.db'));
  const writer = new ReplicaWriter(db);
  const source = new SqliteVectorSource({ database: db, collection: COLLECTION, field: FIELD });
  const opened: VectorIndex[] = [];
  t.after(async () => {
    for (const i of opened) await i.close();
    source.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    dir,
    db,
    writer,
    source,
    async open(o) {
      const index = await VectorIndex.open({
        collection: COLLECTION,
        field: FIELD,
        metric: 'cosine',
        source,
        dir: join(dir, 'vectors'),
        ...o,
      });
      opened.push(index);
      return index;
    },
  };
}

/** Writes vectors[0..count) as transactions t0..t{count-1} in one transaction; returns their docs. */
export function fill(
  writer: ReplicaWriter,
  vectors: Float32Array,
  dim: number,
  count: number,
  seed = 7,
): Record<string, unknown>[] {
  const rand = seededRandom(seed);
  const docs: Record<string, unknown>[] = [];
  writer.batch(() => {
    for (let i = 0; i < count; i++) {
      const doc = transactionDoc(i, rand);
      docs.push(doc);
      writer.put(COLLECTION, `t${i}`, doc, { [FIELD]: vectors.subarray(i * dim, (i + 1) * dim) });
    }
  });
  return docs;
}

/** Row `i` of a packed vector array. */
export const row = (vectors: Float32Array, dim: number, i: number) =>
  vectors.subarray(i * dim, (i + 1) * dim);

/** Brute-force cosine top-k over rows passing `keep`: independent ground truth. */
export function bruteForceCosine(
  vectors: Float32Array,
  dim: number,
  rows: number[],
  query: ArrayLike<number>,
  k: number,
): { id: string; distance: number }[] {
  let qn = 0;
  for (let j = 0; j < dim; j++) qn += query[j] * query[j];
  qn = Math.sqrt(qn);
  const scored = rows.map((i) => {
    let dot = 0;
    let n = 0;
    for (let j = 0; j < dim; j++) {
      const x = vectors[i * dim + j];
      dot += x * query[j];
      n += x * x;
    }
    return { id: `t${i}`, distance: 1 - dot / (Math.sqrt(n) * qn) };
  });
  scored.sort((a, b) => a.distance - b.distance);
  return scored.slice(0, k);
}
