import type { SyncClock, TimeBase } from '../clock.js';
import type { CollectionDef, Schema } from '../schema.js';
import type { Change, StoredObject } from '../types.js';
import type { VectorFeed } from '../vector-feed.js';
import {
  type ChangedObject,
  type ChangeSelection,
  FeedReader,
  type ObjectRegisters,
  selectChange,
} from './change-feed.js';
import { type ChangeEvent, ReplicaCore, type ReplicaStoreOptions } from './core.js';
import { adoptHubOffset } from './hub-offset.js';
import { LocalWrites } from './local-writes.js';
import type { ConflictEntry } from './merge-tables.js';
import { backupReplica, openReplicaFile } from './open.js';
import { OutboxQueue, type PendingChange, type QuarantinedObject } from './outbox.js';
import { type PeerRecord, PeerRecords } from './peer-ledger.js';
import type { QueryOptions, QueryResult } from './query.js';
import { ObjectReads } from './reads.js';
import { type ApplyResult, type Rebase, RemoteMerge } from './remote-merge.js';
import type { RestampResult } from './restamp.js';
import { TombstoneCollector } from './tombstones.js';

export type {
  ApplyResult,
  ChangedObject,
  ChangeEvent,
  ChangeSelection,
  ConflictEntry,
  ObjectRegisters,
  PeerRecord,
  PendingChange,
  QuarantinedObject,
  Rebase,
  ReplicaStoreOptions,
};
export { selectChange };

/**
 * A replica of the store's collections in one SQLite file (WAL): the terminal's local store and the
 * hub's store are both a ReplicaStore.
 *
 * Promises:
 * - a local write, its stamp's high-water mark and its outbox entry commit in one transaction;
 * - {@link applyRemote} validates a whole batch before touching anything and applies it in one
 *   transaction: all or nothing; applying the same changes again, in any order, changes nothing;
 * - two replicas that applied the same set of changes hold byte-identical objects.
 *
 * Writes may be batched with {@link transaction}. All methods are synchronous (better-sqlite3).
 *
 * @example
 * const store = ReplicaStore.open({ path: 'till-3.db', schema, nodeId: 'till-3', role: 'pos' });
 * store.put('orders', 'o-1', { status: 'open', total: 12.5 });
 * store.increment('inventory', 'SKU-1', { stock: -1 });
 */
export class ReplicaStore {
  readonly nodeId: string;
  readonly schema: Schema;
  readonly clock: SyncClock;
  private readonly core: ReplicaCore;
  private readonly feed: FeedReader;
  private readonly outbox: OutboxQueue;
  private readonly peerRecords: PeerRecords;
  private readonly tombstones: TombstoneCollector;
  private readonly writes: LocalWrites;
  private readonly remote: RemoteMerge;
  private readonly reads: ObjectReads;

  private constructor(core: ReplicaCore) {
    this.core = core;
    this.nodeId = core.nodeId;
    this.schema = core.schema;
    this.clock = core.clock;
    this.feed = new FeedReader(core);
    this.peerRecords = new PeerRecords(core);
    this.tombstones = new TombstoneCollector(core);
    this.outbox = new OutboxQueue(core, (c, id, sel) => this.feed.changeFor(c, id, sel));
    this.writes = new LocalWrites(core, this.outbox);
    this.remote = new RemoteMerge(core);
    this.reads = new ObjectReads(core, () => this.tombstones.tombstoneHorizon());
  }

  /**
   * Opens or creates a replica file. A missing file (and missing folders) is created, the folders with
   * mode 0700 and the file 0600; an existing file is set to 0600.
   * @throws SyncError `SYNC_ERR_STORE_CORRUPT` (`details.file`, the SQLite error in `cause`) when the file
   * is empty (0 bytes), is not a valid SQLite database or is damaged, is not a Backroom replica, was
   * written by a newer format, belongs to another node id, or cannot be opened at all. Its message names
   * the file and what is wrong; nothing is left open.
   */
  static open(opts: ReplicaStoreOptions): ReplicaStore {
    return openReplicaFile(
      opts.path,
      opts.nodeId,
      opts.durable,
      ({ db, seq, highWater }) => new ReplicaStore(new ReplicaCore(db, opts, seq, highWater)),
    );
  }

  /** The collection's definition. @throws SyncError `SYNC_ERR_UNKNOWN_COLLECTION`. */
  collection(name: string): CollectionDef {
    return this.core.collection(name);
  }

