/**
 * A {@link Change} on the wire. Changes are the bulk of every `push` and `changes` message, so they travel
 * as positional tuples rather than maps (no key names repeated per change):
 *
 * ```text
 * change    = [collection, id, fields?, exists?, bases?, incs?]   (absent → nil; trailing nils dropped)
 * fields    = { name: [v, version] }                               (bases has the same shape)
 * exists    = [v: bool, version]
 * incs      = [[field, delta, version, op], ...]
 * version   = [p: uint, s: int64/uint64 stamp, n: node id]
 * ```
 *
 * {@link encodeChange} produces exactly the bytes a change has inside a message, so a store may keep them
 * in an oplog or outbox (recording the PROTOCOL_VERSION it wrote them with, as the tuples carry none).
 */
import type { Change, CounterIncrement, FieldWrite, Version } from '../types.js';
import {
  array,
  bool,
  checkJsonValue,
  describe,
  finiteNumber,
  isJsonValue,
  isPlainObject,
  keyPath,
  malformed,
  nonEmptyString,
  stamp,
  unsignedInteger,
} from './guards.js';
import { packr, unpackr } from './msgpack.js';

/** Version tuple on the wire. */
export type WireVersion = [p: number, s: bigint, n: string];
type WireFieldWrite = [v: unknown, ver: WireVersion];
type WireIncrement = [field: string, delta: number, ver: WireVersion, op: string];
/** Change tuple on the wire. */
export type WireChange = unknown[];

// ---- encode: validate a Change and build its wire form in one pass -------------------------------------

const TWO_64 = 1n << 64n;

/** Fast check of a Version; the error paths below are built only when it fails. */
function isVersion(v: Version | undefined): v is Version {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.p === 'number' &&
    Number.isSafeInteger(v.p) &&
    v.p >= 0 &&
    typeof v.s === 'bigint' &&
    v.s >= 0n &&
    v.s < TWO_64 &&
    typeof v.n === 'string' &&
    v.n.length > 0
  );
}

/** Throws MALFORMED for the first problem of a version that failed {@link isVersion}. */
function badVersion(ver: unknown, path: string): never {
  if (typeof ver !== 'object' || ver === null)
    throw malformed(path, `expected a version, got ${describe(ver)}`);
  const v = ver as Record<string, unknown>;
  unsignedInteger(v.p, `${path}.p`);
  stamp(v.s, `${path}.s`);
  nonEmptyString(v.n, `${path}.n`);
  throw malformed(path, 'invalid version');
}

function versionToWire(ver: Version | undefined, path: string): WireVersion {
  if (!isVersion(ver)) badVersion(ver, path);
  return [ver.p, ver.s, ver.n];
}

function writesToWire(
  writes: Readonly<Record<string, FieldWrite>>,
  path: string,
): Record<string, WireFieldWrite> {
  if (!isPlainObject(writes))
    throw malformed(path, `expected a map of field writes, got ${describe(writes)}`);
  const out: Record<string, WireFieldWrite> = {};
  for (const name in writes) {
    const w = writes[name];
    if (
      name.length > 0 &&
      // msgpackr renames a "__proto__" map key on decode; refusing it keeps encode and decode symmetric.
      name !== '__proto__' &&
      typeof w === 'object' &&
      w !== null &&
      isVersion(w.ver) &&
      isJsonValue(w.v)
    ) {
      out[name] = [w.v, [w.ver.p, w.ver.s, w.ver.n]];
      continue;
    }
    if (name.length === 0 || name === '__proto__')
      throw malformed(path, `invalid field name ${JSON.stringify(name)}`);
    const at = keyPath(path, name);
    if (typeof w !== 'object' || w === null)
      throw malformed(at, `expected a field write, got ${describe(w)}`);
    if (!('ver' in w)) throw malformed(at, 'field write without ver');
    versionToWire(w.ver, `${at}.ver`);
    checkJsonValue(w.v, `${at}.v`);
    throw malformed(at, 'invalid field write');
  }
  return out;
}

