/**
 * `push`: a batch of a device's changes (docs/protocol.md, "Push and ack"). Every change is checked by
 * the push guard before anything is merged; the batch is then applied in one transaction, all or nothing,
 * and acknowledged, with the stamps the hub rebased and the state of the rebased objects.
 */
import {
  type Change,
  encodeMessage,
  isSyncError,
  type PushMessage,
  type RebasedStamp,
  splitChanges,
} from '@backroom/sync-core';
import { checkPush } from '../push-guard.js';
import { refusalOf } from '../refusal.js';
import type { DeviceSession } from '../session.js';
import type { SyncContext } from './context.js';

/**
 * Checks, merges and acknowledges one batch. A refused batch is a `reject` naming the object that caused it;
 * nothing of it is applied.
 */
export function handlePush(ctx: SyncContext, session: DeviceSession, m: PushMessage): void {
  const { store } = ctx;
  const check = checkPush(store, session.access, m.changes);
  if (!check.ok) {
    ctx.reject(session, check, m.batchId);
    return;
  }
  let result: ReturnType<typeof store.applyRemote>;
  try {
    result = store.applyRemote(m.changes);
  } catch (e) {
    // The store's own refusals (an invalid object, a counter overflow...), naming the object they are about.
    if (!isSyncError(e)) throw e;
    ctx.reject(session, refusalOf(e, true), m.batchId);
    return;
  }
  // The device holds what it pushed: pages will not send its own objects back to it.
  store.transaction(() => {
    for (const c of m.changes) {
      session.objectPushed(c.collection, c.id, check.visible.has(`${c.collection}\u0000${c.id}`));
    }
  });
  let state: Change[] = [];
  let rebased: RebasedStamp[] = [];
  if (result.rebased.length) {
    session.flagClock();
    rebased = result.rebased.map((r) => ({ ...r }));
    const seen = new Set<string>();
    for (const r of rebased) {
      const k = `${r.collection}\u0000${r.id}`;
      if (seen.has(k)) continue;
      seen.add(k);
      const ch = store.changeFor(r.collection, r.id);
      if (ch) state.push(ch);
    }
    ctx.log.warn(
      { deviceId: session.deviceId, rebased: rebased.length, clockSkewMs: session.clockSkewMs },
      'device stamps too far ahead: rebased',
    );
    // The ack must fit one message: send the state of as many objects as fit (agents whose clock is ahead
    // push small batches, so all of them normally do).
    if (state.length) {
      const envelope = encodeMessage({ k: 'ack', batchId: m.batchId, rebased, state: [] }).length;
      state = splitChanges(state, ctx.maxMessageBytes, envelope)[0] ?? [];
    }
  }
  ctx.send(session, { k: 'ack', batchId: m.batchId, rebased, state });
}
