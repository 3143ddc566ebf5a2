/**
 * The hub's sync server: opens the hub's replica (a ReplicaStore in the data directory), keeps one
 * session per device, decodes what devices send on the {@link DeviceChannel} and hands each message to
 * the dispatcher (`handlers/index.ts`, one handler per message kind), and pages the change feed down to
 * every device. docs/protocol.md describes the exchange.
 *
 * Outcomes a device must hear (a refused batch, a malformed message) are `reject` messages sent back,
 * never exceptions: one misbehaving device never stops the hub from serving the others.
 */
import { join } from 'node:path';
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  decodeMessage,
  encodeMessage,
  filterFields,
  ReplicaStore,
  type Schema,
  type SyncError,
  type SyncMessage,
} from '@backroom/sync-core';
import { Access, type FilterTable } from '../access/access.js';
import type { DevicePrincipal } from '../auth/device.js';
import type { DeviceChannel } from '../broker/device-channel.js';
import type { HubConfig } from '../config.js';
import type { HubLogger } from '../logger.js';
import { Feed } from './feed.js';
import type { SyncContext } from './handlers/context.js';
import { handle } from './handlers/index.js';
import { nextPage } from './pages.js';
import { type Refusal, rejectMessage } from './refusal.js';
import { DeviceSession } from './session.js';
import { TombstoneCollector } from './tombstone-gc.js';

/** The hub's node id in stamps. `@` cannot appear in a device id, so it never collides with one. */
export const HUB_NODE_ID = '@hub';

/** MQTT header, topic and packet id fit in this much of a packet; the rest is the sync message. */
const PACKET_OVERHEAD = 1024;

/** What {@link SyncServer.start} needs: the validated config, the schema and filters, the device channel. */
export interface SyncServerOptions {
  readonly config: HubConfig;
  readonly schema: Schema;
  readonly filters: FilterTable;
  readonly channel: DeviceChannel;
  readonly logger: HubLogger;
}

/** The hub's sync server. Create with {@link SyncServer.start}; `close()` flushes and closes the store. */
export class SyncServer {
  /** The hub's replica: the object routes and the tests read and write it. */
  readonly store: ReplicaStore;
  private readonly sessions = new Map<string, DeviceSession>();
  /** Sessions whose next page is scheduled (see {@link wake}). */
  private readonly scheduled = new Set<DeviceSession>();
  private readonly maxMessageBytes: number;
  /** The change feed, read once for every device. */
  private readonly feed: Feed;
  /** What the message handlers see of this server. */
  private readonly context: SyncContext;
  private readonly tombstones: TombstoneCollector;
  private readonly unsubscribe: () => void;
  private closed = false;

  private constructor(private readonly opts: SyncServerOptions) {
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
    this.context = {
      hubId: HUB_NODE_ID,
      store: this.store,
      config,
      maxMessageBytes: this.maxMessageBytes,
      log: logger,
      access: (principal, clientVars) => new Access(principal, schema, opts.filters, clientVars),
      send: (session, m) => this.send(session, m),
      reject: (session, refusal, batchId) => this.reject(session, refusal, batchId),
      wake: (session) => this.wake(session),
    };
    channel.onMessage((deviceId, payload, principal) => this.onMessage(deviceId, payload, principal));
    channel.onConnect((p) => this.onConnect(p));
    channel.onDisconnect((id) => this.onDisconnect(id));
    // Changes from one device reach the others promptly: every commit wakes the idle sessions.
    this.unsubscribe = this.store.subscribe(() => this.wakeAll());
    this.tombstones = new TombstoneCollector({
      store: this.store,
      retentionMs: config.tombstoneRetentionMs,
      onlineCursors: () => this.onlineCursors(),
      // Collected rows leave the store's feed without a newer row to supersede them: drop the cache.
      onCollected: () => this.feed.reset(),
      log: logger,
    });
  }

  /**
   * Opens the hub's replica (`hub.db` in the data directory) and starts serving sync messages on the
   * channel. `attachSync` (attach.ts) is how a hub does it.
   * @throws SyncError `SYNC_ERR_STORE_CORRUPT` when `hub.db` is not a replica file.
   * @example
   * const server = SyncServer.start({ config, schema, filters, channel, logger });
   * // ...devices sync over the channel...
   * await server.close();
   */
  static start(opts: SyncServerOptions): SyncServer {
    return new SyncServer(opts);
  }

  private get log(): HubLogger {
    return this.opts.logger;
  }

  /** Sends one message to a device; failures (device gone, hub closing) are logged, never thrown. */
  private send(session: DeviceSession, m: SyncMessage): void {
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

  /** Logs a refusal and sends the device its `reject`. */
  private reject(session: DeviceSession, refusal: Refusal, batchId?: string): void {
    this.log.warn(
      { deviceId: session.deviceId, code: refusal.code, object: refusal.object, details: refusal.details },
      'sync message refused',
    );
    this.send(session, rejectMessage(refusal, batchId));
  }

  /** Schedules the next page for a device, coalescing bursts of commits into one scan. */
  private wake(session: DeviceSession): void {
    if (this.scheduled.has(session) || this.closed) return;
    this.scheduled.add(session);
    setImmediate(() => {
      this.scheduled.delete(session);
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
   * Collects, now, the tombstones every device that synced within the retention has acknowledged (the
   * hub also does so on a timer). Returns how many were collected.
   */
  collectGarbage(): number {
    return this.tombstones.collect();
  }

  /** Stops the timers and closes the hub's replica. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.tombstones.close();
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
      this.send(
        session,
        rejectMessage({ code: err.code ?? 'SYNC_ERR_MESSAGE_MALFORMED', message: err.message }),
      );
      return;
    }
    handle(this.context, session, m);
  }

  private session(principal: DevicePrincipal): DeviceSession {
    let s = this.sessions.get(principal.deviceId);
    if (!s) {
      s = new DeviceSession(principal, this.context.access(principal, {}), this.store);
      this.sessions.set(principal.deviceId, s);
    }
    return s;
  }

  private onConnect(p: DevicePrincipal): void {
    this.session(p).connected();
  }

  private onDisconnect(deviceId: string): void {
    this.sessions.get(deviceId)?.disconnected();
  }

  private *onlineCursors(): Iterable<number> {
    for (const s of this.sessions.values()) if (s.online) yield s.acked;
  }

  private wakeAll(): void {
    for (const s of this.sessions.values()) if (s.readyForPage) this.wake(s);
  }

  /** Sends the next non-empty page, skipping stretches of the feed that hold nothing for the device. */
  private sendPages(session: DeviceSession): void {
    for (let i = 0; i < 50; i++) {
      if (this.closed || !session.readyForPage) return;
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
        // Caught up: say so once, so the device knows nothing more is coming (its `idle()`, its status).
        if (session.caughtUp()) {
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
      if (page.empty) {
        session.pageSkipped(page.cursor);
        continue;
      }
      session.pageSent(page);
      this.send(session, page.message);
      return;
    }
    this.wake(session); // a long stretch with nothing for this device: go on after other work
  }
}
