/** Routing a change to a replica: what a device must do when an object changes under its filter. */

import type { Filter, FilterVars } from './ast.js';
import { compileFilter } from './evaluate.js';

/** What a replica must do with one change: see {@link routeChange}. */
export type RouteDecision = 'send' | 'evict' | 'skip';

/**
 * Decides what a replica with filter `f` must do when an object changes from `before` to `after`
 * (`undefined` = absent: not yet created, or deleted):
 * - `'send'` when `after` matches (a move-in or an update of an object the replica holds),
 * - `'evict'` when `before` matched and `after` does not or is gone (a move-out or a delete: the
 *   replica must drop the object, CONTRACT.md "Sync filters"),
 * - `'skip'` when neither matches.
 *
 * `f` undefined means "everything": any present `after` is sent, a delete is evicted.
 *
 * @throws SyncError `SYNC_ERR_FILTER_VARIABLE` when a variable has no value and no default (never a
 *   silent "match everything").
 * @example
 * routeChange(parseFilter('status == "open"'), {}, { status: 'open' }, { status: 'closed' }); // 'evict'
 */
export function routeChange(
  f: Filter | undefined,
  vars: FilterVars,
  before: Readonly<Record<string, unknown>> | undefined,
  after: Readonly<Record<string, unknown>> | undefined,
): RouteDecision {
  const matches = compileFilter(f, vars);
  if (after !== undefined && matches(after)) return 'send';
  if (before !== undefined && matches(before)) return 'evict';
  return 'skip';
}
