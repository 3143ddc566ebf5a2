/**
 * One nearest-neighbour index over one vector field of one collection. The store (a
 * {@link VectorSource}) holds the truth; the HNSW graph is a cache of it, persisted as a snapshot plus
 * the store sequence it covers, and caught up from the store's changes before every search.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { FilterVars, VectorChange, VectorSource } from '@backroom/sync-core';
import { hasErrorCode, isVectorStoreError, VectorStoreError } from './errors.js';
import { exactTopK } from './exact.js';
import { FilterCache } from './filter-cache.js';
import { type BuildJob, buildInSlices, buildInWorker } from './graph-builder.js';
import { scanGraphFile } from './hnsw-file.js';
import { type GraphParams, HnswGraph } from './hnsw-graph.js';
import { LabelTable } from './label-table.js';
import { type Logger, silentLogger } from './logger.js';
import {
  assertMetric,
  assertVector,
  type Metric,
  storeForm,
  toNumberArray,
  type VectorLike,
} from './metric.js';
import { SnapshotFiles, type SnapshotMeta } from './snapshot.js';

/** One vector field to index, as the schema declares it, plus the graph parameters. */
export interface VectorFieldSpec {
  collection: string;
  /** The vector field (schema type `vector`). */
  field: string;
  dim: number;
  metric: Metric;
  /** hnswlib `M`: links per node. Default 16. */
  m?: number;
  /** hnswlib `efConstruction`. Default 200. */
  efConstruction?: number;
  /** Default search ef (per-query `ef` overrides). Default: the snapshot's, else 64. */
  ef?: number;
}

/** What an index is built with: its field and graph parameters, its store, its folder. */
export interface VectorIndexOptions extends VectorFieldSpec {
  /** Seed of the graph's level generator. Default 100. */
  seed?: number;
  /** The store holding the truth. Not closed by the index. */
  source: VectorSource;
  /** Folder for the snapshot files (created if missing). */
  dir: string;
  logger?: Logger;
  /**
   * Filtered searches with at most this many candidates, and collections with at most this many vectors,
   * are searched exactly. Default 4096.
   */
  exactBelow?: number;
  /** Compact when free (deleted, unreused) slots exceed this share of all slots. Default 0.25. */
  compactRatio?: number;
  /** ...and number at least this many. Default 1024. */
  compactMin?: number;
  /** Write a snapshot in the background after this many applied changes; 0 = only when asked. Default 10000. */
  snapshotEvery?: number;
  /** `worker` (default): bulk builds in a worker thread; `slices`: on this thread, yielding every ~8 ms. */
  build?: 'worker' | 'slices';
}

/** Options of one search. */
export interface SearchOptions {
  /** A filter over the object's fields in the CONTRACT.md syntax, e.g. `storeId == "s1" AND amount > 50`. */
  filter?: string;
  /** Values for `$auth.*` and `$client.*` in the filter. */
  vars?: FilterVars;
  /** Search breadth for this query (≥ k is used). Higher: better recall, slower. */
  ef?: number;
}

/** One result: nearest first. `distance` is in hnswlib's units (1 − cos, squared L2, 1 − dot). */
export interface SearchHit {
  id: string;
  distance: number;
}

/** How a search was answered, for metrics and tests. */
export type SearchPath = 'graph' | 'graph-filtered' | 'exact' | 'empty';

/** Counters of an index. */
export interface VectorIndexStats {
  /** Live vectors. */
  size: number;
  /** Graph slots in use (live + free). */
  slots: number;
  /** Deleted slots waiting for reuse or compaction. */
  free: number;
  /** Graph slot capacity. */
  capacity: number;
  /** Store sequence the index is caught up to. */
  appliedSeq: number;
  /** Store sequence of the last committed snapshot (-1: none). */
  snapshotSeq: number;
  ef: number;
  /** A background build or compaction is running. */
  building: boolean;
  /** Compactions finished since open. */
  compactions: number;
  /** How the index was opened: from a snapshot, or rebuilt (and why). */
  openedFrom: 'snapshot' | 'rebuild';
  rebuildReason?: string;
  /** The path of the last search. */
  lastPath: SearchPath;
}

