/**
 * The vector indexes of a hub or terminal: one {@link VectorIndex} per vector field, opened from the
 * schema's `vector` fields, looked up by collection and field.
 */
import { VectorStoreError } from './errors.js';
import type { Logger } from './logger.js';
import type { Metric, VectorLike } from './metric.js';
import { type SearchHit, type SearchOptions, VectorIndex, type VectorIndexOptions } from './vector-index.js';
import type { VectorSource } from './vector-source.js';

/** One vector field to index, as the schema declares it plus the graph parameters. */
export interface VectorFieldSpec {
  collection: string;
  field: string;
  dim: number;
  metric: Metric;
  m?: number;
  efConstruction?: number;
  ef?: number;
}

/** Options shared by every index of a {@link VectorStore}. */
export interface VectorStoreOptions {
  /** Folder of all snapshot files, e.g. `<data>/vectors`. */
  dir: string;
  logger?: Logger;
  /** Extra index options (thresholds, build mode) applied to every index. */
  indexDefaults?: Partial<Omit<VectorIndexOptions, keyof VectorFieldSpec | 'source' | 'dir' | 'logger'>>;
}

/**
 * A registry of vector indexes.
 *
 * @example
 * const vectors = new VectorStore({ dir: './data/hub/vectors', logger });
 * await vectors.open({ collection: 'transactions', field: 'embedding', dim: 64, metric: 'cosine' }, source);
 * vectors.search('transactions', 'embedding', v, 10, { filter: 'storeId == $auth.store', vars });
 */
export class VectorStore {
  private readonly options: VectorStoreOptions;
  private readonly indexes = new Map<string, VectorIndex>();

  constructor(options: VectorStoreOptions) {
    this.options = options;
  }

  /** Opens (loading its snapshot or rebuilding it) the index of one field; replaces none. */
  async open(spec: VectorFieldSpec, source: VectorSource): Promise<VectorIndex> {
    const key = `${spec.collection}\u0000${spec.field}`;
    const have = this.indexes.get(key);
    if (have) return have;
    const index = await VectorIndex.open({
      ...this.options.indexDefaults,
      ...spec,
      source,
      dir: this.options.dir,
      logger: this.options.logger,
    });
    this.indexes.set(key, index);
    return index;
  }

  /** The index of `collection.field`. Throws VEC_ERR_NO_INDEX when it was never opened. */
  index(collection: string, field: string): VectorIndex {
    const index = this.indexes.get(`${collection}\u0000${field}`);
    if (!index) {
      throw new VectorStoreError('VEC_ERR_NO_INDEX', `no vector index for ${collection}.${field}`, {
        collection,
        field,
      });
    }
    return index;
  }

  /** {@link VectorIndex.search} on the index of `collection.field`. */
  search(
    collection: string,
    field: string,
    vector: VectorLike,
    k: number,
    options?: SearchOptions,
  ): SearchHit[] {
    return this.index(collection, field).search(vector, k, options);
  }

  /** Closes every index (each writes a final snapshot when it changed). */
  async close(): Promise<void> {
    const all = [...this.indexes.values()];
    this.indexes.clear();
    await Promise.all(all.map((i) => i.close()));
  }
}
