/**
 * Reading objects out of a replica: one object, a count, a query page, a digest to compare replicas, the
 * conflict log and a feed of one vector field for a nearest-neighbour index. Reads see committed rows only
 * (not the open transaction's in-memory view), so a reader never observes half a batch.
 */
import { createHash } from 'node:crypto';
import { SyncError } from '../errors.js';
import type { Statement } from '../sqlite.js';
import type { StoredObject } from '../types.js';
import { createVectorFeed, type VectorFeed } from '../vector-feed.js';
import type { ReplicaCore } from './core.js';
import type { ConflictEntry } from './merge-tables.js';
import { type QueryOptions, type QueryResult, runQuery } from './query.js';
import { type Row, rowToState, toStoredObject } from './rows.js';

/** A row as the digest reads it: registers and values, not the local sequence. */
type DigestRow = Pick<Row, 'id' | 'alive' | 'doc' | 'vers' | 'bases' | 'ever'>;

/** The statements of this module, by name. */
interface ReadStatements {
  readonly count: Statement<[collection: string], number>;
  readonly digest: Statement<[collection: string], DigestRow>;
}

/** The reads of one replica (see the file comment); the role members are documented on `ObjectReader`. */
export class ObjectReads {
  private readonly st: ReadStatements;

  /** `horizon`: the tombstone horizon, which a vector feed checks before serving changes. */
  constructor(
    private readonly core: ReplicaCore,
    private readonly horizon: () => number,
  ) {
    const db = core.db;
    this.st = {
      count: db
        .prepare<[string], number>('SELECT count(*) FROM objects WHERE collection = ? AND alive = 1')
        .pluck(),
      digest: db.prepare(
        'SELECT id, alive, doc, vers, bases, ever FROM objects WHERE collection = ? ORDER BY id',
      ),
    };
  }

  get(collection: string, id: string, opts: { includeDeleted?: boolean } = {}): StoredObject | undefined {
    this.core.assertOpen();
    const def = this.core.collection(collection);
    const row = this.core.row(collection, id);
    if (!row || (!row.alive && !opts.includeDeleted)) return undefined;
    return toStoredObject(def, rowToState(def, row));
  }

  count(collection: string): number {
    this.core.assertOpen();
    this.core.collection(collection);
    return this.st.count.get(collection) ?? 0;
  }

  query(collection: string, q: QueryOptions = {}): QueryResult {
    this.core.assertOpen();
    return runQuery(this.core.db, this.core.collection(collection), q);
  }

  /** See `ReplicaStore.digest`. */
  digest(collections?: readonly string[]): string {
    const h = createHash('sha256');
    const names = collections ?? Object.keys(this.core.schema.collections);
    for (const c of [...names].sort()) {
      this.core.collection(c);
      h.update(`\u0001${c}`);
      for (const r of this.st.digest.iterate(c)) {
        h.update(`\u0002${r.id}\u0000${r.alive}\u0000${r.doc}\u0000${r.vers}\u0000${r.bases}\u0000${r.ever}`);
      }
    }
    return h.digest('hex');
  }

  /** See `ReplicaStore.conflicts`. */
  conflicts(limit: number): ConflictEntry[] {
    return this.core.merge.recentConflicts(limit);
  }

  vectorSource(collection: string, field: string): VectorFeed {
    this.core.assertOpen();
    const def = this.core.collection(collection);
    if (!Object.hasOwn(def.fields, field) || def.fields[field].type !== 'vector') {
      throw new SyncError('SYNC_ERR_INVALID_QUERY', `${collection}.${field} is not a vector field`, {
        collection,
        field,
      });
    }
    return createVectorFeed({
      db: this.core.db,
      collection,
      field,
      def,
      // Inside a transaction the in-memory seq runs ahead of what is written: use the committed one.
      currentSeq: () => this.core.committedSeq(),
      horizon: this.horizon,
      getObject: (id) => this.get(collection, id),
    });
  }
}
