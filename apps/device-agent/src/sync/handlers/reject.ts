/**
 * `reject` (docs/protocol.md, "Rejects"): the hub refused something this terminal sent. It is acted on
 * only for a push in flight (its `batchId`, or no `batchId` at all, which counts against every push in
 * flight). A reject naming an object sets that object's writes aside (quarantined: kept in the replica and
 * listed) and pushes the rest at once, so one bad object never holds back the terminal's other sales; a
 * reject of a whole batch keeps it in the outbox and offers it again later.
 */
import type { RejectMessage } from '@backroom/sync-core';
import type { SyncContext } from '../context.js';

/** Logs the refusal and, for a push in flight, quarantines its object or holds the outbox back. */
export function onReject(ctx: SyncContext, m: RejectMessage): void {
  ctx.log?.error({ code: m.code, batchId: m.batchId, object: m.object }, `hub refused: ${m.message}`);
  if (!ctx.pushes.refuse(m.batchId)) return;
  if (m.object) {
    // One object's writes are refused (outside this terminal's filter, not writable...): set them aside,
    // kept and listed, and push the rest at once.
    ctx.store.quarantine(m.object.collection, m.object.id, m.code, m.message);
    ctx.pushNext();
    return;
  }
  // The whole batch was refused: it stays in the outbox (nothing is dropped) and is offered again later;
  // the status shows why it does not leave.
  ctx.batchRefused(m.code, m.message);
}
