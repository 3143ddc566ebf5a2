/**
 * The shared vocabulary of Backroom's sync: versions, register updates, changes and stored objects.
 *
 * A replica's state is a set of registers. Every field of every object is a last-writer-wins register
 * ordered by its {@link Version}; the object's existence is one more register; a counter field is a base
 * register (the last stocktake) plus the increments stamped after it. Because every piece merges by a
 * commutative, idempotent rule, the same unit — a {@link Change} — serves local writes, pushes from a
 * terminal, pulls from the hub and full resyncs.
 */

/** A packed Sync Clock stamp: 48-bit milliseconds << 16 | 16-bit counter. Always a bigint, never a number. */
export type Stamp = bigint;

/**
 * The total order of writes: precedence first, then the stamp, then the node id.
 * `p` is an unsigned integer from the collection's precedence rule (0 when it has none).
 */
export interface Version {
  readonly p: number;
  readonly s: Stamp;
  readonly n: string;
}

/** A field register update: the value and the version of the write that set it. */
export interface FieldWrite {
  readonly v: unknown;
  readonly ver: Version;
}

/** One counter increment. `op` identifies it uniquely (origin node + original stamp) for deduplication. */
export interface CounterIncrement {
  readonly field: string;
  readonly delta: number;
  /** Version of the increment; it counts only if it orders after the counter's base (stocktake). */
  readonly ver: Version;
  /** Stable identity `node/originalStampHex`: the same increment delivered twice counts once. */
  readonly op: string;
}

/**
 * A partial object state: any subset of registers of one object. Applying a change merges each register
 * by the total order, so changes can be applied in any order, any number of times.
 */
export interface Change {
  readonly collection: string;
  readonly id: string;
  /** Field register writes (not counters). A delete writes `null` to every field at the delete's version. */
  readonly fields?: Readonly<Record<string, FieldWrite>>;
  /** Existence register: `true` = live, `false` = tombstone. */
  readonly exists?: { readonly v: boolean; readonly ver: Version };
  /** Counter bases (stocktake: an absolute value). */
  readonly bases?: Readonly<Record<string, FieldWrite>>;
  /** Counter increments. */
  readonly incs?: readonly CounterIncrement[];
}

/** Sync metadata returned with every object under `_meta`. */
export interface ObjectMeta {
  /** Highest stamp among the object's registers, as a fixed-width sortable string. */
  readonly stamp: string;
  /** Precedence of the write that decided the object's existence. */
  readonly precedence: number;
  /** Node id (device id or hub id) of the latest write. */
  readonly origin: string;
  readonly deleted: boolean;
}

/** An object as users see it: its fields (counters as their current totals) plus `_meta`. */
export interface StoredObject {
  readonly id: string;
  readonly [field: string]: unknown;
  readonly _meta: ObjectMeta;
}
