/**
 * The one place sync-core touches better-sqlite3. The rest of the package sees {@link Db}, the subset
 * of better-sqlite3's Database it needs (in the manner of kysely's SqliteDatabase).
 */
import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';

/** What running a statement that writes reports. */
export interface RunResult {
  readonly changes: number;
  readonly lastInsertRowid: number | bigint;
}

/**
 * A prepared statement: `Params` are its parameters in order, `Row` is what one result row reads as
 * (an object of its columns; the first column's value after {@link pluck}; `never` for a statement that
 * returns no rows). Modules declare their statements by name with both, so a misspelt statement or a
 * wrong row shape is a compile error (better-sqlite3's own `Statement<BindParameters, Result>`).
 */
export interface Statement<Params extends unknown[] = unknown[], Row = unknown> {
  run(...params: Params): RunResult;
  get(...params: Params): Row | undefined;
  all(...params: Params): Row[];
  iterate(...params: Params): IterableIterator<Row>;
  /** Rows as arrays of their column values: declare `Row` as that array. */
  raw(toggle?: boolean): this;
  /** Rows as their first column's value: declare `Row` as that value's type. */
  pluck(toggle?: boolean): this;
}

/** The subset of better-sqlite3's Database that sync-core uses. */
export interface Db {
  /** Prepares `sql`; `Params` and `Row` are declared by the caller (see {@link Statement}). */
  prepare<Params extends unknown[] = unknown[], Row = unknown>(sql: string): Statement<Params, Row>;
  exec(sql: string): unknown;
  pragma(sql: string, opts?: { simple?: boolean }): unknown;
  transaction<F extends (...args: never[]) => unknown>(fn: F): F;
  backup(destination: string): Promise<unknown>;
  close(): unknown;
  readonly inTransaction: boolean;
  readonly open: boolean;
}

/** Mode of a folder holding database files: owner only (CONTRACT.md "Security defaults"). */
export const DATA_DIR_MODE = 0o700;
/** Mode of a database file and its `-wal` and `-shm` files: owner only. */
export const DATABASE_FILE_MODE = 0o600;

const errno = (e: unknown) => (e as NodeJS.ErrnoException)?.code;

/**
 * Makes a database file private before SQLite opens it (a terminal's sales must not be readable by
 * other local users):
 * - creates the missing folders on the way to it with mode 0700 (existing folders are left alone);
 * - creates the file with mode 0600 when it is missing, so that the `-wal` and `-shm` files SQLite
 *   creates next to it, which take the database file's mode, are 0600 too;
 * - sets an existing file, `-wal` and `-shm` to 0600 (a file owned by someone else is left as it is).
 * `:memory:` and `""` (temporary databases) are left alone.
 * @throws the file system's error when a folder or the file cannot be created.
 */
export function prepareDatabaseFile(path: string): void {
  if (path === '' || path === ':memory:' || path.startsWith('file:')) return;
  const dir = dirname(resolve(path));
  const first = mkdirSync(dir, { recursive: true, mode: DATA_DIR_MODE });
  if (first !== undefined) {
    // The umask may have taken bits away: set each folder created here exactly.
    for (let d = dir; ; d = dirname(d)) {
      chmodSync(d, DATA_DIR_MODE);
      if (d === first || d === dirname(d)) break;
    }
  }
  try {
    closeSync(openSync(path, 'wx', DATABASE_FILE_MODE));
  } catch (e) {
    if (errno(e) !== 'EEXIST') throw e;
  }
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      if ((statSync(file).mode & 0o777) !== DATABASE_FILE_MODE) chmodSync(file, DATABASE_FILE_MODE);
    } catch (e) {
      if (errno(e) !== 'ENOENT' && errno(e) !== 'EPERM') throw e;
    }
  }
}

/**
 * Opens (creating if needed) a SQLite file in WAL mode with the settings a replica needs:
 * `synchronous=NORMAL` under WAL keeps every committed transaction across a process crash (SIGKILL);
 * `FULL` additionally survives power loss and is what `durable: true` selects. The file, its `-wal` and
 * `-shm` are made 0600 and missing folders 0700 first ({@link prepareDatabaseFile}).
 * @throws better-sqlite3's `SqliteError` (`code` `SQLITE_NOTADB`, `SQLITE_CORRUPT`, ...) when the file
 *   is not a database it can use (the handle is closed), or the file system's error.
 */
export function openDatabase(path: string, opts: { durable?: boolean } = {}): Db {
  prepareDatabaseFile(path);
  const db = new Database(path);
  try {
    configure(db, opts);
  } catch (e) {
    db.close();
    throw e;
  }
  return db as unknown as Db;
}

function configure(db: Database.Database, opts: { durable?: boolean }): void {
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${opts.durable ? 'FULL' : 'NORMAL'}`);
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  // 64 MiB page cache: a 100k-change merge touches far more than the 2 MiB default.
  db.pragma('cache_size = -65536');
}
