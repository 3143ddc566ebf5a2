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
import { counterOverflow, MAX_COUNTER } from './replica-validate.js';
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
 * The exact value (bigint) of each counter `change` touches, as it will be once applied, for the counters
 * that might leave the safe integer range; the cheap bound `|value| + Σ|delta|` settles the usual case
 * without reading the increments (undefined: every counter stays in range).
 * @throws SyncError `SYNC_ERR_COUNTER_OVERFLOW` when a counter would end beyond ±(2^53 − 1).
 */
function projectCounters(
  state: ObjectState,
  change: Change,
  ops: CounterOps,
): Map<string, bigint> | undefined {
  const incs = change.incs ?? [];
  const bases = change.bases ?? {};
  // A new stocktake is always checked exactly (rare); increments only when the bound says they might pass.
  const fields = new Set<string>(Object.keys(bases));
  if (incs.length) {
    const bound = new Map<string, number>();
    for (const inc of incs) {
      const cur = bound.get(inc.field) ?? Math.abs(Number(state.doc[inc.field] ?? 0));
      bound.set(inc.field, cur + Math.abs(inc.delta));
    }
    for (const [f, b] of bound) if (!(b <= MAX_COUNTER)) fields.add(f);
  }
  if (fields.size === 0) return undefined;
  const existing = ops.list(state.collection, state.id);
  const out = new Map<string, bigint>();
  for (const f of fields) {
    const cur = state.bases[f];
    const curVer: StoredVersion | null = cur ? [cur[1], cur[2], cur[3]] : null;
    const next = Object.hasOwn(bases, f) ? bases[f] : undefined;
    const nextVer = next && storeVersion(next.ver);
    const baseWins = nextVer !== undefined && (!curVer || compareStored(nextVer, curVer) > 0);
    const baseVer = baseWins ? nextVer : curVer;
    const counted = new Set<string>();
    let total: bigint;
    if (baseWins) {
      total = BigInt(next!.v as number);
      for (const o of existing) {
        if (o.field !== f) continue;
        counted.add(o.op);
        if (compareStored(o.ver, nextVer) > 0) total += BigInt(o.delta);
      }
    } else {
      const v = state.doc[f] ?? 0;
      // A value that is not an integer was not written by a counter: nothing to check here.
      if (!Number.isInteger(v)) continue;
      total = BigInt(v as number);
      for (const o of existing) if (o.field === f) counted.add(o.op);
    }
    for (const inc of incs) {
      if (inc.field !== f || counted.has(inc.op)) continue;
      counted.add(inc.op);
      if (baseVer && compareStored(storeVersion(inc.ver), baseVer) <= 0) continue;
      total += BigInt(inc.delta);
    }
    const max = BigInt(MAX_COUNTER);
    if (total > max || total < -max) {
      throw counterOverflow(state.collection, state.id, f, `${f} would reach ${total}`, {
        value: total.toString(),
      });
    }
    out.set(f, total);
  }
  return out;
}

/**
 * Merges `change` into `state`. Returns true when anything changed; `nextSeq` is called once, on the
 * first real change, and its value becomes the object's sequence.
 * @throws SyncError `SYNC_ERR_COUNTER_OVERFLOW` when a counter would leave ±(2^53 − 1): checked before
 *   anything is changed, so `state` and `ops` are left as they were.
 */
export function applyChange(
  def: CollectionDef,
  state: ObjectState,
  change: Change,
  ops: CounterOps,
  nextSeq: () => number,
): boolean {
  const exact = change.incs || change.bases ? projectCounters(state, change, ops) : undefined;
  let touched = false;
  let changed = false;
  // The writes of one change usually share one version (one object after a put, equal copies after a
  // decode): convert it once, and let the registers share the stored form (rows.ts writes it once).
  let lastVer: Version | undefined;
  let lastSv: StoredVersion = [0, '', ''];
  const sv0 = (v: Version): StoredVersion => {
    if (
      v !== lastVer &&
      (lastVer === undefined || v.s !== lastVer.s || v.n !== lastVer.n || v.p !== lastVer.p)
    )
      lastSv = storeVersion(v);
    lastVer = v;
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
  // Near the limit a running sum can pass 2^53 on the way and round; the exact totals replace it.
  if (exact) for (const [f, v] of exact) if (f in state.doc) state.doc[f] = Number(v);
  return changed;
}
