import type { ReplicaStore } from '@backroom/sync-core';
import type { DevicePrincipal } from '../auth/device.js';
import type { DeviceAccess } from './access.js';

/**
 * What the hub knows about one device's sync since it said hello on this connection (or since its first
 * message after a hub restart).
 */
export class DeviceSession {
  /** Feed position the device has acknowledged (its `pull`): persisted as its peer cursor. */
  acked = 0;
  /** Feed position scanned so far (≥ acked): pages with nothing for the device move it without a round trip. */
  scanned = 0;
  /** A page is on its way and not yet acknowledged. */
  inFlight: { cursor: number; view: readonly [string, string, boolean][] } | undefined;
  /** Set once the device said hello on this connection. */
  greeted = false;
  online = true;
  /** Estimated device clock minus hub clock, ms (from hello and time probes). */
  clockSkewMs = 0;
  /** The device sent stamps beyond the allowed skew (they were rebased). */
  flagged = false;
  lastSyncAt: number | undefined;
  /** A page send is scheduled. */
  scheduled = false;

  constructor(
    readonly principal: DevicePrincipal,
    public access: DeviceAccess,
  ) {}

  private persisted = -1;
  private persistedAt = 0;

  get deviceId(): string {
    return this.principal.deviceId;
  }

  /**
   * Stores the device's cursor as its peer cursor (what tombstone collection waits for). Without `now`,
   * only every few seconds: idle devices move their cursor on every commit of the store.
   */
  persist(store: ReplicaStore, now: boolean): void {
    const cursor = this.inFlight ? this.acked : this.scanned;
    if (cursor === this.persisted) return;
    const t = Date.now();
    if (!now && t - this.persistedAt < 5000) return;
    store.setPeerCursor(this.deviceId, String(cursor));
    this.persisted = cursor;
    this.persistedAt = t;
  }
}
