/**
 * The hub's sync server: one handler per message kind (hello, push, pull, time), in the manner of aedes'
 * lib/handlers. Devices reach it through the {@link DeviceChannel}; the hub's replica is a ReplicaStore in
 * the data directory. docs/protocol.md describes the exchange.
 *
 * Outcomes a device must hear (a refused batch, a malformed message) are `reject` messages sent back,
 * never exceptions: one misbehaving device never stops the hub from serving the others.
 */
import { join } from 'node:path';
import {
  type Change,
  DEFAULT_MAX_MESSAGE_BYTES,
  decodeMessage,
  encodeMessage,
  filterFields,
  type HelloMessage,
  isSyncError,
  type PullMessage,
  type PushMessage,
  type RebasedStamp,
  ReplicaStore,
  type Schema,
  SyncError,
  type SyncMessage,
  splitChanges,
  type TimeMessage,
} from '@backroom/sync-core';
import { Access, type FilterTable } from '../access/access.js';
import type { DevicePrincipal } from '../auth/device.js';
import type { DeviceChannel } from '../broker/device-channel.js';
import type { HubConfig } from '../config.js';
import type { HubLogger } from '../logger.js';
import { ReadingsIngest } from '../telemetry/readings.js';
import { Feed } from './feed.js';
import { nextPage } from './pages.js';
import { checkPush } from './push-guard.js';
import { DeviceSession } from './session.js';

/** The hub's node id in stamps. `@` cannot appear in a device id, so it never collides with one. */
export const HUB_NODE_ID = '@hub';

/** MQTT header, topic and packet id fit in this much of a packet; the rest is the sync message. */
const PACKET_OVERHEAD = 1024;

export interface SyncServerOptions {
  readonly config: HubConfig;
  readonly schema: Schema;
  readonly filters: FilterTable;
  readonly channel: DeviceChannel;
  readonly logger: HubLogger;
}

type Handler<M extends SyncMessage> = (server: SyncServer, session: DeviceSession, m: M) => void;

/** One handler per message kind a device may send. */
const handlers: { [K in SyncMessage['k']]?: Handler<Extract<SyncMessage, { k: K }>> } = {
  hello: handleHello,
  push: handlePush,
  pull: handlePull,
  time: handleTime,
  reject: (server, session, m) => server.log.warn({ deviceId: session.deviceId, code: m.code }, m.message),
};

/** The hub's sync server. Create with {@link SyncServer.start}; `close()` flushes and closes the store. */
export class SyncServer {
  readonly store: ReplicaStore;
  readonly sessions = new Map<string, DeviceSession>();
  readonly maxMessageBytes: number;
  /** The change feed, read once for every device. */
  readonly feed: Feed;
  private readonly gcTimer: NodeJS.Timeout;
  private readonly unsubscribe: () => void;
  private closed = false;

  private constructor(readonly opts: SyncServerOptions) {
    const { config, channel, logger, schema } = opts;
    this.maxMessageBytes = Math.min(DEFAULT_MAX_MESSAGE_BYTES, config.maxPacketBytes - PACKET_OVERHEAD);
    this.store = ReplicaStore.open({
      path: join(config.dataDir, 'hub.db'),
      schema,
      nodeId: HUB_NODE_ID,
      role: 'manager',
      maxSkewMs: config.maxSkewMs,
      outbox: false,
      logger: logger.child({ component: 'store' }),
    });
    const project: Record<string, string[]> = {};
    for (const [c, f] of opts.filters) project[c] = filterFields(f);
    this.feed = new Feed(this.store, project);
    channel.onMessage((deviceId, payload, principal) => this.onMessage(deviceId, payload, principal));
    channel.onConnect((p) => this.onConnect(p));
    channel.onDisconnect((id) => this.onDisconnect(id));
    if (Object.hasOwn(schema.collections, 'readings')) {
      const readings = new ReadingsIngest(this.store, logger.child({ component: 'telemetry' }));
      channel.onTelemetry((id, metric, payload, packet) => readings.ingest(id, metric, payload, packet));
    }
    // Changes from one device reach the others promptly: every commit wakes the idle sessions.
    this.unsubscribe = this.store.subscribe(() => this.wakeAll());
    const every = Math.max(1000, Math.min(3_600_000, Math.floor(config.tombstoneRetentionMs / 4)));
    this.gcTimer = setInterval(() => this.collectGarbage(), every);
    this.gcTimer.unref();
  }

