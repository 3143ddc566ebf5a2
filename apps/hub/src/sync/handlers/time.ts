/**
 * `time`: an NTP-style probe (docs/protocol.md, "Clock offset"). The hub answers a probe `{ t0 }` with
 * `{ t0, t1: hubNow }`; it never probes, so a reply (one carrying `t1`) is ignored.
 */
import type { TimeMessage } from '@backroom/sync-core';
import type { DeviceSession } from '../session.js';
import type { SyncContext } from './context.js';

/** Answers a clock probe with the hub's time. */
export function handleTime(ctx: SyncContext, session: DeviceSession, m: TimeMessage): void {
  if (m.t1 !== undefined) return; // a reply: the hub never probes
  ctx.send(session, { k: 'time', t0: m.t0, t1: Date.now() });
}
