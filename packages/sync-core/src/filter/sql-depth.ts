/**
 * How deep the SQL that `filterToSql` emits can nest. SQLite refuses an expression more than 1000 levels
 * deep ("Expression tree is too large", SQLITE_MAX_EXPR_DEPTH) and a statement whose parse needs more
 * than 2500 parser stack entries ("Recursion limit", SQLITE_MAX_PARSER_DEPTH). The parser bounds every
 * filter it accepts by an upper estimate of that depth, so every filter it accepts also runs.
 *
 * The estimate of a filter's SQL depth:
 * - a comparison or an `IN` is {@link LEAF_SQL_DEPTH} (the deepest one sql.ts emits, `"a" $= x`, is 10
 *   levels: measured);
 * - `NOT x` is one more than `x`;
 * - an AND or OR of n arguments is ceil(log2(n)) more than its deepest argument (sql.ts emits chains as
 *   balanced trees, deepest argument first).
 */

/** Upper bound of the SQL depth of one comparison or `IN` as sql.ts compiles it. */
export const LEAF_SQL_DEPTH = 12;

/**
 * The largest estimated SQL depth a filter may have. 1000 is SQLite's limit; the rest is room for the
 * query around the filter (`collection = ? AND alive = 1 AND (...)`, a page cursor, `coalesce(...)`).
 */
export const MAX_FILTER_SQL_DEPTH = 900;

/** Estimated SQL depth of an AND/OR of `n` arguments whose deepest argument has depth `deepest`. */
export function chainSqlDepth(n: number, deepest: number): number {
  return n <= 1 ? deepest : Math.ceil(Math.log2(n)) + deepest;
}
