/**
 * A real sync-core ReplicaStore with the retail schema (`transactions.embedding`: dim 16, cosine) in a
 * temp folder, for the tests that run the index on the store's own feed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { loadSchema, ReplicaStore, type Schema } from '@backroom/sync-core';
import { VectorIndex, type VectorIndexOptions } from '@backroom/vector-store';

/** The retail schema that ships with the hub. */
export const retailSchema: Schema = loadSchema(
  createRequire(import.meta.url)('@backroom/sync-core/retail-schema.json'),
);
export const DIM = 16;

/** A retail replica in a fresh temp folder, closed (indexes first) and removed after the test. */
export interface RetailFixture {
  dir: string;
  path: string;
  store: ReplicaStore;
  /** Opens an index of `transactions.embedding` over the store's feed (closed after the test). */
  open(o?: Partial<VectorIndexOptions>): Promise<VectorIndex>;
}

export function retailFixture(t: TestContext, nodeId = 'hub'): RetailFixture {
  const dir = mkdtempSync(join(tmpdir(), 'vector-replica-'));
  const path = join(dir, 'replica.db');
  const store = ReplicaStore.open({ path, schema: retailSchema, nodeId, role: 'hub' });
  const opened: VectorIndex[] = [];
  t.after(async () => {
    for (const i of opened) await i.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    dir,
    path,
    store,
    async open(o = {}) {
      const index = await VectorIndex.open({
        collection: 'transactions',
        field: 'embedding',
        dim: DIM,
        metric: 'cosine',
        source: store.vectorSource('transactions', 'embedding'),
        dir: join(dir, 'vectors'),
        ...o,
      });
      opened.push(index);
      return index;
    },
  };
}

/** A retail transaction as a terminal writes it, with its embedding. */
export function sale(i: number, embedding: ArrayLike<number>): Record<string, unknown> {
  return {
    terminalId: `till-${i % 8}`,
    kind: i % 10 === 0 ? 'refund' : 'sale',
    total: Math.round(((i * 37) % 500) * 100 + 99) / 100,
    items: [{ sku: `SKU-${i % 50}`, qty: 1 + (i % 3) }],
    payment: i % 3 === 0 ? 'cash' : 'card',
    cashier: `c${i % 5}`,
    at: new Date(Date.UTC(2025, 0, 1) + i * 60_000).toISOString(),
    embedding: Array.from(embedding),
  };
}
