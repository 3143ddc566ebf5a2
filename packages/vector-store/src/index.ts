/**
 * @backroom/vector-store — nearest-neighbour search over vectors stored with their objects: an HNSW
 * graph (hnswlib-node) as a crash-safe cache of a store that holds the truth (a `VectorSource` of
 * `@backroom/sync-core`, such as `ReplicaStore.vectorSource(collection, field)`), with filtered and exact
 * search.
 *
 * @example
 * const index = await VectorIndex.open({
 *   collection: 'transactions', field: 'embedding', dim: 64, metric: 'cosine',
 *   source: store.vectorSource('transactions', 'embedding'), dir: './data/hub/vectors',
 * });
 * const hits = index.search(vector, 10, { filter: 'kind == "refund"' });
 */

export type { VectorStoreErrorCode } from './errors.js';
export { isVectorStoreError, VectorStoreError, VectorStoreErrorCodes } from './errors.js';
export type { ExactHits } from './exact.js';
export { exactTopK } from './exact.js';
export type { Logger } from './logger.js';
export type { Metric, VectorLike } from './metric.js';
export type {
  ConsistencyReport,
  SearchHit,
  SearchOptions,
  SearchPath,
  VectorFieldSpec,
  VectorIndexOptions,
  VectorIndexStats,
} from './vector-index.js';
export { VectorIndex } from './vector-index.js';
export type { VectorStoreOptions } from './vector-store.js';
export { VectorStore } from './vector-store.js';