/** Result of {@link VectorIndex.verify}: ids where index and store disagree. */
export interface ConsistencyReport {
  ok: boolean;
  /** In the store, not in the index. */
  missing: string[];
  /** In the index, not in the store. */
  extra: string[];
  /** In both, with a different vector (in the label copy or in the graph). */
  mismatched: string[];
  checked: number;
}

const DEFAULTS = { m: 16, efConstruction: 200, ef: 64, seed: 100 } as const;

function option(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new VectorStoreError('VEC_ERR_INVALID_OPTION', `${name} must be an integer in [${min}, ${max}]`, {
      option: name,
      value,
    });
  }
  return value;
}

/**
 * The graph's vector of `label`, or a stand-in unit vector when the label was deleted meanwhile (hnswlib
 * refuses to read a deleted label): that id's delete is among the changes the caller replays next.
 */
function readOrStandIn(graph: HnswGraph, label: number, dim: number): ArrayLike<number> {
  try {
    return graph.vectorOf(label);
  } catch {
    const v = new Float32Array(dim);
    v[0] = 1;
    return v;
  }
}

/** Snapshot file stem: collection and field with dots escaped, so names never prefix each other. */
const fileStem = (collection: string, field: string) =>
  `${encodeURIComponent(collection).replaceAll('.', '%2E')}.${encodeURIComponent(field).replaceAll('.', '%2E')}`;

/**
 * The nearest-neighbour index of one vector field.
 *
 * @example
 * const index = await VectorIndex.open({ collection: 'transactions', field: 'embedding', dim: 64,
 *   metric: 'cosine', source, dir: './data/hub/vectors' });
 * const hits = index.search(queryVector, 10, { filter: 'storeId == "s1"' });
 */
export class VectorIndex {
  readonly collection: string;
  readonly field: string;
  readonly params: GraphParams;
  private readonly source: VectorSource;
  private readonly log: Logger;
  private readonly files: SnapshotFiles;
  private readonly filters: FilterCache;
  private readonly exactBelow: number;
  private readonly compactRatio: number;
  private readonly compactMin: number;
  private readonly snapshotEvery: number;
  private readonly buildMode: 'worker' | 'slices';
  private table: LabelTable;
  private graph: HnswGraph;
  private ef: number;
  private appliedSeq = 0;
  private snapshotSeq = -1;
  private gen = 0;
  private appliedSinceSnapshot = 0;
  /** The default ef changed since the last snapshot (it is saved there, hnswlib does not keep it). */
  private efChanged = false;
  /** Serialises snapshot commits and swaps (see snapshot.ts for why). */
  private fileLock: Promise<void> = Promise.resolve();
  private compaction: Promise<void> | null = null;
  private autoSnapshot: Promise<void> | null = null;
  private readonly aborter = new AbortController();
  private closed = false;
  private compactions = 0;
  private openedFrom: 'snapshot' | 'rebuild' = 'rebuild';
  private rebuildReason: string | undefined;
  private lastPath: SearchPath = 'empty';

  private constructor(o: VectorIndexOptions, params: GraphParams, ef: number) {
    this.collection = o.collection;
    this.field = o.field;
    this.params = params;
    this.source = o.source;
    this.log = o.logger ?? silentLogger;
    this.files = new SnapshotFiles(o.dir, fileStem(o.collection, o.field));
    this.exactBelow = o.exactBelow ?? 4096;
    this.filters = new FilterCache(o.source, this.exactBelow);
    this.compactRatio = o.compactRatio ?? 0.25;
    this.compactMin = o.compactMin ?? 1024;
    this.snapshotEvery = o.snapshotEvery ?? 10_000;
    this.buildMode = o.build ?? 'worker';
    this.ef = ef;
    this.table = this.newTable(1024);
    this.graph = HnswGraph.create(params, 1024);
  }

