/**
 * The roles a replica plays, each a small interface the hub and the agent depend on instead of the whole
 * {@link ReplicaStore} (in the spirit of automerge-repo's `StorageAdapterInterface`): a caller names the
 * role it uses, so a test can hand it a smaller fake and a reader sees what a module touches.
 *
 * FIRST STEP: these are views of the current `ReplicaStore` (`Pick`s), so callers can move to them now;
 * the replica split (src/replica/) turns each into a declared interface with the same members.
 */
import type { ReplicaStore } from './replica-store.js';

/** Reading objects and collections: the object and search routes, the vector indexes. */
export type ObjectReader = Pick<
  ReplicaStore,
  'schema' | 'collection' | 'get' | 'query' | 'count' | 'vectorSource'
>;

/** Local writes, stamped, merged and (on a terminal) queued in the outbox, in one transaction. */
export type LocalWriter = Pick<
  ReplicaStore,
  'transaction' | 'put' | 'patch' | 'delete' | 'increment' | 'setCounter'
>;

/** Merging what a peer sent, and placing this node's clock against the hub's. */
export type RemoteMerger = Pick<
  ReplicaStore,
  'clock' | 'applyRemote' | 'applyRebase' | 'changeFor' | 'adoptHubOffset'
>;

/** The change feed the hub pages from, and who hears of each commit. */
export type ChangeFeed = Pick<
  ReplicaStore,
  'currentSeq' | 'changedSince' | 'registersOf' | 'subscribe' | 'tombstoneHorizon'
>;

/** A terminal's outbox: local writes the hub has not acknowledged, and those it refused. */
export type Outbox = Pick<
  ReplicaStore,
  'pendingChanges' | 'pendingCount' | 'ackRows' | 'hasPending' | 'quarantine' | 'quarantined'
>;

/** The hub's record of each peer: how far it acknowledged the feed, which filtered objects it holds. */
export type PeerLedger = Pick<
  ReplicaStore,
  'peerCursor' | 'setPeerCursor' | 'peers' | 'setPeerHas' | 'peerObjects' | 'clearPeerObjects'
>;

/** Removing objects: tombstone collection at the hub, eviction and full resync on a terminal. */
export type Tombstones = Pick<
  ReplicaStore,
  'collectTombstones' | 'tombstoneHorizon' | 'evict' | 'clearObjects'
>;
