/**
 * The role interface between a vector index and the store that holds the truth. The index is a cache
 * of what a `VectorSource` says; everything it needs to rebuild, catch up and filter comes through these
 * methods. `SqliteVectorSource` implements it over the replica store's tables; the replica store of
 * `@backroom/sync-core` can implement it directly.
 */
import type { Filter, FilterVars } from '@backroom/sync-core';

export type { FilterVars };

/**
 * One vector's state as of store sequence `seq`. `vector` null means the object was deleted, lost its
 * vector, or holds one the index cannot use; the index then drops the id.
 */
export interface VectorChange {
  readonly id: string;
  readonly vector: Float32Array | null;
  readonly seq: number;
}

/** Whether object `id` currently passes a filter (false for deleted objects and ones without a vector). */
export interface FilterMatch {
  readonly id: string;
  readonly matches: boolean;
}

/** A parsed filter, as `parseFilter` of `@backroom/sync-core` returns it. */
export type ParsedFilter = Filter;

/** The store behind one vector index: one collection and one vector field. */
export interface VectorSource {
  /**
   * The store's change sequence for this collection: at least the `seq` of every committed change to its
   * objects or to this field's vectors. Called before every search, so it must be cheap (an index seek).
   */
  currentSeq(): number;
  /**
   * The current state of every vector changed after `afterSeq` (upserts and deletes), in ascending `seq`
   * order. State, not history: an id changed twice appears once, with its latest state.
   * Throws VEC_ERR_CHANGES_PRUNED when deletes after `afterSeq` are no longer kept.
   */
  changesSince(afterSeq: number): Iterable<VectorChange>;
  /** Every live vector of the field, in any order. Read in pages: holds no cursor between items. */
  scanAll(): Iterable<VectorChange>;
  /**
   * Ids whose filter result may have changed: with `afterSeq`, every object changed after it, each with
   * `matches`; without it, only the objects that match now (all with `matches: true`).
   */
  matchingIds(filter: ParsedFilter, vars: FilterVars, afterSeq?: number): Iterable<FilterMatch>;
  /** The live objects' fields by id; ids that are gone are absent from the map. */
  getObjects(ids: readonly string[]): Map<string, Record<string, unknown>>;
  /** Releases what the source opened itself (not a database handed to it). */
  close?(): void;
}
