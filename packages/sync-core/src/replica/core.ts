/**
 * The object store at the heart of a replica, shared by every role module of src/replica/: the SQLite
 * database, the objects a transaction has read into memory, the set it changed, and the one transaction
 * every write goes through. At commit it writes each changed object once, with the change sequence and the
 * clock's high-water mark; after commit it tells subscribers. Keeping this in one place is what lets the
 * roles (local writes, merge, outbox, feed, tombstones...) share one transaction without sharing fields.
 *
 * Internal to src/replica/: the package exports {@link ReplicaStore}, which owns one core.
 */
import { SyncClock, stampToString, type TimeSource } from '../clock.js';
import { SyncError } from '../errors.js';
import type { Logger } from '../logger.js';
import { emptyState, type ObjectState } from '../merge.js';
import type { CollectionDef, Schema } from '../schema.js';
import type { Db, Statement } from '../sqlite.js';
import type { Change, Stamp, StoredObject } from '../types.js';
import { MergeTables } from './merge-tables.js';
import { WallRuns } from './restamp.js';
import { docJson, type Row, rowToState, toStoredObject, versJson } from './rows.js';
import { VectorBlobs } from './vectors.js';

/** Options of `ReplicaStore.open`. */
export interface ReplicaStoreOptions {
  /** SQLite file of the replica (created if missing). */
  readonly path: string;
  readonly schema: Schema;
  /** This replica's node id: the device id on a terminal, the hub id on the hub. */
  readonly nodeId: string;
  /** Default writer role for role-based precedence (`pos`, `manager`, `hub`...). */
  readonly role?: string;
  /** Allowed clock skew of remote stamps before they are rebased. Default 60 000 ms. */
  readonly maxSkewMs?: number;
  readonly time?: TimeSource;
  /** Keep an outbox of local writes to push to the hub (device agents). Default true. */
  readonly outbox?: boolean;
  /** `synchronous=FULL` (survives power loss) instead of NORMAL (survives a process crash). */
  readonly durable?: boolean;
  /**
   * Largest object (its fields as JSON text), default 512 KiB: every object must fit in one sync message
   * (1 MiB by default). A write that would make an object larger is refused.
   */
  readonly maxObjectBytes?: number;
  readonly logger?: Logger;
}

/** One object of a replica, by collection and id. */
export interface ObjectKey {
  collection: string;
  id: string;
}

/** A change to one object, reported to subscribers after its transaction commits. */
export interface ChangeEvent {
  readonly collection: string;
  readonly id: string;
  /** Local change sequence of the object after this change. */
  readonly seq: number;
  /** True when a remote change caused it, false for a local write. */
  readonly remote: boolean;
  /** The object as it now reads (deleted objects carry `_meta.deleted = true`). */
  readonly object: StoredObject;
  /** The local writes to this object in the transaction, in order (empty for remote changes). */
  readonly local: readonly Change[];
}

/** The statements of the core, by name. */
interface CoreStatements {
  readonly get: Statement<[collection: string, id: string], Row>;
  // A new object is a plain insert; a known one an update (which moves it to its new seq).
  readonly insert: Statement<
    [
      collection: string,
      id: string,
      seq: number,
      alive: number,
      doc: string,
      vers: string | null,
      bases: string | null,
      ever: string | null,
    ],
    never
  >;
  readonly update: Statement<
    [
      seq: number,
      alive: number,
      doc: string,
      vers: string | null,
      bases: string | null,
      ever: string | null,
      collection: string,
      id: string,
    ],
    never
  >;
  /** {@link INSERT_CHUNK} new objects at once: the insert's 8 values, object after object. */
  readonly insertMany: Statement<unknown[], never>;
  /** The objects of one collection whose ids are in a JSON array. */
  readonly getMany: Statement<[collection: string, ids: string], Row>;
  readonly getMeta: Statement<[key: string], string>;
  readonly setMeta: Statement<[key: string, value: string], never>;
}

/** New objects written by one multi-row insert at commit: a large flush runs 1/64 of the statements. */
const INSERT_CHUNK = 64;
/** Ids read by one query in {@link ReplicaCore.preload}. */
const PRELOAD_CHUNK = 500;
const SURROGATE = /[\uD800-\uDFFF]/;

/**
 * Rows a role module batches in memory during a transaction: `flush` writes them inside the transaction,
 * before the objects, at commit; `discard` forgets them when the transaction rolls back.
 */
export interface CommitHook {
  flush(): void;
  discard(): void;
}

