/**
 * The replica file: opening it (refusing one that is empty, damaged, of a newer format or another node's),
 * creating its tables, and copying it while it is in use. Every way a replica file can be unusable ends
 * here as one `SYNC_ERR_STORE_CORRUPT` naming the file and what to do, so the hub and the agent can stop
 * with one line instead of starting empty over a damaged store.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { SyncError } from '../errors.js';
import { type Db, openDatabase, prepareDatabaseFile } from '../sqlite.js';
import type { Stamp } from '../types.js';
import { FORMAT, SCHEMA_SQL } from './rows.js';
import { VECTOR_SCHEMA_SQL } from './vectors.js';

/** A replica file opened and checked: its database and what the last commit left in `meta`. */
export interface OpenedReplica {
  readonly db: Db;
  /** The local change sequence of the last commit. */
  readonly seq: number;
  /** The clock's high-water mark of the last commit; undefined in a new file. */
  readonly highWater: Stamp | undefined;
}

/**
 * Opens or creates the replica file `file` of node `nodeId`, creates its tables and hands the result to
 * `build` (which prepares its statements). A missing file (and missing folders) is created, the folders
 * with mode 0700 and the file 0600; an existing file is set to 0600. `durable` selects `synchronous=FULL`
 * (see `openDatabase`).
 * @throws SyncError `SYNC_ERR_STORE_CORRUPT` (`details.file`, the SQLite error in `cause`) when the file
 *   is empty (0 bytes), is not a valid SQLite database or is damaged, was written by a newer format,
 *   belongs to another node id, or cannot be opened at all, `build` included. Nothing is left open.
 */
export function openReplicaFile<T>(
  file: string,
  nodeId: string,
  durable: boolean | undefined,
  build: (opened: OpenedReplica) => T,
): T {
  let db: Db | undefined;
  try {
    checkReplicaFile(file);
    db = openDatabase(file, { durable });
    db.exec(SCHEMA_SQL);
    db.exec(VECTOR_SCHEMA_SQL);
    const meta = db.prepare<[key: string], string>('SELECT value FROM meta WHERE key = ?').pluck();
    const format = meta.get('format');
    const node = meta.get('node');
    if (format === undefined) {
      db.prepare<string[], never>('INSERT INTO meta (key, value) VALUES (?, ?), (?, ?), (?, ?)').run(
        'format',
        String(FORMAT),
        'node',
        nodeId,
        'seq',
        '0',
      );
    } else if (Number(format) > FORMAT) {
      throw new SyncError(
        'SYNC_ERR_STORE_CORRUPT',
        `${file} was written by a newer Backroom (replica format ${format}; this version reads up to ${FORMAT})`,
        { file, format },
      );
    } else if (node !== nodeId) {
      throw new SyncError(
        'SYNC_ERR_STORE_CORRUPT',
        `${file} belongs to node ${JSON.stringify(node)}, not ${JSON.stringify(nodeId)}`,
        { file, fileNode: node, nodeId },
      );
    }
    if (format !== undefined && Number(format) < FORMAT) {
      // Format 1 → 2: the vector blobs are filled from the documents when the store is built (vectors.ts).
      db.prepare<[string], never>("UPDATE meta SET value = ? WHERE key = 'format'").run(String(FORMAT));
    }
    const hw = meta.get('clock');
    const seq = Number(meta.get('seq') ?? '0');
    return build({ db, seq, highWater: hw === undefined ? undefined : BigInt(`0x${hw}`) });
  } catch (e) {
    db?.close();
    if (e instanceof SyncError) throw e;
    const code = String((e as { code?: unknown })?.code ?? '');
    if (code.startsWith('SQLITE_CORRUPT') || code.startsWith('SQLITE_NOTADB')) {
      throw storeCorrupt(file, `is not a valid database (${(e as Error).message})`, e);
    }
    throw new SyncError(
      'SYNC_ERR_STORE_CORRUPT',
      `cannot open replica file ${file}: ${(e as Error)?.message ?? String(e)}`,
      { file },
      e,
    );
  }
}

/**
 * Writes a consistent copy of the replica to `file` while it stays in use (SQLite online backup). The copy
 * is private like the replica: mode 0600, missing folders 0700.
 * @throws SyncError `SYNC_ERR_BACKUP_FAILED` with the cause.
 */
export async function backupReplica(db: Db, file: string): Promise<void> {
  try {
    prepareDatabaseFile(file);
    await db.backup(file);
  } catch (e) {
    throw new SyncError('SYNC_ERR_BACKUP_FAILED', 'backup failed', { file }, e);
  }
}

/** `SYNC_ERR_STORE_CORRUPT` for a replica file that holds no usable database: what to do about it. */
function storeCorrupt(file: string, what: string, cause?: unknown): SyncError {
  return new SyncError(
    'SYNC_ERR_STORE_CORRUPT',
    `${file} ${what}: restore it from a backup, or move it aside to start this replica empty (devices will resync)`,
    { file },
    cause,
  );
}

/** The first 16 bytes of every SQLite database file. */
const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');

/**
 * Refuses a replica file that exists but cannot hold a database, before SQLite opens it: a zero-byte
 * file would otherwise silently start as an empty store. A missing file is fine (a new replica).
 * A zero-byte file next to a non-empty `-wal` is left to SQLite.
 */
function checkReplicaFile(file: string): void {
  if (file === '' || file === ':memory:' || file.startsWith('file:')) return;
  let size: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) return; // SQLite reports what it is
    size = st.size;
  } catch {
    return; // missing (a new replica), or unreadable: SQLite reports it
  }
  if (size === 0) {
    let walSize = 0;
    try {
      walSize = statSync(`${file}-wal`).size;
    } catch {
      // no -wal
    }
    if (walSize === 0) throw storeCorrupt(file, 'is empty (0 bytes)');
    return;
  }
  const head = Buffer.alloc(SQLITE_HEADER.length);
  let n = 0;
  try {
    const fd = openSync(file, 'r');
    try {
      n = readSync(fd, head, 0, head.length, 0);
    } finally {
      closeSync(fd);
    }
  } catch {
    return; // unreadable: SQLite reports it
  }
  if (n < head.length || !head.equals(SQLITE_HEADER)) {
    throw storeCorrupt(file, 'is not a valid database (not an SQLite file: its header is wrong)');
  }
}
