/**
 * The roles a replica plays, each a small interface the hub and the agent depend on instead of the whole
 * `ReplicaStore` (in the spirit of automerge-repo's `StorageAdapterInterface`): a caller names the role it
 * uses, so a test can hand it a smaller fake and a reader sees what a module touches. `ReplicaStore`
 * implements all of them over one SQLite file; each role's code lives in its own file beside this one.
 *
 * Every member is synchronous (better-sqlite3). Once the store is closed, members that read or write
 * throw: SyncError `SYNC_ERR_STORE_CORRUPT` ("replica store is closed"), or better-sqlite3's TypeError
 * ("The database connection is not open") for the few that go straight to a statement.
 */
import type { SyncClock, TimeBase } from '../clock.js';
import type { CollectionDef, Schema } from '../schema.js';
import type { Change, StoredObject } from '../types.js';
import type { VectorFeed } from '../vector-feed.js';
import type { ChangedObject, ChangeSelection, ObjectRegisters } from './change-feed.js';
import type { ChangeEvent, ObjectKey } from './core.js';
import type { PendingChange, QuarantinedObject } from './outbox.js';
import type { PeerRecord } from './peer-ledger.js';
import type { QueryOptions, QueryResult } from './query.js';
import type { ApplyResult, Rebase } from './remote-merge.js';
import type { RestampResult } from './restamp.js';

/** Reading objects and collections: the object and search routes, the vector indexes. */
export interface ObjectReader {
  /** The schema the replica was opened with: its collections, fields and precedence rules. */
  readonly schema: Schema;
  /**
   * The collection's definition.
   * @throws SyncError `SYNC_ERR_UNKNOWN_COLLECTION` when the schema has no such collection.
   */
  collection(name: string): CollectionDef;
  /**
   * The live object as last committed (a write inside an open transaction shows after it commits), or
   * undefined when there is none; a tombstone only with `includeDeleted` (then `_meta.deleted` is true).
   * @throws SyncError `SYNC_ERR_UNKNOWN_COLLECTION`.
   */
  get(collection: string, id: string, opts?: { includeDeleted?: boolean }): StoredObject | undefined;
  /**
   * Objects of a collection matching a filter (CONTRACT.md syntax, compiled to SQL, never run as code),
   * sorted, one page at a time (`limit` 1–1000, default 100; pass `next` as `after` for the next page).
   * The filter may read the collection's fields, paths into its `json` fields, and `id`.
   * @throws SyncError `SYNC_ERR_UNKNOWN_COLLECTION`, `SYNC_ERR_FILTER_SYNTAX`, `SYNC_ERR_FILTER_VARIABLE`,
   *   `SYNC_ERR_INVALID_QUERY` (limit, sort key or cursor); `SYNC_ERR_UNKNOWN_FIELD` when the filter names
   *   a field the collection does not have.
   */
  query(collection: string, q?: QueryOptions): QueryResult;
  /**
   * Number of live objects in a collection (tombstones do not count).
   * @throws SyncError `SYNC_ERR_UNKNOWN_COLLECTION`.
   */
  count(collection: string): number;
  /**
   * A feed of one collection's `vector` field for a nearest-neighbour index (vector-store's
   * `VectorSource`). It reads this store's database: close the index before the store. Its `matchingIds`
   * refuses a filter naming a field the collection does not have (`SYNC_ERR_UNKNOWN_FIELD`).
   * @throws SyncError `SYNC_ERR_UNKNOWN_COLLECTION`; `SYNC_ERR_INVALID_QUERY` when `field` is not a vector.
   */
  vectorSource(collection: string, field: string): VectorFeed;
}