/** An object the open transaction changed, and who changed it. */
interface DirtyEntry {
  readonly state: ObjectState;
  remote: boolean;
  readonly local: Change[];
}

const key = (collection: string, id: string) => `${collection}\u0000${id}`;

function hasKeys(o: object): boolean {
  for (const _ in o) return true;
  return false;
}

/** The shared state of one open replica (see the file comment). */
export class ReplicaCore {
  readonly db: Db;
  readonly nodeId: string;
  readonly schema: Schema;
  readonly clock: SyncClock;
  /** Default writer role of local writes. */
  readonly role: string | undefined;
  /** Whether local writes are queued for the hub (a terminal). */
  readonly useOutbox: boolean;
  readonly log: Logger | undefined;
  /** Counter increments and the conflict log. */
  readonly merge: MergeTables;
  /** Which local stamps came from this node's own wall clock and never left it (devices only: restamp.ts). */
  readonly wallRuns: WallRuns | undefined;
  /** Vector fields as float32 blobs for the vector feed, written with their objects (vectors.ts). */
  readonly vectorBlobs: VectorBlobs;
  private readonly maxObjectBytes: number;
  private readonly st: CoreStatements;
  private readonly runInTx: (fn: () => unknown) => unknown;
  private seq: number;
  private txDepth = 0;
  private closed = false;
  private readonly cache = new Map<string, ObjectState>();
  private readonly dirty = new Map<string, DirtyEntry>();
  private readonly listeners = new Set<(e: ChangeEvent) => void>();
  private readonly hooks: CommitHook[] = [];
  /** Committed rows read ahead by {@link withRows} (undefined: the object has no row). */
  private rowsAhead: Map<string, Row | undefined> | undefined;

  constructor(db: Db, opts: ReplicaStoreOptions, seq: number, highWater: Stamp | undefined) {
    this.db = db;
    this.nodeId = opts.nodeId;
    this.schema = opts.schema;
    this.role = opts.role;
    this.useOutbox = opts.outbox ?? true;
    this.maxObjectBytes = opts.maxObjectBytes ?? 512 * 1024;
    this.log = opts.logger;
    this.seq = seq;
    this.st = {
      get: db.prepare('SELECT * FROM objects WHERE collection = ? AND id = ?'),
      insert: db.prepare(
        'INSERT INTO objects (collection, id, seq, alive, doc, vers, bases, ever) VALUES (?,?,?,?,?,?,?,?)',
      ),
      update: db.prepare(
        'UPDATE objects SET seq = ?, alive = ?, doc = ?, vers = ?, bases = ?, ever = ? WHERE collection = ? AND id = ?',
      ),
      insertMany: db.prepare(
        `INSERT INTO objects (collection, id, seq, alive, doc, vers, bases, ever) VALUES ${Array(INSERT_CHUNK).fill('(?,?,?,?,?,?,?,?)').join(',')}`,
      ),
      getMany: db.prepare(
        'SELECT * FROM objects WHERE collection = ? AND id IN (SELECT value FROM json_each(?))',
      ),
      getMeta: db.prepare<[key: string], string>('SELECT value FROM meta WHERE key = ?').pluck(),
      setMeta: db.prepare(
        'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value',
      ),
    };
    this.merge = new MergeTables(db);
    this.clock = new SyncClock({ maxSkewMs: opts.maxSkewMs, time: opts.time, highWater });
    this.wallRuns = this.useOutbox ? new WallRuns(this.clock, this.meta('wall_run')) : undefined;
    this.vectorBlobs = new VectorBlobs(db, opts.schema);
    this.runInTx = db.transaction((fn: () => unknown) => {
      const r = fn();
      this.flush();
      return r;
    }) as unknown as (fn: () => unknown) => unknown;
  }

  /** The collection's definition. @throws SyncError `SYNC_ERR_UNKNOWN_COLLECTION`. */
  collection(name: string): CollectionDef {
    const def = Object.hasOwn(this.schema.collections, name) ? this.schema.collections[name] : undefined;
    if (!def)
      throw new SyncError('SYNC_ERR_UNKNOWN_COLLECTION', `unknown collection "${name}"`, {
        collection: name,
      });
    return def;
  }

  /** Local change sequence, including changes of the open transaction. */
  currentSeq(): number {
    return this.seq;
  }

  /** Local change sequence of the last commit (inside a transaction the in-memory one runs ahead). */
  committedSeq(): number {
    return this.txDepth > 0 ? Number(this.meta('seq') ?? '0') : this.seq;
  }

