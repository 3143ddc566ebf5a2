/** Sync filters: parse, print, evaluate, compile to SQLite. */

export type {
  Filter,
  FilterAnd,
  FilterCompare,
  FilterCompareOp,
  FilterField,
  FilterIn,
  FilterLiteral,
  FilterNot,
  FilterOperand,
  FilterOr,
  FilterScalar,
  FilterValue,
  FilterVariable,
  FilterVarScope,
  FilterVars,
} from './ast.js';
export { compileFilter, evaluateFilter } from './evaluate.js';
export { MAX_FILTER_DEPTH, parseFilter } from './parse.js';
export { printFilter } from './print.js';
export { filterFields, filterVariables } from './resolve.js';
export { filterToSql } from './sql.js';