  /**
   * Opens the index: loads the snapshot and replays the store's changes after it, or rebuilds from the
   * store when the snapshot is missing, corrupt, stale or built with other options (logged as a warning).
   * Throws VEC_ERR_UNKNOWN_METRIC or VEC_ERR_INVALID_OPTION for bad options.
   */
  static async open(o: VectorIndexOptions): Promise<VectorIndex> {
    assertMetric(o.metric);
    const params: GraphParams = {
      metric: o.metric,
      dim: option('dim', o.dim, 1, 65_536),
      m: option('m', o.m ?? DEFAULTS.m, 2, 128),
      efConstruction: option('efConstruction', o.efConstruction ?? DEFAULTS.efConstruction, 1, 100_000),
      seed: option('seed', o.seed ?? DEFAULTS.seed, 0, 2 ** 31 - 1),
    };
    if (o.ef !== undefined) option('ef', o.ef, 1, 100_000);
    await mkdir(o.dir, { recursive: true });
    const index = new VectorIndex(o, params, o.ef ?? DEFAULTS.ef);
    await index.load(o.ef);
    return index;
  }

  /**
   * The `k` nearest live objects to `vector`, nearest first. Applies the store's pending changes first,
   * so a delete or update acknowledged by the store is never answered stale.
   *
   * Without a filter the graph answers (exact search for small collections). With a filter the index
   * counts the matching objects (cached per filter, refreshed from changed rows only): few candidates are
   * searched exactly, many by a graph walk that skips non-matching labels.
   *
   * Throws VEC_ERR_DIM_MISMATCH, VEC_ERR_INVALID_VECTOR, VEC_ERR_INVALID_OPTION (k, ef), VEC_ERR_CLOSED,
   * and SyncError SYNC_ERR_FILTER_SYNTAX / SYNC_ERR_FILTER_VARIABLE for a bad filter.
   */
  search(vector: VectorLike, k: number, options: SearchOptions = {}): SearchHit[] {
    this.assertOpen();
    assertVector(vector, this.params.dim, this.params.metric);
    option('k', k, 1, 10_000);
    const ef = Math.max(options.ef === undefined ? this.ef : option('ef', options.ef, 1, 100_000), k);
    const seq = this.catchUp();
    const table = this.table;
    if (table.size === 0) return this.hits('empty', [], []);

    if (options.filter !== undefined && options.filter.trim() !== '') {
      const c = this.filters.candidates(options.filter, options.vars ?? {}, seq, table, this.graph);
      if (c.labels.length === 0) return this.hits('empty', [], []);
      if (c.exact) {
        const r = c.exact.search(toNumberArray(vector), k);
        return this.hits('exact', r.labels, r.distances);
      }
      if (c.labels.length <= k) return this.exact(vector, k, c.labels);
      if (c.labels.length < table.size) {
        const bitmap = c.bitmap;
        // Few matches make the walk pass many non-matching nodes before it has ef matching ones; a wider
        // ef keeps recall up there, and costs little when most nodes match.
        const share = c.labels.length / table.size;
        const efF = Math.min(Math.ceil(ef / Math.sqrt(share)), 4 * ef + 64);
        const r = this.graph.search(
          toNumberArray(vector),
          Math.min(k, c.labels.length),
          efF,
          (l) => bitmap[l] === 1,
        );
        return this.hits('graph-filtered', r.labels, r.distances);
      }
    }
    if (table.size <= this.exactBelow) return this.exact(vector, k, null);
    const r = this.graph.search(toNumberArray(vector), Math.min(k, table.size), ef);
    return this.hits('graph', r.labels, r.distances);
  }

  /**
   * Exact k-nearest search (brute force) over the live vectors, optionally filtered: the ground truth for
   * recall, and the right answer for small collections. Same errors as {@link search}.
   */
  searchExact(vector: VectorLike, k: number, options: SearchOptions = {}): SearchHit[] {
    this.assertOpen();
    assertVector(vector, this.params.dim, this.params.metric);
    option('k', k, 1, 100_000);
    const seq = this.catchUp();
    if (options.filter !== undefined && options.filter.trim() !== '') {
      const c = this.filters.candidates(options.filter, options.vars ?? {}, seq, this.table, this.graph);
      return this.exact(vector, k, c.labels);
    }
    return this.exact(vector, k, null);
  }

