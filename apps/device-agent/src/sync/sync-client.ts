/**
 * The terminal's side of the sync protocol (docs/protocol.md): hello on every connection, adopt the hub's
 * time, push the outbox one batch at a time, apply the hub's pages in order and acknowledge each with a
 * `pull`.
 *
 * `SyncClient` is the public face: it wires a {@link Transport} and the replica to the session's state
 * (./context.ts), which only the message handlers (./handlers/, one per kind) and the push window
 * (./push-window.ts) change. The replica keeps working with no hub at all: local writes land in the store
 * and its outbox; this client only moves them when a connection exists.
 */
import type {
  ChangeFeed,
  LocalWriter,
  Logger,
  Outbox,
  PeerLedger,
  RemoteMerger,
  Tombstones,
} from '@backroom/sync-core';
import type { SyncStatus } from '../api/status.js';
import type { Transport } from '../transport/transport.js';
import { SyncContext } from './context.js';
import { dispatch } from './handlers/index.js';

/**
 * The roles of the replica the sync client uses, as sync-core names them: the outbox it pushes from,
 * merging what the hub sends (with the replica's clock), the hub's cursor, eviction and resync, one
 * transaction around each message, and the commit feed that wakes the push on a local write. A
 * `ReplicaStore` plays them all; a test may hand in less than a whole store.
 */
export type SyncReplica = Outbox &
  RemoteMerger &
  Pick<PeerLedger, 'peerCursor' | 'setPeerCursor'> &
  Pick<Tombstones, 'evict' | 'clearObjects'> &
  Pick<ChangeFeed, 'subscribe'> &
  Pick<LocalWriter, 'transaction'>;

/** What a {@link SyncClient} is built from. */
export interface SyncClientOptions {
  /** The terminal's replica (a `ReplicaStore`). */
  readonly store: SyncReplica;
  /** The link to the hub (`MqttTransport`, or a test's own). */
  readonly transport: Transport;
  /** This terminal's device id, as enrolled at the hub. */
  readonly deviceId: string;
  /** Values for `$client.VAR` in the hub's sync filters, sent in every `hello`. */
  readonly clientVars?: Readonly<Record<string, string>>;
  readonly logger?: Logger;
  /** Largest sync message this terminal sends (default: the protocol's); the hub's `welcome` may lower it. */
  readonly maxMessageBytes?: number;
  /** Sent in `hello` (default `0.1.0`). */
  readonly agentVersion?: string;
}

/**
 * Moves changes between a terminal's replica and its hub, whenever the transport holds a connection.
 *
 * @example
 * const client = new SyncClient({ store, transport: new MqttTransport({ url, deviceId, token }), deviceId });
 * client.start();
 * await client.idle(); // outbox empty, nothing more from the hub
 * await client.close();
 */
export class SyncClient {
  private readonly ctx: SyncContext;
  private readonly unsubscribe: () => void;

  constructor(private readonly opts: SyncClientOptions) {
    const ctx = new SyncContext(opts);
    this.ctx = ctx;
    opts.transport.on('connect', () => ctx.connected());
    opts.transport.on('refused', (r) => ctx.connectionRefused(r));
    opts.transport.on('disconnect', () => ctx.disconnected());
    opts.transport.on('message', (payload) => dispatch(ctx, payload));
    this.unsubscribe = opts.store.subscribe((e) => {
      if (!e.remote) ctx.localWrite();
    });
  }

  /** Starts connecting to the hub (and reconnecting, with backoff, until {@link close}). */
  start(): void {
    this.opts.transport.start();
  }

  /** The sync state as `GET /v1/sync/status` reports it. */
  status(): SyncStatus {
    return this.ctx.status();
  }

  /** Hub cursor this replica has pulled up to. */
  cursor(): number {
    return this.ctx.cursor();
  }

  /** Resolves once the outbox is empty and the last page from the hub said nothing more is coming. */
  idle(): Promise<void> {
    return this.ctx.idle();
  }

  /** Stops syncing and closes the transport (saying offline to the hub). Does not close the store. */
  async close(): Promise<void> {
    this.ctx.close();
    this.unsubscribe();
    await this.opts.transport.close();
  }
}