function incsToWire(incs: readonly CounterIncrement[], path: string): WireIncrement[] {
  if (!Array.isArray(incs)) throw malformed(path, `expected an array of increments, got ${describe(incs)}`);
  const out: WireIncrement[] = new Array(incs.length);
  for (let i = 0; i < incs.length; i++) {
    const inc = incs[i];
    if (
      typeof inc === 'object' &&
      inc !== null &&
      typeof inc.field === 'string' &&
      inc.field.length > 0 &&
      typeof inc.delta === 'number' &&
      Number.isFinite(inc.delta) &&
      isVersion(inc.ver) &&
      typeof inc.op === 'string' &&
      inc.op.length > 0
    ) {
      out[i] = [inc.field, inc.delta, [inc.ver.p, inc.ver.s, inc.ver.n], inc.op];
      continue;
    }
    const p = `${path}[${i}]`;
    if (typeof inc !== 'object' || inc === null)
      throw malformed(p, `expected an increment, got ${describe(inc)}`);
    nonEmptyString(inc.field, `${p}.field`);
    finiteNumber(inc.delta, `${p}.delta`);
    versionToWire(inc.ver, `${p}.ver`);
    nonEmptyString(inc.op, `${p}.op`);
    throw malformed(p, 'invalid increment');
  }
  return out;
}

/** Validates `c` and returns its wire tuple; throws MALFORMED with `details.path` below `path`. */
export function changeToWire(c: Change, path: string): WireChange {
  if (typeof c !== 'object' || c === null) throw malformed(path, `expected a change, got ${describe(c)}`);
  const out: unknown[] = [
    nonEmptyString(c.collection, `${path}.collection`),
    nonEmptyString(c.id, `${path}.id`),
  ];
  let last = 1;
  if (c.fields !== undefined) {
    out[2] = writesToWire(c.fields, `${path}.fields`);
    last = 2;
  }
  if (c.exists !== undefined) {
    const e = c.exists;
    if (typeof e !== 'object' || e === null)
      throw malformed(`${path}.exists`, `expected { v, ver }, got ${describe(e)}`);
    out[3] = [bool(e.v, `${path}.exists.v`), versionToWire(e.ver, `${path}.exists.ver`)];
    last = 3;
  }
  if (c.bases !== undefined) {
    out[4] = writesToWire(c.bases, `${path}.bases`);
    last = 4;
  }
  if (c.incs !== undefined) {
    out[5] = incsToWire(c.incs, `${path}.incs`);
    last = 5;
  }
  // Absent registers in the middle are nil; trailing ones are dropped.
  for (let i = 2; i < last; i++) if (out[i] === undefined) out[i] = null;
  out.length = last + 1;
  return out;
}

// ---- decode: validate a wire tuple and build the Change --------------------------------------------------

/** Fast check of a wire version tuple. */
function isWireVersion(x: unknown): x is WireVersion {
  if (!Array.isArray(x) || x.length !== 3) return false;
  const p = x[0];
  const s = x[1];
  const n = x[2];
  return (
    typeof p === 'number' &&
    Number.isSafeInteger(p) &&
    p >= 0 &&
    typeof s === 'bigint' &&
    s >= 0n &&
    s < TWO_64 &&
    typeof n === 'string' &&
    n.length > 0
  );
}

function versionFromWire(x: unknown, path: string): Version {
  if (isWireVersion(x)) return { p: x[0], s: x[1], n: x[2] };
  if (!Array.isArray(x) || x.length !== 3) throw malformed(path, 'expected a version tuple [p, s, n]');
  unsignedInteger(x[0], `${path}.p`);
  stamp(x[1], `${path}.s`);
  nonEmptyString(x[2], `${path}.n`);
  throw malformed(path, 'invalid version');
}

function writesFromWire(x: unknown, path: string): Record<string, FieldWrite> {
  if (!isPlainObject(x)) throw malformed(path, `expected a map of field writes, got ${describe(x)}`);
  const out: Record<string, FieldWrite> = {};
  for (const name in x) {
    const w = x[name];
    if (name.length > 0 && Array.isArray(w) && w.length === 2 && isWireVersion(w[1]) && isJsonValue(w[0])) {
      const ver = w[1];
      out[name] = { v: w[0], ver: { p: ver[0], s: ver[1], n: ver[2] } };
      continue;
    }
    if (name.length === 0) throw malformed(path, 'empty field name');
    const at = keyPath(path, name);
    if (!Array.isArray(w) || w.length !== 2) {
      throw malformed(at, 'expected a field write tuple [v, ver] (a write needs its ver)');
    }
    versionFromWire(w[1], `${at}.ver`);
    checkJsonValue(w[0], `${at}.v`);
    throw malformed(at, 'invalid field write');
  }
  return out;
}

