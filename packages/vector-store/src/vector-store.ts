/**
 * The vector indexes of a hub or terminal: one {@link VectorIndex} per vector field, opened from the
 * schema's `vector` fields, looked up by collection and field.
 */

import type { VectorSource } from '@backroom/sync-core';
import { VectorStoreError } from './errors.js';
import type { Logger } from './logger.js';
import type { VectorLike } from './metric.js';
import {
  type SearchHit,
  type SearchOptions,
  type VectorFieldSpec,
  VectorIndex,
  type VectorIndexOptions,
} from './vector-index.js';

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
  /** Opens under way: a second caller for the same field waits for the first (one index per folder file). */
  private readonly opening = new Map<string, Promise<VectorIndex>>();
  private closed = false;

  constructor(options: VectorStoreOptions) {
    this.options = options;
  }

  /**
   * Opens (loading its snapshot or rebuilding it) the index of one field, or returns the one already
   * open or opening; replaces none. `source` may be a function, called only when an index is opened.
   * Throws VEC_ERR_CLOSED after {@link close}.
   */
  async open(spec: VectorFieldSpec, source: VectorSource | (() => VectorSource)): Promise<VectorIndex> {
    const key = `${spec.collection}\u0000${spec.field}`;
    const have = this.indexes.get(key) ?? this.opening.get(key);
    if (have) return have;
    this.assertOpen(spec);
    const opening = VectorIndex.open({
      ...this.options.indexDefaults,
      ...spec,
      source: typeof source === 'function' ? source() : source,
      dir: this.options.dir,
      logger: this.options.logger,
    }).then(
      async (index) => {
        this.opening.delete(key);
        if (this.closed) {
          await index.close();
          this.assertOpen(spec);
        }
        this.indexes.set(key, index);
        return index;
      },
      (e: unknown) => {
        this.opening.delete(key);
        throw e;
      },
    );
    this.opening.set(key, opening);
    return opening;
  }

  /** Whether the index of `collection.field` is open (not merely opening). */
  has(collection: string, field: string): boolean {
    return this.indexes.has(`${collection}\u0000${field}`);
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

  /**
   * Closes every index (each writes a final snapshot when it changed), including those still opening.
   * Close it before the store the indexes read.
   */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.opening.values()]);
    const all = [...this.indexes.values()];
    this.indexes.clear();
    await Promise.all(all.map((i) => i.close()));
  }

  private assertOpen(spec: VectorFieldSpec): void {
    if (this.closed) {
      throw new VectorStoreError('VEC_ERR_CLOSED', 'vector store is closed', {
        collection: spec.collection,
        field: spec.field,
      });
    }
  }
}
