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
  const flight = session.inFlight;
  if (flight && since >= flight.cursor) {
    // The device has the page: now record which objects it holds.
    for (const [c, id, has] of flight.view) session.setHolds(c, id, has);
    session.inFlight = undefined;
  }
  if (since < session.acked || (flight && since < flight.cursor)) {
    // The device is behind what we sent (a page was lost): start again from its cursor.
    session.inFlight = undefined;
    session.scanned = since;
  }
  session.acked = since;
  session.scanned = Math.max(session.scanned, since);
  session.lastSyncAt = Date.now();
  session.persist(true);
  ctx.wake(session);
}