  /** Local change sequence: bumped by every object change, local or remote. */
  currentSeq(): number {
    return this.core.currentSeq();
  }

  /**
   * Runs `fn` in one SQLite transaction. Writes inside are batched: objects touched several times are
   * written once, and subscribers hear of them after the commit. Nested calls join the outer transaction.
   */
  transaction<T>(fn: () => T): T {
    return this.core.transaction(fn);
  }

  // ---------------------------------------------------------------------------------------------------
  // Local writes

  /**
   * Replaces an object's fields (fields not given become null). Counter fields are left alone: values
   * given for them are ignored; use {@link increment} or {@link setCounter}.
   * @throws SyncError `SYNC_ERR_UNKNOWN_COLLECTION`, `SYNC_ERR_INVALID_ID`, `SYNC_ERR_INVALID_OBJECT`.
   */
  put(
    collection: string,
    id: string,
    fields: Readonly<Record<string, unknown>>,
    opts: { role?: string } = {},
  ): StoredObject {
    return this.writes.put(collection, id, fields, opts);
  }

  /** Updates the given fields only. Counter fields are ignored, as for {@link put}. */
  patch(
    collection: string,
    id: string,
    fields: Readonly<Record<string, unknown>>,
    opts: { role?: string } = {},
  ): StoredObject {
    return this.writes.patch(collection, id, fields, opts);
  }