  /**
   * The hits with each object's fields. Objects the store no longer has are left out, and the index
   * forgets them: they were deleted since the search, or removed from the store without a change the
   * index can see (a device agent evicts objects its sync filter no longer gives it). Forgetting is safe
   * because any later write of such an object gets a new store sequence and brings it back. A caller
   * that needs `k` results searches again when fewer come back.
   */
  withObjects(hits: readonly SearchHit[]): (SearchHit & { object: Record<string, unknown> })[] {
    const objects = this.source.getObjects(hits.map((h) => h.id));
    const out: (SearchHit & { object: Record<string, unknown> })[] = [];
    for (const h of hits) {
      const object = objects.get(h.id);
      if (object) out.push({ ...h, object });
      else if (!this.closed)
        this.apply(this.table, this.graph, { id: h.id, vector: null, seq: this.appliedSeq });
    }
    return out;
  }

  /** Sets the default search ef (saved with the next snapshot). */
  setEf(ef: number): void {
    this.ef = option('ef', ef, 1, 100_000);
    this.efChanged = true;
  }

  /** Whether `id` has a vector in the index (after catching up). */
  has(id: string): boolean {
    this.assertOpen();
    this.catchUp();
    return this.table.labels.has(id);
  }

  /**
   * Applies the store's pending changes now and returns how many were applied. Searches do this by
   * themselves; call it on a timer so a long quiet spell does not leave a big backlog for one search.
   */
  refresh(): number {
    this.assertOpen();
    const before = this.appliedSinceSnapshot;
    this.catchUp();
    return this.appliedSinceSnapshot - before;
  }

  /** Counters (size, slots, free slots, sequences, ef...). */
  stats(): VectorIndexStats {
    return {
      size: this.table.size,
      slots: this.table.slots,
      free: this.table.free.length,
      capacity: this.graph.capacity,
      appliedSeq: this.appliedSeq,
      snapshotSeq: this.snapshotSeq,
      ef: this.ef,
      building: this.compaction !== null,
      compactions: this.compactions,
      openedFrom: this.openedFrom,
      rebuildReason: this.rebuildReason,
      lastPath: this.lastPath,
    };
  }

  /**
   * Compares the index with the store id by id: each stored vector must be in the index (in the label
   * copy and in the graph) with the same value, and the index must hold nothing else. Reads every vector:
   * for tests and operator checks, not for the hot path.
   */
  verify(): ConsistencyReport {
    this.assertOpen();
    this.catchUp();
    const { dim, metric } = this.params;
    const missing: string[] = [];
    const mismatched: string[] = [];
    const seen = new Set<string>();
    const expect = new Float32Array(dim);
    let checked = 0;
    for (const ch of this.source.scanAll()) {
      if (!ch.vector || !this.usable(ch)) continue;
      checked++;
      seen.add(ch.id);
      const label = this.table.labels.get(ch.id);
      if (label === undefined) {
        missing.push(ch.id);
        continue;
      }
      storeForm(ch.vector, metric, expect, 0);
      const inGraph = this.graph.vectorOf(label);
      const copy = this.table.vectors;
      for (let i = 0; i < dim; i++) {
        // A tolerance, not equality: hnswlib normalises in float32, storeForm in float64.
        const tol = 1e-5 * (Math.abs(expect[i]) + 1e-3);
        const copyOff = copy !== null && Math.abs(copy[label * dim + i] - expect[i]) > tol;
        if (copyOff || Math.abs(inGraph[i] - expect[i]) > tol) {
          mismatched.push(ch.id);
          break;
        }
      }
    }
    const extra = [...this.table.labels.keys()].filter((id) => !seen.has(id));
    const ok = missing.length === 0 && extra.length === 0 && mismatched.length === 0;
    return { ok, missing, extra, mismatched, checked };
  }

