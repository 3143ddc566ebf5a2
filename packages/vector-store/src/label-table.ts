/**
 * The id↔label map of one index, its free list, and a copy of every live vector by label (in hnswlib's
 * stored form) used for exact search and for background rebuilds without reading the store again.
 */
import { type Metric, storeForm, type VectorLike } from './metric.js';

/** The map between object ids and graph labels, plus the vectors by label. */
export class LabelTable {
  readonly dim: number;
  readonly metric: Metric;
  /** Object id per label; undefined for a free (deleted, reusable) slot. */
  readonly ids: (string | undefined)[] = [];
  /** Label per live object id. */
  readonly labels = new Map<string, number>();
  /** Labels of deleted slots, reused before new slots are taken. */
  readonly free: number[] = [];
  /** Live vectors by label: `vectors[label*dim .. +dim]`. */
  vectors: Float32Array;
  /** Bumped whenever a label changes owner, so label bitmaps derived from id sets can be refreshed. */
  epoch = 0;

  constructor(dim: number, metric: Metric, capacity = 1024) {
    this.dim = dim;
    this.metric = metric;
    this.vectors = new Float32Array(Math.max(1, capacity) * dim);
  }

  /** Slots ever handed out (deleted ones included): the graph's element count. */
  get slots(): number {
    return this.ids.length;
  }

  /** Live vectors. */
  get size(): number {
    return this.labels.size;
  }

  /**
   * The label for `id`: its current one, else a free slot, else a new slot. `reused` tells whether the
   * slot held something before (a graph update rather than an insert).
   */
  assign(id: string): { label: number; isNew: boolean } {
    const have = this.labels.get(id);
    if (have !== undefined) return { label: have, isNew: false };
    const label = this.free.length > 0 ? this.free.pop()! : this.ids.length;
    if (label === this.ids.length) this.ids.push(id);
    else this.ids[label] = id;
    this.labels.set(id, label);
    this.epoch++;
    this.ensureCapacity(this.ids.length);
    return { label, isNew: true };
  }

  /** Frees `id`'s label; returns it, or undefined when the id had none. */
  release(id: string): number | undefined {
    const label = this.labels.get(id);
    if (label === undefined) return undefined;
    this.labels.delete(id);
    this.ids[label] = undefined;
    this.free.push(label);
    this.epoch++;
    return label;
  }

  /** Stores `v` (normalised under cosine) as the vector of `label`. */
  setVector(label: number, v: VectorLike): void {
    storeForm(v, this.metric, this.vectors, label * this.dim);
  }

  /** A copy of the stored vector of `id`, or undefined. */
  vectorOf(id: string): Float32Array | undefined {
    const label = this.labels.get(id);
    if (label === undefined) return undefined;
    return this.vectors.slice(label * this.dim, (label + 1) * this.dim);
  }

  private ensureCapacity(slots: number): void {
    if (slots * this.dim <= this.vectors.length) return;
    const grown = new Float32Array(Math.ceil(slots * 1.5) * this.dim);
    grown.set(this.vectors);
    this.vectors = grown;
  }
}
