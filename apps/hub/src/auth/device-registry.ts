/**
 * The device registry: enrolled devices in `DATA/devices.db` (SQLite, WAL). Stores a scrypt hash of each
 * device's credential, never the credential itself.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { HubError } from '../errors.js';
import { DUMMY_HASH, generateSecret, hashSecret, verifySecret } from './credentials.js';
import { assertDeviceId, assertDeviceRole, type DeviceRole } from './device.js';
import { openSqlite, type SqliteDatabase } from './sqlite.js';

/** File name of the registry inside the data directory. */
export const DEVICES_DB_FILE = 'devices.db';

/** One enrolled device. Times are milliseconds since the Unix epoch. */
export interface DeviceRecord {
  readonly id: string;
  readonly role: DeviceRole;
  readonly store: string | null;
  readonly createdAt: number;
  /** When `devices revoke` ran, or null while the device is active. */
  readonly revokedAt: number | null;
  /** Last MQTT connect or disconnect of the device as seen by a hub, or null if never. */
  readonly lastSeen: number | null;
}

/** What {@link DeviceRegistry.add} returns: the record and the credential, which is never stored. */
export interface EnrolledDevice {
  readonly device: DeviceRecord;
  readonly credential: string;
}

interface Row {
  id: string;
  role: DeviceRole;
  store: string | null;
  secret_hash: string;
  created_at: number;
  revoked_at: number | null;
  last_seen: number | null;
}

const SCHEMA_VERSION = 1;

/**
 * Device registry over one SQLite file. Safe to open from the `devices` CLI while a hub runs (WAL mode);
 * a revocation made by the CLI applies to the next connection attempt of that device.
 *
 * @example
 * const registry = DeviceRegistry.open(config.dataDir);
 * const { credential } = await registry.add({ id: 'pos-1', role: 'pos', store: 'berlin-01' });
 */
export class DeviceRegistry {
  readonly file: string;
  readonly #db: SqliteDatabase;

  private constructor(file: string, db: SqliteDatabase) {
    this.file = file;
    this.#db = db;
  }

  /**
   * Opens or creates `DATA/devices.db`, creating the data directory (mode 0700) if needed.
   * @throws HubError `HUB_ERR_DATA_DIR` when the directory or the file cannot be created or opened.
   */
  static open(dataDir: string): DeviceRegistry {
    const file = join(dataDir, DEVICES_DB_FILE);
    try {
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      chmodSync(dataDir, 0o700);
      // Created 0600 before SQLite opens it, so its -wal and -shm files (same mode as the file) are too.
      const existed = existsSync(file);
      if (!existed) closeSync(openSync(file, 'a', 0o600));
      else if (statSync(file).size === 0) {
        // SQLite would take an empty file for a new database: every enrolled device would be gone.
        throw new HubError(
          'HUB_ERR_DATA_CORRUPT',
          `${file} is empty (0 bytes) but should hold the enrolled devices: restore it from a backup of the data folder, or delete it and enrol the devices again`,
          { file },
        );
      }
      for (const f of [file, `${file}-wal`, `${file}-shm`]) if (existsSync(f)) chmodSync(f, 0o600);
    } catch (e) {
      if (e instanceof HubError) throw e;
      throw new HubError(
        'HUB_ERR_DATA_DIR',
        `cannot open the device registry ${file}: ${(e as Error).message}`,
        { file },
        e,
      );
    }
    let db: SqliteDatabase | undefined;
    let version: number;
    try {
      db = openSqlite(file);
      version = db.pragma('user_version', { simple: true }) as number;
      if (version === 0) {
        db.exec(`CREATE TABLE IF NOT EXISTS devices (
          id TEXT PRIMARY KEY,
          role TEXT NOT NULL,
          store TEXT,
          secret_hash TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          revoked_at INTEGER,
          last_seen INTEGER
        ) STRICT`);
        db.pragma(`user_version = ${SCHEMA_VERSION}`);
      }
      db.prepare('SELECT count(*) FROM devices').get();
    } catch (e) {
      db?.close();
      const code = String((e as { code?: unknown }).code ?? '');
      if (code.startsWith('SQLITE_CORRUPT') || code.startsWith('SQLITE_NOTADB')) {
        throw new HubError(
          'HUB_ERR_DATA_CORRUPT',
          `${file} is not a valid database (${(e as Error).message}): restore it from a backup of the data folder, or move it aside and enrol the devices again`,
          { file },
          e,
        );
      }
      throw new HubError(
        'HUB_ERR_DATA_DIR',
        `cannot open the device registry ${file}: ${(e as Error).message}`,
        { file },
        e,
      );
    }
    if (version > SCHEMA_VERSION) {
      db.close();
      throw new HubError('HUB_ERR_DATA_DIR', `${file} was written by a newer hub (format ${version})`, {
        file,
        version,
      });
    }
    return new DeviceRegistry(file, db);
  }