  /** True inside {@link transaction}. */
  inTransaction(): boolean {
    return this.txDepth > 0;
  }

  /**
   * Runs `fn` in one SQLite transaction; nested calls join the outer one. Changed objects are written once
   * at commit, then subscribers hear of them. On a throw everything rolls back, the in-memory view too.
   * @throws SyncError `SYNC_ERR_STORE_CORRUPT` when the store is closed; `SYNC_ERR_PAYLOAD_TOO_LARGE` at
   *   commit when an object would pass `maxObjectBytes`; whatever `fn` throws.
   */
  transaction<T>(fn: () => T): T {
    this.assertOpen();
    if (this.txDepth > 0) return fn();
    this.txDepth++;
    let result: T;
    try {
      result = this.runInTx(fn) as T;
    } catch (e) {
      // The transaction rolled back: forget the in-memory view of it.
      this.cache.clear();
      this.dirty.clear();
      for (const h of this.hooks) h.discard();
      this.seq = Number(this.meta('seq') ?? '0');
      throw e;
    } finally {
      this.txDepth--;
    }
    this.emit();
    return result;
  }

  /** @throws SyncError `SYNC_ERR_STORE_CORRUPT` when the store is closed. */
  assertOpen(): void {
    if (this.closed) throw new SyncError('SYNC_ERR_STORE_CORRUPT', 'replica store is closed');
  }

  /** The object's registers, read once per transaction (an empty state for an object never seen). */
  load(def: CollectionDef, id: string): ObjectState {
    const k = key(def.name, id);
    let state = this.cache.get(k);
    if (!state) {
      const row = this.st.get.get(def.name, id);
      state = row ? rowToState(def, row) : emptyState(def.name, id);
      this.cache.set(k, state);
    }
    return state;
  }

  /**
   * Reads into the transaction's view, as {@link load} would one by one, every object of `def` named in
   * `ids` that it does not hold yet: a few hundred per query instead of one query each (a large remote
   * batch). Inside a transaction only (the view is dropped at commit).
   */
  preload(def: CollectionDef, ids: readonly string[]): void {
    const todo: string[] = [];
    for (const id of ids) {
      const k = key(def.name, id);
      // An id with a surrogate may not reach SQLite through JSON text as it does bound: load() reads it.
      if (this.cache.has(k) || SURROGATE.test(id)) continue;
      // Marked as seen so a repeated id is asked for once; replaced below by what the query finds.
      this.cache.set(k, emptyState(def.name, id));
      todo.push(id);
    }
    for (let i = 0; i < todo.length; i += PRELOAD_CHUNK) {
      for (const row of this.st.getMany.all(def.name, JSON.stringify(todo.slice(i, i + PRELOAD_CHUNK))))
        this.cache.set(key(def.name, row.id), rowToState(def, row));
    }
  }

  /** The committed row of an object, bypassing the transaction's in-memory view. */
  row(collection: string, id: string): Row | undefined {
    const ahead = this.rowsAhead;
    if (ahead) {
      const k = key(collection, id);
      if (ahead.has(k)) return ahead.get(k);
    }
    return this.st.get.get(collection, id);
  }

  /**
   * Runs `fn` with the committed rows of `objects` read ahead, a few hundred per query: {@link row}
   * answers from them instead of one query each (a push reading its whole batch). `fn` must not change
   * those objects.
   */
  withRows<T>(objects: readonly ObjectKey[], fn: () => T): T {
    const ahead = new Map<string, Row | undefined>();
    const ids = new Map<string, string[]>();
    for (const o of objects) {
      // An id with a surrogate may not reach SQLite through JSON text as it does bound: row() reads it.
      if (SURROGATE.test(o.id)) continue;
      ahead.set(key(o.collection, o.id), undefined);
      const list = ids.get(o.collection);
      if (list) list.push(o.id);
      else ids.set(o.collection, [o.id]);
    }
    for (const [collection, list] of ids) {
      for (let i = 0; i < list.length; i += PRELOAD_CHUNK) {
        for (const r of this.st.getMany.all(collection, JSON.stringify(list.slice(i, i + PRELOAD_CHUNK))))
          ahead.set(key(collection, r.id), r);
      }
    }
    const outer = this.rowsAhead;
    this.rowsAhead = ahead;
    try {
      return fn();
    } finally {
      this.rowsAhead = outer;
    }
  }

  /** The next local change sequence, for an object changed in the open transaction. */
  nextSeq(): number {
    return ++this.seq;
  }