  /**
   * Deletes an object: a tombstone that wins or loses by the same order as any write.
   * @returns false when there was no live object.
   */
  delete(collection: string, id: string, opts: { role?: string } = {}): boolean {
    return this.writes.delete(collection, id, opts);
  }

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
    opts: { role?: string } = {},
  ): StoredObject {
    return this.writes.increment(collection, id, deltas, opts);
  }

  /**
   * Stocktake: sets counters to absolute values. Ordered like any write; increments stamped after it still
   * count on top of it, increments stamped before it no longer count.
   * @throws SyncError `SYNC_ERR_INVALID_OBJECT`, `SYNC_ERR_COUNTER_OVERFLOW` (a value, or the value plus the
   *   increments stamped after it, beyond ±(2^53 − 1)).
   */
  setCounter(
    collection: string,
    id: string,
    values: Readonly<Record<string, number>>,
    opts: { role?: string } = {},
  ): StoredObject {
    return this.writes.setCounter(collection, id, values, opts);
  }

  // ---------------------------------------------------------------------------------------------------
  // Remote changes

  /**
   * Merges a batch of changes from another replica, all or nothing. Stamps more than the allowed skew
   * in the future are re-stamped on receipt (their relative order kept) and returned in `rebased` so the
   * caller can flag the source and tell it.
   * @throws SyncError `SYNC_ERR_UNKNOWN_COLLECTION`, `SYNC_ERR_INVALID_OBJECT`, `SYNC_ERR_DELTA_TOO_LARGE`
   * (an increment beyond the field's `maxDelta`) with `details.index` before anything is applied;
   * `SYNC_ERR_COUNTER_OVERFLOW` (`details.collection`, `id`, `field`) when a counter would pass
   * ±(2^53 − 1). Nothing of the batch is applied either way.
   */
  applyRemote(changes: readonly Change[], opts: { rebase?: boolean } = {}): ApplyResult {
    return this.remote.applyRemote(changes, opts);
  }

  /**
   * Takes the hub's re-stamping of this node's own writes (`ack.rebased`): registers and counter
   * increments holding an original stamp take the new one. `hubState` — the hub's registers of the same
   * objects right after it applied the push — is merged in the same transaction, so a write this replica
   * wrongly beat while its stamp was in the future comes back.
   */
  applyRebase(rebases: readonly Rebase[], hubState: readonly Change[] = []): void {
    this.remote.applyRebase(rebases, hubState);
  }

  /**
   * Takes the hub's time, learned at `welcome` (`offsetMs` = hub time − this node's wall time at `hello`):
   * from now on the clock runs on hub time (`SyncClock.adoptOffset`). First, this node's writes stamped on
   * its own wall clock that never left it are moved to the hub's time (`stamp + offsetMs`), when the wall
   * clock did not jump since they were made (`measuredAt`: the time base at `hello`); the clock's high-water
   * mark comes down with them. Registers, increments (with their ids) and outbox change in one transaction;
   * the order of the writes and every register's winner are kept. Rules and why it is safe: restamp.ts.
   * Call it before pushing anything on the new connection, outside {@link transaction}.
   * @throws SyncError `SYNC_ERR_PROTOCOL` inside a transaction (a rollback could not undo the clock).
   */
  adoptHubOffset(offsetMs: number, opts: { measuredAt?: TimeBase } = {}): RestampResult {
    return adoptHubOffset(this.core, this.outbox, offsetMs, opts);
  }

  // ---------------------------------------------------------------------------------------------------
  // Reads

  /** The live object, or undefined (also for a tombstone unless `includeDeleted`). */
  get(collection: string, id: string, opts: { includeDeleted?: boolean } = {}): StoredObject | undefined {
    return this.reads.get(collection, id, opts);
  }

  /**
   * Number of live objects in a collection (tombstones do not count).
   * @throws SyncError `SYNC_ERR_UNKNOWN_COLLECTION`.
   */
  count(collection: string): number {
    return this.reads.count(collection);
  }

  /**
   * Objects of a collection matching a filter (CONTRACT.md syntax), sorted, one page at a time. The
   * filter may read the collection's fields, paths into its `json` fields, and `id`.
   * @throws SyncError `SYNC_ERR_FILTER_SYNTAX`, `SYNC_ERR_FILTER_VARIABLE`, `SYNC_ERR_INVALID_QUERY`;
   *   `SYNC_ERR_UNKNOWN_FIELD` when the filter names a field the collection does not have.
   */
  query(collection: string, q: QueryOptions = {}): QueryResult {
    return this.reads.query(collection, q);
  }

  /**
   * Objects changed after `afterSeq`, in sequence order: the change feed the hub serves pulls from.
   * `doc` is the object's current fields as JSON text (parse it only when a filter needs it). With
   * `project`, `doc` holds only the named top-level fields of the listed collections (`{}` for the
   * others): a filter over one field of a 1 KB sale need not parse the sale.
   */
  changedSince(
    afterSeq: number,
    limit: number,
    project?: Readonly<Record<string, readonly string[]>>,
  ): ChangedObject[] {
    return this.feed.changedSince(afterSeq, limit, project);
  }

  /**
   * The registers of one object as a {@link Change}, for sending to another replica.
   * `opsAfterSeq`: only counter increments recorded after that sequence (default: every increment that
   * still counts). `skipNode`: leave out writes made by that node (it has them already). `onlyNode`:
   * only writes made by that node. `opIds`: only these increments.
   */
  changeFor(collection: string, id: string, opts: ChangeSelection = {}): Change | undefined {
    return this.feed.changeFor(collection, id, opts);
  }

  /**
   * Every register of one object (all fields, existence, bases and the increments that still count, with
   * the local sequence each increment was recorded at). {@link selectChange} narrows it for one peer: the
   * hub reads an object once and serves every device from it.
   */
  registersOf(collection: string, id: string, withoutOps = false): ObjectRegisters | undefined {
    return this.feed.registersOf(collection, id, withoutOps);
  }

  /**
   * A SHA-256 digest of the replica's objects (registers and values, not local sequence numbers), per
   * the given collections or all. Two replicas that hold the same data have the same digest.
   */
  digest(collections?: readonly string[]): string {
    return this.reads.digest(collections);
  }

  /** The most recent entries of the conflict log (writes that lost), newest first. */
  conflicts(limit = 100): ConflictEntry[] {
    return this.reads.conflicts(limit);
  }

  /** Calls `listener` after each committed change of an object. Returns the unsubscribe function. */
  subscribe(listener: (e: ChangeEvent) => void): () => void {
    return this.core.subscribe(listener);
  }

  // ---------------------------------------------------------------------------------------------------
  // Outbox, peers, tombstones, backup

  /**
   * Local writes not yet acknowledged by the hub, as changes ready to push: each object once, carrying
   * this node's current registers of it (a newer local write supersedes an older one of the same register,
   * so only the latest value travels) and its pending increments. Reads at most `limit` outbox entries
   * after `afterSeq`; `seq` is the highest outbox entry each change covers, ascending, so acknowledging the
   * last `seq` acknowledges the batch.
   */
  pendingChanges(limit: number, afterSeq = 0): PendingChange[] {
    return this.outbox.pendingChanges(limit, afterSeq);
  }

  /** Drops exactly these outbox entries (the `rows` of pushed {@link PendingChange}s): the hub has them. */
  ackRows(rows: readonly number[]): void {
    this.outbox.ackRows(rows);
  }

  /** Number of local writes waiting for the hub. */
  pendingCount(): number {
    return this.outbox.pendingCount();
  }

  /**
   * Drops outbox entries up to and including `seq`: the hub has them durably. With `objects`, only the
   * entries of those objects (a push carries whole objects, and a split batch may leave entries of other
   * objects below `seq` that still have to travel).
   */
  ackPending(seq: number, objects?: readonly { collection: string; id: string }[]): void {
    this.outbox.ackPending(seq, objects);
  }

  /**
   * Sets an object's pending writes aside because the hub refused them: they leave the outbox (so the rest
   * can sync) but stay in the replica and are listed by {@link quarantined}. Nothing is deleted.
   */
  quarantine(collection: string, id: string, code: string, message: string): number {
    return this.outbox.quarantine(collection, id, code, message);
  }

  /** Objects whose writes the hub refused, with why (see {@link quarantine}). */
  quarantined(): QuarantinedObject[] {
    return this.outbox.quarantined();
  }

  /** Sync cursor stored for a peer (the hub on a terminal; each device on the hub). */
  peerCursor(peer: string): string | undefined {
    return this.peerRecords.peerCursor(peer);
  }

  setPeerCursor(peer: string, cursor: string): void {
    this.peerRecords.setPeerCursor(peer, cursor);
  }

  /** Every peer with its cursor and when it was last updated. */
  peers(): PeerRecord[] {
    return this.peerRecords.peers();
  }

  /**
   * Records whether `peer` holds the object. The hub keeps, per device, which objects of filtered
   * collections it sent: that tells a move-in (send everything) from an update (send what changed), and
   * when to evict. A session reads the record once ({@link peerObjects}) and keeps it in memory.
   */
  setPeerHas(peer: string, collection: string, id: string, has: boolean): void {
    this.peerRecords.setPeerHas(peer, collection, id, has);
  }

  /** Every object recorded as held by `peer` (see {@link setPeerHas}). */
  peerObjects(peer: string): { collection: string; id: string }[] {
    return this.peerRecords.peerObjects(peer);
  }

  /** Forgets everything recorded for a peer's objects (it starts over from an empty replica). */
  clearPeerObjects(peer: string): void {
    this.peerRecords.clearPeerObjects(peer);
  }

  /** True when local writes to the object are waiting in the outbox. */
  hasPending(collection: string, id: string): boolean {
    return this.outbox.hasPending(collection, id);
  }

  /**
   * Removes objects this replica holds only because a peer's filter gave them (a move-out, or a full
   * resync): no tombstone, nothing to sync. Returns how many were removed.
   */
  evict(objects: readonly { collection: string; id: string }[]): number {
    return this.tombstones.evict(objects);
  }

  /** Drops every object (not the outbox or peers): a terminal's full resync starts from this. */
  clearObjects(): void {
    this.tombstones.clearObjects();
  }

  /**
   * Collects tombstones with a sequence at or below `upToSeq` (every replica has acknowledged them).
   * Returns how many objects were removed. The collection horizon is kept: a peer whose cursor is below
   * {@link tombstoneHorizon} must be resynced, because it may hold objects whose deletion it never heard.
   */
  collectTombstones(upToSeq: number): number {
    return this.tombstones.collectTombstones(upToSeq);
  }

  /** Highest sequence up to which tombstones were collected (0 = never). */
  tombstoneHorizon(): number {
    return this.tombstones.tombstoneHorizon();
  }

  /**
   * A feed of one collection's `vector` field for a nearest-neighbour index: structurally vector-store's
   * `VectorSource` (see vector-feed.ts). It reads this store's database; close the index before the store.
   * Its `matchingIds` refuses a filter naming a field the collection does not have (`SYNC_ERR_UNKNOWN_FIELD`).
   * @throws SyncError `SYNC_ERR_UNKNOWN_COLLECTION`; `SYNC_ERR_INVALID_QUERY` when `field` is not a vector.
   */
  vectorSource(collection: string, field: string): VectorFeed {
    return this.reads.vectorSource(collection, field);
  }

  /**
   * Writes a consistent copy of the replica to `file` while it stays in use (SQLite online backup). The
   * copy is private like the replica: mode 0600, missing folders 0700.
   */
  backup(file: string): Promise<void> {
    return backupReplica(this.core.db, file);
  }

  close(): void {
    this.core.close();
  }

  // ---------------------------------------------------------------------------------------------------
  // Internals
}
