/**
 * What a merge records besides the object rows: counter increments (`counter_ops`, one row per increment
 * id, so a redelivered increment counts once) and the conflict log (writes that lost). merge.ts decides;
 * this module is its storage ({@link CounterOps}) plus the few rewrites a restamp, a rebase, an eviction
 * or a tombstone collection make to the increments.
 */
import type { CounterOps } from '../merge.js';
import type { Db, Statement } from '../sqlite.js';
import type { CounterIncrement, Version } from '../types.js';
import { loadVersion, type StoredVersion } from '../version.js';

/** An entry of the conflict log: a write that lost to another. */
export interface ConflictEntry {
  readonly at: number;
  readonly collection: string;
  readonly id: string;
  readonly field: string;
  readonly loser: unknown;
  readonly loserVersion: Version;
  readonly winnerVersion: Version;
}

/** One recorded increment, its version parsed. */
export interface StoredIncrement {
  field: string;
  op: string;
  delta: number;
  ver: StoredVersion;
  /** The local sequence it was recorded at. */
  seq: number;
}

interface OpRow {
  field: string;
  op: string;
  delta: number;
  ver: string;
  seq: number;
}

interface ConflictRow {
  at: number;
  collection: string;
  id: string;
  field: string;
  loser: string;
  loser_ver: string;
  winner_ver: string;
}

/** The statements of this module, by name. */
interface MergeStatements {
  readonly insert: Statement<
    [collection: string, id: string, field: string, op: string, delta: number, ver: string, seq: number],
    never
  >;
  readonly list: Statement<[collection: string, id: string], OpRow>;
  readonly prune: Statement<[collection: string, id: string, field: string, op: string], never>;
  readonly setVersion: Statement<
    [ver: string, collection: string, id: string, field: string, op: string],
    never
  >;
  readonly rename: Statement<
    [newOp: string, ver: string, collection: string, id: string, field: string, op: string],
    never
  >;
  readonly deleteObject: Statement<[collection: string, id: string], never>;
  readonly conflict: Statement<
    [
      at: number,
      collection: string,
      id: string,
      field: string,
      loser: string,
      loserVer: string,
      winnerVer: string,
    ],
    never
  >;
  readonly conflicts: Statement<[limit: number], ConflictRow>;
}

/** The `counter_ops` and `conflicts` tables of one replica. */
export class MergeTables implements CounterOps {
  private readonly st: MergeStatements;

  constructor(private readonly db: Db) {
    this.st = {
      insert: db.prepare(
        'INSERT OR IGNORE INTO counter_ops (collection, id, field, op, delta, ver, seq) VALUES (?,?,?,?,?,?,?)',
      ),
      list: db.prepare('SELECT field, op, delta, ver, seq FROM counter_ops WHERE collection = ? AND id = ?'),
      prune: db.prepare('DELETE FROM counter_ops WHERE collection = ? AND id = ? AND field = ? AND op = ?'),
      setVersion: db.prepare(
        'UPDATE counter_ops SET ver = ? WHERE collection = ? AND id = ? AND field = ? AND op = ?',
      ),
      rename: db.prepare(
        'UPDATE counter_ops SET op = ?, ver = ? WHERE collection = ? AND id = ? AND field = ? AND op = ?',
      ),
      deleteObject: db.prepare('DELETE FROM counter_ops WHERE collection = ? AND id = ?'),
      conflict: db.prepare(
        'INSERT INTO conflicts (at, collection, id, field, loser, loser_ver, winner_ver) VALUES (?,?,?,?,?,?,?)',
      ),
      conflicts: db.prepare('SELECT * FROM conflicts ORDER BY rowid DESC LIMIT ?'),
    };
  }

  insert(collection: string, id: string, inc: CounterIncrement, ver: StoredVersion, seq: number): boolean {
    return (
      this.st.insert.run(collection, id, inc.field, inc.op, inc.delta, JSON.stringify(ver), seq).changes === 1
    );
  }

  list(collection: string, id: string): StoredIncrement[] {
    return this.st.list.all(collection, id).map((r) => ({
      field: r.field,
      op: r.op,
      delta: r.delta,
      ver: JSON.parse(r.ver) as StoredVersion,
      seq: r.seq,
    }));
  }

  prune(collection: string, id: string, field: string, op: string): void {
    this.st.prune.run(collection, id, field, op);
  }

  conflict(
    collection: string,
    id: string,
    field: string,
    loser: unknown,
    loserVer: StoredVersion,
    winnerVer: StoredVersion,
  ): void {
    this.st.conflict.run(
      Date.now(),
      collection,
      id,
      field,
      JSON.stringify(loser),
      JSON.stringify(loserVer),
      JSON.stringify(winnerVer),
    );
  }

  /** Gives an increment a new version (the hub re-stamped it), keeping its id. */
  setVersion(collection: string, id: string, inc: StoredIncrement, ver: StoredVersion): void {
    this.st.setVersion.run(JSON.stringify(ver), collection, id, inc.field, inc.op);
  }

  /** Gives an increment a new id and version (a restamp of a write that never left the node). */
  rename(collection: string, id: string, inc: StoredIncrement, op: string, ver: StoredVersion): void {
    this.st.rename.run(op, JSON.stringify(ver), collection, id, inc.field, inc.op);
  }

  /** Forgets every increment of an object (it was evicted, or its tombstone collected). */
  deleteObject(collection: string, id: string): void {
    this.st.deleteObject.run(collection, id);
  }

  /** Forgets every increment of every object (a full resync). */
  deleteAll(): void {
    this.db.exec('DELETE FROM counter_ops');
  }

  /** The most recent entries of the conflict log, newest first. */
  recentConflicts(limit: number): ConflictEntry[] {
    return this.st.conflicts.all(limit).map((r) => ({
      at: r.at,
      collection: r.collection,
      id: r.id,
      field: r.field,
      loser: JSON.parse(r.loser),
      loserVersion: loadVersion(JSON.parse(r.loser_ver)),
      winnerVersion: loadVersion(JSON.parse(r.winner_ver)),
    }));
  }
}