  /**
   * Writes a snapshot of the graph as of the applied store sequence (graph written synchronously, then
   * fsynced, checksummed and committed off the event loop). A crash during it leaves the previous one.
   */
  snapshot(): Promise<void> {
    return this.withFileLock(async () => {
      if (this.snapshotSeq === this.appliedSeq && this.appliedSinceSnapshot === 0 && !this.efChanged) return;
      this.efChanged = false;
      const tmp = this.files.tmpPath('graph');
      // Written synchronously so no change can land between the bytes and the sequence they cover.
      this.graph.write(tmp);
      const seq = this.appliedSeq;
      const ids = this.table.ids.map((id) => id ?? null);
      const applied = this.appliedSinceSnapshot;
      const info = await this.files.sealGraph(tmp, ++this.gen);
      await this.files.commit({
        format: 1,
        gen: this.gen,
        seq,
        params: this.params,
        ef: this.ef,
        ...info,
        ids,
      });
      this.snapshotSeq = seq;
      this.appliedSinceSnapshot -= applied;
    });
  }

  /**
   * Rebuilds the graph without its free slots in the background (worker thread) and swaps it in; searches
   * keep using the old graph meanwhile. Runs by itself when free slots pass the threshold.
   */
  compact(): Promise<void> {
    this.assertOpen();
    if (!this.compaction) {
      this.compaction = this.runCompaction()
        .catch((e: unknown) => {
          if (!this.closed) this.log.error({ err: e, ...this.where() }, 'vector index compaction failed');
          if (!this.closed) throw e;
        })
        .finally(() => {
          this.compaction = null;
        });
    }
    return this.compaction;
  }

  /** Stops background work, writes a final snapshot if anything changed, and releases the graph. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.aborter.abort();
    await this.compaction?.catch(() => {});
    await this.autoSnapshot?.catch(() => {});
    if (this.snapshotSeq !== this.appliedSeq || this.appliedSinceSnapshot > 0 || this.efChanged) {
      await this.snapshot().catch((e: unknown) =>
        this.log.warn({ err: e, ...this.where() }, 'final vector snapshot failed'),
      );
    }
    await this.fileLock;
  }

  // ---- internals ----

  private where() {
    return { collection: this.collection, field: this.field };
  }

  private assertOpen(): void {
    if (this.closed) throw new VectorStoreError('VEC_ERR_CLOSED', 'vector index is closed', this.where());
  }

  private hits(path: SearchPath, labels: number[], distances: number[]): SearchHit[] {
    this.lastPath = path;
    const ids = this.table.ids;
    const out: SearchHit[] = new Array(labels.length);
    for (let i = 0; i < labels.length; i++) out[i] = { id: ids[labels[i]]!, distance: distances[i] };
    return out;
  }

  private exact(vector: VectorLike, k: number, labels: ArrayLike<number> | null): SearchHit[] {
    const q = new Float32Array(this.params.dim);
    storeForm(vector, this.params.metric, q, 0);
    const candidates = labels ?? Int32Array.from(this.table.labels.values());
    const copy = this.table.vectors;
    if (copy) {
      const r = exactTopK(this.params.metric, q, copy, candidates, k);
      return this.hits('exact', r.labels, r.distances);
    }
    // No copy (a large index): the candidates' vectors from the graph, packed, then mapped back.
    const dim = this.params.dim;
    const packed = new Float32Array(candidates.length * dim);
    for (let i = 0; i < candidates.length; i++) packed.set(this.graph.vectorOf(candidates[i]), i * dim);
    const r = exactTopK(
      this.params.metric,
      q,
      packed,
      Int32Array.from({ length: candidates.length }, (_, i) => i),
      k,
    );
    return this.hits(
      'exact',
      r.labels.map((i) => candidates[i]),
      r.distances,
    );
  }

  /** A label table that keeps its vector copy while the index is small enough to be searched exactly. */
  private newTable(capacity: number): LabelTable {
    return new LabelTable(this.params.dim, this.params.metric, capacity, this.exactBelow);
  }

