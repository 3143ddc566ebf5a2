/**
 * The state of a terminal's sync session and its named transitions: what the message handlers
 * (./handlers/) read and change, and nothing else does. Internal: `SyncClient` builds one and keeps it
 * private, and `src/index.ts` does not export it.
 *
 * Why a context object: the handlers used to assign the client's public fields (`synced`, `refused`,
 * `inFlight`...) from outside, so any caller could too and no one place said which changes a message may
 * make. Here the state is private and each change has a name that says which protocol event it stands
 * for (docs/protocol.md): {@link SyncContext.sessionStarted} on the welcome to this connection's hello,
 * {@link SyncContext.batchAccepted} and {@link SyncContext.batchRefused} for the push window,
 * {@link SyncContext.pageApplied} for the downlink; the transport's events arrive as
 * {@link SyncContext.connected}, {@link SyncContext.connectionRefused} and {@link SyncContext.disconnected}.
 */
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  encodeMessage,
  type Logger,
  type SyncMessage,
  type TimeBase,
} from '@backroom/sync-core';
import type { SyncStatus } from '../api/status.js';
import type { HubRefusal } from '../transport/refusal.js';
import { PushWindow } from './push-window.js';
import type { SyncClientOptions, SyncReplica } from './sync-client.js';

/** The hub's peer name in the replica's cursor table. */
export const HUB = 'hub';
/** After the hub refuses a whole batch, wait this long before offering the outbox again. */
const REFUSED_RETRY_MS = 30_000;

/** A refusal as the status reports it, with the time it came. */
interface Refusal {
  readonly code: string;
  readonly message: string;
  readonly at: number;
}

/** The last `hello`: its wall time, and how the wall clock stood against the monotonic clock then. */
export interface HelloSent {
  readonly wallTime: number;
  readonly timeBase: TimeBase;
}

/** One terminal's sync session with its hub, handed to every message handler. */
export class SyncContext {
  readonly store: SyncReplica;
  readonly deviceId: string;
  readonly log: Logger | undefined;
  /** The outbox batches on their way to the hub, and those cut but not sent yet. */
  readonly pushes: PushWindow;

  /** A `welcome` to this connection's hello arrived. */
  private synced = false;
  /** The largest message either side takes: this terminal's limit, lowered to the hub's. */
  private maxBytes: number;
  private lastSyncAt: number | undefined;
  private lastHello: HelloSent | undefined;
  /** The last page from the hub said more is coming (or none came yet on this connection). */
  private moreFromHub = true;
  /** The hub refused a whole batch: until a batch goes through. */
  private refused: Refusal | undefined;
  /** The hub refused the connection (a wrong credential...): until a connection is accepted. */
  private connectRefused: Refusal | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private scheduled = false;
  private closed = false;
  private readonly waiters: (() => void)[] = [];

  constructor(private readonly opts: SyncClientOptions) {
    this.store = opts.store;
    this.deviceId = opts.deviceId;
    this.log = opts.logger;
    this.maxBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.pushes = new PushWindow({
      outbox: opts.store,
      clock: opts.store.clock,
      deviceId: opts.deviceId,
      send: (b) => this.send({ k: 'push', batchId: b.batchId, changes: b.changes }),
    });
  }

  // --- reading the session ---------------------------------------------------------------------------

  /** The largest sync message this session sends; decoding accepts at least the protocol's default. */
  messageLimit(): number {
    return this.maxBytes;
  }

  /** The hello the current connection sent, if any. */
  hello(): HelloSent | undefined {
    return this.lastHello;
  }

  /** Hub cursor this replica has pulled up to. */
  cursor(): number {
    return Number(this.store.peerCursor(HUB) ?? '0');
  }

  status(): SyncStatus {
    // While the hub refuses the connection, that is why nothing moves; a refused batch comes second.
    const refused = this.connectRefused ?? this.refused;
    return {
      connected: this.synced && this.opts.transport.isConnected(),
      pendingUp: this.store.pendingCount(),
      lastSyncAt: this.lastSyncAt === undefined ? null : new Date(this.lastSyncAt).toISOString(),
      clockOffsetMs: Math.round(this.store.clock.offsetMs()),
      quarantined: this.store.quarantined().length,
      refused: refused
        ? { code: refused.code, message: refused.message, at: new Date(refused.at).toISOString() }
        : null,
    };
  }

