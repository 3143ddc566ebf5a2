/**
 * What the hub knows about one device's sync since it said hello on this connection (or since its first
 * message after a hub restart): how far it acknowledged the change feed, how far the hub scanned for it,
 * the page in flight, which filtered objects it holds, its clock.
 *
 * The state changes only through named transitions, one per protocol event (a connection opens or
 * closes, a hello restarts the session, a push arrives, a page is sent, skipped or acknowledged, the
 * device is caught up), so that every rule about the session's state sits here, next to the state.
 */
import type { PeerLedger } from '@backroom/sync-core';
import type { Access } from '../access/access.js';
import type { DevicePrincipal } from '../auth/device.js';
import type { Page } from './pages.js';

/** A page on its way to the device and not yet acknowledged. */
interface PageInFlight {
  /** The feed position the page brings the device to. */
  readonly cursor: number;
  /** `[collection, id, holds]` records to commit once the device acknowledges the page. */
  readonly view: readonly [string, string, boolean][];
}

/**
 * One device's sync session at the hub. Created by the sync server on the device's first connection,
 * with the hub's peer ledger, where the device's cursor and the filtered objects it holds are kept.
 */
export class DeviceSession {
  #access: Access;
  #acked = 0;
  #scanned = 0;
  private inFlight: PageInFlight | undefined;
  #greeted = false;
  #online = true;
  #clockSkewMs = 0;
  #flagged = false;
  #lastSyncAt: number | undefined;
  #fromZero = false;
  /** The device was told it is caught up (an empty page with `more: false`) since its last page. */
  private toldCaughtUp = false;
  /**
   * Objects the device pushed since its hello: it holds every one of its own registers of them (a push
   * carries all of them), so pages may leave those out even right after a full resync.
   */
  private readonly pushed = new Set<string>();
  /** Objects of filtered collections the device holds (loaded from the ledger on first use). */
  private held: Set<string> | undefined;
  private persisted = -1;
  private persistedAt = 0;

  constructor(
    readonly principal: DevicePrincipal,
    access: Access,
    private readonly ledger: PeerLedger,
  ) {
    this.#access = access;
  }

  get deviceId(): string {
    return this.principal.deviceId;
  }

  /** The device's access rules, with the `$client` variables of its last hello. */
  get access(): Access {
    return this.#access;
  }

  /** Feed position the device has acknowledged (its `pull`): persisted as its peer cursor. */
  get acked(): number {
    return this.#acked;
  }

  /** Feed position scanned so far (≥ acked): pages with nothing for the device move it without a round trip. */
  get scanned(): number {
    return this.#scanned;
  }

  /** Set once the device said hello on this connection. */
  get greeted(): boolean {
    return this.#greeted;
  }

  /** The device has an open connection. */
  get online(): boolean {
    return this.#online;
  }

  /** Estimated device clock minus hub clock, ms (from the wall time in its hello). */
  get clockSkewMs(): number {
    return this.#clockSkewMs;
  }

  /** The device's clock is off: its hello, or stamps it pushed (rebased), were beyond the allowed skew. */
  get flagged(): boolean {
    return this.#flagged;
  }

  /** When the device last acknowledged a page (ms since the epoch). */
  get lastSyncAt(): number | undefined {
    return this.#lastSyncAt;
  }

  /**
   * The session began from cursor 0 (a first sync or a full resync): the device does not hold its own
   * earlier writes, so pages must send them, except for objects it pushed in this session.
   */
  get fromZero(): boolean {
    return this.#fromZero;
  }

  /** The device said hello, is connected, and has no page in flight: the next page may go. */
  get readyForPage(): boolean {
    return this.#online && this.#greeted && !this.inFlight;
  }

  /** Whether the device pushed this object (`collection\u0000id`) since its hello. */
  hasPushed(key: string): boolean {
    return this.pushed.has(key);
  }

  /** Whether the device holds an object of a filtered collection, by `collection\u0000id` key. */
  holdsKey(key: string): boolean {
    this.held ??= new Set(this.ledger.peerObjects(this.deviceId).map((o) => `${o.collection}\u0000${o.id}`));
    return this.held.has(key);
  }

  /** The cursor the hub last stored for the device (0 if none): what tombstone collection waited for. */
  storedCursor(): number {
    return Number(this.ledger.peerCursor(this.deviceId) ?? 0);
  }

