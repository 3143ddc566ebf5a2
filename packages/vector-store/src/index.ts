/**
 * @backroom/vector-store — nearest-neighbour search over vectors stored with their objects: an HNSW
 * graph (hnswlib-node) as a crash-safe cache of the replica store's SQLite tables, with filtered and
 * exact search.
 */

export type { VectorStoreErrorCode } from './errors.js';
export { isVectorStoreError, VectorStoreError, VectorStoreErrorCodes } from './errors.js';
export type { ExactHits } from './exact.js';
export { exactTopK } from './exact.js';
export type { Logger } from './logger.js';
export { silentLogger } from './logger.js';
export type { Metric, VectorLike } from './metric.js';
export { assertMetric, assertVector, METRICS } from './metric.js';
export type { SqliteDatabase, SqliteVectorSourceOptions } from './sqlite-vector-source.js';
export { createReplicaTables, openSqliteDatabase, SqliteVectorSource } from './sqlite-vector-source.js';
export type {
  ConsistencyReport,
  SearchHit,
  SearchOptions,
  SearchPath,
  VectorIndexOptions,
  VectorIndexStats,
} from './vector-index.js';
export { VectorIndex } from './vector-index.js';
export type { FilterMatch, FilterVars, ParsedFilter, VectorChange, VectorSource } from './vector-source.js';
export type { VectorFieldSpec, VectorStoreOptions } from './vector-store.js';
export { VectorStore } from './vector-store.js';