  /** Resolves once the outbox is empty and the last page from the hub said nothing more is coming. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  // --- the transport's events ------------------------------------------------------------------------

  /** A session is up: say hello (every connection starts with it). */
  connected(): void {
    this.connectRefused = undefined;
    this.synced = false;
    this.moreFromHub = true;
    // The hub's offset is measured against this wall time: the restamp checks the clock did not jump since.
    const timeBase = this.store.clock.timeBase();
    const wallTime = timeBase.wall;
    this.lastHello = { wallTime, timeBase };
    this.send({
      k: 'hello',
      deviceId: this.deviceId,
      clientVars: this.opts.clientVars ?? {},
      cursor: String(this.cursor()),
      wallTime,
      agentVersion: this.opts.agentVersion ?? '0.1.0',
    });
  }

  /** The hub refused a connection attempt; the transport keeps trying. */
  connectionRefused(r: HubRefusal): void {
    this.connectRefused = { code: r.code, message: r.message, at: Date.now() };
  }

  /** The session ended: unacknowledged batches are offered again after the next hello (the outbox still holds them). */
  disconnected(): void {
    this.synced = false;
    this.pushes.forget();
  }

  /** A local write landed in the outbox: push it soon, once for a burst of writes. */
  localWrite(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pushNext();
    });
  }

  // --- the handlers' transitions ---------------------------------------------------------------------

  /** The hub announced the largest message it takes: never send more than that. */
  lowerMessageLimit(bytes: number): void {
    this.maxBytes = Math.min(this.maxBytes, bytes);
  }

  /** The welcome to this connection's hello was applied: start pushing from a fresh window. */
  sessionStarted(): void {
    this.synced = true;
    this.pushes.forget();
    this.lastSyncAt = Date.now();
    this.pushNext();
  }

  /** The hub acknowledged a batch: any earlier refusal is over; push the next one. */
  batchAccepted(): void {
    this.refused = undefined;
    this.lastSyncAt = Date.now();
    this.pushNext();
  }

  /**
   * The hub refused a whole batch (no object named): it stays in the outbox, the status says why it does
   * not leave, and the outbox is offered again after {@link REFUSED_RETRY_MS}.
   */
  batchRefused(code: string, message: string): void {
    this.refused = { code, message, at: Date.now() };
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.pushNext();
    }, REFUSED_RETRY_MS);
    this.retryTimer.unref?.();
  }

  /** A page from the hub was merged and acknowledged; `more` says whether another follows. */
  pageApplied(more: boolean): void {
    this.lastSyncAt = Date.now();
    this.moreFromHub = more;
    this.notifyIdle();
  }

  /**
   * Offers outbox batches through the push window, unless the session is not welcomed yet or a refused
   * batch waits for its retry.
   */
  pushNext(): void {
    if (this.closed || !this.synced || this.retryTimer) return;
    this.pushes.offer(this.maxBytes);
    if (this.pushes.isEmpty()) this.notifyIdle();
  }

  /** Encodes and publishes one message; one that cannot be encoded or sent is logged, never thrown. */
  send(m: SyncMessage): void {
    let payload: Uint8Array;
    try {
      payload = encodeMessage(m, { maxBytes: this.maxBytes });
    } catch (err) {
      this.log?.error({ err, kind: m.k }, 'could not encode a sync message');
      return;
    }
    this.opts.transport.send(payload).catch((err: unknown) => {
      this.log?.debug?.({ err: (err as Error).message, kind: m.k }, 'sync message not sent');
    });
  }

  /** Stops every timer; nothing is pushed after this. */
  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
  }

  private isIdle(): boolean {
    return this.synced && this.pushes.isEmpty() && !this.moreFromHub && this.store.pendingCount() === 0;
  }

  private notifyIdle(): void {
    if (!this.isIdle()) return;
    for (const w of this.waiters.splice(0)) w();
  }
}