  /** Applies every change after the applied sequence; returns the store sequence now covered. */
  private catchUp(): number {
    const seq = this.source.currentSeq();
    if (seq <= this.appliedSeq) return this.appliedSeq;
    let last = this.appliedSeq;
    try {
      for (const ch of this.source.changesSince(this.appliedSeq)) {
        this.apply(this.table, this.graph, ch);
        last = ch.seq;
      }
    } catch (e) {
      // By code: the store may be another package's (sync-core's feed throws its own error class).
      if (!hasErrorCode(e, 'VEC_ERR_CHANGES_PRUNED')) throw e;
      this.log.warn({ ...this.where() }, 'store pruned deletes the index had not applied: full resync');
      this.resyncFromScan();
    }
    this.appliedSeq = Math.max(seq, last, this.appliedSeq);
    this.afterApply();
    return this.appliedSeq;
  }

  private usable(ch: VectorChange): boolean {
    try {
      assertVector(ch.vector!, this.params.dim, this.params.metric);
      return true;
    } catch (e) {
      this.log.warn(
        { ...this.where(), id: ch.id, code: (e as VectorStoreError).code },
        'stored vector not indexed',
      );
      return false;
    }
  }

  /** Applies one change to a table and its graph (the live pair, or a rebuilt pair being caught up). */
  private apply(table: LabelTable, graph: HnswGraph, ch: VectorChange): void {
    if (ch.vector && this.usable(ch)) {
      const { label } = table.assign(ch.id);
      if (label >= graph.capacity) graph.resize(Math.max(1024, Math.ceil(graph.capacity * 1.5), label + 1));
      table.setVector(label, ch.vector);
      graph.add(toNumberArray(ch.vector), label);
    } else {
      const label = table.release(ch.id);
      if (label !== undefined) graph.markDeleted(label);
    }
    if (table === this.table) this.appliedSinceSnapshot++;
  }

  private afterApply(): void {
    if (this.closed) return;
    const t = this.table;
    if (!this.compaction && t.free.length >= this.compactMin && t.free.length > this.compactRatio * t.slots) {
      this.compact().catch(() => {});
    }
    if (this.snapshotEvery > 0 && this.appliedSinceSnapshot >= this.snapshotEvery && !this.autoSnapshot) {
      this.autoSnapshot = this.snapshot()
        .catch((e: unknown) => this.log.warn({ err: e, ...this.where() }, 'vector snapshot failed'))
        .finally(() => {
          this.autoSnapshot = null;
        });
    }
  }

