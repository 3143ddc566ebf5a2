/**
 * The HNSW graph: a thin wrapper over hnswlib-node's `HierarchicalNSW`, the only file of this package
 * that imports hnswlib-node. The rest of the package sees {@link HnswGraph} and its numeric labels.
 *
 * Slots are reused by label: the graph is created with `allowReplaceDeleted = false`, so `add()` with the
 * label of a deleted slot un-deletes it and moves it to the new vector in place (hnswlib's `updatePoint`).
 * The caller keeps the id↔label map and its free list. {@link ExactSet} is hnswlib's native brute-force
 * search, used for small filtered candidate sets.
 */
import hnswlib from 'hnswlib-node';
import type { Metric } from './metric.js';

const { BruteforceSearch, HierarchicalNSW } = hnswlib;

/** Build parameters of a graph (hnswlib's names). */
export interface GraphParams {
  metric: Metric;
  dim: number;
  /** Links per node (hnswlib `M`). */
  m: number;
  efConstruction: number;
  /** Seed of hnswlib's level generator: same seed and insert order, same graph. */
  seed: number;
}

/** A search result in hnswlib's order (nearest first). */
export interface GraphHits {
  labels: number[];
  distances: number[];
}

/** One hnswlib graph. Labels are the caller's; vectors are plain number arrays (hnswlib-node 3). */
export class HnswGraph {
  readonly params: GraphParams;
  private readonly index: InstanceType<typeof HierarchicalNSW>;
  private ef = -1;

  private constructor(params: GraphParams) {
    this.params = params;
    this.index = new HierarchicalNSW(params.metric, params.dim);
  }

  /** An empty graph with room for `capacity` slots. */
  static create(params: GraphParams, capacity: number): HnswGraph {
    const g = new HnswGraph(params);
    g.index.initIndex(Math.max(1, capacity), params.m, params.efConstruction, params.seed, false);
    return g;
  }

  /**
   * Loads a graph file written by {@link write}, on libuv's thread pool (the event loop keeps running).
   * The file must already be verified (checksum, header): hnswlib trusts it blindly.
   */
  static async read(params: GraphParams, path: string): Promise<HnswGraph> {
    const g = new HnswGraph(params);
    await g.index.readIndex(path, false);
    return g;
  }

  /** Writes the graph in hnswlib's own format, synchronously (so no add can race the write). */
  write(path: string): void {
    this.index.writeIndexSync(path);
  }

  /** Adds `vector` at `label`, or moves an existing (even deleted) slot of that label to it. */
  add(vector: number[], label: number): void {
    this.index.addPoint(vector, label, false);
  }

  /** Hides a label from searches; its slot stays until reused by {@link add}. */
  markDeleted(label: number): void {
    this.index.markDelete(label);
  }

  /**
   * The `k` nearest live labels to `query` (at most `k`). `ef` is set per call: hnswlib does not save it
   * with the file, so it is never trusted to persist. `allow`, if given, is called for candidate labels.
   */
  search(query: number[], k: number, ef: number, allow?: (label: number) => boolean): GraphHits {
    if (ef !== this.ef) {
      this.index.setEf(ef);
      this.ef = ef;
    }
    const r = allow ? this.index.searchKnn(query, k, allow) : this.index.searchKnn(query, k);
    return { labels: r.neighbors, distances: r.distances };
  }

  /** The stored vector of a label (normalised under cosine), for consistency checks. Slow. */
  vectorOf(label: number): number[] {
    return this.index.getPoint(label);
  }

  /** Grows the slot capacity (hnswlib never grows by itself and throws when full). */
  resize(capacity: number): void {
    this.index.resizeIndex(capacity);
  }

  /** Slots in use, deleted ones included. */
  get slots(): number {
    return this.index.getCurrentCount();
  }

  /** Slot capacity. */
  get capacity(): number {
    return this.index.getMaxElements();
  }
}

/**
 * A small set of vectors searched exactly by hnswlib's native (SIMD) brute force: the filtered-search
 * path for few candidates, several times faster than the same loop in JS.
 */
export class ExactSet {
  private readonly index: InstanceType<typeof BruteforceSearch>;
  private count = 0;

  constructor(metric: Metric, dim: number, capacity: number) {
    this.index = new BruteforceSearch(metric, dim);
    this.index.initIndex(Math.max(1, capacity));
  }

  add(vector: number[], label: number): void {
    this.index.addPoint(vector, label);
    this.count++;
  }

  /** The `k` nearest labels (at most the set's size), in the graph's distance units. */
  search(query: number[], k: number): GraphHits {
    if (this.count === 0) return { labels: [], distances: [] };
    const r = this.index.searchKnn(query, Math.min(k, this.count));
    return { labels: r.neighbors, distances: r.distances };
  }
}