  /**
   * Enrols a device with a fresh random credential and returns it; only its hash is stored.
   * @throws HubError `HUB_ERR_INVALID_DEVICE_ID`, `HUB_ERR_INVALID_ROLE`, or `HUB_ERR_DEVICE_EXISTS` when the
   *   id is taken (also by a revoked device: ids are never reused, so old data cannot be inherited).
   */
  async add(input: { id: string; role: string; store?: string | null }): Promise<EnrolledDevice> {
    assertDeviceId(input.id);
    assertDeviceRole(input.role);
    if (this.get(input.id)) {
      throw new HubError('HUB_ERR_DEVICE_EXISTS', `device "${input.id}" is already enrolled`, {
        deviceId: input.id,
      });
    }
    const credential = generateSecret();
    const hash = await hashSecret(credential);
    const now = Date.now();
    try {
      this.#db
        .prepare('INSERT INTO devices (id, role, store, secret_hash, created_at) VALUES (?, ?, ?, ?, ?)')
        .run(input.id, input.role, input.store ?? null, hash, now);
    } catch (e) {
      // Another process enrolled the same id between the check and the insert.
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
        throw new HubError(
          'HUB_ERR_DEVICE_EXISTS',
          `device "${input.id}" is already enrolled`,
          { deviceId: input.id },
          e,
        );
      }
      throw e;
    }
    return { device: this.get(input.id)!, credential };
  }

  /** The device with this id, revoked or not, or undefined. */
  get(id: string): DeviceRecord | undefined {
    const row = this.#db.prepare('SELECT * FROM devices WHERE id = ?').get(id) as Row | undefined;
    return row && toRecord(row);
  }

  /** Every enrolled device, revoked ones included, ordered by id. */
  list(): DeviceRecord[] {
    return (this.#db.prepare('SELECT * FROM devices ORDER BY id').all() as Row[]).map(toRecord);
  }

  /**
   * Revokes a device: its credential stops working at its next connection attempt. Idempotent.
   * @throws HubError `HUB_ERR_DEVICE_NOT_FOUND` when no device has this id.
   */
  revoke(id: string): DeviceRecord {
    this.#db
      .prepare('UPDATE devices SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL')
      .run(Date.now(), id);
    const device = this.get(id);
    if (!device) throw new HubError('HUB_ERR_DEVICE_NOT_FOUND', `no device "${id}"`, { deviceId: id });
    return device;
  }

  /**
   * The device when `credential` is its credential and it is not revoked, otherwise null. An unknown id
   * costs the same scrypt work as a known one, so response times do not reveal which ids exist.
   */
  async verify(id: string, credential: string): Promise<DeviceRecord | null> {
    const row = this.#db.prepare('SELECT * FROM devices WHERE id = ?').get(id) as Row | undefined;
    const ok = await verifySecret(credential, row?.secret_hash ?? DUMMY_HASH);
    return ok && row && row.revoked_at === null ? toRecord(row) : null;
  }

  /** Records that the device was seen at `at` (ms). Unknown ids are ignored. */
  touch(id: string, at: number): void {
    this.#db
      .prepare('UPDATE devices SET last_seen = max(coalesce(last_seen, 0), ?) WHERE id = ?')
      .run(at, id);
  }

  /** Closes the database file. */
  close(): void {
    this.#db.close();
  }
}

function toRecord(row: Row): DeviceRecord {
  return {
    id: row.id,
    role: row.role,
    store: row.store,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
    lastSeen: row.last_seen,
  };
}