  /** Records that the open transaction changed `state` (`local`: the local write that did). */
  markDirty(state: ObjectState, remote: boolean, local?: Change): void {
    const k = key(state.collection, state.id);
    const prev = this.dirty.get(k);
    const entry = prev ?? { state, remote, local: [] };
    entry.remote = entry.remote && remote;
    if (local) entry.local.push(local);
    if (!prev) this.dirty.set(k, entry);
  }

  /** How many objects the open transaction changed so far. */
  changedCount(): number {
    return this.dirty.size;
  }

  /** Drops an object from the transaction's view: its row is being deleted, nothing to write or tell. */
  forget(collection: string, id: string): void {
    this.cache.delete(key(collection, id));
    this.dirty.delete(key(collection, id));
  }

  /** Drops every object from the transaction's view (every row is being deleted). */
  forgetAll(): void {
    this.cache.clear();
    this.dirty.clear();
  }

  /** A value of the `meta` table. */
  meta(k: string): string | undefined {
    return this.st.getMeta.get(k);
  }

  /** Sets a value of the `meta` table (inside the caller's transaction, if any). */
  setMeta(k: string, value: string): void {
    this.st.setMeta.run(k, value);
  }

  /** Lets a role module write what it batched in a transaction at its commit (see {@link CommitHook}). */
  onCommit(hook: CommitHook): void {
    this.hooks.push(hook);
  }

  /** Calls `listener` after each committed change of an object. Returns the unsubscribe function. */
  subscribe(listener: (e: ChangeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Closes the database; later calls do nothing. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    this.db.close();
  }

  /** Writes dirty objects, the sequence and the clock's high-water mark: called inside the transaction. */
  private flush(): void {
    for (const h of this.hooks) h.flush();
    // New objects' values, written INSERT_CHUNK at a time (the rest one by one after the loop).
    const fresh: unknown[] = [];
    for (const { state } of this.dirty.values()) {
      const def = this.schema.collections[state.collection];
      const doc = docJson(def, state);
      if (doc.length > this.maxObjectBytes) {
        // Every object must fit in one sync message; the whole transaction is refused, nothing written.
        throw new SyncError(
          'SYNC_ERR_PAYLOAD_TOO_LARGE',
          `${state.collection}/${state.id} would be ${doc.length} bytes, over the ${this.maxObjectBytes}-byte object limit`,
          { collection: state.collection, id: state.id, bytes: doc.length, limit: this.maxObjectBytes },
        );
      }
      const alive = state.alive ? 1 : 0;
      const vers = versJson(def, state);
      const bases = hasKeys(state.bases) ? JSON.stringify(state.bases) : null;
      const ever = state.ever ? JSON.stringify(state.ever) : null;
      if (state.stored)
        this.st.update.run(state.seq, alive, doc, vers, bases, ever, state.collection, state.id);
      else if (
        fresh.push(state.collection, state.id, state.seq, alive, doc, vers, bases, ever) ===
        8 * INSERT_CHUNK
      ) {
        this.st.insertMany.run(...fresh);
        fresh.length = 0;
      }
      this.vectorBlobs.write(def, state);
    }
    for (let i = 0; i < fresh.length; i += 8) {
      const [c, id, seq, alive, doc, vers, bases, ever] = fresh.slice(i, i + 8) as Parameters<
        CoreStatements['insert']['run']
      >;
      this.st.insert.run(c, id, seq, alive, doc, vers, bases, ever);
    }
    this.st.setMeta.run('seq', String(this.seq));
    // The high-water mark is durable before any stamp of this transaction can leave the node.
    this.st.setMeta.run('clock', stampToString(this.clock.highWater()));
    // With it, which of those stamps never left the node (restamp.ts): a crash cannot lose that record.
    if (this.wallRuns) this.st.setMeta.run('wall_run', this.wallRuns.serialize());
    this.cache.clear();
  }

  /** Tells subscribers of the committed transaction's changes; a listener that throws is logged, not fatal. */
  private emit(): void {
    const events = [...this.dirty.values()];
    this.dirty.clear();
    if (this.listeners.size === 0) return;
    for (const { state, remote, local } of events) {
      const def = this.schema.collections[state.collection];
      const e: ChangeEvent = {
        collection: state.collection,
        id: state.id,
        seq: state.seq,
        remote,
        object: toStoredObject(def, state),
        local,
      };
      for (const l of this.listeners) {
        try {
          l(e);
        } catch (err) {
          this.log?.error({ err }, 'replica change listener threw');
        }
      }
    }
  }
}
