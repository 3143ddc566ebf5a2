/**
 * `ack` (docs/protocol.md, "Push and ack"): the hub durably applied one push batch. The terminal drops
 * exactly the outbox entries that batch carried and applies what the hub re-stamped (`rebased`, `state`),
 * all in one transaction, then pushes the next batch. An ack of a batch not in flight (from before a
 * reconnect) is ignored: its entries are still in the outbox and go again.
 */
import type { AckMessage } from '@backroom/sync-core';
import type { SyncContext } from '../context.js';

/** Applies an ack of a batch in flight; ignores a stale one. */
export function onAck(ctx: SyncContext, m: AckMessage): void {
  const { store } = ctx;
  const acked = ctx.pushes.ack(m.batchId, (rows) =>
    store.transaction(() => {
      const mine = m.rebased.filter((r) => r.node === ctx.deviceId);
      if (mine.length || m.state.length) store.applyRebase(mine, m.state);
      // Exactly the entries this batch carried: a later write to the same object stays pending.
      store.ackRows(rows);
    }),
  );
  if (!acked) {
    // An ack of a batch from before a reconnect: its entries are still in the outbox and go again.
    ctx.log?.debug?.({ batchId: m.batchId }, 'stale ack ignored');
    return;
  }
  if (m.rebased.length) {
    ctx.log?.warn({ rebased: m.rebased.length }, 'the hub re-stamped writes: check this terminal clock');
  }
  ctx.batchAccepted();
}
