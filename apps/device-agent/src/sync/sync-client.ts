/**
 * The terminal's side of the sync protocol (docs/protocol.md): hello on every connection, adopt the hub's
 * time, push the outbox one batch at a time, apply the hub's pages in order and acknowledge each with a
 * `pull`. One handler per message kind from the hub.
 *
 * The replica keeps working with no hub at all: local writes land in the store and its outbox; this client
 * only moves them when a connection exists.
 */
import {
  type AckMessage,
  type ChangesMessage,
  DEFAULT_MAX_MESSAGE_BYTES,
  decodeMessage,
  encodeMessage,
  type Logger,
  type RejectMessage,
  type ReplicaStore,
  type SyncMessage,
  type TimeBase,
  type WelcomeMessage,
} from '@backroom/sync-core';
import type { SyncStatus } from '../api/status.js';
import type { Transport } from '../transport/transport.js';
import { PushWindow } from './push-window.js';

/** The hub's peer name in the replica's cursor table. */
const HUB = 'hub';
/** After the hub refuses a batch, wait this long before offering it again. */
const REFUSED_RETRY_MS = 30_000;

export interface SyncClientOptions {
  readonly store: ReplicaStore;
  readonly transport: Transport;
  readonly deviceId: string;
  readonly clientVars?: Readonly<Record<string, string>>;
  readonly logger?: Logger;
  readonly maxMessageBytes?: number;
  readonly agentVersion?: string;
}

type Handler<M extends SyncMessage> = (client: SyncClient, m: M) => void;

const handlers: { [K in SyncMessage['k']]?: Handler<Extract<SyncMessage, { k: K }>> } = {
  welcome: onWelcome,
  ack: onAck,
  changes: onChanges,
  reject: onReject,
  time: () => undefined,
};

/** Moves changes between a terminal's replica and its hub. */
export class SyncClient {
  readonly store: ReplicaStore;
  /** A `welcome` arrived on the current connection. */
  synced = false;
  lastSyncAt: number | undefined;
  maxBytes: number;
  /** The outbox batches on their way to the hub, and those cut but not sent yet. */
  readonly pushes: PushWindow;
  /** The hub refused a batch: its code and message, until a batch goes through. */
  refused: { code: string; message: string; at: number } | undefined;
  /** The hub refused the connection (a wrong credential...): until a connection is accepted. */
  private connectRefused: { code: string; message: string; at: number } | undefined;
  private scheduled = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly unsubscribe: () => void;
  private closed = false;
  private readonly waiters: (() => void)[] = [];
  /** The last `hello`'s wall time, and how the wall clock stood against the monotonic clock then. */
  lastHello: { wallTime: number; timeBase: TimeBase } | undefined;

  constructor(readonly opts: SyncClientOptions) {
    this.store = opts.store;
    this.maxBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.pushes = new PushWindow({
      outbox: opts.store,
      clock: opts.store.clock,
      deviceId: opts.deviceId,
      send: (b) => this.send({ k: 'push', batchId: b.batchId, changes: b.changes }),
    });
    opts.transport.on('connect', () => {
      this.connectRefused = undefined;
      this.hello();
    });
    opts.transport.on('refused', (r) => {
      this.connectRefused = { code: r.code, message: r.message, at: Date.now() };
    });
    opts.transport.on('disconnect', () => {
      this.synced = false;
      // Unacknowledged batches are offered again after the next hello (the outbox still holds them).
      this.pushes.forget();
    });
    opts.transport.on('message', (payload) => this.onMessage(payload));
    this.unsubscribe = this.store.subscribe((e) => {
      if (!e.remote) this.schedulePush();
    });
  }

  get log(): Logger | undefined {
    return this.opts.logger;
  }

  start(): void {
    this.opts.transport.start();
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

  /** Hub cursor this replica has pulled up to. */
  cursor(): number {
    return Number(this.store.peerCursor(HUB) ?? '0');
  }

  /** Resolves once the outbox is empty and the last page from the hub said nothing more is coming. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

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

  /**
   * Offers outbox batches to the hub through the push window, unless the session is not welcomed yet or a
   * refused batch waits for its retry.
   */
  pushNext(): void {
    if (this.closed || !this.synced || this.retryTimer) return;
    this.pushes.offer(this.maxBytes);
    if (this.pushes.isEmpty()) this.notifyIdle();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.opts.transport.close();
  }

  notifyIdle(): void {
    if (!this.isIdle()) return;
    for (const w of this.waiters.splice(0)) w();
  }

  pageDone(more: boolean): void {
    this.moreFromHub = more;
    this.notifyIdle();
  }

  retryLater(): void {
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.pushNext();
    }, REFUSED_RETRY_MS);
    this.retryTimer.unref?.();
  }

  private moreFromHub = true;

  private isIdle(): boolean {
    return this.synced && this.pushes.isEmpty() && !this.moreFromHub && this.store.pendingCount() === 0;
  }

  private hello(): void {
    this.synced = false;
    this.moreFromHub = true;
    // The hub's offset is measured against this wall time: the restamp checks the clock did not jump since.
    const timeBase = this.store.clock.timeBase();
    const wallTime = timeBase.wall;
    this.lastHello = { wallTime, timeBase };
    this.send({
      k: 'hello',
      deviceId: this.opts.deviceId,
      clientVars: this.opts.clientVars ?? {},
      cursor: String(this.cursor()),
      wallTime,
      agentVersion: this.opts.agentVersion ?? '0.1.0',
    });
  }

  private schedulePush(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pushNext();
    });
  }

  private onMessage(payload: Buffer): void {
    let m: SyncMessage;
    try {
      m = decodeMessage(payload, { maxBytes: Math.max(this.maxBytes, DEFAULT_MAX_MESSAGE_BYTES) });
    } catch (err) {
      this.log?.warn({ err: (err as Error).message }, 'bad message from the hub ignored');
      return;
    }
    const handler = handlers[m.k] as Handler<SyncMessage> | undefined;
    if (!handler) {
      this.log?.warn({ kind: m.k }, 'unexpected message from the hub ignored');
      return;
    }
    try {
      handler(this, m);
    } catch (err) {
      this.log?.error({ err, kind: m.k }, 'could not apply a message from the hub');
    }
  }
}

