/**
 * The terminal's vector indexes, loaded on the first similarity search. Most terminals never search:
 * `@backroom/vector-store` and its native hnswlib-node stay out of the agent's memory until a collection
 * with a vector field is first searched (`POST /v1/collections/{c}/search`), and load then in a few
 * milliseconds. Each index opens on first use as before (snapshot or rebuild from the replica).
 */
import type { VectorSource } from '@backroom/sync-core';
import type { VectorFieldSpec, VectorIndex, VectorStore, VectorStoreOptions } from '@backroom/vector-store';

/** What the search route and the agent use of a `VectorStore`: look up, open, close. */
export type VectorIndexes = Pick<VectorStore, 'has' | 'index' | 'open' | 'close'>;

/**
 * A {@link VectorIndexes} that imports `@backroom/vector-store` and makes its `VectorStore` on the first
 * {@link LazyVectorStore.open}; until then it holds no index and loads nothing. Behaves as the
 * `VectorStore` it wraps: `open` after `close` throws `VEC_ERR_CLOSED`, `close` writes the final snapshots.
 */
export class LazyVectorStore implements VectorIndexes {
  private store: VectorStore | undefined;
  private loading: Promise<VectorStore> | undefined;
  private closed = false;

  constructor(private readonly options: VectorStoreOptions) {}

  /** Whether the index of `collection.field` is open; false before the first search. */
  has(collection: string, field: string): boolean {
    return this.store?.has(collection, field) ?? false;
  }

  /**
   * The open index of `collection.field` (see {@link has}). Throws VEC_ERR_NO_INDEX when it was never
   * opened, as `VectorStore.index` does.
   */
  index(collection: string, field: string): VectorIndex {
    if (!this.store) {
      throw Object.assign(new Error(`no vector index for ${collection}.${field}`), {
        code: 'VEC_ERR_NO_INDEX',
        collection,
        field,
      });
    }
    return this.store.index(collection, field);
  }

  /** Loads the vector store if need be, then `VectorStore.open`. */
  async open(spec: VectorFieldSpec, source: VectorSource | (() => VectorSource)): Promise<VectorIndex> {
    return (await this.load()).open(spec, source);
  }

  /** Closes the indexes opened (each writes its final snapshot); loads nothing. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    const store = this.store ?? (await this.loading?.catch(() => undefined));
    await store?.close();
  }

  private load(): Promise<VectorStore> {
    this.loading ??= import('@backroom/vector-store').then(async ({ VectorStore }) => {
      const store = new VectorStore(this.options);
      // Closed while loading: a closed store, so the open that asked for it throws VEC_ERR_CLOSED.
      if (this.closed) await store.close();
      this.store = store;
      return store;
    });
    return this.loading;
  }
}
