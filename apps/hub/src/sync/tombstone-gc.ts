/**
 * Tombstone collection at the hub: on a timer, every tombstone that every device which synced within the
 * retention (and every device online now) has acknowledged is removed from the hub's replica. A device
 * away longer is resynced when it returns (its cursor is below the horizon, docs/protocol.md "Resync"), so
 * it cannot bring a collected object back. Kept apart from the sync server so that the rule deciding what
 * may be collected reads on its own.
 */
import type { ChangeFeed, PeerLedger, Tombstones } from '@backroom/sync-core';
import type { HubLogger } from '../logger.js';

/** Options of {@link TombstoneCollector}. */
export interface TombstoneCollectorOptions {
  /** The hub's replica: its sequence, its record of each device's cursor, its tombstones. */
  readonly store: Pick<ChangeFeed, 'currentSeq'> & Pick<PeerLedger, 'peers'> & Tombstones;
  /** How long a device may be away and still come back without a resync (`tombstoneRetentionMs`). */
  readonly retentionMs: number;
  /** The acknowledged cursors of the devices online now (their stored cursor may lag a few seconds). */
  readonly onlineCursors: () => Iterable<number>;
  /** Called after a collection removed anything: rows the change feed cached may be gone. */
  readonly onCollected: () => void;
  readonly log: HubLogger;
}

/** Collects tombstones every `retention / 4`, between 1 s and 1 h. Stop it with {@link close}. */
export class TombstoneCollector {
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly opts: TombstoneCollectorOptions) {
    const every = Math.max(1000, Math.min(3_600_000, Math.floor(opts.retentionMs / 4)));
    this.timer = setInterval(() => this.collect(), every);
    this.timer.unref();
  }

  /**
   * Collects, now, the tombstones up to the lowest cursor among the devices seen within the retention and
   * the devices online. Returns how many were collected.
   */
  collect(): number {
    const { store, retentionMs } = this.opts;
    const now = Date.now();
    let min = store.currentSeq();
    for (const p of store.peers()) {
      if (now - p.updated <= retentionMs) min = Math.min(min, Number(p.cursor));
    }
    for (const acked of this.opts.onlineCursors()) min = Math.min(min, acked);
    const n = store.collectTombstones(min);
    if (n > 0) {
      this.opts.onCollected();
      this.opts.log.info({ collected: n, horizon: store.tombstoneHorizon() }, 'tombstones collected');
    }
    return n;
  }

  /** Stops the timer. */
  close(): void {
    clearInterval(this.timer);
  }
}
