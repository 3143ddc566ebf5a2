/**
 * Prints a filter tree back to filter text. `parseFilter(printFilter(f))` gives back a tree equal to
 * `f` for every tree the parser can produce (a test checks it), so printed filters can be stored in
 * config, logged or sent to a device.
 */

import type { Filter, FilterOperand, FilterScalar } from './ast.js';

/** Prints a literal the way the lexer reads it back (`-0` keeps its sign). */
export function printScalar(v: FilterScalar): string {
  if (v === null) return 'null';
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return JSON.stringify(v);
}

function printOperand(o: FilterOperand): string {
  if (o.kind === 'field') return o.path;
  if (o.kind === 'literal') return printScalar(o.value);
  if (o.default === undefined) return `$${o.scope}.${o.name}`;
  return `\${${o.scope}.${o.name} ?? ${printScalar(o.default)}}`;
}

function printChild(f: Filter): string {
  // Nested AND/OR always get parentheses: needed for OR inside AND, and keeps `(a AND b) AND c`
  // distinct from `a AND b AND c` so that printing round-trips exactly.
  return f.kind === 'and' || f.kind === 'or' ? `(${printFilter(f)})` : printFilter(f);
}

/**
 * Filter text for `f`, e.g. `store == ${client.store ?? "s1"} AND status IN ["open", "approved"]`.
 * Keywords print in upper case, strings in double quotes with JSON escapes.
 */
export function printFilter(f: Filter): string {
  switch (f.kind) {
    case 'cmp':
      return `${printOperand(f.left)} ${f.op} ${printOperand(f.right)}`;
    case 'in': {
      const list = Array.isArray(f.list)
        ? `[${(f.list as readonly FilterOperand[]).map(printOperand).join(', ')}]`
        : printOperand(f.list as FilterOperand);
      return `${printOperand(f.left)} IN ${list}`;
    }
    case 'not':
      return `NOT ${printChild(f.arg)}`;
    case 'and':
      // The parser never builds empty AND/OR; print something with the same meaning anyway.
      return f.args.length === 0 ? 'true == true' : f.args.map(printChild).join(' AND ');
    case 'or':
      return f.args.length === 0 ? 'true == false' : f.args.map(printChild).join(' OR ');
  }
}
