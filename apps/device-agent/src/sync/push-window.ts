/**
 * The terminal's push window (docs/protocol.md, "Push and ack"): which outbox batches are on their way to
 * the hub and which are cut but not sent yet. Up to {@link MAX_IN_FLIGHT} pushes travel at once, so the
 * hub merges one batch while the next is on the wire; the outbox is read again only once every batch of
 * the last read is acknowledged.
 *
 * Why its own file: the window is the one piece of uplink state with rules of its own (batch ids, which
 * rows an ack drops, what a reject or a lost connection forgets). Kept apart from the message handlers,
 * those rules read in one place, and the handlers change the window only through its named operations:
 * {@link PushWindow.offer} (prepare and send), {@link PushWindow.ack}, {@link PushWindow.refuse} and
 * {@link PushWindow.forget}.
 */
import { type Change, isSyncError, type Outbox, type RemoteMerger, splitChanges } from '@backroom/sync-core';

/** Outbox entries read per push batch (about 1 MiB of 1 KB changes). */
export const PUSH_ROWS = 900;
/**
 * Outbox entries read while this terminal's clock is still ahead of the hub's: each ack then carries the
 * hub's state of every re-stamped object, and small batches keep that within one message.
 */
export const PUSH_ROWS_WHEN_AHEAD = 50;
/** Push batches on the way at once. */
export const MAX_IN_FLIGHT = 2;
/** A push message without its changes: kind, version, batch id (the device id is added to it). */
const PUSH_ENVELOPE_BYTES = 48;

/** One push message and the outbox entries it carries. */
export interface PushBatch {
  /** `{deviceId}:{outboxSeq}`, `outboxSeq` the highest outbox entry the batch covers. */
  readonly batchId: string;
  readonly changes: readonly Change[];
  /** Exactly the outbox entries the batch carries: its ack drops these and no others. */
  readonly rows: readonly number[];
}

/** What the window needs around it. */
export interface PushWindowOptions {
  /** The terminal's outbox: read to cut batches; an object that can never fit a message is set aside. */
  readonly outbox: Pick<Outbox, 'pendingChanges' | 'quarantine'>;
  /** The replica's clock: while it runs ahead of the hub's time, batches are smaller. */
  readonly clock: RemoteMerger['clock'];
  /** This terminal's id, the first half of every batch id. */
  readonly deviceId: string;
  /** Sends one push to the hub (a lost message is offered again after the next `welcome`). */
  readonly send: (batch: PushBatch) => void;
}

/**
 * True while the replica's clock is still ahead of the hub's time beyond the allowed skew (the hub will
 * re-stamp what it receives).
 */
export function clockAhead(clock: RemoteMerger['clock']): boolean {
  return Number(clock.highWater() >> 16n) > clock.physicalNow() + clock.maxSkewMs;
}

/**
 * The push batches of one session: sent and unacknowledged (in flight), and cut but not sent yet.
 *
 * @example
 * const window = new PushWindow({ outbox: store, clock: store.clock, deviceId, send: (b) => publish(b) });
 * window.offer(maxMessageBytes); // on welcome, on a local write, after an ack
 * window.ack(m.batchId, (rows) => store.ackRows(rows)); // on ack
 * window.forget(); // on disconnect
 */
export class PushWindow {
  /** Sent and not yet acknowledged, by batch id. */
  private readonly inFlight = new Map<string, PushBatch>();
  /** Cut from the last outbox read, not sent yet. */
  private prepared: PushBatch[] = [];

  constructor(private readonly opts: PushWindowOptions) {}

  /** Nothing in flight and nothing prepared. */
  isEmpty(): boolean {
    return this.inFlight.size === 0 && this.prepared.length === 0;
  }

  /**
   * Sends prepared batches until {@link MAX_IN_FLIGHT} are on their way. When nothing is in flight or
   * prepared, reads the outbox first and cuts it into batches that each fit `maxBytes`.
   */
  offer(maxBytes: number): void {
    if (this.isEmpty()) this.prepared = this.prepare(maxBytes);
    while (this.inFlight.size < MAX_IN_FLIGHT && this.prepared.length) {
      const batch = this.prepared.shift()!;
      this.inFlight.set(batch.batchId, batch);
      this.opts.send(batch);
    }
  }

  /**
   * The hub acknowledged `batchId`: `drop` is called with the outbox entries the batch carried (the caller
   * drops them, with whatever the ack brought, in one transaction), then the batch leaves the window. If
   * `drop` throws, the batch stays in flight. An ack of a batch not in flight (one sent before a
   * reconnect, whose entries are still in the outbox and go again) does nothing.
   *
   * @returns whether the batch was in flight.
   */
  ack(batchId: string, drop: (rows: readonly number[]) => void): boolean {
    const batch = this.inFlight.get(batchId);
    if (!batch) return false;
    drop(batch.rows);
    this.inFlight.delete(batchId);
    return true;
  }

  /**
   * The hub refused `batchId`, or (without a batch id) a push it could not even decode, which counts
   * against every batch in flight. The refused batches leave the window and the prepared ones are
   * dropped: their entries stay in the outbox, which is read again on the next {@link offer}.
   *
   * @returns whether a batch in flight was refused (a reject of nothing in flight is stale).
   */
  refuse(batchId: string | undefined): boolean {
    if (this.inFlight.size === 0) return false;
    const ids =
      batchId === undefined ? [...this.inFlight.keys()] : this.inFlight.has(batchId) ? [batchId] : [];
    if (ids.length === 0) return false;
    for (const id of ids) this.inFlight.delete(id);
    this.prepared = [];
    return true;
  }

  /**
   * A new session, or the end of one: every batch is forgotten. Nothing is lost: the outbox still holds
   * their entries, offered again after the next `welcome`.
   */
  forget(): void {
    this.inFlight.clear();
    this.prepared = [];
  }

  /** Reads the outbox and splits it into push batches that each fit one message. */
  private prepare(maxBytes: number): PushBatch[] {
    const { outbox, deviceId } = this.opts;
    const rows = clockAhead(this.opts.clock) ? PUSH_ROWS_WHEN_AHEAD : PUSH_ROWS;
    for (;;) {
      const pending = outbox.pendingChanges(rows);
      if (pending.length === 0) return [];
      let split: Change[][];
      try {
        split = splitChanges(
          pending.map((p) => p.change),
          maxBytes,
          PUSH_ENVELOPE_BYTES + deviceId.length,
        );
      } catch (e) {
        const at = isSyncError(e, 'SYNC_ERR_CHANGE_TOO_LARGE') ? (e.details.index as number) : -1;
        const bad = pending[at]?.change;
        if (!bad) throw e;
        // Cannot ever fit in a message: set it aside (kept in the replica, listed) and go on with the rest.
        outbox.quarantine(bad.collection, bad.id, 'SYNC_ERR_CHANGE_TOO_LARGE', (e as Error).message);
        continue;
      }
      const batches: PushBatch[] = [];
      let i = 0;
      for (const changes of split) {
        const part = pending.slice(i, i + changes.length);
        i += changes.length;
        batches.push({
          batchId: `${deviceId}:${part[part.length - 1].seq}`,
          changes,
          rows: part.flatMap((p) => p.rows),
        });
      }
      return batches;
    }
  }
}
