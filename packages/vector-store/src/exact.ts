/**
 * Exact (brute-force) k-nearest-neighbour search over vectors by label: the path for small filtered
 * candidate sets and small collections, and the ground truth of the recall tests.
 */
import { distanceAt, type Metric } from './metric.js';

/** Nearest-first labels and distances. */
export interface ExactHits {
  labels: number[];
  distances: number[];
}

/**
 * The `k` labels of `candidates` nearest to `query` (already in stored form: unit length under cosine).
 * `vectors` holds `dim` floats per label. Ties keep the earlier candidate.
 */
export function exactTopK(
  metric: Metric,
  query: Float32Array,
  vectors: Float32Array,
  candidates: ArrayLike<number>,
  k: number,
): ExactHits {
  const dim = query.length;
  const labels: number[] = [];
  const distances: number[] = [];
  let worst = Number.POSITIVE_INFINITY;
  for (let c = 0; c < candidates.length; c++) {
    const label = candidates[c];
    const d = distanceAt(metric, query, vectors, label * dim);
    if (labels.length === k && d >= worst) continue;
    // Insertion into a short sorted list: k is small (tens), so this beats a heap.
    let i = labels.length === k ? k - 1 : labels.length;
    if (labels.length < k) {
      labels.push(label);
      distances.push(d);
    }
    while (i > 0 && distances[i - 1] > d) {
      labels[i] = labels[i - 1];
      distances[i] = distances[i - 1];
      i--;
    }
    labels[i] = label;
    distances[i] = d;
    if (labels.length === k) worst = distances[k - 1];
  }
  return { labels, distances };
}
