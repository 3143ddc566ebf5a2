import type { ReplicaStore } from '@backroom/sync-core';
import type { Access } from '../access/access.js';
import type { DevicePrincipal } from '../auth/device.js';

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
  /** Estimated device clock minus hub clock, ms (from the wall time in its hello). */
  clockSkewMs = 0;
  /** The device sent stamps beyond the allowed skew (they were rebased). */
  flagged = false;
  lastSyncAt: number | undefined;
  /** A page send is scheduled. */
  scheduled = false;

  constructor(
    readonly principal: DevicePrincipal,
    public access: Access,
    private readonly store: ReplicaStore,
  ) {}

  /**
   * The session began from cursor 0 (a first sync or a full resync): the device does not hold its own
   * earlier writes, so pages must send them, except for objects it pushed in this session.
   */
  fromZero = false;
  /** The device was told it is caught up (an empty page with `more: false`) since its last page. */
  toldCaughtUp = false;
  /**
   * Objects the device pushed since its hello: it holds every one of its own registers of them (a push
   * carries all of them), so pages may leave those out even right after a full resync.
   */
  readonly pushed = new Set<string>();
  /** Objects of filtered collections the device holds (loaded from the store on first use). */
  private held: Set<string> | undefined;
  private persisted = -1;
  private persistedAt = 0;

  get deviceId(): string {
    return this.principal.deviceId;
  }

  /** Whether the device holds an object of a filtered collection. */
  holds(collection: string, id: string): boolean {
    return this.holdsKey(`${collection}\u0000${id}`);
  }

  /** {@link holds} by `collection\u0000id` key. */
  holdsKey(key: string): boolean {
    this.held ??= new Set(this.store.peerObjects(this.deviceId).map((o) => `${o.collection}\u0000${o.id}`));
    return this.held.has(key);
  }

  /** Records that the device holds (or no longer holds) an object, in memory and in the store. */
  setHolds(collection: string, id: string, has: boolean): void {
    this.holds(collection, id);
    this.store.setPeerHas(this.deviceId, collection, id, has);
    if (has) this.held!.add(`${collection}\u0000${id}`);
    else this.held!.delete(`${collection}\u0000${id}`);
  }

  /** Forgets what the device holds (it starts over from an empty replica). */
  clearHolds(): void {
    this.store.clearPeerObjects(this.deviceId);
    this.held = new Set();
  }

  /**
   * Stores the device's cursor as its peer cursor (what tombstone collection waits for). Without `now`,
   * only every few seconds: idle devices move their cursor on every commit of the store.
   */
  persist(now: boolean): void {
    const store = this.store;
    const cursor = this.inFlight ? this.acked : this.scanned;
    if (cursor === this.persisted) return;
    const t = Date.now();
    if (!now && t - this.persistedAt < 5000) return;
    store.setPeerCursor(this.deviceId, String(cursor));
    this.persisted = cursor;
    this.persistedAt = t;
  }
}
