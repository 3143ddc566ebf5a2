/**
 * @backroom/sync-core — the Sync Clock, Sync Precedence, per-field merge, counters, tombstones,
 * filters and the sync protocol shared by the hub and the device agent.
 */

export {
  MAX_STAMP_MS,
  packStamp,
  type ReceiveResult,
  SyncClock,
  type SyncClockOptions,
  stampFromString,
  stampToString,
  systemTime,
  type TimeBase,
  type TimeSource,
  unpackStamp,
} from './clock.js';
export type { CataloguedError, CataloguedErrorClass } from './error-catalogue.js';
export { defineErrorCatalogue } from './error-catalogue.js';
export type { SyncErrorCode } from './errors.js';
export { isSyncError, SyncError, SyncErrorCodes } from './errors.js';
// Sync filters (src/filter/).
export {
  compileFilter,
  evaluateFilter,
  type Filter,
  type FilterAnd,
  type FilterCompare,
  type FilterCompareOp,
  type FilterField,
  type FilterIn,
  type FilterLiteral,
  type FilterNot,
  type FilterOperand,
  type FilterOr,
  type FilterScalar,
  type FilterValue,
  type FilterVariable,
  type FilterVarScope,
  type FilterVars,
  filterFields,
  filterToSql,
  filterVariables,
  MAX_FILTER_DEPTH,
  parseFilter,
  printFilter,
} from './filter/index.js';
export { assertFilterFields, type FilterFieldOptions } from './filter-fields.js';
export type { Logger } from './logger.js';
// Sync protocol codec (src/protocol/).
export type {
  AckMessage,
  ChangesMessage,
  EvictedObject,
  HelloMessage,
  MessageSizeOptions,
  PullMessage,
  PushMessage,
  RebasedStamp,
  RejectMessage,
  SyncMessage,
  SyncMessageKind,
  TimeMessage,
  WelcomeMessage,
} from './protocol/index.js';
export {
  DEFAULT_ENVELOPE_BYTES,
  DEFAULT_MAX_MESSAGE_BYTES,
  decodeChange,
  decodeMessage,
  encodeChange,
  encodeMessage,
  measureEnvelope,
  PROTOCOL_VERSION,
  splitChanges,
} from './protocol/index.js';
// The replica (src/replica/): ReplicaStore, the roles it plays, and what they exchange.
export type { ChangedObject, ChangeSelection, ObjectRegisters } from './replica/change-feed.js';
export { selectChange } from './replica/change-feed.js';
export type { ChangeEvent, ObjectKey, ReplicaStoreOptions } from './replica/core.js';
export type { ConflictEntry } from './replica/merge-tables.js';
export type { PendingChange, QuarantinedObject } from './replica/outbox.js';
export type { PeerRecord } from './replica/peer-ledger.js';
export type { QueryOptions, QueryResult, SortSpec } from './replica/query.js';
export type { ApplyResult, Rebase } from './replica/remote-merge.js';
export { ReplicaStore } from './replica/replica-store.js';
// Offline writes placed at hub time before they are pushed (ReplicaStore.adoptHubOffset).
export {
  RESTAMP_MIN_OFFSET_MS,
  RESTAMP_TOLERANCE_MS,
  type RestampResult,
  type RestampSkip,
  type WallRun,
} from './replica/restamp.js';
// The roles of a replica (src/replica/roles.ts): what the hub and the agent depend on.
export type {
  ChangeFeed,
  LocalWriter,
  ObjectReader,
  Outbox,
  PeerLedger,
  RemoteMerger,
  Tombstones,
} from './replica/roles.js';
export {
  type CollectionDef,
  checkFieldValue,
  type FieldDef,
  type FieldType,
  loadSchema,
  type PrecedenceRule,
  precedenceOf,
  type Schema,
  type SyncDirection,
  type VectorMetric,
} from './schema.js';
export { prepareDatabaseFile } from './sqlite.js';
export type {
  Change,
  CounterIncrement,
  FieldWrite,
  ObjectMeta,
  Stamp,
  StoredObject,
  Version,
} from './types.js';
// What a vector index reads from a store (vector-store's VectorIndex), and the replica store's feed.
export type { FilterMatch, VectorChange, VectorFeed, VectorSource } from './vector-feed.js';
export { compareVersions } from './version.js';
