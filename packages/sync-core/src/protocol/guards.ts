/**
 * Hand-written checks shared by the protocol's encoders and decoders. They sit on the hub's hot path
 * (20k+ changes/s), so they test `typeof` directly, build error paths only when something fails, and never
 * copy a value that is already valid.
 */
import { SyncError } from '../errors.js';

/** Deepest nesting of arrays/objects accepted inside a field value (also what stops any cycle). */
export const MAX_VALUE_DEPTH = 64;

const TWO_64 = 1n << 64n;
/** Canonical decimal cursor: "0" or a number without leading zeros, at most 20 digits (fits a uint64). */
const CURSOR = /^(?:0|[1-9][0-9]{0,19})$/;

/** The SYNC_ERR_MESSAGE_MALFORMED error for the problem `reason` at `path` (`$` is the message root). */
export function malformed(path: string, reason: string, cause?: unknown): SyncError {
  return new SyncError(
    'SYNC_ERR_MESSAGE_MALFORMED',
    `malformed sync message at ${path}: ${reason}`,
    { path, reason },
    cause,
  );
}

/** A short description of a value's type for error messages, never the value itself. */
export function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'array';
  if (typeof x === 'object') {
    const name = (Object.getPrototypeOf(x) as { constructor?: { name?: unknown } } | null)?.constructor?.name;
    return typeof name === 'string' && name !== 'Object' ? name : 'object';
  }
  return typeof x;
}

/** True for a plain object (a decoded MessagePack map or an object literal), not an array, Date, Map... */
export function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

/** `x` as a non-empty string, or throws MALFORMED at `path`. */
export function nonEmptyString(x: unknown, path: string): string {
  if (typeof x !== 'string' || x.length === 0) {
    throw malformed(path, `expected a non-empty string, got ${x === '' ? 'an empty string' : describe(x)}`);
  }
  return x;
}

/** `x` as a string (possibly empty), or throws MALFORMED at `path`. */
export function anyString(x: unknown, path: string): string {
  if (typeof x !== 'string') throw malformed(path, `expected a string, got ${describe(x)}`);
  return x;
}

/** `x` as a boolean, or throws MALFORMED at `path`. */
export function bool(x: unknown, path: string): boolean {
  if (typeof x !== 'boolean') throw malformed(path, `expected a boolean, got ${describe(x)}`);
  return x;
}

/** `x` as a finite number, or throws MALFORMED at `path`. */
export function finiteNumber(x: unknown, path: string): number {
  if (typeof x !== 'number' || !Number.isFinite(x))
    throw malformed(path, `expected a finite number, got ${describe(x)}`);
  return x;
}

/** `x` as a finite number >= 0 (a clock reading in ms, a duration), or throws MALFORMED at `path`. */
export function nonNegativeNumber(x: unknown, path: string): number {
  if (typeof x !== 'number' || !(x >= 0) || x === Number.POSITIVE_INFINITY) {
    throw malformed(path, `expected a finite number >= 0, got ${describe(x)}`);
  }
  return x;
}

/** `x` as a safe integer >= 0, or throws MALFORMED at `path`. */
export function unsignedInteger(x: unknown, path: string): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) {
    throw malformed(path, `expected a non-negative integer, got ${describe(x)}`);
  }
  return x;
}

/** `x` as a safe integer > 0, or throws MALFORMED at `path`. */
export function positiveInteger(x: unknown, path: string): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x <= 0) {
    throw malformed(path, `expected a positive integer, got ${describe(x)}`);
  }
  return x;
}

/** `x` as a hub change sequence cursor (canonical decimal string), or throws MALFORMED at `path`. */
export function cursor(x: unknown, path: string): string {
  if (typeof x !== 'string' || !CURSOR.test(x)) {
    throw malformed(
      path,
      'expected a decimal cursor string ("0" or digits without leading zero, at most 20)',
    );
  }
  return x;
}

/** `x` as a Sync Clock stamp: a bigint in [0, 2^64). A number is refused, never converted. */
export function stamp(x: unknown, path: string): bigint {
  if (typeof x !== 'bigint' || x < 0n || x >= TWO_64) {
    throw malformed(path, `expected a bigint stamp in [0, 2^64), got ${describe(x)}`);
  }
  return x;
}

/** `x` as a plain object (a MessagePack map), or throws MALFORMED at `path`. */
export function plainObject(x: unknown, path: string): Record<string, unknown> {
  if (!isPlainObject(x)) throw malformed(path, `expected a map, got ${describe(x)}`);
  return x;
}

/** `x` as an array, or throws MALFORMED at `path`. */
export function array(x: unknown, path: string): readonly unknown[] {
  if (!Array.isArray(x)) throw malformed(path, `expected an array, got ${describe(x)}`);
  return x;
}

/** Appends a map key to a path: `.name` for identifier-like keys, `["odd key"]` otherwise. */
export function keyPath(path: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

interface ValueProblem {
  /** Path below the value, e.g. `.lines[2].qty`. */
  readonly at: string;
  readonly reason: string;
}

/**
 * Checks that `x` is JSON-like data: string, finite number, boolean, null, arrays and plain objects, at most
 * {@link MAX_VALUE_DEPTH} levels deep. Everything else — undefined, NaN/±Infinity, bigint, Date, Map, Set,
 * RegExp, Error, binary (Uint8Array/Buffer), class instances, array holes, and an own `__proto__` key
 * (MessagePack decoders rename it) — throws MALFORMED at the offending path. Nothing is converted.
 */
export function checkJsonValue(x: unknown, path: string): void {
  const problem = valueProblem(x, 0);
  if (problem !== undefined) throw malformed(path + problem.at, problem.reason);
}

/** True when `x` is JSON-like data as {@link checkJsonValue} defines it; allocates nothing when it is. */
export function isJsonValue(x: unknown): boolean {
  return valueProblem(x, 0) === undefined;
}

function valueProblem(x: unknown, depth: number): ValueProblem | undefined {
  switch (typeof x) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(x) ? undefined : { at: '', reason: `non-finite number ${x}` };
    case 'object': {
      if (x === null) return undefined;
      if (depth >= MAX_VALUE_DEPTH) return { at: '', reason: `value nested deeper than ${MAX_VALUE_DEPTH}` };
      if (Array.isArray(x)) {
        for (let i = 0; i < x.length; i++) {
          const p = valueProblem(x[i], depth + 1);
          if (p !== undefined) return { at: `[${i}]${p.at}`, reason: p.reason };
        }
        return undefined;
      }
      if (!isPlainObject(x)) {
        return { at: '', reason: `${describe(x)} is not JSON-like data (only plain objects and arrays)` };
      }
      for (const key in x) {
        if (key === '__proto__') return { at: '', reason: 'own "__proto__" key is not allowed' };
        const p = valueProblem(x[key], depth + 1);
        if (p !== undefined) return { at: keyPath('', key) + p.at, reason: p.reason };
      }
      return undefined;
    }
    default:
      return { at: '', reason: `${typeof x} is not JSON-like data` };
  }
}
