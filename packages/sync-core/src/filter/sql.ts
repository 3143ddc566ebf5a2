/**
 * Compiles a filter to a SQLite boolean expression over JSON documents, with the exact semantics of
 * `evaluateFilter` (see evaluate.ts). How the type rules map onto SQLite:
 *
 * - `json_type(doc, '$.p')` tells the JSON type ('null', 'true', 'false', 'integer', 'real', 'text',
 *   'array', 'object', or SQL NULL when missing); `json_extract(doc, '$.p')` gives the value (JSON
 *   true/false come back as 1/0 and objects as JSON text, which is why every value test is guarded by a
 *   type test).
 * - Every generated sub-expression is 0 or 1, never SQL NULL: a type guard that cannot be NULL comes
 *   first in each `AND`, and `IS` is used where a side may be NULL. So `NOT (...)` around the result is
 *   safe, e.g. to select the rows a device must evict.
 * - Field paths are validated identifiers and spliced as `'$.a.b'` (so an index on
 *   `json_extract(doc, '$.a')` can serve `a == "x"` and `a IN [...]`); every value from the filter text
 *   or from a variable goes into `params`, never into the SQL text.
 * - Strings: `=` and `<` compare with BINARY collation (UTF-8 bytes = code points); `==~` uses the
 *   built-in ASCII-only `lower()`; `^=`, `*=`, `$=` work on the UTF-8 bytes (`CAST(... AS BLOB)`),
 *   which also keeps strings holding NUL characters exact.
 */

import type { Filter, FilterCompareOp, FilterScalar, FilterVars } from './ast.js';
import { FILTER_COMPARE_OPS, isFieldPath } from './ast.js';
import { compareFilterValues, filterValuesEqual } from './evaluate.js';
import { type BoundFilter, type BoundOperand, bindFilter } from './resolve.js';
import { chainSqlDepth, LEAF_SQL_DEPTH, MAX_FILTER_SQL_DEPTH } from './sql-depth.js';

/** A piece of SQL with the parameters for its `?` placeholders, in order. */
interface Frag {
  readonly sql: string;
  readonly params: readonly unknown[];
}

/** Joins SQL text with fragments, keeping each fragment's params at its placeholders' position. */
function q(strings: TemplateStringsArray, ...parts: Frag[]): Frag {
  let sql = strings[0]!;
  const params: unknown[] = [];
  parts.forEach((p, i) => {
    sql += p.sql + strings[i + 1]!;
    params.push(...p.params);
  });
  return { sql, params };
}

const TRUE: Frag = { sql: '1', params: [] };
const FALSE: Frag = { sql: '0', params: [] };
const constant = (b: boolean): Frag => (b ? TRUE : FALSE);
const param = (v: unknown): Frag => ({ sql: '?', params: [v] });

/**
 * `a OP b OP c ...` as a balanced tree: `((a OP b) OP (c OP d))`. SQLite parses a flat chain as a
 * left-deep tree one level per operand and refuses expressions deeper than 1000 levels ("Expression tree
 * is too large"), so a 999-term OR would fail; balanced, it is ceil(log2(n)) levels deep. AND and OR are
 * associative and every operand is 0 or 1, so the grouping does not change the result, and SQLite's
 * planner splits nested AND/OR terms the same way it splits a flat chain.
 */
function join(frags: readonly Frag[], op: 'AND' | 'OR'): Frag {
  if (frags.length === 0) return op === 'AND' ? TRUE : FALSE;
  const sql: string[] = [];
  const params: unknown[] = [];
  const emit = (lo: number, hi: number) => {
    if (hi - lo === 1) {
      sql.push(frags[lo]!.sql);
      params.push(...frags[lo]!.params);
      return;
    }
    const mid = (lo + hi) >>> 1;
    sql.push('(');
    emit(lo, mid);
    sql.push(` ${op} `);
    emit(mid, hi);
    sql.push(')');
  };
  emit(0, frags.length);
  return { sql: sql.join(''), params };
}

/** The arguments of an AND (or OR) with nested ANDs (ORs) lifted into it: `(a AND b) AND c` → `[a, b, c]`. */
function flatArgs(f: BoundFilter & { kind: 'and' | 'or' }): BoundFilter[] {
  const out: BoundFilter[] = [];
  const stack: BoundFilter[] = [...f.args].reverse();
  while (stack.length) {
    const a = stack.pop()!;
    if (a.kind === f.kind) for (let i = a.args.length - 1; i >= 0; i--) stack.push(a.args[i]!);
    else out.push(a);
  }
  return out;
}

