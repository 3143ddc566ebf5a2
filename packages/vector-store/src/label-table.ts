/**
 * The id↔label map of one index, its free list, and, while the index is small, a copy of every vector by
 * label (in hnswlib's stored form) for exact search without calls into native code. Past `copyLimit`
 * slots the copy is dropped: the graph holds every vector already, and a second copy would cost 4·dim
 * bytes per vector for the rare paths that need one (they read the graph instead).
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
  /** Vectors by label, `vectors[label*dim .. +dim]`, while slots ≤ `copyLimit`; null past it. */
  vectors: Float32Array | null;
  /** Most slots the vector copy is kept for. */
  readonly copyLimit: number;
  /** Bumped whenever a label changes owner, so label bitmaps derived from id sets can be refreshed. */
  epoch = 0;

  constructor(dim: number, metric: Metric, capacity = 1024, copyLimit = Number.POSITIVE_INFINITY) {
    this.dim = dim;
    this.metric = metric;
    this.copyLimit = copyLimit;
    this.vectors = new Float32Array(Math.max(1, Math.min(capacity, copyLimit)) * dim);
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

  /** Stores `v` (normalised under cosine) as the vector of `label`, when the table keeps a copy. */
  setVector(label: number, v: VectorLike): void {
    if (this.vectors) storeForm(v, this.metric, this.vectors, label * this.dim);
  }

  private ensureCapacity(slots: number): void {
    if (!this.vectors || slots * this.dim <= this.vectors.length) return;
    if (slots > this.copyLimit) {
      this.vectors = null;
      return;
    }
    const grown = new Float32Array(Math.min(Math.ceil(slots * 1.5), this.copyLimit) * this.dim);
    grown.set(this.vectors);
    this.vectors = grown;
  }
}
