/**
 * `welcome` (docs/protocol.md, "Hello and welcome"): the hub's answer to this connection's `hello`. The
 * terminal places its never-pushed offline writes at hub time and adopts the hub's clock offset, lowers
 * its message limit to the hub's, starts over from the hub's state if asked to resync, then starts
 * pushing. A welcome answering an earlier hello is ignored: its offset was measured against another
 * moment, and the answer to the current hello follows.
 */
import type { WelcomeMessage } from '@backroom/sync-core';
import { HUB, type SyncContext } from '../context.js';

/** Applies the welcome to this connection's hello; ignores one to an earlier hello. */
export function onWelcome(ctx: SyncContext, m: WelcomeMessage): void {
  const { store } = ctx;
  const hello = ctx.hello();
  // offsetMs = hubTime − the wall time of the hello it answers. A welcome to an earlier hello (one resent
  // from a dropped connection, or queued for this device) measured an offset against another moment: the
  // answer to this connection's hello follows, and only it may place offline writes.
  if (m.hubTime - m.offsetMs !== hello?.wallTime) {
    ctx.log?.debug?.({ hubTime: m.hubTime, offsetMs: m.offsetMs }, 'welcome to an earlier hello ignored');
    return;
  }
  // From now on the replica's clock is the hub's time, advanced by the monotonic clock. Writes made on this
  // terminal's own wall clock that never left it move to the hub's time first, before anything is pushed.
  const placed = store.adoptHubOffset(m.offsetMs, { measuredAt: hello.timeBase });
  if (placed.stamps) {
    ctx.log?.warn(
      { offsetMs: m.offsetMs, stamps: placed.stamps, objects: placed.objects },
      'this terminal clock is off: its offline writes were placed at hub time before pushing',
    );
  } else if (placed.skipped === 'clock-jumped' || placed.skipped === 'rebooted') {
    ctx.log?.warn(
      { offsetMs: m.offsetMs, reason: placed.skipped },
      'this terminal clock changed since its offline writes: the hub will re-stamp those too far ahead',
    );
  }
  ctx.lowerMessageLimit(m.maxMessageBytes);
  if (m.resync) {
    // Away longer than the hub keeps tombstones: start over from the hub's state. The outbox stays and is
    // pushed again, so no local sale is lost.
    ctx.log?.warn({}, 'hub asked for a full resync');
    store.transaction(() => {
      // The outbox names objects; the push reads this terminal's registers of them. Keep those registers
      // across the wipe, or the writes would have nothing left to push.
      const mine = store.pendingChanges(Number.MAX_SAFE_INTEGER).map((p) => p.change);
      store.clearObjects();
      if (mine.length) store.applyRemote(mine, { rebase: false });
      store.setPeerCursor(HUB, '0');
    });
  }
  ctx.sessionStarted();
}