  /** Opens the hub's replica and starts serving sync messages on the channel. */
  static start(opts: SyncServerOptions): SyncServer {
    return new SyncServer(opts);
  }

  get log(): HubLogger {
    return this.opts.logger;
  }

  /** Sends one message to a device; failures (device gone, hub closing) are logged, never thrown. */
  send(session: DeviceSession, m: SyncMessage): void {
    let payload: Uint8Array;
    try {
      payload = encodeMessage(m, { maxBytes: this.maxMessageBytes });
    } catch (err) {
      this.log.error({ err, deviceId: session.deviceId, kind: m.k }, 'could not encode a sync message');
      return;
    }
    this.opts.channel.send(session.deviceId, payload).catch((err: unknown) => {
      this.log.debug({ err, deviceId: session.deviceId }, 'sync message not delivered');
    });
  }

  reject(
    session: DeviceSession,
    code: string,
    message: string,
    batchId?: string,
    object?: { collection: string; id: string },
  ): void {
    this.send(session, {
      k: 'reject',
      code,
      message,
      ...(batchId === undefined ? {} : { batchId }),
      ...(object === undefined ? {} : { object }),
    });
  }

  /** Schedules the next page for a device, coalescing bursts of commits into one scan. */
  wake(session: DeviceSession): void {
    if (session.scheduled || this.closed) return;
    session.scheduled = true;
    setImmediate(() => {
      session.scheduled = false;
      this.sendPages(session);
    });
  }

  /** Device info for `GET /v1/devices`. */
  deviceInfo(deviceId: string): Record<string, unknown> {
    const s = this.sessions.get(deviceId);
    const cursor = s ? Math.max(s.acked, s.scanned) : Number(this.store.peerCursor(deviceId) ?? 0);
    return {
      pendingChanges: Math.max(0, this.store.currentSeq() - cursor),
      clockSkewMs: s?.clockSkewMs ?? null,
      clockFlagged: s?.flagged ?? false,
      lastSyncAt: s?.lastSyncAt ? new Date(s.lastSyncAt).toISOString() : null,
    };
  }

