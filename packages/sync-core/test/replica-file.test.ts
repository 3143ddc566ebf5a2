/**
 * The replica's file on disk: private to its owner (folders 0700, the database, -wal and -shm 0600), and
 * a file that cannot hold a replica is a coded error naming the file and what to do, never a raw SQLite
 * stack trace nor a silently empty store.
 */
import assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  readdirSync,
  readlinkSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isSyncError, ReplicaStore } from '@backroom/sync-core';
import { retailSchema, tempDir } from './helpers.js';

const posix = process.platform !== 'win32';
const mode = (path: string) => statSync(path).mode & 0o777;
const open = (path: string, nodeId = 'till-1') => ReplicaStore.open({ path, schema: retailSchema, nodeId });

/** Files this process holds open (Linux): a failed open must leave none of the replica's behind. */
function openFiles(): string[] {
  if (!existsSync('/proc/self/fd')) return [];
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      out.push(readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

function assertCorrupt(path: string, what: RegExp, withCause: boolean) {
  let err: unknown;
  try {
    open(path).close();
  } catch (e) {
    err = e;
  }
  assert.ok(
    isSyncError(err, 'SYNC_ERR_STORE_CORRUPT'),
    `expected SYNC_ERR_STORE_CORRUPT, got ${String(err)}`,
  );
  assert.equal(err.details.file, path);
  assert.ok(err.message.startsWith(`${path} `), err.message);
  assert.match(err.message, what);
  assert.match(err.message, /restore it from a backup, or move it aside to start this replica empty/);
  if (withCause) assert.match(String((err.cause as { code?: string }).code), /^SQLITE_(NOTADB|CORRUPT)/);
  assert.deepEqual(
    openFiles().filter((f) => f.startsWith(path)),
    [],
    'nothing of the file is left open',
  );
}

test('a new replica in a new folder: folder 0700, database, -wal and -shm 0600', { skip: !posix }, (t) => {
  const dir = join(tempDir(t), 'data', 'pos-3');
  const path = join(dir, 'till.db');
  const store = open(path);
  t.after(() => store.close());
  store.put('orders', 'o-1', { status: 'open', total: 9.5 });
  assert.equal(mode(dir), 0o700);
  assert.equal(mode(join(dir, '..')), 0o700, 'every folder created on the way');
  for (const f of [path, `${path}-wal`, `${path}-shm`]) assert.equal(mode(f), 0o600, f);
});

test('an existing database, -wal and -shm readable by others are set to 0600', { skip: !posix }, (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'till.db');
  const first = open(path);
  t.after(() => first.close());
  first.put('orders', 'o-1', { status: 'open' });
  for (const f of [path, `${path}-wal`, `${path}-shm`]) chmodSync(f, 0o644);
  chmodSync(dir, 0o755);
  const again = open(path);
  t.after(() => again.close());
  for (const f of [path, `${path}-wal`, `${path}-shm`]) assert.equal(mode(f), 0o600, f);
  assert.equal(mode(dir), 0o755, 'a folder the replica did not create is left alone');
  assert.equal(again.get('orders', 'o-1')?.status, 'open');
});

test('a backup copy is private too', { skip: !posix }, async (t) => {
  const dir = tempDir(t);
  const store = open(join(dir, 'till.db'));
  t.after(() => store.close());
  store.put('orders', 'o-1', { status: 'open' });
  const copy = join(dir, 'backups', 'till-1.db');
  await store.backup(copy);
  assert.equal(mode(copy), 0o600);
  assert.equal(mode(join(dir, 'backups')), 0o700);
});

test('a file of garbage bytes is SYNC_ERR_STORE_CORRUPT naming the file, nothing left open', (t) => {
  const path = join(tempDir(t), 'hub.db');
  writeFileSync(path, Buffer.alloc(8192, 7));
  assertCorrupt(path, /is not a valid database/, false);
  // Something that starts like SQLite but is not: SQLite's own verdict is the cause.
  const fake = Buffer.alloc(8192, 7);
  fake.write('SQLite format 3\0', 0, 'latin1');
  writeFileSync(path, fake);
  assertCorrupt(path, /is not a valid database \(/, true);
});

test('a truncated database is SYNC_ERR_STORE_CORRUPT with the SQLite error as its cause', (t) => {
  const path = join(tempDir(t), 'hub.db');
  const store = open(path, 'hub');
  for (let i = 0; i < 500; i++) store.put('orders', `o-${i}`, { status: 'open', note: 'x'.repeat(200) });
  store.close();
  truncateSync(path, Math.floor(statSync(path).size / 2));
  assertCorrupt(path, /is not a valid database \(database disk image is malformed\)/, true);
});

test('a zero-byte database is refused, not silently started empty', (t) => {
  const path = join(tempDir(t), 'hub.db');
  writeFileSync(path, '');
  assertCorrupt(path, /is empty \(0 bytes\)/, false);
  assert.equal(statSync(path).size, 0, 'the file is left as it was');
});

test('a brand-new path still creates a fresh replica, and it opens again', (t) => {
  const path = join(tempDir(t), 'new', 'hub.db');
  const store = open(path, 'hub');
  store.put('orders', 'o-1', { status: 'open' });
  store.close();
  const again = open(path, 'hub');
  t.after(() => again.close());
  assert.equal(again.get('orders', 'o-1')?.status, 'open');
});
