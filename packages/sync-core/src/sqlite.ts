/**
 * The one place sync-core touches better-sqlite3. The rest of the package sees {@link Db}, the subset
 * of better-sqlite3's Database it needs (in the manner of kysely's SqliteDatabase).
 */
import Database from 'better-sqlite3';

export interface Statement {
  run(...params: unknown[]): { changes: number; lastInsertRowid: number | bigint };
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  iterate(...params: unknown[]): IterableIterator<unknown>;
  raw(toggle?: boolean): Statement;
  pluck(toggle?: boolean): Statement;
}

export interface Db {
  prepare(sql: string): Statement;
  exec(sql: string): unknown;
  pragma(sql: string, opts?: { simple?: boolean }): unknown;
  transaction<F extends (...args: never[]) => unknown>(fn: F): F;
  backup(destination: string): Promise<unknown>;
  close(): unknown;
  readonly inTransaction: boolean;
  readonly open: boolean;
}

/**
 * Opens (creating if needed) a SQLite file in WAL mode with the settings a replica needs:
 * `synchronous=NORMAL` under WAL keeps every committed transaction across a process crash (SIGKILL);
 * `FULL` additionally survives power loss and is what `durable: true` selects.
 */
export function openDatabase(path: string, opts: { durable?: boolean } = {}): Db {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${opts.durable ? 'FULL' : 'NORMAL'}`);
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  // 64 MiB page cache: a 100k-change merge touches far more than the 2 MiB default.
  db.pragma('cache_size = -65536');
  return db as unknown as Db;
}