/** The JSON type and value of one field of the document column. */
interface FieldSql {
  /** `json_type(...)`: NULL when missing. */
  readonly type: Frag;
  /** `json_extract(...)`: NULL when missing or JSON null. */
  readonly value: Frag;
}

function quoteIdent(name: string): string {
  return name
    .split('.')
    .map((part) => `"${part}"`)
    .join('.');
}

/** Where the compiled SQL reads an object from: its JSON document, and optionally its id column. */
interface Source {
  readonly doc: string;
  readonly id: string | undefined;
}

const NULL_FIELD: FieldSql = { type: { sql: 'NULL', params: [] }, value: { sql: 'NULL', params: [] } };

function fieldSql(src: Source, path: string): FieldSql {
  // Defence in depth: trees can be built by hand, so the path is checked here again before it is
  // spliced into SQL. A valid path holds only [A-Za-z0-9_.], nothing that can end the SQL string.
  if (!isFieldPath(path)) throw new TypeError(`Not a valid filter field path: ${JSON.stringify(path)}`);
  if (src.id !== undefined && (path === 'id' || path.startsWith('id.'))) {
    // The object id is a column, always a string; a path into it reads null, as it does in JavaScript.
    if (path !== 'id') return NULL_FIELD;
    return { type: { sql: `'text'`, params: [] }, value: { sql: src.id, params: [] } };
  }
  const doc = src.doc;
  return {
    type: { sql: `json_type(${doc}, '$.${path}')`, params: [] },
    value: { sql: `json_extract(${doc}, '$.${path}')`, params: [] },
  };
}

function checkScalar(v: unknown): FilterScalar {
  const ok =
    v === null ||
    typeof v === 'string' ||
    typeof v === 'boolean' ||
    (typeof v === 'number' && Number.isFinite(v));
  if (!ok) throw new TypeError(`Not a valid filter literal: ${String(v)}`);
  return v as FilterScalar;
}

const isText = (f: FieldSql): Frag => q`${f.type} IS 'text'`;
const isNumber = (f: FieldSql): Frag => q`coalesce(${f.type}, '') IN ('integer', 'real')`;

/** Mirrored operator for `literal OP field` → `field OP' literal`. */
const FLIPPED: Readonly<Record<string, FilterCompareOp>> = {
  '==': '==',
  '!=': '!=',
  '==~': '==~',
  '<': '>',
  '>': '<',
  '<=': '>=',
  '>=': '<=',
};

