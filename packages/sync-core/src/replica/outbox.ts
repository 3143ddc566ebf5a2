/**
 * A terminal's outbox: which objects have local writes the hub has not acknowledged, and which the hub
 * refused (the quarantine). An entry names the object (and the increment), not its values: a push reads
 * this node's current registers of the object through the change feed, so a newer write to a register
 * supersedes an older one and only the latest value travels.
 */
import type { Statement } from '../sqlite.js';
import type { Change } from '../types.js';
import type { ChangeSelection } from './change-feed.js';
import type { ObjectKey, ReplicaCore } from './core.js';

/** Local writes to one object waiting for the hub, as one change (see `Outbox.pendingChanges`). */
export interface PendingChange {
  /** The highest outbox entry this change covers. */
  readonly seq: number;
  readonly change: Change;
  /** Every outbox entry it covers: acknowledge exactly these with `Outbox.ackRows`. */
  readonly rows: readonly number[];
}

/** An object whose pending writes the hub refused, with why (see `Outbox.quarantine`). */
export interface QuarantinedObject {
  collection: string;
  id: string;
  /** The refusal's error code (`SYNC_ERR_...`). */
  code: string;
  message: string;
  /** When it was set aside (ms since the epoch). */
  at: number;
}

interface OutboxRow {
  seq: number;
  collection: string;
  id: string;
  op: string | null;
}

/** The statements of this module, by name. */
interface OutboxStatements {
  readonly add: Statement<[collection: string, id: string, op: string | null], never>;
  /** {@link ADD_CHUNK} entries at once: collection, id, op, entry after entry. */
  readonly addMany: Statement<(string | null)[], never>;
  readonly read: Statement<[afterSeq: number, limit: number], OutboxRow>;
  readonly delete: Statement<[seq: number], never>;
  readonly deleteUpTo: Statement<[seq: number], never>;
  readonly deleteObjectUpTo: Statement<[seq: number, collection: string, id: string], never>;
  readonly deleteObject: Statement<[collection: string, id: string], never>;
  // No index on (collection, id): evictions are rare and the outbox is usually short.
  readonly has: Statement<[collection: string, id: string], 1>;
  readonly count: Statement<[], number>;
  readonly objects: Statement<[], ObjectKey>;
  readonly renameOp: Statement<[newOp: string, collection: string, id: string, op: string], never>;
  readonly quarantine: Statement<
    [collection: string, id: string, code: string, message: string, at: number],
    never
  >;
  readonly quarantined: Statement<[], QuarantinedObject>;
}

/** Entries written by one multi-row insert: a batch of local writes runs 1/64 of the statements. */
const ADD_CHUNK = 64;

/** Reads this node's registers of one object (the change feed's `changeFor`). */
export type ChangeReader = (collection: string, id: string, sel: ChangeSelection) => Change | undefined;

/** The outbox and quarantine of one replica (see the file comment). */
export class OutboxQueue {
  private readonly st: OutboxStatements;
  /**
   * Entries queued by the open transaction, not yet inserted (collection, id, op, entry after entry):
   * written at its commit, in order, before the objects (core `onCommit`), and before any read here.
   */
  private readonly queued: (string | null)[] = [];

  constructor(
    private readonly core: ReplicaCore,
    private readonly changeFor: ChangeReader,
  ) {
    const db = core.db;
    this.st = {
      add: db.prepare('INSERT INTO outbox (collection, id, op) VALUES (?, ?, ?)'),
      addMany: db.prepare(
        `INSERT INTO outbox (collection, id, op) VALUES ${Array(ADD_CHUNK).fill('(?, ?, ?)').join(', ')}`,
      ),
      read: db.prepare('SELECT seq, collection, id, op FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?'),
      delete: db.prepare('DELETE FROM outbox WHERE seq = ?'),
      deleteUpTo: db.prepare('DELETE FROM outbox WHERE seq <= ?'),
      deleteObjectUpTo: db.prepare('DELETE FROM outbox WHERE seq <= ? AND collection = ? AND id = ?'),
      deleteObject: db.prepare('DELETE FROM outbox WHERE collection = ? AND id = ?'),
      has: db
        .prepare<[string, string], 1>('SELECT 1 FROM outbox WHERE collection = ? AND id = ? LIMIT 1')
        .pluck(),
      count: db.prepare<[], number>('SELECT count(*) FROM outbox').pluck(),
      objects: db.prepare('SELECT DISTINCT collection, id FROM outbox'),
      renameOp: db.prepare('UPDATE outbox SET op = ? WHERE collection = ? AND id = ? AND op = ?'),
      quarantine: db.prepare(
        `INSERT INTO quarantine (collection, id, code, message, at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(collection, id) DO UPDATE SET code = excluded.code, message = excluded.message, at = excluded.at`,
      ),
      quarantined: db.prepare('SELECT collection, id, code, message, at FROM quarantine ORDER BY at'),
    };
    core.onCommit({ flush: () => this.drain(), discard: () => this.queued.splice(0) });
  }

