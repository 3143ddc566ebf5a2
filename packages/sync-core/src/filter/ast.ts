/**
 * The sync filter syntax tree. A {@link Filter} is plain, JSON-serialisable data: the hub may parse a
 * filter once at start-up, keep the tree, and evaluate it or compile it to SQL per device.
 */

/** A literal value a filter can hold: JSON scalars only (numbers are finite). */
export type FilterScalar = string | number | boolean | null;

/** The two places a filter variable can come from: the device's credential or its hello message. */
export type FilterVarScope = 'auth' | 'client';

/** A field of the synced object, by dotted path (`address.city` reads into a `json` field). */
export interface FilterField {
  readonly kind: 'field';
  /** Dotted path of identifiers (`[A-Za-z_][A-Za-z0-9_]*` each). */
  readonly path: string;
}

/** A literal written in the filter text. */
export interface FilterLiteral {
  readonly kind: 'literal';
  readonly value: FilterScalar;
}

/**
 * A variable: `$auth.sub`, `$client.store`, `${client.store ?? "s1"}`. Resolved from {@link FilterVars}
 * when the filter is evaluated or compiled; `default` is used when the variable is missing or null.
 */
export interface FilterVariable {
  readonly kind: 'var';
  readonly scope: FilterVarScope;
  /** Dotted path into the scope's record (`sub`, or `app.store` for a nested claim). */
  readonly name: string;
  /** The literal after `??`; absent when the filter gives no default (`null` is a real default). */
  readonly default?: FilterScalar;
}

/** Anything that can stand on either side of a comparison. */
export type FilterOperand = FilterField | FilterLiteral | FilterVariable;

/** A literal or a variable: what an `IN` list may hold. */
export type FilterValue = FilterLiteral | FilterVariable;

/**
 * Comparison operators. `==~` is ASCII case-insensitive string equality, `^=` starts with, `*=`
 * contains, `$=` ends with.
 */
export type FilterCompareOp = '==' | '!=' | '<' | '>' | '<=' | '>=' | '==~' | '^=' | '*=' | '$=';

/** Every comparison operator, longest spelling first (the order the lexer tries them in). */
export const FILTER_COMPARE_OPS: readonly FilterCompareOp[] = [
  '==~',
  '==',
  '!=',
  '<=',
  '>=',
  '<',
  '>',
  '^=',
  '*=',
  '$=',
];

/** `left OP right`. */
export interface FilterCompare {
  readonly kind: 'cmp';
  readonly op: FilterCompareOp;
  readonly left: FilterOperand;
  readonly right: FilterOperand;
}

/** `left IN [a, b]`, `left IN (a, b)`, or `left IN $auth.stores` (a variable holding a list). */
export interface FilterIn {
  readonly kind: 'in';
  readonly left: FilterOperand;
  readonly list: readonly FilterValue[] | FilterVariable;
}

/** Conjunction; the parser produces at least two arguments (an empty list is true). */
export interface FilterAnd {
  readonly kind: 'and';
  readonly args: readonly Filter[];
}

/** Disjunction; the parser produces at least two arguments (an empty list is false). */
export interface FilterOr {
  readonly kind: 'or';
  readonly args: readonly Filter[];
}

/** Negation (`NOT x`, also what `x NOT IN [...]` parses to). */
export interface FilterNot {
  readonly kind: 'not';
  readonly arg: Filter;
}

/** A parsed sync filter: the tree {@link parseFilter} returns and every other filter function takes. */
export type Filter = FilterCompare | FilterIn | FilterAnd | FilterOr | FilterNot;

/**
 * Values for filter variables: `auth` holds the claims of the device's credential or JWT (`sub`,
 * `store`, `role`...), `client` the variables the device sent in its hello.
 */
export interface FilterVars {
  readonly auth?: Readonly<Record<string, unknown>>;
  readonly client?: Readonly<Record<string, unknown>>;
}

/** A field path segment: an identifier. */
export const FIELD_SEGMENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** True when `path` is a dotted path of identifiers, the only field paths a filter can hold. */
export function isFieldPath(path: string): boolean {
  return typeof path === 'string' && path.split('.').every((s) => FIELD_SEGMENT.test(s));
}
