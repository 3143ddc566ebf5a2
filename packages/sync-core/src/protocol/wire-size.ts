/**
 * The exact encoded size of a change, computed without encoding it: splitChanges measures every change of
 * a long outbox, and walking the values is several times faster than writing them (no buffers, no garbage).
 *
 * The rules mirror msgpackr's writer as configured in msgpack.ts (`useRecords: false`, `variableMapSize`,
 * no float32): the smallest MessagePack header for every string, array and map; integers in the 32-bit
 * range in 1/2/3/5 bytes, every other number as float64 (9 bytes), every bigint as int64/uint64 (9 bytes).
 * A property test checks it against the real encoder on random changes. The walk validates as it goes,
 * exactly as changeToWire does, so an invalid change throws the same MALFORMED error.
 */
import type { Change, FieldWrite, Version } from '../types.js';
import { changeToWire } from './change-codec.js';
import { MAX_VALUE_DEPTH } from './guards.js';
import { packr } from './msgpack.js';

/** UTF-8 length of `s` as msgpackr writes it (a lone surrogate becomes U+FFFD, 3 bytes). */
function utf8Length(s: string): number {
  const len = s.length;
  // Node's native count is faster past a few dozen characters (it also counts a lone surrogate as 3).
  if (len > 24) return Buffer.byteLength(s, 'utf8');
  let n = len;
  for (let i = 0; i < len; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if ((c & 0xfc00) === 0xd800 && i + 1 < len && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 2; // a surrogate pair: 2 code units, 4 bytes
      i++;
    } else n += 2;
  }
  return n;
}

function stringSize(s: string): number {
  const n = utf8Length(s);
  return n + (n < 0x20 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5);
}

function numberSize(x: number): number {
  if (x >>> 0 === x) return x < 0x80 ? 1 : x < 0x100 ? 2 : x < 0x10000 ? 3 : 5;
  if (x >> 0 === x) return x >= -0x20 ? 1 : x >= -0x80 ? 2 : x >= -0x8000 ? 3 : 5;
  return 9;
}

/** Array or map header for `n` entries (same thresholds for both). */
function headerSize(n: number): number {
  return n < 0x10 ? 1 : n < 0x10000 ? 3 : 5;
}

/** Size of a JSON-like value, or -1 when it is not one (the caller then reports where). */
function valueSize(x: unknown, depth: number): number {
  switch (typeof x) {
    case 'string':
      return stringSize(x);
    case 'boolean':
      return 1;
    case 'number':
      return Number.isFinite(x) ? numberSize(x) : -1;
    case 'object': {
      if (x === null) return 1;
      if (depth >= MAX_VALUE_DEPTH) return -1;
      if (Array.isArray(x)) {
        let size = headerSize(x.length);
        for (let i = 0; i < x.length; i++) {
          const s = valueSize(x[i], depth + 1);
          if (s < 0) return -1;
          size += s;
        }
        return size;
      }
      const proto = Object.getPrototypeOf(x);
      if (proto !== Object.prototype && proto !== null) return -1;
      let size = 0;
      let count = 0;
      for (const key in x) {
        if (key === '__proto__') return -1;
        const s = valueSize((x as Record<string, unknown>)[key], depth + 1);
        if (s < 0) return -1;
        size += stringSize(key) + s;
        count++;
      }
      return size + headerSize(count);
    }
    default:
      return -1;
  }
}

function versionSize(v: Version | undefined): number {
  // [p, s, n]: p a non-negative safe integer, s a bigint stamp (always 9 bytes), n a non-empty string.
  if (typeof v !== 'object' || v === null) return -1;
  const { p, s, n } = v;
  if (typeof p !== 'number' || !Number.isSafeInteger(p) || p < 0) return -1;
  if (typeof s !== 'bigint' || s < 0n || s >= 1n << 64n) return -1;
  if (typeof n !== 'string' || n.length === 0) return -1;
  return 1 + numberSize(p) + 9 + stringSize(n);
}

function writesSize(writes: Readonly<Record<string, FieldWrite>>): number {
  if (typeof writes !== 'object' || writes === null || Array.isArray(writes)) return -1;
  const proto = Object.getPrototypeOf(writes);
  if (proto !== Object.prototype && proto !== null) return -1;
  let size = 0;
  let count = 0;
  for (const name in writes) {
    if (name.length === 0 || name === '__proto__') return -1;
    const w = writes[name];
    if (typeof w !== 'object' || w === null || !('ver' in w)) return -1;
    const v = valueSize(w.v, 0);
    const ver = versionSize(w.ver);
    if (v < 0 || ver < 0) return -1;
    size += stringSize(name) + 1 + v + ver;
    count++;
  }
  return size + headerSize(count);
}

function changeSizeOrInvalid(c: Change): number {
  if (typeof c !== 'object' || c === null) return -1;
  if (typeof c.collection !== 'string' || c.collection.length === 0) return -1;
  if (typeof c.id !== 'string' || c.id.length === 0) return -1;
  let size = stringSize(c.collection) + stringSize(c.id);
  // Tuple slots 2..5 in order; absent ones before a present one are nil (1 byte), trailing ones are dropped.
  let last = 1;
  if (c.fields !== undefined) {
    const s = writesSize(c.fields);
    if (s < 0) return -1;
    size += s + (2 - last - 1);
    last = 2;
  }
  if (c.exists !== undefined) {
    const e = c.exists;
    if (typeof e !== 'object' || e === null || typeof e.v !== 'boolean') return -1;
    const ver = versionSize(e.ver);
    if (ver < 0) return -1;
    size += 1 + 1 + ver + (3 - last - 1);
    last = 3;
  }
  if (c.bases !== undefined) {
    const s = writesSize(c.bases);
    if (s < 0) return -1;
    size += s + (4 - last - 1);
    last = 4;
  }
  if (c.incs !== undefined) {
    const incs = c.incs;
    if (!Array.isArray(incs)) return -1;
    let s = headerSize(incs.length);
    for (const inc of incs) {
      if (typeof inc !== 'object' || inc === null) return -1;
      if (typeof inc.field !== 'string' || inc.field.length === 0) return -1;
      if (typeof inc.delta !== 'number' || !Number.isFinite(inc.delta)) return -1;
      if (typeof inc.op !== 'string' || inc.op.length === 0) return -1;
      const ver = versionSize(inc.ver);
      if (ver < 0) return -1;
      s += 1 + stringSize(inc.field) + numberSize(inc.delta) + ver + stringSize(inc.op);
    }
    size += s + (5 - last - 1);
    last = 5;
  }
  return size + headerSize(last + 1);
}

/**
 * Exact size in bytes of `encodeChange(c)` (and of `c` inside a message), validating `c` on the way.
 *
 * @throws SyncError `SYNC_ERR_MESSAGE_MALFORMED` with `details.path` below `path` when `c` is not valid.
 */
export function changeWireSize(c: Change, path: string): number {
  const size = changeSizeOrInvalid(c);
  if (size >= 0) return size;
  // Invalid: the encoder's own validation says exactly where (it throws). Should it ever accept what this
  // walk refused, its encoding is measured instead, so the two can never disagree on the result.
  return packr.pack(changeToWire(c, path)).length;
}
