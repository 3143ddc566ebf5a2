/**
 * Variable resolution. Evaluation and SQL compilation both start by replacing every variable with its
 * value, up front and all at once: a filter that names a variable with no value and no default fails
 * as a whole, even where short-circuiting would never reach it, so JS and SQL always agree and an
 * unresolved filter never silently matches everything.
 */

import { SyncError } from '../errors.js';
import type { Filter, FilterOperand, FilterScalar, FilterValue, FilterVariable, FilterVars } from './ast.js';

/** An operand after resolution: a field or a literal. */
export type BoundOperand =
  | { readonly kind: 'field'; readonly path: string }
  | { readonly kind: 'literal'; readonly value: FilterScalar };

/** A filter with every variable replaced by a literal. */
export type BoundFilter =
  | {
      readonly kind: 'cmp';
      readonly op: Extract<Filter, { kind: 'cmp' }>['op'];
      readonly left: BoundOperand;
      readonly right: BoundOperand;
    }
  | { readonly kind: 'in'; readonly left: BoundOperand; readonly list: readonly FilterScalar[] }
  | { readonly kind: 'and' | 'or'; readonly args: readonly BoundFilter[] }
  | { readonly kind: 'not'; readonly arg: BoundFilter };

function variableError(v: FilterVariable, reason: string): SyncError {
  return new SyncError('SYNC_ERR_FILTER_VARIABLE', `Filter variable $${v.scope}.${v.name} ${reason}`, {
    scope: v.scope,
    name: v.name,
    reason,
  });
}

/** Reads a dotted path through plain objects only (own properties; arrays and prototypes are not walked). */
export function readPath(root: unknown, path: string): unknown {
  let cur = root;
  for (const seg of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur) || !Object.hasOwn(cur, seg))
      return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur;
}

function isScalar(v: unknown): v is FilterScalar {
  return (
    v === null ||
    typeof v === 'string' ||
    typeof v === 'boolean' ||
    (typeof v === 'number' && Number.isFinite(v))
  );
}

/** The variable's raw value (its default when missing or null), or a thrown SYNC_ERR_FILTER_VARIABLE. */
function lookup(v: FilterVariable, vars: FilterVars | undefined): unknown {
  const raw = readPath(vars?.[v.scope], v.name);
  // `??` semantics: null counts as absent, like the `${x ?? d}` syntax suggests.
  if (raw !== undefined && raw !== null) return raw;
  if (v.default !== undefined) return v.default;
  throw variableError(v, 'has no value and no default');
}

function bindScalar(v: FilterVariable, vars: FilterVars | undefined): FilterScalar {
  const raw = lookup(v, vars);
  if (!isScalar(raw)) throw variableError(v, 'is not a string, finite number or boolean');
  return raw;
}

function bindOperand(o: FilterOperand, vars: FilterVars | undefined): BoundOperand {
  return o.kind === 'var' ? { kind: 'literal', value: bindScalar(o, vars) } : o;
}

function bindList(
  list: readonly FilterValue[] | FilterVariable,
  vars: FilterVars | undefined,
): FilterScalar[] {
  if (Array.isArray(list)) {
    return (list as readonly FilterValue[]).map((item) =>
      item.kind === 'var' ? bindScalar(item, vars) : item.value,
    );
  }
  const v = list as FilterVariable;
  const raw = lookup(v, vars);
  // A list variable (`store IN $auth.stores`) holds an array; any single value is a one-member list.
  const items = Array.isArray(raw) ? raw : [raw];
  if (!items.every(isScalar)) throw variableError(v, 'is not a list of strings, finite numbers or booleans');
  return items;
}

/**
 * Replaces every variable in `f` with its value from `vars`.
 *
 * @throws SyncError `SYNC_ERR_FILTER_VARIABLE` when a variable is missing (or null) and has no default,
 *   or holds something other than a JSON scalar (or, after `IN`, a list of them).
 */
export function bindFilter(f: Filter, vars: FilterVars | undefined): BoundFilter {
  switch (f.kind) {
    case 'cmp':
      return { kind: 'cmp', op: f.op, left: bindOperand(f.left, vars), right: bindOperand(f.right, vars) };
    case 'in':
      return { kind: 'in', left: bindOperand(f.left, vars), list: bindList(f.list, vars) };
    case 'not':
      return { kind: 'not', arg: bindFilter(f.arg, vars) };
    case 'and':
    case 'or':
      return { kind: f.kind, args: f.args.map((a) => bindFilter(a, vars)) };
  }
}

function walkOperands(f: Filter, visit: (o: FilterOperand) => void): void {
  switch (f.kind) {
    case 'cmp':
      visit(f.left);
      visit(f.right);
      return;
    case 'in':
      visit(f.left);
      if (Array.isArray(f.list)) (f.list as readonly FilterValue[]).forEach(visit);
      else visit(f.list as FilterVariable);
      return;
    case 'not':
      walkOperands(f.arg, visit);
      return;
    case 'and':
    case 'or':
      for (const a of f.args) walkOperands(a, visit);
  }
}

/** The field paths `f` reads, each once, in order of first appearance (e.g. to plan indexes). */
export function filterFields(f: Filter): string[] {
  const out = new Set<string>();
  walkOperands(f, (o) => {
    if (o.kind === 'field') out.add(o.path);
  });
  return [...out];
}

/**
 * The variables `f` uses, each once, e.g. `[{ scope: 'client', name: 'store', hasDefault: true }]`:
 * the hub can tell a device which hello variables its filters need.
 */
export function filterVariables(
  f: Filter,
): { scope: FilterVariable['scope']; name: string; hasDefault: boolean }[] {
  const out = new Map<string, { scope: FilterVariable['scope']; name: string; hasDefault: boolean }>();
  walkOperands(f, (o) => {
    if (o.kind !== 'var') return;
    const key = `${o.scope}.${o.name}`;
    const seen = out.get(key);
    const hasDefault = o.default !== undefined;
    // A variable used both with and without a default is required: report hasDefault false.
    if (seen === undefined) out.set(key, { scope: o.scope, name: o.name, hasDefault });
    else if (!hasDefault) seen.hasDefault = false;
  });
  return [...out.values()];
}
