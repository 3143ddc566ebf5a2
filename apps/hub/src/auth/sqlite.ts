/**
 * The only file of the hub that imports better-sqlite3 (STYLE.md: each native module in one file).
 * The rest of the hub sees {@link SqliteDatabase}, the subset of better-sqlite3's Database it needs.
 */
import Database from 'better-sqlite3';

/** A prepared statement: the subset of better-sqlite3's `Statement` the hub uses. */
export interface SqliteStatement {
  run(...params: unknown[]): { changes: number };
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}

/** The subset of better-sqlite3's `Database` the hub uses. */
export interface SqliteDatabase {
  prepare(sql: string): SqliteStatement;
  exec(sql: string): void;
  pragma(sql: string, options?: { simple?: boolean }): unknown;
  close(): void;
}

/**
 * Opens (creating if needed) a SQLite file in WAL mode, so that the `devices` CLI and a running hub can
 * use the same file at the same time; writers wait up to 5 s for each other instead of failing.
 */
export function openSqlite(file: string): SqliteDatabase {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  db.pragma('synchronous = NORMAL');
  return db as unknown as SqliteDatabase;
}
