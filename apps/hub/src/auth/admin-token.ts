/** The admin token: a random bearer token for the HTTP API, kept in `DATA/admin-token` (mode 0600). */
import {
  chmodSync,
  closeSync,
  constants,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { HubError } from '../errors.js';
import { generateSecret } from './credentials.js';

/** File name of the admin token inside the data directory. */
export const ADMIN_TOKEN_FILE = 'admin-token';

/** What {@link ensureAdminToken} found or made. */
export interface AdminToken {
  readonly token: string;
  readonly file: string;
  /** True when this call created the file. */
  readonly created: boolean;
  /** True when an existing file was readable by others and has been restricted to 0600. */
  readonly permissionsFixed: boolean;
}

/**
 * Returns the admin token, creating `DATA/admin-token` on first start. The file is created with
 * `O_CREAT|O_EXCL` and mode 0600 in the same system call, so it is never readable by others, not even
 * between creation and a later chmod (the umask can only remove permission bits).
 *
 * @throws HubError `HUB_ERR_DATA_DIR` when the file cannot be created or read, or is empty.
 */
export function ensureAdminToken(dataDir: string): AdminToken {
  const file = join(dataDir, ADMIN_TOKEN_FILE);
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    let fd: number | undefined;
    try {
      fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    if (fd !== undefined) {
      const token = generateSecret();
      try {
        writeSync(fd, `${token}\n`);
      } finally {
        closeSync(fd);
      }
      return { token, file, created: true, permissionsFixed: false };
    }
    let permissionsFixed = false;
    if ((statSync(file).mode & 0o077) !== 0) {
      chmodSync(file, 0o600);
      permissionsFixed = true;
    }
    const token = readFileSync(file, 'utf8').trim();
    if (token.length < 16) {
      throw new Error('the file is empty or too short (delete it to have a new token made)');
    }
    return { token, file, created: false, permissionsFixed };
  } catch (e) {
    throw new HubError(
      'HUB_ERR_DATA_DIR',
      `cannot use the admin token file ${file}: ${(e as Error).message}`,
      { file },
      e,
    );
  }
}