  /**
   * Collects tombstones every device that synced within the retention has acknowledged. A device away
   * longer is resynced when it returns (its cursor is below the horizon), so it cannot resurrect anything.
   */
  collectGarbage(): number {
    const retention = this.opts.config.tombstoneRetentionMs;
    const now = Date.now();
    let min = this.store.currentSeq();
    for (const p of this.store.peers()) {
      if (now - p.updated <= retention) min = Math.min(min, Number(p.cursor));
    }
    for (const s of this.sessions.values()) if (s.online) min = Math.min(min, s.acked);
    const n = this.store.collectTombstones(min);
    // Collected rows leave the store's feed without a newer row to supersede them: drop the cache.
    if (n > 0) this.feed.reset();
    if (n > 0)
      this.log.info({ collected: n, horizon: this.store.tombstoneHorizon() }, 'tombstones collected');
    return n;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.gcTimer);
    this.unsubscribe();
    this.store.close();
  }

  private onMessage(deviceId: string, payload: Buffer, principal: DevicePrincipal): void {
    if (this.closed) return;
    const session = this.session(principal);
    let m: SyncMessage;
    try {
      m = decodeMessage(payload, { maxBytes: this.maxMessageBytes });
    } catch (e) {
      const err = e as SyncError;
      this.log.warn({ deviceId, code: err.code, details: err.details }, 'bad sync message');
      this.reject(session, err.code ?? 'SYNC_ERR_MESSAGE_MALFORMED', err.message);
      return;
    }
    const handler = handlers[m.k] as Handler<SyncMessage> | undefined;
    if (!handler) {
      this.reject(session, 'SYNC_ERR_PROTOCOL', `a device does not send "${m.k}" messages`);
      return;
    }
    try {
      handler(this, session, m);
    } catch (e) {
      const batchId = m.k === 'push' ? m.batchId : undefined;
      if (isSyncError(e)) {
        this.log.warn({ deviceId, code: e.code, details: e.details }, 'sync message refused');
        const { collection, id } = e.details as { collection?: unknown; id?: unknown };
        const object =
          m.k === 'push' && typeof collection === 'string' && typeof id === 'string' && collection && id
            ? { collection, id }
            : undefined;
        this.reject(session, e.code, e.message, batchId, object);
      } else {
        this.log.error({ err: e, deviceId, kind: m.k }, 'sync handler failed');
        this.reject(session, 'SYNC_ERR_PROTOCOL', 'the hub could not process this message', batchId);
      }
    }
  }

  private session(principal: DevicePrincipal): DeviceSession {
    let s = this.sessions.get(principal.deviceId);
    if (!s) {
      s = new DeviceSession(
        principal,
        new Access(principal, this.opts.schema, this.opts.filters, {}),
        this.store,
      );
      this.sessions.set(principal.deviceId, s);
    }
    return s;
  }

  private onConnect(p: DevicePrincipal): void {
    const s = this.session(p);
    s.online = true;
    s.greeted = false; // every connection starts with a hello
    s.inFlight = undefined;
  }

  private onDisconnect(deviceId: string): void {
    const s = this.sessions.get(deviceId);
    if (!s) return;
    s.online = false;
    s.inFlight = undefined; // an unacknowledged page may be lost: it is rebuilt from the cursor next time
  }

  private wakeAll(): void {
    for (const s of this.sessions.values()) if (s.online && s.greeted && !s.inFlight) this.wake(s);
  }

  /** Sends the next non-empty page, skipping stretches of the feed that hold nothing for the device. */
  private sendPages(session: DeviceSession): void {
    for (let i = 0; i < 50; i++) {
      if (this.closed || !session.online || !session.greeted || session.inFlight) return;
      let page: ReturnType<typeof nextPage>;
      try {
        page = nextPage(
          this.feed,
          session,
          session.scanned,
          this.store.currentSeq(),
          this.maxMessageBytes,
          (c, why) =>
            this.log.error(
              { deviceId: session.deviceId, collection: c.collection, id: c.id, err: why.message },
              'object too large to sync: skipped',
            ),
        );
      } catch (err) {
        // Never let one device's page take the hub down; it is tried again on the next commit or pull.
        this.log.error({ err, deviceId: session.deviceId }, 'could not build a sync page');
        return;
      }
      if (!page) {
        // Caught up: the stretch scanned held nothing for the device, so its cursor may move (for GC).
        session.persist(false);
        if (!session.toldCaughtUp) {
          // Say so once, so the device knows nothing more is coming (its `idle()`, its status).
          session.toldCaughtUp = true;
          session.inFlight = { cursor: session.scanned, view: [] };
          this.send(session, {
            k: 'changes',
            since: String(session.acked),
            changes: [],
            evict: [],
            cursor: String(session.scanned),
            more: false,
          });
        }
        return;
      }
      session.scanned = page.cursor;
      if (page.empty) continue;
      session.inFlight = { cursor: page.cursor, view: page.view };
      session.toldCaughtUp = !page.message.more;
      this.send(session, page.message);
      return;
    }
    this.wake(session); // a long stretch with nothing for this device: go on after other work
  }
}

function parseCursor(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new SyncError('SYNC_ERR_MESSAGE_MALFORMED', 'cursor out of range', { cursor: text });
  }
  return n;
}

