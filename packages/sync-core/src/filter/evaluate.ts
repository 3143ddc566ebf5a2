/**
 * Filter evaluation in JavaScript. These are the semantics; `filterToSql` produces SQL that must give
 * exactly the same answer on the same documents (a property test checks it against real SQLite).
 *
 * ## Semantics
 * - **Values** are JSON values. A field path walks nested objects (`address.city`); a missing field, or
 *   a path through something that is not an object (an array, a string), reads as `null`.
 * - **No type coercion.** Values have one of the types null, boolean, number (ints and floats are one
 *   type: `1 == 1.0`), string, and "composite" (objects and arrays). Values of different types are never
 *   equal and never ordered: `"1" == 1`, `true == 1`, `0 == null` are all false.
 * - `==` is true for equal values of the same type; `null == null` is true, so `x == null` is true when
 *   `x` is missing or JSON null. Composites (objects, arrays) are equal to nothing, not even themselves:
 *   filters compare scalars.
 * - `!=` is exactly `NOT (==)`: `status != "closed"` is true when `status` is missing, a number, or any
 *   other string; `x != null` is true when `x` is present and not null.
 * - `<`, `>`, `<=`, `>=` hold only between two numbers or two strings; with null, booleans, composites
 *   or mixed types they are false (so `x <= null` is false even when `x` is null). Strings order by
 *   Unicode code point, which is the same as UTF-8 byte order and SQLite's BINARY collation.
 * - `==~` compares two strings ignoring ASCII case only (`"ABC" ==~ "abc"`; `"É" ==~ "é"` is false,
 *   because SQLite's built-in case folding is ASCII-only). `^=`, `*=`, `$=` are "starts with",
 *   "contains", "ends with" between two strings, case-sensitive; the empty string is a prefix, infix and
 *   suffix of every string. All four are false unless both sides are strings.
 * - `x IN [a, b]` is `x == a OR x == b`; an empty list is false. `x IN $auth.stores` uses the list in
 *   the variable (a single value is a one-member list).
 * - `AND`, `OR`, `NOT` are ordinary two-valued logic (there is no "unknown").
 * - **Variables** are resolved before anything is compared: a variable that is missing or null takes its
 *   `??` default; without one the whole evaluation throws `SYNC_ERR_FILTER_VARIABLE`, whatever the object.
 * - Strings with unpaired surrogates and integers beyond 2^53 are outside the contract (JSON text in
 *   SQLite cannot hold the former exactly, JavaScript numbers cannot hold the latter).
 */

import type { Filter, FilterCompareOp, FilterVars } from './ast.js';
import { type BoundFilter, type BoundOperand, bindFilter, readPath } from './resolve.js';

/** The comparison classes of the semantics: null, boolean, number, string, composite/other. */
type ValueClass = 'z' | 'b' | 'n' | 's' | 'o';

function classOf(v: unknown): ValueClass {
  if (v === null || v === undefined) return 'z';
  switch (typeof v) {
    case 'boolean':
      return 'b';
    case 'number':
      return Number.isFinite(v) ? 'n' : 'o';
    case 'string':
      return 's';
    default:
      return 'o';
  }
}

/** Maps a UTF-16 unit so that unit order equals code point order (surrogates sort above U+FFFF's units). */
function fixup(u: number): number {
  if (u < 0xd800) return u;
  return u >= 0xe000 ? u - 0x800 : u + 0x2000;
}

/** Compares strings by code point (= UTF-8 byte order = SQLite BINARY), not by UTF-16 unit. */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return fixup(x) - fixup(y);
  }
  return a.length - b.length;
}

/** Lower-cases A-Z only, matching SQLite's built-in `lower()`. */
function asciiLower(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

/** `a == b` under the filter semantics. */
export function filterValuesEqual(a: unknown, b: unknown): boolean {
  const c = classOf(a);
  if (c !== classOf(b) || c === 'o') return false;
  return c === 'z' || a === b;
}

/** `a OP b` under the filter semantics (see the module comment). */
export function compareFilterValues(op: FilterCompareOp, a: unknown, b: unknown): boolean {
  switch (op) {
    case '==':
      return filterValuesEqual(a, b);
    case '!=':
      return !filterValuesEqual(a, b);
    case '<':
    case '>':
    case '<=':
    case '>=': {
      const c = classOf(a);
      if (c !== classOf(b) || (c !== 'n' && c !== 's')) return false;
      const d = c === 'n' ? (a as number) - (b as number) : compareCodePoints(a as string, b as string);
      return op === '<' ? d < 0 : op === '>' ? d > 0 : op === '<=' ? d <= 0 : d >= 0;
    }
    default: {
      if (typeof a !== 'string' || typeof b !== 'string') return false;
      if (op === '==~') return asciiLower(a) === asciiLower(b);
      if (op === '^=') return a.startsWith(b);
      if (op === '*=') return a.includes(b);
      return a.endsWith(b);
    }
  }
}

type Getter = (obj: Readonly<Record<string, unknown>>) => unknown;

function operandGetter(o: BoundOperand): Getter {
  if (o.kind === 'literal') {
    const v = o.value;
    return () => v;
  }
  const path = o.path;
  return (obj) => readPath(obj, path);
}

type Predicate = (obj: Readonly<Record<string, unknown>>) => boolean;

function build(f: BoundFilter): Predicate {
  switch (f.kind) {
    case 'cmp': {
      const { op } = f;
      const left = operandGetter(f.left);
      const right = operandGetter(f.right);
      return (obj) => compareFilterValues(op, left(obj), right(obj));
    }
    case 'in': {
      const left = operandGetter(f.left);
      const list = f.list;
      return (obj) => {
        const v = left(obj);
        return list.some((item) => filterValuesEqual(v, item));
      };
    }
    case 'not': {
      const arg = build(f.arg);
      return (obj) => !arg(obj);
    }
    case 'and': {
      const args = f.args.map(build);
      return (obj) => args.every((p) => p(obj));
    }
    case 'or': {
      const args = f.args.map(build);
      return (obj) => args.some((p) => p(obj));
    }
  }
}

/**
 * Resolves the variables of `f` once and returns a predicate over objects: use it to route many
 * changes for one device. `undefined` (no filter) matches everything.
 *
 * @throws SyncError `SYNC_ERR_FILTER_VARIABLE` when a variable has no value and no default.
 * @example
 * const sees = compileFilter(parseFilter('terminalId == $auth.sub'), { auth: { sub: 'pos-1' } });
 * sees({ id: 't1', terminalId: 'pos-1' }); // true
 */
export function compileFilter(
  f: Filter | undefined,
  vars?: FilterVars,
): (obj: Readonly<Record<string, unknown>>) => boolean {
  if (f === undefined) return () => true;
  return build(bindFilter(f, vars));
}

/**
 * True when `obj` matches `f` (see the semantics in this module's comment). `undefined` matches
 * everything.
 *
 * @throws SyncError `SYNC_ERR_FILTER_VARIABLE` when a variable has no value and no default, whatever
 *   `obj` holds.
 * @example
 * evaluateFilter(parseFilter('status IN ["open", "approved"]'), { status: 'open' }); // true
 */
export function evaluateFilter(
  f: Filter | undefined,
  obj: Readonly<Record<string, unknown>>,
  vars?: FilterVars,
): boolean {
  return compileFilter(f, vars)(obj);
}
