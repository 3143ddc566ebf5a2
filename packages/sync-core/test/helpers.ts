import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { loadSchema, ReplicaStore, type ReplicaStoreOptions, type TimeSource } from '@backroom/sync-core';

/** A small retail schema used across sync-core tests. */
export const retailSchema = loadSchema({
  collections: {
    products: {
      sync: 'down',
      fields: { name: 'string', price: 'float', category: 'string' },
    },
    inventory: { fields: { stock: 'counter', location: 'string' } },
    orders: {
      fields: { status: 'string', total: 'float', note: 'string', store: 'string' },
      precedence: { field: 'status', order: ['open', 'approved', 'closed'] },
    },
    prices: {
      merge: 'object',
      fields: { amount: 'float', currency: 'string' },
      precedence: { role: { pos: 0, manager: 1 } },
    },
    transactions: {
      sync: 'up',
      fields: { terminalId: 'string', total: 'float', items: 'json', at: 'datetime' },
    },
  },
});

export function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'backroom-sync-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Opens a replica in `dir` and closes it when the test ends. */
export function openReplica(
  t: TestContext,
  dir: string,
  nodeId: string,
  opts: Partial<ReplicaStoreOptions> = {},
): ReplicaStore {
  const store = ReplicaStore.open({ path: join(dir, `${nodeId}.db`), schema: retailSchema, nodeId, ...opts });
  t.after(() => store.close());
  return store;
}

/** A hand-driven clock for deterministic tests. */
export function manualTime(start = 1_700_000_000_000) {
  const t = { wall: start, mono: 0 };
  const source: TimeSource = { wall: () => t.wall, monotonic: () => t.mono };
  return { t, source };
}

/** Moves every change of `from` (its outbox) into `to`, as a push would. */
export function pushAll(from: ReplicaStore, to: ReplicaStore) {
  const pending = from.pendingChanges(1_000_000);
  if (pending.length === 0) return;
  to.applyRemote(pending.map((p) => p.change));
  from.ackPending(pending[pending.length - 1].seq);
}