function handleHello(server: SyncServer, session: DeviceSession, m: HelloMessage): void {
  const { store } = server;
  if (m.deviceId !== session.deviceId) {
    throw new SyncError('SYNC_ERR_PROTOCOL', 'hello names another device', { deviceId: m.deviceId });
  }
  session.access = new Access(session.principal, server.opts.schema, server.opts.filters, m.clientVars);
  let cursor = parseCursor(m.cursor);
  const effective = Number(store.peerCursor(session.deviceId) ?? 0);
  const horizon = store.tombstoneHorizon();
  // Away longer than the tombstone retention, or ahead of this hub (restored from an older backup):
  // the device starts over, so it can never resurrect what was deleted meanwhile.
  const resync = (cursor > 0 && cursor < horizon && effective < horizon) || cursor > store.currentSeq();
  if (resync || cursor === 0) {
    cursor = 0;
    session.clearHolds();
  }
  session.acked = cursor;
  session.scanned = cursor;
  session.fromZero = cursor === 0;
  session.inFlight = undefined;
  session.toldCaughtUp = false;
  session.pushed.clear();
  session.greeted = true;
  session.online = true;
  const hubTime = Date.now();
  session.clockSkewMs = m.wallTime - hubTime;
  session.persist(true);
  server.send(session, {
    k: 'welcome',
    hubId: HUB_NODE_ID,
    hubTime,
    offsetMs: hubTime - m.wallTime,
    resync,
    maxMessageBytes: server.maxMessageBytes,
    maxSkewMs: server.opts.config.maxSkewMs,
  });
  if (Math.abs(session.clockSkewMs) > server.opts.config.maxSkewMs) {
    // Flagged even when its stamps need no rebasing (it placed its offline writes at hub time itself):
    // the terminal's clock is wrong, and the store should know.
    session.flagged = true;
    server.log.warn({ deviceId: session.deviceId, clockSkewMs: session.clockSkewMs }, 'device clock is off');
  }
  server.wake(session);
}

function handlePush(server: SyncServer, session: DeviceSession, m: PushMessage): void {
  if (!session.greeted) throw new SyncError('SYNC_ERR_PROTOCOL', 'push before hello', {});
  const { store } = server;
  const visible = checkPush(store, session.access, m.changes);
  const result = store.applyRemote(m.changes);
  // The device holds what it pushed: pages will not send its own objects back to it.
  store.transaction(() => {
    for (const c of m.changes) {
      const key = `${c.collection}\u0000${c.id}`;
      session.pushed.add(key);
      if (visible.has(key) && !session.holds(c.collection, c.id)) session.setHolds(c.collection, c.id, true);
    }
  });
  let state: Change[] = [];
  let rebased: RebasedStamp[] = [];
  if (result.rebased.length) {
    session.flagged = true;
    rebased = result.rebased.map((r) => ({ ...r }));
    const seen = new Set<string>();
    for (const r of rebased) {
      const k = `${r.collection}\u0000${r.id}`;
      if (seen.has(k)) continue;
      seen.add(k);
      const ch = store.changeFor(r.collection, r.id);
      if (ch) state.push(ch);
    }
    server.log.warn(
      { deviceId: session.deviceId, rebased: rebased.length, clockSkewMs: session.clockSkewMs },
      'device stamps too far ahead: rebased',
    );
    // The ack must fit one message: send the state of as many objects as fit (agents whose clock is ahead
    // push small batches, so all of them normally do).
    if (state.length) {
      const envelope = encodeMessage({ k: 'ack', batchId: m.batchId, rebased, state: [] }).length;
      state = splitChanges(state, server.maxMessageBytes, envelope)[0] ?? [];
    }
  }
  server.send(session, { k: 'ack', batchId: m.batchId, rebased, state });
}

function handlePull(server: SyncServer, session: DeviceSession, m: PullMessage): void {
  if (!session.greeted) throw new SyncError('SYNC_ERR_PROTOCOL', 'pull before hello', {});
  const since = parseCursor(m.since);
  const flight = session.inFlight;
  if (flight && since >= flight.cursor) {
    // The device has the page: now record which objects it holds.
    for (const [c, id, has] of flight.view) session.setHolds(c, id, has);
    session.inFlight = undefined;
  }
  if (since < session.acked || (flight && since < flight.cursor)) {
    // The device is behind what we sent (a page was lost): start again from its cursor.
    session.inFlight = undefined;
    session.scanned = since;
  }
  session.acked = since;
  session.scanned = Math.max(session.scanned, since);
  session.lastSyncAt = Date.now();
  session.persist(true);
  server.wake(session);
}

function handleTime(server: SyncServer, session: DeviceSession, m: TimeMessage): void {
  if (m.t1 !== undefined) return; // a reply: the hub never probes
  server.send(session, { k: 'time', t0: m.t0, t1: Date.now() });
}
