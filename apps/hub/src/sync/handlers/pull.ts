/**
 * `pull`: the device acknowledges the pages up to `since` and asks for what follows (docs/protocol.md,
 * "Pages and pull"). An acknowledged page commits the record of which filtered objects the device now
 * holds; a `since` below what was sent means a page was lost, and paging starts again from there.
 */
import type { PullMessage } from '@backroom/sync-core';
import type { DeviceSession } from '../session.js';
import type { SyncContext } from './context.js';
import { parseCursor } from './cursor.js';

/** Records the pages the device acknowledged and wakes the pager for the next one. */
export function handlePull(ctx: SyncContext, session: DeviceSession, m: PullMessage): void {
  const since = parseCursor(m.since);
  if (typeof since !== 'number') {
    ctx.reject(session, since);
    return;
  }
  session.pageAcked(since);
  ctx.wake(session);
}