  /**
   * Queues a local write (inside its transaction): the object, and its first increment's id if any. The
   * entry is inserted by the same transaction, at its commit or at the next read of the outbox.
   */
  enqueue(change: Change): void {
    this.queued.push(change.collection, change.id, change.incs?.[0]?.op ?? null);
  }

  /** Inserts the queued entries, in the order they were queued. */
  private drain(): void {
    const q = this.queued;
    if (q.length === 0) return;
    let i = 0;
    for (; i + 3 * ADD_CHUNK <= q.length; i += 3 * ADD_CHUNK)
      this.st.addMany.run(...q.slice(i, i + 3 * ADD_CHUNK));
    for (; i < q.length; i += 3) this.st.add.run(q[i] as string, q[i + 1] as string, q[i + 2]);
    q.length = 0;
  }

  /** See `Outbox.pendingChanges`. */
  pendingChanges(limit: number, afterSeq = 0): PendingChange[] {
    this.drain();
    const groups = new Map<
      string,
      { collection: string; id: string; seq: number; ops: Set<string>; rows: number[] }
    >();
    for (const r of this.st.read.all(afterSeq, limit)) {
      const k = `${r.collection}\u0000${r.id}`;
      let g = groups.get(k);
      if (!g) {
        g = { collection: r.collection, id: r.id, seq: r.seq, ops: new Set(), rows: [] };
        groups.set(k, g);
      }
      g.seq = r.seq;
      g.rows.push(r.seq);
      if (r.op) g.ops.add(r.op);
    }
    const out: PendingChange[] = [];
    const known = [...groups.values()]
      .filter((g) => Object.hasOwn(this.core.schema.collections, g.collection))
      .sort((a, b) => a.seq - b.seq);
    // The objects' rows are read a few hundred per query, not one query each.
    this.core.withRows(known, () => {
      for (const g of known) {
        const change = this.changeFor(g.collection, g.id, { onlyNode: this.core.nodeId, opIds: g.ops });
        if (change) out.push({ seq: g.seq, change, rows: g.rows });
        // Nothing of ours left (evicted, or every write lost to a higher precedence): nothing to push.
        else this.st.deleteObjectUpTo.run(g.seq, g.collection, g.id);
      }
    });
    return out;
  }

  /** See `Outbox.ackRows`. */
  ackRows(rows: readonly number[]): void {
    this.drain();
    this.core.transaction(() => {
      for (const r of rows) this.st.delete.run(r);
    });
  }

  /**
   * Drops outbox entries up to and including `seq`: the hub has them durably. With `objects`, only the
   * entries of those objects (a push carries whole objects, and a split batch may leave entries of other
   * objects below `seq` that still have to travel).
   */
  ackPending(seq: number, objects?: readonly ObjectKey[]): void {
    this.drain();
    if (!objects) {
      this.st.deleteUpTo.run(seq);
      return;
    }
    this.core.transaction(() => {
      for (const o of objects) this.st.deleteObjectUpTo.run(seq, o.collection, o.id);
    });
  }

  /** See `Outbox.pendingCount`. */
  pendingCount(): number {
    this.drain();
    return this.st.count.get() ?? 0;
  }

  /** See `Outbox.hasPending`. */
  hasPending(collection: string, id: string): boolean {
    this.drain();
    return this.st.has.get(collection, id) !== undefined;
  }

  /** See `Outbox.quarantine`. */
  quarantine(collection: string, id: string, code: string, message: string): number {
    this.drain();
    return this.core.transaction(() => {
      const n = this.st.deleteObject.run(collection, id).changes;
      this.st.quarantine.run(collection, id, code, message, Date.now());
      return n;
    });
  }

  /** See `Outbox.quarantined`. */
  quarantined(): QuarantinedObject[] {
    return this.st.quarantined.all();
  }

  /** Every object with an entry in the outbox (each once). */
  pendingObjects(): ObjectKey[] {
    this.drain();
    return this.st.objects.all();
  }

  /** Gives an increment's entries its new id (a restamp renamed the increment). */
  renameIncrement(collection: string, id: string, from: string, to: string): void {
    this.drain();
    this.st.renameOp.run(to, collection, id, from);
  }
}
