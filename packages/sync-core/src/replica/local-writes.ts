/**
 * Local writes: put, patch, delete, increment and stocktake, each validated whole, stamped by this node's
 * clock, merged by the same rules as a remote change (merge.ts) and, on a terminal, queued in the outbox,
 * all in one transaction. Stamps go through the wall-run record (restamp.ts) so that writes made before
 * the terminal met the hub can later be placed at hub time.
 */
import { stampToString } from '../clock.js';
import { applyChange, type ObjectState } from '../merge.js';
import { type CollectionDef, precedenceOf } from '../schema.js';
import type { Change, CounterIncrement, FieldWrite, StoredObject, Version } from '../types.js';
import type { ReplicaCore } from './core.js';
import type { OutboxQueue } from './outbox.js';
import { toStoredObject } from './rows.js';
import { checkCounters, checkFields, checkId } from './validate.js';

/** The local writes of one replica (see the file comment); each method is documented on `LocalWriter`. */
export class LocalWrites {
  constructor(
    private readonly core: ReplicaCore,
    private readonly outbox: Pick<OutboxQueue, 'enqueue'>,
  ) {}

  put(
    collection: string,
    id: string,
    fields: Readonly<Record<string, unknown>>,
    opts: { role?: string } = {},
  ): StoredObject {
    const def = this.core.collection(collection);
    checkId(id);
    const values = checkFields(def, fields, true);
    return this.core.transaction(() => this.set(def, id, values, opts.role ?? this.core.role, true));
  }

  patch(
    collection: string,
    id: string,
    fields: Readonly<Record<string, unknown>>,
    opts: { role?: string } = {},
  ): StoredObject {
    const def = this.core.collection(collection);
    checkId(id);
    const values = checkFields(def, fields);
    return this.core.transaction(() => {
      if (def.merge === 'object') {
        // Whole-object merge: every write carries every field, so the newest write wins as a whole.
        const cur = this.core.load(def, id);
        for (const f of def.fieldNames) {
          if (def.fields[f].type !== 'counter' && !(f in values))
            values[f] = cur.alive ? (cur.doc[f] ?? null) : null;
        }
      }
      return this.set(def, id, values, opts.role ?? this.core.role, false);
    });
  }

  delete(collection: string, id: string, opts: { role?: string } = {}): boolean {
    const def = this.core.collection(collection);
    checkId(id);
    return this.core.transaction(() => {
      const state = this.core.load(def, id);
      if (!state.alive) return false;
      const ver = this.version(def, state.doc, opts.role ?? this.core.role);
      this.apply(def, state, { collection, id, exists: { v: false, ver } });
      return true;
    });
  }

  increment(
    collection: string,
    id: string,
    deltas: Readonly<Record<string, number>>,
    opts: { role?: string } = {},
  ): StoredObject {
    const def = this.core.collection(collection);
    checkId(id);
    const entries = checkCounters(def, id, deltas, 'delta');
    return this.core.transaction(() => {
      const state = this.core.load(def, id);
      const ver = this.version(def, state.doc, opts.role ?? this.core.role);
      // An increment's id is `node/stamp`: unique, and the same on every replica that receives it.
      const op = `${ver.n}/${stampToString(ver.s)}`;
      const incs: CounterIncrement[] = entries.map(([field, delta]) => ({ field, delta, ver, op }));
      return this.apply(def, state, {
        collection,
        id,
        incs,
        exists: state.ever === null ? { v: true, ver } : undefined,
      });
    });
  }

  setCounter(
    collection: string,
    id: string,
    values: Readonly<Record<string, number>>,
    opts: { role?: string } = {},
  ): StoredObject {
    const def = this.core.collection(collection);
    checkId(id);
    const entries = checkCounters(def, id, values, 'value');
    return this.core.transaction(() => {
      const state = this.core.load(def, id);
      const ver = this.version(def, state.doc, opts.role ?? this.core.role);
      const bases: Record<string, FieldWrite> = {};
      for (const [f, v] of entries) bases[f] = { v, ver };
      return this.apply(def, state, {
        collection,
        id,
        bases,
        exists: state.ever === null ? { v: true, ver } : undefined,
      });
    });
  }

  /** The version of a local write: its precedence (from the object as written), a fresh stamp, this node. */
  private version(
    def: CollectionDef,
    doc: Readonly<Record<string, unknown>>,
    role: string | undefined,
  ): Version {
    const s = this.core.wallRuns ? this.core.wallRuns.stamp() : this.core.clock.now();
    return { p: precedenceOf(def, doc, role), s, n: this.core.nodeId };
  }

  /**
   * A put (`create`: also says the object exists) or a patch. A patch of a live object writes its fields
   * only: it does not vote on existence, so it cannot undo a concurrent delete, nor bring back an object
   * whose deletion this replica has not heard of yet.
   */
  private set(
    def: CollectionDef,
    id: string,
    values: Record<string, unknown>,
    role: string | undefined,
    create: boolean,
  ): StoredObject {
    const state = this.core.load(def, id);
    // Field precedence reads the object as it will be after the write; other rules need no copy.
    const after =
      state.alive && def.precedence && 'field' in def.precedence ? { ...state.doc, ...values } : values;
    const ver = this.version(def, after, role);
    const fields: Record<string, FieldWrite> = {};
    for (const f in values) fields[f] = { v: values[f], ver };
    const change: Change =
      create || !state.alive
        ? { collection: def.name, id, fields, exists: { v: true, ver } }
        : { collection: def.name, id, fields };
    return this.apply(def, state, change);
  }

  /** Merges a local write into the object and queues it for the hub. */
  private apply(def: CollectionDef, state: ObjectState, change: Change): StoredObject {
    if (applyChange(def, state, change, this.core.merge, () => this.core.nextSeq()))
      this.core.markDirty(state, false, change);
    // The outbox names the object (and the increment): the push reads this node's registers at push time.
    if (this.core.useOutbox) this.outbox.enqueue(change);
    return toStoredObject(def, state);
  }
}
