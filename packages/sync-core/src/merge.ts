/**
 * Per-register merge: the rules that make every replica converge (docs/sync-model.md).
 *
 * An object is a set of registers, each merged on its own by the total order (precedence, stamp, node):
 * - one register per field; the newest write wins (in `object` merge every write carries every field, so
 *   the newest write wins as a whole);
 * - the existence register; a delete also writes `null` into every field at its own version, so a patch
 *   older than the delete can never bring an old value back, whatever order the two arrive in;
 * - per counter: a base register (stocktake) and the set of increments, each identified by its `op` id.
 *   The value is the base plus every increment ordered after the base. Increments are deduplicated by id,
 *   so a redelivered batch never counts twice; integer-only deltas make the sum independent of order.
 *
 * Every rule is commutative, associative and idempotent, so the final state does not depend on the order
 * or number of deliveries.
 */
import type { CollectionDef } from './schema.js';
import type { Change, CounterIncrement, Version } from './types.js';
import { compareStored, type StoredVersion, storeVersion } from './version.js';

/** A counter base as stored: `[value, p, stampHex, node]`. */
export type StoredBase = [number, number, string, string];

/** The in-memory form of one object's registers while a transaction works on it. */
export interface ObjectState {
  readonly collection: string;
  readonly id: string;
  seq: number;
  /** The object has a row in the store (it was loaded, not created in this transaction). */
  stored: boolean;
  alive: boolean;
  /** Field values; counters hold their current total. */
  doc: Record<string, unknown>;
  /** Version of each field register. */
  vers: Record<string, StoredVersion>;
  bases: Record<string, StoredBase>;
  /** Version of the existence register (null: never created here). */
  ever: StoredVersion | null;
}

/** Storage of counter increments, deduplicated by op id. */
export interface CounterOps {
  /** Records an increment; false when it was already recorded (a redelivery). */
  insert(collection: string, id: string, inc: CounterIncrement, ver: StoredVersion, seq: number): boolean;
  list(
    collection: string,
    id: string,
  ): { field: string; op: string; delta: number; ver: StoredVersion; seq: number }[];
  /** Forgets an increment that can never count again (it is older than the counter's base). */
  prune(collection: string, id: string, field: string, op: string): void;
  /** Records a write that lost (the conflict log). */
  conflict(
    collection: string,
    id: string,
    field: string,
    loser: unknown,
    loserVer: StoredVersion,
    winnerVer: StoredVersion,
  ): void;
}

export function emptyState(collection: string, id: string): ObjectState {
  return { collection, id, seq: 0, stored: false, alive: false, doc: {}, vers: {}, bases: {}, ever: null };
}

/**
 * Merges `change` into `state`. Returns true when anything changed; `nextSeq` is called once, on the
 * first real change, and its value becomes the object's sequence.
 */
export function applyChange(
  def: CollectionDef,
  state: ObjectState,
  change: Change,
  ops: CounterOps,
  nextSeq: () => number,
): boolean {
  let touched = false;
  let changed = false;
  // The writes of one change usually share one version: convert it once.
  let lastVer: Version | undefined;
  let lastSv: StoredVersion = [0, '', ''];
  const sv0 = (v: Version): StoredVersion => {
    if (v !== lastVer) {
      lastVer = v;
      lastSv = storeVersion(v);
    }
    return lastSv;
  };
  const touch = () => {
    if (!touched) {
      touched = true;
      state.seq = nextSeq();
    }
  };
  const writeField = (f: string, v: unknown, sv: StoredVersion, logLoss: boolean) => {
    const cur = state.vers[f];
    const c = cur ? compareStored(sv, cur) : 1;
    if (c > 0) {
      touch();
      changed = true;
      state.doc[f] = v;
      state.vers[f] = sv;
    } else if (c < 0 && logLoss && JSON.stringify(v) !== JSON.stringify(state.doc[f] ?? null)) {
      ops.conflict(state.collection, state.id, f, v, sv, cur);
    }
  };

  if (change.exists) {
    const sv = sv0(change.exists.ver);
    if (!state.ever || compareStored(sv, state.ever) > 0) {
      touch();
      changed = true;
      state.ever = sv;
      state.alive = change.exists.v;
    }
    if (!change.exists.v) {
      // A tombstone clears every field register it is newer than, whether or not it wins existence.
      for (const f of def.fieldNames) if (def.fields[f].type !== 'counter') writeField(f, null, sv, false);
    }
  }
  if (change.fields) {
    for (const f in change.fields) {
      const w = change.fields[f];
      writeField(f, w.v, sv0(w.ver), true);
    }
  }
  if (change.bases) {
    for (const f in change.bases) {
      const w = change.bases[f];
      const sv = sv0(w.ver);
      const cur = state.bases[f];
      if (cur && compareStored(sv, [cur[1], cur[2], cur[3]]) <= 0) continue;
      touch();
      changed = true;
      state.bases[f] = [w.v as number, sv[0], sv[1], sv[2]];
      let total = w.v as number;
      for (const o of ops.list(state.collection, state.id)) {
        if (o.field !== f) continue;
        if (compareStored(o.ver, sv) > 0) total += o.delta;
        else ops.prune(state.collection, state.id, f, o.op);
      }
      state.doc[f] = total;
    }
  }
  if (change.incs) {
    for (const inc of change.incs) {
      const sv = sv0(inc.ver);
      const base = state.bases[inc.field];
      // Increments stamped before the stocktake were counted by it: they never count again.
      if (base && compareStored(sv, [base[1], base[2], base[3]]) <= 0) continue;
      touch();
      if (!ops.insert(state.collection, state.id, inc, sv, state.seq)) continue;
      changed = true;
      state.doc[inc.field] = ((state.doc[inc.field] as number | undefined) ?? 0) + inc.delta;
    }
  }
  return changed;
}