  /** A connection opened: every connection starts with a hello. */
  connected(): void {
    this.#online = true;
    this.#greeted = false;
    this.inFlight = undefined;
  }

  /** The connection closed: an unacknowledged page may be lost; it is rebuilt from the cursor next time. */
  disconnected(): void {
    this.#online = false;
    this.inFlight = undefined;
  }

  /**
   * A hello: paging starts again from `cursor` with the hello's access rules. A cursor of 0 (a first
   * sync, or a resync the hub decided) also forgets which filtered objects the device holds. The cursor is
   * stored at once.
   */
  restart(cursor: number, access: Access, clockSkewMs: number): void {
    if (cursor === 0) this.clearHolds();
    this.#access = access;
    this.#acked = cursor;
    this.#scanned = cursor;
    this.#fromZero = cursor === 0;
    this.inFlight = undefined;
    this.toldCaughtUp = false;
    this.pushed.clear();
    this.#greeted = true;
    this.#online = true;
    this.#clockSkewMs = clockSkewMs;
    this.persist(true);
  }

  /** The device's clock is off (its hello's wall time, or stamps the hub had to rebase). */
  flagClock(): void {
    this.#flagged = true;
  }

  /**
   * The hub applied a push of this object: the device holds it, and when `visible` (a filtered object
   * that is the device's after the push) the hub records that it does.
   */
  objectPushed(collection: string, id: string, visible: boolean): void {
    const key = `${collection}\u0000${id}`;
    this.pushed.add(key);
    if (visible && !this.holdsKey(key)) this.setHolds(collection, id, true);
  }

  /** A stretch of the feed up to `cursor` held nothing for the device: scanning goes on from there. */
  pageSkipped(cursor: number): void {
    this.#scanned = cursor;
  }

  /** A page went to the device; the next waits for its acknowledgement. */
  pageSent(page: Page): void {
    this.#scanned = page.cursor;
    this.inFlight = { cursor: page.cursor, view: page.view };
    this.toldCaughtUp = !page.message.more;
  }

  /**
   * The feed holds nothing more for the device: its cursor may move (for tombstone collection; stored
   * every few seconds at most). True the first time since its last page: the caller then tells the
   * device, with an empty page to `scanned`, which is in flight like any other.
   */
  caughtUp(): boolean {
    this.persist(false);
    if (this.toldCaughtUp) return false;
    this.toldCaughtUp = true;
    this.inFlight = { cursor: this.#scanned, view: [] };
    return true;
  }

  /**
   * A `pull { since }`: the device has every page up to `since`. An acknowledged page commits which
   * objects the device holds; a `since` below what was sent (a page was lost) restarts scanning there.
   * The cursor is stored at once.
   */
  pageAcked(since: number): void {
    const flight = this.inFlight;
    if (flight && since >= flight.cursor) {
      // The device has the page: now record which objects it holds.
      for (const [c, id, has] of flight.view) this.setHolds(c, id, has);
      this.inFlight = undefined;
    }
    if (since < this.#acked || (flight && since < flight.cursor)) {
      // The device is behind what we sent (a page was lost): start again from its cursor.
      this.inFlight = undefined;
      this.#scanned = since;
    }
    this.#acked = since;
    this.#scanned = Math.max(this.#scanned, since);
    this.#lastSyncAt = Date.now();
    this.persist(true);
  }

  /** Records that the device holds (or no longer holds) an object, in memory and in the ledger. */
  private setHolds(collection: string, id: string, has: boolean): void {
    const key = `${collection}\u0000${id}`;
    this.holdsKey(key);
    this.ledger.setPeerHas(this.deviceId, collection, id, has);
    if (has) this.held!.add(key);
    else this.held!.delete(key);
  }

  /** Forgets what the device holds (it starts over from an empty replica). */
  private clearHolds(): void {
    this.ledger.clearPeerObjects(this.deviceId);
    this.held = new Set();
  }

  /**
   * Stores the device's cursor as its peer cursor (what tombstone collection waits for). Without `now`,
   * only every few seconds: idle devices move their cursor on every commit of the store.
   */
  private persist(now: boolean): void {
    const cursor = this.inFlight ? this.#acked : this.#scanned;
    if (cursor === this.persisted) return;
    const t = Date.now();
    if (!now && t - this.persistedAt < 5000) return;
    this.ledger.setPeerCursor(this.deviceId, String(cursor));
    this.persisted = cursor;
    this.persistedAt = t;
  }
}