function onWelcome(client: SyncClient, m: WelcomeMessage): void {
  const { store } = client;
  // offsetMs = hubTime − the wall time of the hello it answers. A welcome to an earlier hello (one resent
  // from a dropped connection, or queued for this device) measured an offset against another moment: the
  // answer to this connection's hello follows, and only it may place offline writes.
  if (m.hubTime - m.offsetMs !== client.lastHello?.wallTime) {
    client.log?.debug?.({ hubTime: m.hubTime, offsetMs: m.offsetMs }, 'welcome to an earlier hello ignored');
    return;
  }
  // From now on the replica's clock is the hub's time, advanced by the monotonic clock. Writes made on this
  // terminal's own wall clock that never left it move to the hub's time first, before anything is pushed.
  const placed = store.adoptHubOffset(m.offsetMs, { measuredAt: client.lastHello.timeBase });
  if (placed.stamps) {
    client.log?.warn(
      { offsetMs: m.offsetMs, stamps: placed.stamps, objects: placed.objects },
      'this terminal clock is off: its offline writes were placed at hub time before pushing',
    );
  } else if (placed.skipped === 'clock-jumped' || placed.skipped === 'rebooted') {
    client.log?.warn(
      { offsetMs: m.offsetMs, reason: placed.skipped },
      'this terminal clock changed since its offline writes: the hub will re-stamp those too far ahead',
    );
  }
  client.maxBytes = Math.min(client.maxBytes, m.maxMessageBytes);
  if (m.resync) {
    // Away longer than the hub keeps tombstones: start over from the hub's state. The outbox stays and is
    // pushed again, so no local sale is lost.
    client.log?.warn({}, 'hub asked for a full resync');
    store.transaction(() => {
      // The outbox names objects; the push reads this terminal's registers of them. Keep those registers
      // across the wipe, or the writes would have nothing left to push.
      const mine = store.pendingChanges(Number.MAX_SAFE_INTEGER).map((p) => p.change);
      store.clearObjects();
      if (mine.length) store.applyRemote(mine, { rebase: false });
      store.setPeerCursor(HUB, '0');
    });
  }
  client.synced = true;
  client.pushes.forget();
  client.lastSyncAt = Date.now();
  client.pushNext();
}

function onAck(client: SyncClient, m: AckMessage): void {
  const { store } = client;
  const acked = client.pushes.ack(m.batchId, (rows) =>
    store.transaction(() => {
      const mine = m.rebased.filter((r) => r.node === client.opts.deviceId);
      if (mine.length || m.state.length) store.applyRebase(mine, m.state);
      // Exactly the entries this batch carried: a later write to the same object stays pending.
      store.ackRows(rows);
    }),
  );
  if (!acked) {
    // An ack of a batch from before a reconnect: its entries are still in the outbox and go again.
    client.log?.debug?.({ batchId: m.batchId }, 'stale ack ignored');
    return;
  }
  if (m.rebased.length) {
    client.log?.warn({ rebased: m.rebased.length }, 'the hub re-stamped writes: check this terminal clock');
  }
  client.refused = undefined;
  client.lastSyncAt = Date.now();
  client.pushNext();
}

function onChanges(client: SyncClient, m: ChangesMessage): void {
  const { store } = client;
  const cursor = client.cursor();
  const since = Number(m.since);
  if (since > cursor) {
    // A page is missing before this one: ask again from where we are.
    client.send({ k: 'pull', since: String(cursor) });
    return;
  }
  const next = Math.max(cursor, Number(m.cursor));
  store.transaction(() => {
    if (m.changes.length) store.applyRemote(m.changes, { rebase: false });
    // Never evict an object with local writes still to push: that would lose them.
    const evict = m.evict.filter((e) => !store.hasPending(e.collection, e.id));
    if (evict.length) store.evict(evict);
    store.setPeerCursor(HUB, String(next));
  });
  client.lastSyncAt = Date.now();
  client.send({ k: 'pull', since: String(next) });
  client.pageDone(m.more);
}

function onReject(client: SyncClient, m: RejectMessage): void {
  client.log?.error({ code: m.code, batchId: m.batchId, object: m.object }, `hub refused: ${m.message}`);
  // Acted on only for a push in flight; without a batch id the hub could not read which push it was, and
  // it counts against every one in flight.
  if (!client.pushes.refuse(m.batchId)) return;
  if (m.object) {
    // One object's writes are refused (outside this terminal's filter, not writable...): set them aside,
    // kept and listed, and push the rest at once.
    client.store.quarantine(m.object.collection, m.object.id, m.code, m.message);
    client.pushNext();
    return;
  }
  // The whole batch was refused: it stays in the outbox (nothing is dropped) and is offered again later;
  // the status shows why it does not leave.
  client.refused = { code: m.code, message: m.message, at: Date.now() };
  client.retryLater();
}