/** Local writes, stamped, merged and (on a terminal) queued in the outbox, in one transaction. */
export interface LocalWriter {
  /**
   * Runs `fn` in one SQLite transaction: everything it writes commits together or, if it throws, not at
   * all. Objects touched several times are written once; subscribers hear of them after the commit.
   * Nested calls join the outer transaction.
   * @throws whatever `fn` throws (after the rollback); SyncError `SYNC_ERR_PAYLOAD_TOO_LARGE` when an object
   *   would pass the store's `maxObjectBytes` (nothing of the transaction is written).
   */
  transaction<T>(fn: () => T): T;
  /**
   * Replaces an object's fields (fields not given become null) and says it exists; returns the object as
   * it now reads. Counter fields are left alone: values given for them are ignored (use
   * {@link increment} or {@link setCounter}).
   * @throws SyncError `SYNC_ERR_UNKNOWN_COLLECTION`, `SYNC_ERR_INVALID_ID`, `SYNC_ERR_INVALID_OBJECT` (every
   *   problem listed in `details.problems`), `SYNC_ERR_PAYLOAD_TOO_LARGE`; then nothing is written.
   */
  put(
    collection: string,
    id: string,
    fields: Readonly<Record<string, unknown>>,
    opts?: { role?: string },
  ): StoredObject;
  /**
   * Updates the given fields only (all fields in a collection with `merge: object`). A patch of a live
   * object does not vote on existence, so it cannot undo a concurrent delete. Counters are ignored, as
   * for {@link put}.
   * @throws as {@link put}.
   */
  patch(
    collection: string,
    id: string,
    fields: Readonly<Record<string, unknown>>,
    opts?: { role?: string },
  ): StoredObject;
  /**
   * Deletes an object: a tombstone that wins or loses by the same order as any write. Returns false, and
   * writes nothing, when there was no live object.
   * @throws SyncError `SYNC_ERR_UNKNOWN_COLLECTION`, `SYNC_ERR_INVALID_ID`.
   */
  delete(collection: string, id: string, opts?: { role?: string }): boolean;
  /**
   * Adds to counter fields (`{ stock: -1 }`). Concurrent increments from all replicas all count; the same
   * increment delivered twice counts once. Creates the object if it never existed here.
   * @throws SyncError `SYNC_ERR_INVALID_OBJECT` (not a counter, not an integer), `SYNC_ERR_DELTA_TOO_LARGE`
   *   (beyond the field's `maxDelta`), `SYNC_ERR_COUNTER_OVERFLOW` (a counter would pass ±(2^53 − 1)); then
   *   nothing is written, no field and no outbox entry.
   */
  increment(
    collection: string,
    id: string,
    deltas: Readonly<Record<string, number>>,
    opts?: { role?: string },
  ): StoredObject;
  /**
   * Stocktake: sets counters to absolute values. Ordered like any write; increments stamped after it still
   * count on top of it, increments stamped before it no longer count.
   * @throws SyncError `SYNC_ERR_INVALID_OBJECT`, `SYNC_ERR_COUNTER_OVERFLOW` (a value, or the value plus the
   *   increments stamped after it, beyond ±(2^53 − 1)); then nothing is written.
   */
  setCounter(
    collection: string,
    id: string,
    values: Readonly<Record<string, number>>,
    opts?: { role?: string },
  ): StoredObject;
}

/** Merging what a peer sent, and placing this node's clock against the hub's. */
export interface RemoteMerger {
  /** The replica's Sync Clock: every local stamp comes from it, every merged stamp moves it. */
  readonly clock: SyncClock;
  /**
   * Merges a batch of changes from another replica, all or nothing, in one transaction; applying the same
   * changes again, in any order, changes nothing. Stamps more than the allowed skew in the future are
   * re-stamped on receipt (their relative order kept) and returned in `rebased`, so the caller can flag
   * the source and tell it. `rebase: false` (changes from the hub, the time authority) skips that check.
   * @throws SyncError `SYNC_ERR_UNKNOWN_COLLECTION`, `SYNC_ERR_INVALID_OBJECT`, `SYNC_ERR_DELTA_TOO_LARGE`
   *   (an increment beyond the field's `maxDelta`), each with `details.index`, before anything is applied;
   *   `SYNC_ERR_COUNTER_OVERFLOW` (`details.collection`, `id`, `field`) when a counter would pass
   *   ±(2^53 − 1). Nothing of the batch is applied either way.
   */
  applyRemote(changes: readonly Change[], opts?: { rebase?: boolean }): ApplyResult;
  /**
   * Takes the hub's re-stamping of this node's own writes (`ack.rebased`): registers and counter increments
   * holding an original stamp take the new one. `hubState` (the hub's registers of the same objects right
   * after it applied the push) is merged in the same transaction, so a write this replica wrongly beat
   * while its stamp was in the future comes back.
   * @throws as {@link applyRemote} for `hubState`; then nothing is changed.
   */
  applyRebase(rebases: readonly Rebase[], hubState?: readonly Change[]): void;
  /**
   * The registers of one object as a {@link Change}, for sending to another replica; undefined when the
   * object is unknown or nothing is left after the selection. `opsAfterSeq`: only counter increments
   * recorded after that sequence (default: every increment that still counts). `skipNode`: leave out
   * writes made by that node (it has them already). `onlyNode`: only writes made by that node. `opIds`:
   * only these increments.
   * @throws SyncError `SYNC_ERR_UNKNOWN_COLLECTION`.
   */
  changeFor(collection: string, id: string, opts?: ChangeSelection): Change | undefined;
  /**
   * Takes the hub's time, learned at `welcome` (`offsetMs` = hub time − this node's wall time at `hello`):
   * from then on the clock runs on hub time. First, this node's writes stamped on its own wall clock that
   * never left it move to hub time (`stamp + offsetMs`) when the wall clock did not jump since they were
   * made (`measuredAt`: the time base at `hello`); the clock's high-water mark comes down with them.
   * Registers, increments (with their ids) and outbox change in one transaction; the order of the writes
   * and every register's winner are kept (rules: restamp.ts). Call it before pushing anything on the new
   * connection, outside {@link LocalWriter.transaction}.
   * @throws SyncError `SYNC_ERR_PROTOCOL` inside a transaction (a rollback could not undo the clock).
   */
  adoptHubOffset(offsetMs: number, opts?: { measuredAt?: TimeBase }): RestampResult;
}