function incsFromWire(x: unknown, path: string): CounterIncrement[] {
  const incs = array(x, path);
  const out: CounterIncrement[] = new Array(incs.length);
  for (let i = 0; i < incs.length; i++) {
    const w = incs[i];
    if (
      Array.isArray(w) &&
      w.length === 4 &&
      typeof w[0] === 'string' &&
      w[0].length > 0 &&
      typeof w[1] === 'number' &&
      Number.isFinite(w[1]) &&
      isWireVersion(w[2]) &&
      typeof w[3] === 'string' &&
      w[3].length > 0
    ) {
      const ver = w[2];
      out[i] = { field: w[0], delta: w[1], ver: { p: ver[0], s: ver[1], n: ver[2] }, op: w[3] };
      continue;
    }
    const p = `${path}[${i}]`;
    if (!Array.isArray(w) || w.length !== 4)
      throw malformed(p, 'expected an increment tuple [field, delta, ver, op]');
    nonEmptyString(w[0], `${p}.field`);
    finiteNumber(w[1], `${p}.delta`);
    versionFromWire(w[2], `${p}.ver`);
    nonEmptyString(w[3], `${p}.op`);
    throw malformed(p, 'invalid increment');
  }
  return out;
}

/** Validates a decoded wire tuple and returns the Change; throws MALFORMED with `details.path` below `path`. */
export function changeFromWire(x: unknown, path: string): Change {
  if (!Array.isArray(x) || x.length < 2 || x.length > 6) {
    throw malformed(path, 'expected a change tuple [collection, id, fields?, exists?, bases?, incs?]');
  }
  const change: {
    collection: string;
    id: string;
    fields?: Record<string, FieldWrite>;
    exists?: { v: boolean; ver: Version };
    bases?: Record<string, FieldWrite>;
    incs?: CounterIncrement[];
  } = { collection: nonEmptyString(x[0], `${path}.collection`), id: nonEmptyString(x[1], `${path}.id`) };
  if (x.length > 2 && x[2] !== null) change.fields = writesFromWire(x[2], `${path}.fields`);
  if (x.length > 3 && x[3] !== null) {
    const e = x[3];
    if (!Array.isArray(e) || e.length !== 2) throw malformed(`${path}.exists`, 'expected a tuple [v, ver]');
    change.exists = { v: bool(e[0], `${path}.exists.v`), ver: versionFromWire(e[1], `${path}.exists.ver`) };
  }
  if (x.length > 4 && x[4] !== null) change.bases = writesFromWire(x[4], `${path}.bases`);
  if (x.length > 5 && x[5] !== null) change.incs = incsFromWire(x[5], `${path}.incs`);
  return change;
}

/**
 * Encodes one change alone, exactly as it appears inside a `push` or `changes` message — for oplogs and
 * outboxes. Validates it first.
 *
 * @throws SyncError `SYNC_ERR_MESSAGE_MALFORMED` (with `details.path`) when the change is not valid, for
 *   example a stamp that is a number rather than a bigint, or a field value that is not JSON-like data.
 * @example
 * const bytes = encodeChange({ collection: 'inventory', id: 'SKU-1', incs: [inc] });
 * const again = decodeChange(bytes);
 */
export function encodeChange(c: Change): Uint8Array {
  return packr.pack(changeToWire(c, '$'));
}

/**
 * Decodes bytes written by {@link encodeChange}, validating every register before returning.
 *
 * @throws SyncError `SYNC_ERR_MESSAGE_MALFORMED` (with `details.path`) for anything that is not a valid change.
 */
export function decodeChange(b: Uint8Array): Change {
  if (!(b instanceof Uint8Array)) throw malformed('$', `expected bytes, got ${describe(b)}`);
  let wire: unknown;
  try {
    wire = unpackr.unpack(b);
  } catch (e) {
    throw malformed('$', 'not a complete MessagePack value', e);
  }
  return changeFromWire(wire, '$');
}
