/**
 * `hello`: a device (re)starts its session on this connection (docs/protocol.md, "Hello and welcome").
 * The hub builds the device's access rules with its `$client` variables, decides whether it must resync,
 * answers `welcome` with its clock and limits, and starts paging from the device's cursor.
 */
import type { HelloMessage } from '@backroom/sync-core';
import type { DeviceSession } from '../session.js';
import type { SyncContext } from './context.js';
import { parseCursor } from './cursor.js';

/** Answers a `hello` with `welcome` and restarts the device's paging; refuses a hello in another device's name. */
export function handleHello(ctx: SyncContext, session: DeviceSession, m: HelloMessage): void {
  const { store } = ctx;
  if (m.deviceId !== session.deviceId) {
    ctx.reject(session, {
      code: 'SYNC_ERR_PROTOCOL',
      message: 'hello names another device',
      details: { deviceId: m.deviceId },
    });
    return;
  }
  const access = ctx.access(session.principal, m.clientVars);
  const cursor = parseCursor(m.cursor);
  if (typeof cursor !== 'number') {
    ctx.reject(session, cursor);
    return;
  }
  const horizon = store.tombstoneHorizon();
  // Away longer than the tombstone retention, or ahead of this hub (restored from an older backup):
  // the device starts over, so it can never resurrect what was deleted meanwhile.
  const resync =
    (cursor > 0 && cursor < horizon && session.storedCursor() < horizon) || cursor > store.currentSeq();
  const hubTime = Date.now();
  session.restart(resync ? 0 : cursor, access, m.wallTime - hubTime);
  ctx.send(session, {
    k: 'welcome',
    hubId: ctx.hubId,
    hubTime,
    offsetMs: hubTime - m.wallTime,
    resync,
    maxMessageBytes: ctx.maxMessageBytes,
    maxSkewMs: ctx.config.maxSkewMs,
  });
  if (Math.abs(session.clockSkewMs) > ctx.config.maxSkewMs) {
    // Flagged even when its stamps need no rebasing (it placed its offline writes at hub time itself):
    // the terminal's clock is wrong, and the store should know.
    session.flagClock();
    ctx.log.warn({ deviceId: session.deviceId, clockSkewMs: session.clockSkewMs }, 'device clock is off');
  }
  ctx.wake(session);
}
