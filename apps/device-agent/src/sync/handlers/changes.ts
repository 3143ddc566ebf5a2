/**
 * `changes` (docs/protocol.md, "Pages and pull"): one page of the hub's feed. The terminal merges it,
 * evicts the objects that left its filter (never one with local writes still to push), moves its cursor
 * forward in the same transaction, and acknowledges the page with a `pull` from the new cursor. A page
 * after a gap (`since` beyond the cursor) is not applied: the terminal asks again from where it is.
 */
import type { ChangesMessage } from '@backroom/sync-core';
import { HUB, type SyncContext } from '../context.js';

/** Applies a page from the hub in order and pulls the next. */
export function onChanges(ctx: SyncContext, m: ChangesMessage): void {
  const { store } = ctx;
  const cursor = ctx.cursor();
  const since = Number(m.since);
  if (since > cursor) {
    // A page is missing before this one: ask again from where we are.
    ctx.send({ k: 'pull', since: String(cursor) });
    return;
  }
  const next = Math.max(cursor, Number(m.cursor));
  store.transaction(() => {
    if (m.changes.length) store.applyRemote(m.changes, { rebase: false });
    // Never evict an object with local writes still to push: that would lose them.
    const evict = m.evict.filter((e) => !store.hasPending(e.collection, e.id));
    if (evict.length) store.evict(evict);
    store.setPeerCursor(HUB, String(next));
  });
  ctx.send({ k: 'pull', since: String(next) });
  ctx.pageApplied(m.more);
}