  private withFileLock<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.fileLock.then(fn);
    this.fileLock = run.then(
      () => {},
      () => {},
    );
    return run;
  }

  private async load(efOption: number | undefined): Promise<void> {
    let reason: string;
    try {
      const snap = await this.files.load();
      if (!snap) {
        reason = 'no snapshot';
      } else {
        const { meta } = snap;
        const p = meta.params;
        const same =
          p.metric === this.params.metric &&
          p.dim === this.params.dim &&
          p.m === this.params.m &&
          p.efConstruction === this.params.efConstruction;
        if (!same) {
          reason = 'index options changed';
        } else {
          await this.loadSnapshot(meta, snap.graphPath);
          if (efOption === undefined) this.ef = meta.ef; // hnswlib does not save ef: restore ours
          await this.replay();
          await this.files.removeStale(meta.graphFile);
          this.openedFrom = 'snapshot';
          return;
        }
      }
    } catch (e) {
      if (!isVectorStoreError(e, 'VEC_ERR_SNAPSHOT_CORRUPT') && !hasErrorCode(e, 'VEC_ERR_CHANGES_PRUNED')) {
        throw e;
      }
      reason = `${e.code}: ${e.message}`;
      this.log.warn({ ...this.where(), reason, details: e.details }, 'vector snapshot unusable, rebuilding');
    }
    this.openedFrom = 'rebuild';
    this.rebuildReason = reason;
    await this.files.discard();
    await this.rebuildFromStore();
  }

  /** Checks a verified graph file against its meta and installs both. */
  private async loadSnapshot(meta: SnapshotMeta, graphPath: string): Promise<void> {
    const { dim } = this.params;
    // The table keeps a vector copy only while small: then it is filled from the same bytes as the graph.
    const table = this.newTable(meta.ids.length);
    const copy = meta.ids.length > table.copyLimit ? null : table.vectors;
    const vectorBySlot: Float32Array[] = [];
    const parsed = await scanGraphFile(
      graphPath,
      dim,
      copy ? (_slot, floats) => vectorBySlot.push(floats.slice()) : undefined,
    );
    const bad = (reason: string) => new VectorStoreError('VEC_ERR_SNAPSHOT_CORRUPT', reason, { reason });
    if (typeof parsed === 'string') throw bad(parsed);
    if (parsed.slots !== meta.ids.length || parsed.m !== this.params.m)
      throw bad('graph does not match meta');
    if (!copy) table.vectors = null;
    const slotOfLabel = new Int32Array(meta.ids.length).fill(-1);
    for (let s = 0; s < parsed.slots; s++) {
      const label = parsed.labels[s];
      if (label >= meta.ids.length || slotOfLabel[label] !== -1) throw bad('graph labels do not match meta');
      slotOfLabel[label] = s;
      // A live id must sit in a live slot and a free label in a deleted one: else the meta lies.
      if ((meta.ids[label] === null) !== (parsed.deleted[s] === 1))
        throw bad('deleted marks do not match meta');
    }
    meta.ids.forEach((id, label) => {
      table.ids.push(id ?? undefined);
      if (id === null) table.free.push(label);
      else if (table.labels.has(id)) throw bad('duplicate id in meta');
      else table.labels.set(id, label);
    });
    if (copy) {
      for (let slot = 0; slot < vectorBySlot.length; slot++)
        copy.set(vectorBySlot[slot], parsed.labels[slot] * dim);
    }
    // On the thread pool: a 100k graph loads while the event loop keeps answering.
    this.graph = await HnswGraph.read(this.params, graphPath);
    this.table = table;
    this.appliedSeq = meta.seq;
    this.snapshotSeq = meta.seq;
    this.gen = meta.gen;
  }

  /** Replays the store's changes after the applied sequence, yielding to the event loop between slices. */
  private async replay(): Promise<void> {
    const seq = this.source.currentSeq();
    let last = this.appliedSeq;
    let sliceStart = performance.now();
    for (const ch of this.source.changesSince(this.appliedSeq)) {
      this.apply(this.table, this.graph, ch);
      last = ch.seq;
      if (performance.now() - sliceStart > 8) {
        await yieldToLoop();
        sliceStart = performance.now();
      }
    }
    this.appliedSeq = Math.max(seq, last, this.appliedSeq);
  }

  /**
   * Brings the live pair in line with a full scan of the store: the fallback when the store pruned the
   * deletes after our applied sequence while the index was running. O(n), synchronous, rare.
   */
  private resyncFromScan(): void {
    const seq = this.source.currentSeq();
    const seen = new Set<string>();
    for (const ch of this.source.scanAll()) {
      seen.add(ch.id);
      this.apply(this.table, this.graph, ch);
    }
    for (const id of [...this.table.labels.keys()]) {
      if (!seen.has(id)) this.apply(this.table, this.graph, { id, vector: null, seq });
    }
    this.appliedSeq = seq;
  }

  /** Reads every vector from the store, builds a graph off the main thread, commits it as a snapshot. */
  private async rebuildFromStore(): Promise<void> {
    const seq = this.source.currentSeq();
    const { dim, metric } = this.params;
    const table = this.newTable(1024);
    // The build's input, dropped once the graph is built (the table keeps a copy only while small).
    let vectors = new Float32Array(1024 * dim);
    let sliceStart = performance.now();
    for (const ch of this.source.scanAll()) {
      if (ch.vector && this.usable(ch)) {
        const { label } = table.assign(ch.id);
        table.setVector(label, ch.vector);
        if ((label + 1) * dim > vectors.length) {
          const grown = new Float32Array(Math.ceil((label + 1) * 1.5) * dim);
          grown.set(vectors);
          vectors = grown;
        }
        storeForm(ch.vector, metric, vectors, label * dim);
      }
      if (performance.now() - sliceStart > 8) {
        await yieldToLoop();
        sliceStart = performance.now();
      }
    }
    const graph = await this.buildGraph(table, seq, vectors);
    this.table = table;
    this.graph = graph;
    this.appliedSeq = seq;
    this.appliedSinceSnapshot = 0;
    await this.replay();
  }

  /**
   * Builds a graph from `table` (labels 0..n-1, none free) and `vectors` (theirs, by label) off the main
   * thread, then commits it as the snapshot covering `seq` and loads it.
   */
  private async buildGraph(table: LabelTable, seq: number, vectors: Float32Array): Promise<HnswGraph> {
    const count = table.slots;
    const capacity = Math.max(1024, Math.ceil(count * 1.25));
    if (count === 0) return HnswGraph.create(this.params, capacity);
    const tmp = this.files.tmpPath('build');
    const job: BuildJob = {
      params: this.params,
      capacity,
      count,
      vectors: vectors.subarray(0, count * this.params.dim),
      path: tmp,
    };
    if (this.buildMode === 'worker') await buildInWorker(job, this.aborter.signal);
    else await buildInSlices(job);
    if (this.closed) throw new VectorStoreError('VEC_ERR_CLOSED', 'closed during build', this.where());
    const ids = table.ids.map((id) => id ?? null);
    return this.withFileLock(async () => {
      const gen = ++this.gen;
      const info = await this.files.sealGraph(tmp, gen);
      await this.files.commit({ format: 1, gen, seq, params: this.params, ef: this.ef, ...info, ids });
      this.snapshotSeq = seq;
      return HnswGraph.read(this.params, join(this.files.dir, info.graphFile));
    });
  }

  private async runCompaction(): Promise<void> {
    const old = this.table;
    const seq = this.appliedSeq;
    const dim = this.params.dim;
    const oldGraph = this.graph;
    const fresh = this.newTable(Math.max(1024, old.size));
    const live = [...old.labels];
    const vectors = new Float32Array(live.length * dim);
    let sliceStart = performance.now();
    for (const [id, label] of live) {
      const { label: l } = fresh.assign(id);
      // From the graph (stored form already), in slices. A label that changes owner meanwhile belongs
      // to an id changed after `seq`: the catch-up below writes that id's current vector.
      const v = old.vectors
        ? old.vectors.subarray(label * dim, (label + 1) * dim)
        : readOrStandIn(oldGraph, label, dim);
      vectors.set(v, l * dim);
      fresh.setVector(l, v);
      if (performance.now() - sliceStart > 8) {
        await yieldToLoop();
        sliceStart = performance.now();
        if (this.closed)
          throw new VectorStoreError('VEC_ERR_CLOSED', 'closed during compaction', this.where());
      }
    }
    const freeBefore = old.free.length;
    const graph = await this.buildGraph(fresh, seq, vectors);
    // Changes that landed during the build: applied to the old graph already; now to the new one too.
    let last = seq;
    try {
      for (const ch of this.source.changesSince(seq)) {
        this.apply(fresh, graph, ch);
        last = ch.seq;
      }
    } catch (e) {
      if (!hasErrorCode(e, 'VEC_ERR_CHANGES_PRUNED')) throw e;
      // Tombstones were collected during the build: the new graph cannot be caught up. Keep the live
      // graph (the next search resyncs it with a full scan); the next compaction starts afresh.
      this.log.info({ ...this.where() }, 'compaction abandoned: the store collected tombstones meanwhile');
      return;
    }
    this.appliedSeq = Math.max(this.appliedSeq, last);
    this.table = fresh;
    this.graph = graph;
    this.compactions++;
    this.log.info({ ...this.where(), freed: freeBefore, size: fresh.size }, 'vector index compacted');
  }
}