function asciiLower(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

/** `field == literal`, in the forms an index on `json_extract(doc, '$.f')` can serve. */
function fieldEquals(f: FieldSql, v: FilterScalar): Frag {
  if (v === null) return q`${f.value} IS NULL`;
  if (typeof v === 'boolean') return v ? q`${f.type} IS 'true'` : q`${f.type} IS 'false'`;
  // `IS` (not `=`): 0 rather than NULL when the field is missing.
  if (typeof v === 'number') return q`(${f.value} IS ${param(v)} AND ${isNumber(f)})`;
  return q`(${f.value} IS ${param(v)} AND ${isText(f)})`;
}

/** `field OP literal` for every operator. */
function fieldVersusLiteral(op: FilterCompareOp, f: FieldSql, v: FilterScalar): Frag {
  switch (op) {
    case '==':
      return fieldEquals(f, v);
    case '!=':
      return q`NOT (${fieldEquals(f, v)})`;
    case '<':
    case '>':
    case '<=':
    case '>=': {
      const cmp: Frag = { sql: ` ${op} `, params: [] };
      if (typeof v === 'number') return q`(${isNumber(f)} AND ${f.value}${cmp}${param(v)})`;
      if (typeof v === 'string') return q`(${isText(f)} AND ${f.value}${cmp}${param(v)})`;
      return FALSE;
    }
    case '==~':
      if (typeof v !== 'string') return FALSE;
      return q`(${isText(f)} AND lower(${f.value}) = ${param(asciiLower(v))})`;
    case '^=':
      if (typeof v !== 'string') return FALSE;
      return q`(${isText(f)} AND instr(CAST(${f.value} AS BLOB), CAST(${param(v)} AS BLOB)) = 1)`;
    case '*=':
      if (typeof v !== 'string') return FALSE;
      return q`(${isText(f)} AND instr(CAST(${f.value} AS BLOB), CAST(${param(v)} AS BLOB)) > 0)`;
    case '$=': {
      if (typeof v !== 'string') return FALSE;
      if (v === '') return isText(f);
      // substr(blob, -n) is the last n bytes; the length guard comes first because substr() of an
      // empty blob is NULL, not an empty blob.
      const n = Buffer.byteLength(v, 'utf8');
      const bytes = q`CAST(${f.value} AS BLOB)`;
      return q`(${isText(f)} AND length(${bytes}) >= ${param(n)} AND substr(${bytes}, ${param(-n)}) = CAST(${param(v)} AS BLOB))`;
    }
  }
}

/** Any operand as a comparison class ('z','b','n','s','o', see evaluate.ts) and a value. */
interface GenericSql {
  readonly cls: Frag;
  readonly value: Frag;
}

function genericOperand(o: BoundOperand, src: Source): GenericSql {
  if (o.kind === 'field') {
    const f = fieldSql(src, o.path);
    return {
      cls: q`(CASE coalesce(${f.type}, 'null') WHEN 'integer' THEN 'n' WHEN 'real' THEN 'n' WHEN 'text' THEN 's' WHEN 'true' THEN 'b' WHEN 'false' THEN 'b' WHEN 'null' THEN 'z' ELSE 'o' END)`,
      value: f.value,
    };
  }
  const v = checkScalar(o.value);
  // The class letters are this module's own constants, not user text.
  if (v === null) return { cls: { sql: `'z'`, params: [] }, value: { sql: 'NULL', params: [] } };
  if (typeof v === 'boolean') return { cls: { sql: `'b'`, params: [] }, value: param(v ? 1 : 0) };
  return { cls: { sql: typeof v === 'number' ? `'n'` : `'s'`, params: [] }, value: param(v) };
}

/** `a OP b` for any two operands (field vs field, or a literal on the left of a string operator). */
function generic(op: FilterCompareOp, a: GenericSql, b: GenericSql): Frag {
  switch (op) {
    case '==':
      return q`(${a.cls} = ${b.cls} AND (${a.cls} = 'z' OR (${a.cls} IN ('b', 'n', 's') AND ${a.value} = ${b.value})))`;
    case '!=':
      return q`NOT (${generic('==', a, b)})`;
    case '<':
    case '>':
    case '<=':
    case '>=': {
      const cmp: Frag = { sql: ` ${op} `, params: [] };
      return q`(${a.cls} = ${b.cls} AND ${a.cls} IN ('n', 's') AND ${a.value}${cmp}${b.value})`;
    }
    default: {
      const ba = q`CAST(${a.value} AS BLOB)`;
      const bb = q`CAST(${b.value} AS BLOB)`;
      const test =
        op === '==~'
          ? q`lower(${a.value}) = lower(${b.value})`
          : op === '^='
            ? q`instr(${ba}, ${bb}) = 1`
            : op === '*='
              ? q`instr(${ba}, ${bb}) > 0`
              : // substr() of an empty blob is NULL, hence the length guards.
                q`(length(${bb}) = 0 OR (length(${ba}) >= length(${bb}) AND substr(${ba}, -length(${bb})) = ${bb}))`;
      return q`(${a.cls} = 's' AND ${b.cls} = 's' AND ${test})`;
    }
  }
}

function compare(op: FilterCompareOp, left: BoundOperand, right: BoundOperand, src: Source): Frag {
  if (!FILTER_COMPARE_OPS.includes(op)) throw new TypeError(`Not a filter operator: ${String(op)}`);
  if (left.kind === 'literal' && right.kind === 'literal') {
    return constant(compareFilterValues(op, checkScalar(left.value), checkScalar(right.value)));
  }
  if (left.kind === 'field' && right.kind === 'literal') {
    return fieldVersusLiteral(op, fieldSql(src, left.path), checkScalar(right.value));
  }
  const flipped = FLIPPED[op];
  if (left.kind === 'literal' && right.kind === 'field' && flipped !== undefined) {
    return fieldVersusLiteral(flipped, fieldSql(src, right.path), checkScalar(left.value));
  }
  return generic(op, genericOperand(left, src), genericOperand(right, src));
}

function inList(left: BoundOperand, list: readonly FilterScalar[], src: Source): Frag {
  if (left.kind === 'literal') {
    const v = checkScalar(left.value);
    return constant(list.some((item) => filterValuesEqual(v, checkScalar(item))));
  }
  const f = fieldSql(src, left.path);
  const items = list.map(checkScalar);
  const numbers = items.filter((v) => typeof v === 'number');
  const strings = items.filter((v) => typeof v === 'string');
  const parts: Frag[] = [];
  if (items.includes(null)) parts.push(fieldEquals(f, null));
  if (items.includes(true)) parts.push(fieldEquals(f, true));
  if (items.includes(false)) parts.push(fieldEquals(f, false));
  const placeholders = (vs: readonly FilterScalar[]): Frag => ({
    sql: vs.map(() => '?').join(', '),
    params: vs,
  });
  if (numbers.length > 0) parts.push(q`(${isNumber(f)} AND ${f.value} IN (${placeholders(numbers)}))`);
  if (strings.length > 0) parts.push(q`(${isText(f)} AND ${f.value} IN (${placeholders(strings)}))`);
  return join(parts, 'OR');
}

/** A compiled filter node and the estimated depth of its SQL (see sql-depth.ts). */
interface Compiled extends Frag {
  readonly depth: number;
}

/**
 * An AND/OR chain: the arguments' SQL joined as a balanced tree, the deepest argument first. SQLite's
 * parser needs one stack entry per level for a left-nested `((((x ...` but three for a right-nested
 * `a OR (b OR (c ...`, so putting the deep argument on the left keeps deep filters under its limits.
 */
function chain(f: BoundFilter & { kind: 'and' | 'or' }, src: Source): Compiled {
  const parts = flatArgs(f).map((a) => compile(a, src));
  let deepest = 0;
  for (let i = 1; i < parts.length; i++) if (parts[i]!.depth > parts[deepest]!.depth) deepest = i;
  if (deepest > 0) parts.unshift(...parts.splice(deepest, 1));
  const frag = join(parts, f.kind === 'and' ? 'AND' : 'OR');
  return { ...frag, depth: chainSqlDepth(parts.length, parts[0]?.depth ?? 0) };
}

function compile(f: BoundFilter, src: Source): Compiled {
  switch (f.kind) {
    case 'cmp':
      return { ...compare(f.op, f.left, f.right, src), depth: LEAF_SQL_DEPTH };
    case 'in':
      return { ...inList(f.left, f.list, src), depth: LEAF_SQL_DEPTH };
    case 'not': {
      const arg = compile(f.arg, src);
      return { ...q`NOT (${arg})`, depth: arg.depth + 1 };
    }
    case 'and':
    case 'or':
      return chain(f, src);
    default:
      throw new TypeError(`Not a filter node: ${JSON.stringify((f as { kind?: unknown }).kind)}`);
  }
}

const COLUMN = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;

/**
 * Compiles `f` to a SQLite boolean expression (always 0 or 1, never NULL) over documents stored as JSON
 * text in `docColumn` (`doc`, or `table.doc`), with exactly the semantics of {@link evaluateFilter}.
 * Variables are resolved now; their values and all literals go into `params`. `undefined` (no filter)
 * compiles to `1`.
 *
 * With `opts.idColumn` (`id`, or `table.id`), the field `id` reads that column, the object's id, as it
 * does in a `StoredObject` given to {@link evaluateFilter}; without it, `id` is read from the document
 * like any field (where it is absent: null).
 *
 * @throws SyncError `SYNC_ERR_FILTER_VARIABLE` when a variable has no value and no default.
 * @throws TypeError when `docColumn` or `idColumn` is not an identifier (or `table.column`), or `f` is
 *   not a tree the parser could have built (an invalid field path, operator or literal, or nesting too
 *   deep for SQLite).
 * @example
 * const { sql, params } = filterToSql(parseFilter('terminalId == $auth.sub'), { auth: { sub: 'pos-1' } }, 'doc');
 * db.prepare(`SELECT id FROM transactions WHERE ${sql}`).all(...params);
 */
export function filterToSql(
  f: Filter | undefined,
  vars: FilterVars | undefined,
  docColumn: string,
  opts: { readonly idColumn?: string } = {},
): { sql: string; params: unknown[] } {
  const columns = opts.idColumn === undefined ? [docColumn] : [docColumn, opts.idColumn];
  for (const column of columns) {
    if (typeof column !== 'string' || !COLUMN.test(column)) {
      throw new TypeError(`Not a valid column name: ${JSON.stringify(column)}`);
    }
  }
  if (f === undefined) return { sql: '1', params: [] };
  const src: Source = {
    doc: quoteIdent(docColumn),
    id: opts.idColumn === undefined ? undefined : quoteIdent(opts.idColumn),
  };
  const frag = compile(bindFilter(f, vars), src);
  if (frag.depth > MAX_FILTER_SQL_DEPTH) {
    // parseFilter refuses such filters with a syntax error; only a tree built by hand gets here.
    throw new TypeError(
      `Filter nests too deeply to run in SQLite (estimated depth ${frag.depth}, at most ${MAX_FILTER_SQL_DEPTH})`,
    );
  }
  return { sql: frag.sql, params: [...frag.params] };
}
