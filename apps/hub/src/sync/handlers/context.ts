/**
 * What a message handler may use of the sync server: the hub's replica, the limits it announces, its log,
 * and four actions (build a device's access rules, send, reject, wake the pager). The handlers run on this
 * and nothing else, so what a handler can touch is written in one place, and the server's own state (its
 * sessions, its feed, its timers) stays the server's. The server builds one context when it starts.
 */
import type {
  ChangeFeed,
  LocalWriter,
  ObjectReader,
  RemoteMerger,
  SyncMessage,
  Tombstones,
} from '@backroom/sync-core';
import type { Access } from '../../access/access.js';
import type { DevicePrincipal } from '../../auth/device.js';
import type { HubConfig } from '../../config.js';
import type { HubLogger } from '../../logger.js';
import type { Refusal } from '../refusal.js';
import type { DeviceSession } from '../session.js';

/**
 * The roles of the hub's replica the handlers use: `push` reads objects for the push guard, merges the
 * batch and reads back the rebased objects, with the session's bookkeeping in one transaction; `hello`
 * reads the feed's head and the tombstone horizon to decide a resync.
 */
export type HandlerStore = ObjectReader &
  RemoteMerger &
  Pick<ChangeFeed, 'currentSeq'> &
  Pick<Tombstones, 'tombstoneHorizon'> &
  Pick<LocalWriter, 'transaction'>;

/** The sync server as its message handlers see it. */
export interface SyncContext {
  /** The hub's node id in stamps (`welcome.hubId`). */
  readonly hubId: string;
  /** The hub's replica, by the roles the handlers use. */
  readonly store: HandlerStore;
  /** The clock skew a device's stamps may have before they are rebased (`welcome.maxSkewMs`). */
  readonly config: Pick<HubConfig, 'maxSkewMs'>;
  /** The largest sync message the hub decodes and sends (`welcome.maxMessageBytes`). */
  readonly maxMessageBytes: number;
  readonly log: HubLogger;
  /** The access rules of a device whose hello filled these `$client` variables. */
  access(principal: DevicePrincipal, clientVars: Readonly<Record<string, unknown>>): Access;
  /** Sends one message to the device; a failure is logged, never thrown. */
  send(session: DeviceSession, m: SyncMessage): void;
  /** Logs a refusal and sends the device its `reject` (for the push `batchId` when it refuses one). */
  reject(session: DeviceSession, refusal: Refusal, batchId?: string): void;
  /** Schedules the device's next page (bursts coalesce into one scan). */
  wake(session: DeviceSession): void;
}
