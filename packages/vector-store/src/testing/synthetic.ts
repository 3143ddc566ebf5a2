/**
 * Seeded synthetic retail data for recall tests and benchmarks: clustered vectors (like embeddings of
 * transactions, which bunch by basket type) with fields whose filters pass a known share of objects.
 */

/** A fast seeded PRNG (mulberry32): same seed, same data on every machine. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal sample from a uniform PRNG (Box–Muller). */
function gaussian(rand: () => number): number {
  const u = 1 - rand();
  const v = rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Options of {@link clusteredVectors}. */
export interface ClusteredOptions {
  count: number;
  dim: number;
  clusters?: number;
  /** Standard deviation around each centre (centres have 1). Default 0.35. */
  spread?: number;
  seed?: number;
}

/** `count` vectors around `clusters` random centres, as one Float32Array of `count*dim`. */
export function clusteredVectors(o: ClusteredOptions): Float32Array {
  const rand = seededRandom(o.seed ?? 42);
  const clusters = o.clusters ?? 64;
  const spread = o.spread ?? 0.35;
  const centres = new Float32Array(clusters * o.dim);
  for (let i = 0; i < centres.length; i++) centres[i] = gaussian(rand);
  const out = new Float32Array(o.count * o.dim);
  for (let i = 0; i < o.count; i++) {
    const c = Math.floor(rand() * clusters);
    for (let j = 0; j < o.dim; j++) out[i * o.dim + j] = centres[c * o.dim + j] + spread * gaussian(rand);
  }
  return out;
}

/**
 * Fields of synthetic transaction `i`: `bucket` is uniform in 0..9999, so `bucket < N` passes N/10000
 * of the objects (0.5% = `bucket < 50`), independent of the vector's cluster.
 */
export function transactionDoc(i: number, rand: () => number): Record<string, unknown> {
  return {
    storeId: `s${i % 7}`,
    terminalId: `pos-${i % 31}`,
    amount: Math.round(rand() * 20000) / 100,
    bucket: Math.floor(rand() * 10000),
  };
}

/** Recall of `approx` against `exact`: the share of the exact ids that approx found. */
export function recall(approx: readonly { id: string }[], exact: readonly { id: string }[]): number {
  if (exact.length === 0) return approx.length === 0 ? 1 : 0;
  const want = new Set(exact.map((h) => h.id));
  let hit = 0;
  for (const h of approx) if (want.has(h.id)) hit++;
  return hit / exact.length;
}
