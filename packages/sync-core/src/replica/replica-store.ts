/**
 * `ReplicaStore`, the front door of a replica: one object that plays every role of roles.ts over one
 * SQLite file, so the hub and the agent open one thing and hand each module only the role it uses. It owns
 * the core (core.ts: the database and its one transaction) and one module per role, and delegates; it holds
 * no logic of its own beyond wiring them together.
 */
import type { SyncClock, TimeBase } from '../clock.js';
import type { CollectionDef, Schema } from '../schema.js';
import type { Change, StoredObject } from '../types.js';
import type { VectorFeed } from '../vector-feed.js';
import { type ChangedObject, type ChangeSelection, FeedReader, type ObjectRegisters } from './change-feed.js';
import { type ChangeEvent, type ObjectKey, ReplicaCore, type ReplicaStoreOptions } from './core.js';
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
import type {
  ChangeFeed,
  LocalWriter,
  ObjectReader,
  Outbox,
  PeerLedger,
  RemoteMerger,
  Tombstones,
} from './roles.js';
import { TombstoneCollector } from './tombstones.js';

/**
 * A replica of the store's collections in one SQLite file (WAL): the terminal's local store and the
 * hub's store are both a ReplicaStore. Each member is documented on the role interface that declares it.
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
export class ReplicaStore
  implements ObjectReader, LocalWriter, RemoteMerger, ChangeFeed, Outbox, PeerLedger, Tombstones
{
  /** This replica's node id: the device id on a terminal, the hub id on the hub. */
  readonly nodeId: string;
  readonly schema: Schema;
  readonly clock: SyncClock;
  private readonly core: ReplicaCore;
  private readonly reads: ObjectReads;
  private readonly writes: LocalWrites;
  private readonly remote: RemoteMerge;
  private readonly feed: FeedReader;
  private readonly outbox: OutboxQueue;
  private readonly peerRecords: PeerRecords;
  private readonly tombstones: TombstoneCollector;

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
   *   is empty (0 bytes), is not a valid SQLite database or is damaged, is not a Backroom replica, was
   *   written by a newer format, belongs to another node id, or cannot be opened at all. Its message names
   *   the file and what is wrong; nothing is left open.
   */
  static open(opts: ReplicaStoreOptions): ReplicaStore {
    return openReplicaFile(
      opts.path,
      opts.nodeId,
      opts.durable,
      ({ db, seq, highWater }) => new ReplicaStore(new ReplicaCore(db, opts, seq, highWater)),
    );
  }

  // ObjectReader

  collection(name: string): CollectionDef {
    return this.core.collection(name);
  }

  get(collection: string, id: string, opts: { includeDeleted?: boolean } = {}): StoredObject | undefined {
    return this.reads.get(collection, id, opts);
  }

  query(collection: string, q: QueryOptions = {}): QueryResult {
    return this.reads.query(collection, q);
  }

  count(collection: string): number {
    return this.reads.count(collection);
  }

  vectorSource(collection: string, field: string): VectorFeed {
    return this.reads.vectorSource(collection, field);
  }

  // LocalWriter

  transaction<T>(fn: () => T): T {
    return this.core.transaction(fn);
  }

  put(
    collection: string,
    id: string,
    fields: Readonly<Record<string, unknown>>,
    opts: { role?: string } = {},
  ): StoredObject {
    return this.writes.put(collection, id, fields, opts);
  }

  patch(
    collection: string,
    id: string,
    fields: Readonly<Record<string, unknown>>,
    opts: { role?: string } = {},
  ): StoredObject {
    return this.writes.patch(collection, id, fields, opts);
  }

  delete(collection: string, id: string, opts: { role?: string } = {}): boolean {
    return this.writes.delete(collection, id, opts);
  }

  increment(
    collection: string,
    id: string,
    deltas: Readonly<Record<string, number>>,
    opts: { role?: string } = {},
  ): StoredObject {
    return this.writes.increment(collection, id, deltas, opts);
  }

  setCounter(
    collection: string,
    id: string,
    values: Readonly<Record<string, number>>,
    opts: { role?: string } = {},
  ): StoredObject {
    return this.writes.setCounter(collection, id, values, opts);
  }

  // RemoteMerger

  applyRemote(changes: readonly Change[], opts: { rebase?: boolean } = {}): ApplyResult {
    return this.remote.applyRemote(changes, opts);
  }

  applyRebase(rebases: readonly Rebase[], hubState: readonly Change[] = []): void {
    this.remote.applyRebase(rebases, hubState);
  }

  changeFor(collection: string, id: string, opts: ChangeSelection = {}): Change | undefined {
    return this.feed.changeFor(collection, id, opts);
  }

  adoptHubOffset(offsetMs: number, opts: { measuredAt?: TimeBase } = {}): RestampResult {
    return adoptHubOffset(this.core, this.outbox, offsetMs, opts);
  }

  // ChangeFeed

  currentSeq(): number {
    return this.core.currentSeq();
  }

  changedSince(
    afterSeq: number,
    limit: number,
    project?: Readonly<Record<string, readonly string[]>>,
  ): ChangedObject[] {
    return this.feed.changedSince(afterSeq, limit, project);
  }

  registersOf(collection: string, id: string, withoutOps = false): ObjectRegisters | undefined {
    return this.feed.registersOf(collection, id, withoutOps);
  }

  subscribe(listener: (e: ChangeEvent) => void): () => void {
    return this.core.subscribe(listener);
  }

  // Outbox

  pendingChanges(limit: number, afterSeq = 0): PendingChange[] {
    return this.outbox.pendingChanges(limit, afterSeq);
  }

  pendingCount(): number {
    return this.outbox.pendingCount();
  }

  ackRows(rows: readonly number[]): void {
    this.outbox.ackRows(rows);
  }

  hasPending(collection: string, id: string): boolean {
    return this.outbox.hasPending(collection, id);
  }

  quarantine(collection: string, id: string, code: string, message: string): number {
    return this.outbox.quarantine(collection, id, code, message);
  }

  quarantined(): QuarantinedObject[] {
    return this.outbox.quarantined();
  }

  // PeerLedger

  peerCursor(peer: string): string | undefined {
    return this.peerRecords.peerCursor(peer);
  }

  setPeerCursor(peer: string, cursor: string): void {
    this.peerRecords.setPeerCursor(peer, cursor);
  }

  peers(): PeerRecord[] {
    return this.peerRecords.peers();
  }

  setPeerHas(peer: string, collection: string, id: string, has: boolean): void {
    this.peerRecords.setPeerHas(peer, collection, id, has);
  }

  peerObjects(peer: string): ObjectKey[] {
    return this.peerRecords.peerObjects(peer);
  }

  clearPeerObjects(peer: string): void {
    this.peerRecords.clearPeerObjects(peer);
  }

  // Tombstones (tombstoneHorizon is also part of ChangeFeed)

  collectTombstones(upToSeq: number): number {
    return this.tombstones.collectTombstones(upToSeq);
  }

  tombstoneHorizon(): number {
    return this.tombstones.tombstoneHorizon();
  }

  evict(objects: readonly ObjectKey[]): number {
    return this.tombstones.evict(objects);
  }

  clearObjects(): void {
    this.tombstones.clearObjects();
  }

  // Not part of a role: tests, tools and maintenance.

  /**
   * Drops outbox entries up to and including `seq` (all of them, or with `objects` only those objects'
   * entries; a split batch may leave entries of other objects below `seq` that still have to travel).
   * The agent acknowledges by {@link ackRows}; tests use this to empty an outbox.
   */
  ackPending(seq: number, objects?: readonly ObjectKey[]): void {
    this.outbox.ackPending(seq, objects);
  }

  /**
   * A SHA-256 digest of the replica's objects (registers and values, not local sequence numbers), per the
   * given collections or all. Two replicas that hold the same data have the same digest.
   * @throws SyncError `SYNC_ERR_UNKNOWN_COLLECTION`.
   */
  digest(collections?: readonly string[]): string {
    return this.reads.digest(collections);
  }

  /** The most recent entries of the conflict log (writes that lost), newest first. */
  conflicts(limit = 100): ConflictEntry[] {
    return this.reads.conflicts(limit);
  }

  /**
   * Writes a consistent copy of the replica to `file` while it stays in use (SQLite online backup). The
   * copy is private like the replica: mode 0600, missing folders 0700.
   * @throws SyncError `SYNC_ERR_BACKUP_FAILED` (the cause attached).
   */
  backup(file: string): Promise<void> {
    return backupReplica(this.core.db, file);
  }

  /** Closes the file; later calls do nothing, and every other member then throws (see roles.ts). */
  close(): void {
    this.core.close();
  }
}
