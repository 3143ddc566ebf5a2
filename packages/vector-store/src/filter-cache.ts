/**
 * Candidate sets of filtered searches. The first search with a filter asks the store for every matching
 * id (one SQL query with the filter compiled by `filterToSql`); later searches ask only about objects
 * changed since, so a repeated filter costs an index seek until the data changes. The set's size is the
 * count that picks the search strategy; its label bitmap is what the graph walk checks per candidate.
 */

import type { Filter, FilterVars, VectorSource } from '@backroom/sync-core';
import { parseFilter } from '@backroom/sync-core';
import { ExactSet, type HnswGraph } from './hnsw-graph.js';
import type { LabelTable } from './label-table.js';

/** The live candidates of one filter, as labels. */
export interface Candidates {
  /** Matching labels (ids without a label, e.g. with an unusable vector, are left out). */
  labels: Int32Array;
  /** 1 at each matching label, sized to the table's slots. */
  bitmap: Uint8Array;
  /** The candidates' vectors for native exact search, when there are at most `exactMax` of them. */
  exact: ExactSet | null;
}

interface Entry {
  filter: Filter;
  vars: FilterVars;
  seq: number;
  ids: Set<string>;
  /** Label view, valid while built from this `table` at this `epoch` and `dirty` is false. */
  table: LabelTable | null;
  epoch: number;
  dirty: boolean;
  candidates: Candidates;
}

/** An LRU of filter candidate sets for one index. */
export class FilterCache {
  private readonly entries = new Map<string, Entry>();
  private readonly source: VectorSource;
  private readonly maxEntries: number;

  private readonly exactMax: number;

  /** `exactMax`: candidate sets up to this size also keep a native exact-search copy of their vectors. */
  constructor(source: VectorSource, exactMax: number, maxEntries = 32) {
    this.source = source;
    this.exactMax = exactMax;
    this.maxEntries = maxEntries;
  }

  /**
   * The candidates of `filterText` under `vars` as of store sequence `seq` (the index must already be
   * caught up to `seq`; `graph` is the one paired with `table`, read for vectors when the table keeps no
   * copy). Throws SyncError SYNC_ERR_FILTER_SYNTAX / SYNC_ERR_FILTER_VARIABLE.
   */
  candidates(
    filterText: string,
    vars: FilterVars,
    seq: number,
    table: LabelTable,
    graph: HnswGraph,
  ): Candidates {
    const key = `${filterText}\u0000${JSON.stringify(vars)}`;
    let e = this.entries.get(key);
    if (e) {
      this.entries.delete(key); // re-insert: most recently used last
      this.entries.set(key, e);
      if (seq > e.seq) {
        for (const m of this.source.matchingIds(e.filter, vars, e.seq)) {
          if (m.matches) e.ids.add(m.id);
          else e.ids.delete(m.id);
        }
        e.seq = seq;
        e.dirty = true;
      }
    } else {
      const filter = parseFilter(filterText);
      const ids = new Set<string>();
      for (const m of this.source.matchingIds(filter, vars)) ids.add(m.id);
      e = {
        filter,
        vars,
        seq,
        ids,
        table: null,
        epoch: -1,
        dirty: true,
        candidates: { labels: new Int32Array(0), bitmap: new Uint8Array(0), exact: null },
      };
      this.entries.set(key, e);
      if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    }
    if (e.dirty || e.table !== table || e.epoch !== table.epoch) {
      const labels = new Int32Array(e.ids.size);
      const bitmap = new Uint8Array(table.slots);
      let n = 0;
      for (const id of e.ids) {
        const label = table.labels.get(id);
        if (label === undefined) continue;
        labels[n++] = label;
        bitmap[label] = 1;
      }
      let exact: ExactSet | null = null;
      if (n <= this.exactMax) {
        // Rebuilt on change: ~1 ms per 1,000 × 128, repaid after a few searches of this filter.
        const dim = table.dim;
        const copy = table.vectors;
        exact = new ExactSet(table.metric, dim, n);
        for (let i = 0; i < n; i++) {
          const at = labels[i] * dim;
          // From the table's copy while the index is small, else from the graph (live labels only).
          const v = copy ? Array.from(copy.subarray(at, at + dim)) : graph.vectorOf(labels[i]);
          exact.add(v, labels[i]);
        }
      }
      e.candidates = { labels: labels.subarray(0, n), bitmap, exact };
      e.table = table;
      e.epoch = table.epoch;
      e.dirty = false;
    }
    return e.candidates;
  }

  /** Forgets every entry. */
  clear(): void {
    this.entries.clear();
  }
}