/** The change feed the hub pages from, and who hears of each commit. */
export interface ChangeFeed {
  /** Local change sequence: bumped by every object change, local or remote. No I/O. */
  currentSeq(): number;
  /**
   * At most `limit` objects changed after `afterSeq`, ascending by sequence, each once with its current
   * state. `doc` is the object's fields as JSON text (parse it only when a filter needs it). With
   * `project`, `doc` holds only the named top-level fields of the listed collections (`{}` for the
   * others): a filter over one field of a 1 KB sale need not parse the sale.
   * @throws SyncError `SYNC_ERR_UNKNOWN_COLLECTION` for a collection named in `project`.
   */
  changedSince(
    afterSeq: number,
    limit: number,
    project?: Readonly<Record<string, readonly string[]>>,
  ): ChangedObject[];
  /**
   * Every register of one object (fields, existence, stocktakes, and the increments that still count with
   * the local sequence each was recorded at; none with `withoutOps`); undefined when the object is unknown.
   * `selectChange` narrows it for one peer: the hub reads an object once and serves every device from it.
   * @throws SyncError `SYNC_ERR_UNKNOWN_COLLECTION`.
   */
  registersOf(collection: string, id: string, withoutOps?: boolean): ObjectRegisters | undefined;
  /**
   * Calls `listener` after each committed change of an object (never for a rolled-back one); returns the
   * unsubscribe function. A listener that throws is logged and does not undo the commit.
   */
  subscribe(listener: (e: ChangeEvent) => void): () => void;
  /** See {@link Tombstones.tombstoneHorizon}: a feed below it has lost deletions and must start over. */
  tombstoneHorizon(): number;
}

/** A terminal's outbox: local writes the hub has not acknowledged, and those it refused. */
export interface Outbox {
  /**
   * Local writes not yet acknowledged by the hub, as changes ready to push: each object once, carrying this
   * node's current registers of it (a newer local write supersedes an older one of the same register, so
   * only the latest value travels) and its pending increments. Reads at most `limit` outbox entries after
   * `afterSeq`; `seq` is the highest entry each change covers, ascending. Entries whose object holds
   * nothing of this node any more (evicted, or every write lost) are dropped.
   */
  pendingChanges(limit: number, afterSeq?: number): PendingChange[];
  /** Number of outbox entries (local writes) waiting for the hub. */
  pendingCount(): number;
  /** Drops exactly these outbox entries (the `rows` of pushed changes), in one transaction: the hub has them. */
  ackRows(rows: readonly number[]): void;
  /** True when local writes to the object are waiting in the outbox. */
  hasPending(collection: string, id: string): boolean;
  /**
   * Sets an object's pending writes aside because the hub refused them (`code`, `message`: its refusal):
   * they leave the outbox, so the rest can sync, but stay in the replica and are listed by
   * {@link quarantined}. Nothing is deleted. Returns how many outbox entries were set aside.
   */
  quarantine(collection: string, id: string, code: string, message: string): number;
  /** Objects whose writes the hub refused, with why, oldest first (see {@link quarantine}). */
  quarantined(): QuarantinedObject[];
}

/** The hub's record of each peer: how far it acknowledged the feed, which filtered objects it holds. */
export interface PeerLedger {
  /** The sync cursor stored for a peer (the hub on a terminal; each device on the hub), if any. */
  peerCursor(peer: string): string | undefined;
  /** Stores a peer's sync cursor (and when it moved), replacing the previous one. */
  setPeerCursor(peer: string, cursor: string): void;
  /** Every peer with its cursor and when it was last updated, by peer id. */
  peers(): PeerRecord[];
  /**
   * Records whether `peer` holds the object. The hub keeps, per device, which objects of filtered
   * collections it sent: that tells a move-in (send everything) from an update (send what changed), and
   * when to evict. A session reads the record once ({@link peerObjects}) and keeps it in memory.
   */
  setPeerHas(peer: string, collection: string, id: string, has: boolean): void;
  /** Every object recorded as held by `peer` (see {@link setPeerHas}). */
  peerObjects(peer: string): ObjectKey[];
  /** Forgets everything recorded for a peer's objects (it starts over from an empty replica). */
  clearPeerObjects(peer: string): void;
}

/** Removing objects: tombstone collection at the hub, eviction and full resync on a terminal. */
export interface Tombstones {
  /**
   * Removes tombstones with a sequence at or below `upToSeq` (call it once every replica acknowledged
   * them) with their increments, in one transaction; returns how many objects were removed. The horizon
   * moves up to `upToSeq` when anything was removed.
   */
  collectTombstones(upToSeq: number): number;
  /**
   * Highest sequence up to which tombstones were collected (0: never). A peer whose cursor is below it may
   * hold objects whose deletion it never heard of, and must resync.
   */
  tombstoneHorizon(): number;
  /**
   * Removes objects this replica holds only because a peer's filter gave them (a move-out, or a full
   * resync): no tombstone, nothing to sync, subscribers not told. Returns how many were removed.
   */
  evict(objects: readonly ObjectKey[]): number;
  /** Drops every object and increment (not the outbox or peers): a terminal's full resync starts here. */
  clearObjects(): void;
}
