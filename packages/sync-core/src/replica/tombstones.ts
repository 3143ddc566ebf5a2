/**
 * Removing objects for good: collecting tombstones every peer has acknowledged (the hub), and dropping
 * objects a terminal holds only because its filter gave them (eviction, full resync). A delete is a
 * tombstone so that it wins or loses like any write; once every replica has it, the row can go, and the
 * horizon kept here tells which peers fell behind it and must resync.
 */
import type { Statement } from '../sqlite.js';
import type { ObjectKey, ReplicaCore } from './core.js';

/** The statements of this module, by name. */
interface TombstoneStatements {
  readonly deadUpTo: Statement<[upToSeq: number], ObjectKey>;
  readonly deleteDeadUpTo: Statement<[upToSeq: number], never>;
  readonly deleteObject: Statement<[collection: string, id: string], never>;
}

/** The meta key of the tombstone horizon. */
const HORIZON = 'gc_seq';

/** Tombstone collection and eviction of one replica (see the file comment). */
export class TombstoneCollector {
  private readonly st: TombstoneStatements;

  constructor(private readonly core: ReplicaCore) {
    const db = core.db;
    this.st = {
      deadUpTo: db.prepare('SELECT collection, id FROM objects WHERE alive = 0 AND seq <= ?'),
      deleteDeadUpTo: db.prepare('DELETE FROM objects WHERE alive = 0 AND seq <= ?'),
      deleteObject: db.prepare('DELETE FROM objects WHERE collection = ? AND id = ?'),
    };
  }

  /** See `Tombstones.collectTombstones`. */
  collectTombstones(upToSeq: number): number {
    return this.core.transaction(() => {
      for (const d of this.st.deadUpTo.all(upToSeq)) this.core.merge.deleteObject(d.collection, d.id);
      const n = this.st.deleteDeadUpTo.run(upToSeq).changes;
      if (n > 0) this.core.setMeta(HORIZON, String(Math.max(upToSeq, this.tombstoneHorizon())));
      return n;
    });
  }

  /** See `Tombstones.tombstoneHorizon`. */
  tombstoneHorizon(): number {
    return Number(this.core.meta(HORIZON) ?? '0');
  }

  /** See `Tombstones.evict`. */
  evict(objects: readonly ObjectKey[]): number {
    let n = 0;
    this.core.transaction(() => {
      for (const o of objects) {
        this.core.forget(o.collection, o.id);
        n += this.st.deleteObject.run(o.collection, o.id).changes;
        this.core.merge.deleteObject(o.collection, o.id);
      }
    });
    return n;
  }

  /** See `Tombstones.clearObjects`. */
  clearObjects(): void {
    this.core.transaction(() => {
      this.core.db.exec('DELETE FROM objects');
      this.core.merge.deleteAll();
      this.core.forgetAll();
    });
  }
}
