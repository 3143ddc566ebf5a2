/**
 * Property-based convergence suite (in the spirit of riak_dt's crdt_statem and yjs' random-user tests):
 * a hub and 2–4 terminals make random writes; pushes and pulls are delivered late, out of order and
 * twice; clocks are skewed (one terminal may be a day ahead); replicas restart. After everything is
 * delivered, every replica is byte-identical (same digest) and equals a simple reference model of the
 * rules folded over every write ever made.
 *
 * BACKROOM_PROPERTY_RUNS=5000 npm test -- convergence   runs a longer search.
 * BACKROOM_CONVERGENCE_LARGE=1 npm run test:only -- convergence   adds one case of 8 replicas and 10,000
 * operations (a store's lunch peak in miniature; minutes, not seconds, so it is not part of `npm test`).
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  type Change,
  loadSchema,
  ReplicaStore,
  type Stamp,
  type TimeSource,
  type Version,
} from '@backroom/sync-core';
import fc from 'fast-check';
import { tempDir } from './helpers.js';

const RUNS = Number(process.env.BACKROOM_PROPERTY_RUNS ?? 200);

const schema = loadSchema({
  collections: {
    orders: {
      fields: { status: 'string', total: 'int', note: 'string' },
      precedence: { field: 'status', order: ['open', 'approved', 'closed'] },
    },
    inventory: { fields: { stock: 'counter', location: 'string' } },
    prices: {
      merge: 'object',
      fields: { amount: 'int', currency: 'string' },
      precedence: { role: { pos: 0, manager: 1 } },
    },
  },
});

const KEYS = {
  orders: ['o1', 'o2'],
  inventory: ['s1', 's2'],
  prices: ['p1', 'p2'],
} as const;
type Coll = keyof typeof KEYS;

// ---- commands ----------------------------------------------------------------------------------------
type Write =
  | { t: 'put'; c: Coll; k: number; a: number; b: number }
  | { t: 'patch'; c: Coll; k: number; a: number; b: number; which: number }
  | { t: 'del'; c: Coll; k: number }
  | { t: 'inc'; k: number; d: number }
  | { t: 'stocktake'; k: number; v: number };
type Cmd =
  | { t: 'write'; r: number; w: Write }
  | { t: 'push'; d: number; dup: boolean }
  | { t: 'deliverUp'; i: number }
  | { t: 'pull'; d: number }
  | { t: 'deliverDown'; d: number; i: number; keep: boolean }
  | { t: 'tick'; r: number; ms: number }
  | { t: 'restart'; r: number };

const coll = fc.constantFrom<Coll>('orders', 'inventory', 'prices');
const write: fc.Arbitrary<Write> = fc.oneof(
  fc.record({ t: fc.constant('put' as const), c: coll, k: fc.nat(1), a: fc.nat(4), b: fc.nat(3) }),
  fc.record({
    t: fc.constant('patch' as const),
    c: coll,
    k: fc.nat(1),
    a: fc.nat(4),
    b: fc.nat(3),
    which: fc.nat(2),
  }),
  fc.record({ t: fc.constant('del' as const), c: coll, k: fc.nat(1) }),
  fc.record({ t: fc.constant('inc' as const), k: fc.nat(1), d: fc.integer({ min: -3, max: 3 }) }),
  fc.record({ t: fc.constant('stocktake' as const), k: fc.nat(1), v: fc.nat(20) }),
);
const cmd = (n: number): fc.Arbitrary<Cmd> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.record({ t: fc.constant('write' as const), r: fc.nat(n), w: write }) },
    {
      weight: 2,
      arbitrary: fc.record({
        t: fc.constant('push' as const),
        d: fc.integer({ min: 1, max: n }),
        dup: fc.boolean(),
      }),
    },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('deliverUp' as const), i: fc.nat(50) }) },
    {
      weight: 2,
      arbitrary: fc.record({ t: fc.constant('pull' as const), d: fc.integer({ min: 1, max: n }) }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        t: fc.constant('deliverDown' as const),
        d: fc.integer({ min: 1, max: n }),
        i: fc.nat(50),
        keep: fc.boolean(),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        t: fc.constant('tick' as const),
        r: fc.nat(n),
        ms: fc.integer({ min: 0, max: 5000 }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('restart' as const), r: fc.nat(n) }) },
  );

/** One generated case: how many replicas, their clock skews and roles, and what happens. */
interface Scenario {
  n: number;
  skews: number[];
  roles: string[];
  cmds: Cmd[];
}

const scenario = fc.integer({ min: 2, max: 4 }).chain((n) =>
  fc.record({
    n: fc.constant(n),
    // Terminal clock offsets from the hub: mostly small, sometimes a day ahead.
    skews: fc.array(fc.oneof(fc.integer({ min: -20_000, max: 20_000 }), fc.constant(86_400_000)), {
      minLength: n,
      maxLength: n,
    }),
    roles: fc.array(fc.constantFrom('pos', 'manager'), { minLength: n, maxLength: n }),
    cmds: fc.array(cmd(n), { minLength: 10, maxLength: 80 }),
  }),
);

// ---- the system under test -----------------------------------------------------------------------------
interface UpMsg {
  d: number;
  changes: Change[];
  upTo: number;
  dup: boolean;
}
interface DownMsg {
  since: number;
  cursor: number;
  changes: Change[];
}

class World {
  readonly dir: string;
  readonly names: string[];
  readonly stores: ReplicaStore[] = [];
  readonly times: { wall: number; mono: number }[] = [];
  readonly roles: string[];
  readonly upQueue: UpMsg[] = [];
  readonly downQueues: DownMsg[][] = [];
  readonly cursors: number[] = [];
  readonly pushedUpTo: number[] = [];
  readonly delivered: Set<number>[] = [];
  /** Every change that left a terminal, and every write made at the hub (for the reference model). */
  readonly written: Change[] = [];
  readonly rebases = new Map<string, Stamp>();

  constructor(dir: string, n: number, skews: number[], roles: string[]) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true });
    this.names = ['hub', ...Array.from({ length: n }, (_, i) => `till-${i + 1}`)];
    this.roles = ['manager', ...roles];
    const base = 1_700_000_000_000;
    for (let r = 0; r <= n; r++) {
      this.times.push({ wall: base + (r === 0 ? 0 : skews[r - 1]), mono: 0 });
      this.downQueues.push([]);
      this.cursors.push(0);
      this.pushedUpTo.push(0);
      this.delivered.push(new Set());
      this.stores.push(this.open(r));
    }
  }

  open(r: number): ReplicaStore {
    const time = this.times[r];
    const source: TimeSource = { wall: () => time.wall, monotonic: () => time.mono };
    return ReplicaStore.open({
      path: join(this.dir, `${this.names[r]}.db`),
      schema,
      nodeId: this.names[r],
      role: this.roles[r],
      time: source,
    });
  }

  close() {
    for (const s of this.stores) s.close();
  }

  write(r: number, w: Write) {
    const s = this.stores[r];
    // What a terminal writes reaches the model through its pushes; the hub's writes are recorded here.
    const off = s.subscribe((e) => {
      if (r === 0) this.written.push(...e.local);
    });
    try {
      switch (w.t) {
        case 'put':
          s.put(w.c, KEYS[w.c][w.k], values(w.c, w.a, w.b));
          break;
        case 'patch': {
          const v = values(w.c, w.a, w.b);
          const key = Object.keys(v)[w.which % Object.keys(v).length];
          s.patch(w.c, KEYS[w.c][w.k], { [key]: v[key] });
          break;
        }
        case 'del':
          s.delete(w.c, KEYS[w.c][w.k]);
          break;
        case 'inc':
          if (w.d !== 0) s.increment('inventory', KEYS.inventory[w.k], { stock: w.d });
          break;
        case 'stocktake':
          s.setCounter('inventory', KEYS.inventory[w.k], { stock: w.v });
          break;
      }
    } finally {
      off();
    }
  }

  push(d: number, dup: boolean) {
    const pending = this.stores[d].pendingChanges(1_000_000, this.pushedUpTo[d]);
    if (pending.length === 0) return;
    const upTo = pending[pending.length - 1].seq;
    this.pushedUpTo[d] = upTo;
    for (const p of pending) this.written.push(p.change);
    this.upQueue.push({ d, changes: pending.map((p) => p.change), upTo, dup });
  }

  deliverUp(i: number) {
    if (this.upQueue.length === 0) return;
    const idx = i % this.upQueue.length;
    const m = this.upQueue[idx];
    if (!m.dup) this.upQueue.splice(idx, 1);
    else m.dup = false; // delivered now and once more later
    const res = this.stores[0].applyRemote(m.changes);
    for (const r of res.rebased) this.rebases.set(`${r.node}/${r.from}`, r.to);
    // The ack reaches the terminal: it adopts the hub's re-stamping and drops what the hub holds.
    const dev = this.stores[m.d];
    const mine = res.rebased.filter((r) => r.node === this.names[m.d]);
    const touched = new Set(mine.map((r) => `${r.collection}/${r.id}`));
    const hubState = [...touched].map((k) => {
      const [c, id] = k.split('/');
      return this.stores[0].changeFor(c, id)!;
    });
    dev.applyRebase(mine, hubState);
    dev.ackPending(m.upTo);
  }

  pull(d: number) {
    const hub = this.stores[0];
    const since = this.cursors[d];
    const rows = hub.changedSince(since, 1_000_000);
    const changes: Change[] = [];
    for (const row of rows) {
      const c = hub.changeFor(row.collection, row.id, {
        opsAfterSeq: since > 0 ? since : undefined,
        skipNode: since > 0 ? this.names[d] : undefined,
      });
      if (c) changes.push(c);
    }
    const cursor = rows.length ? rows[rows.length - 1].seq : since;
    this.downQueues[d].push({ since, cursor, changes });
  }

  deliverDown(d: number, i: number, keep: boolean) {
    const q = this.downQueues[d];
    if (q.length === 0) return;
    const idx = i % q.length;
    const m = q[idx];
    if (!keep) q.splice(idx, 1);
    // The agent's continuity rule: a batch that starts after our cursor would leave a gap: drop it.
    if (m.since > this.cursors[d]) return;
    this.stores[d].applyRemote(m.changes, { rebase: false });
    this.cursors[d] = Math.max(this.cursors[d], m.cursor);
  }

  restart(r: number) {
    this.stores[r].close();
    this.stores[r] = this.open(r);
    if (r > 0) this.pushedUpTo[r] = 0; // an agent re-pushes everything unacknowledged after a restart
  }

  /** Deliver everything: every pending push (twice), then every terminal pulls until caught up. */
  drain() {
    for (let round = 0; round < 3; round++) {
      for (let d = 1; d < this.stores.length; d++) {
        this.pushedUpTo[d] = 0;
        this.push(d, false);
      }
      while (this.upQueue.length) this.deliverUp(0);
    }
    for (let d = 1; d < this.stores.length; d++) {
      this.downQueues[d].length = 0;
      this.pull(d);
      this.deliverDown(d, 0, false);
    }
  }
}

function values(c: Coll, a: number, b: number): Record<string, unknown> {
  if (c === 'orders')
    return { status: ['open', 'approved', 'closed', 'open', 'approved'][a], total: a * 10 + b };
  if (c === 'inventory') return { location: `aisle-${a}-${b}` };
  return { amount: a * 100 + b, currency: ['EUR', 'USD', 'GBP', 'CHF'][b] };
}

function dumpAll(s: ReplicaStore) {
  const out: Record<string, unknown> = {};
  for (const c of Object.keys(KEYS)) {
    for (const o of s.query(c, { includeDeleted: true, limit: 1000 }).objects) out[`${c}/${o.id}`] = o;
  }
  return out;
}

// ---- the reference model -------------------------------------------------------------------------------
const cmp = (a: Version, b: Version) =>
  a.p !== b.p ? a.p - b.p : a.s !== b.s ? (a.s < b.s ? -1 : 1) : a.n < b.n ? -1 : a.n > b.n ? 1 : 0;

function model(written: Change[], rebases: Map<string, Stamp>) {
  const fix = (v: Version): Version => {
    const to = rebases.get(`${v.n}/${v.s}`);
    return to === undefined ? v : { ...v, s: to };
  };
  const objs = new Map<
    string,
    {
      fields: Map<string, { v: unknown; ver: Version }>;
      exists?: { v: boolean; ver: Version };
      base?: { v: number; ver: Version };
      incs: Map<string, { delta: number; ver: Version }>;
    }
  >();
  const take = <T extends { ver: Version }>(cur: T | undefined, cand: T) =>
    !cur || cmp(cand.ver, cur.ver) > 0 ? cand : cur;
  for (const ch of written) {
    const key = `${ch.collection}/${ch.id}`;
    let o = objs.get(key);
    if (!o) {
      o = { fields: new Map(), incs: new Map() };
      objs.set(key, o);
    }
    const def = schema.collections[ch.collection];
    if (ch.exists) {
      const ver = fix(ch.exists.ver);
      o.exists = take(o.exists, { v: ch.exists.v, ver });
      if (!ch.exists.v) {
        for (const f of def.fieldNames) {
          if (def.fields[f].type !== 'counter') o.fields.set(f, take(o.fields.get(f), { v: null, ver }));
        }
      }
    }
    for (const [f, w] of Object.entries(ch.fields ?? {}))
      o.fields.set(f, take(o.fields.get(f), { v: w.v, ver: fix(w.ver) }));
    for (const [, w] of Object.entries(ch.bases ?? {}))
      o.base = take(o.base, { v: w.v as number, ver: fix(w.ver) });
    for (const inc of ch.incs ?? []) o.incs.set(inc.op, { delta: inc.delta, ver: fix(inc.ver) });
  }
  const out = new Map<string, { alive: boolean; doc: Record<string, unknown> }>();
  for (const [key, o] of objs) {
    const [c] = key.split('/');
    const def = schema.collections[c];
    const doc: Record<string, unknown> = {};
    for (const f of def.fieldNames) {
      if (def.fields[f].type === 'counter') {
        let total = o.base?.v ?? 0;
        for (const i of o.incs.values()) if (!o.base || cmp(i.ver, o.base.ver) > 0) total += i.delta;
        doc[f] = total;
      } else doc[f] = o.fields.get(f)?.v ?? null;
    }
    out.set(key, { alive: o.exists?.v ?? false, doc });
  }
  return out;
}

/** Runs one scenario and checks that every replica converged to the reference model. */
function checkConvergence(root: string, caseNo: number, { n, skews, roles, cmds }: Scenario): void {
  const world = new World(join(root, String(caseNo)), n, skews, roles);
  try {
    for (const c of cmds) {
      switch (c.t) {
        case 'write':
          world.write(c.r, c.w);
          break;
        case 'push':
          world.push(c.d, c.dup);
          break;
        case 'deliverUp':
          world.deliverUp(c.i);
          break;
        case 'pull':
          world.pull(c.d);
          break;
        case 'deliverDown':
          world.deliverDown(c.d, c.i, c.keep);
          break;
        case 'tick':
          world.times[c.r].wall += c.ms;
          world.times[c.r].mono += c.ms;
          break;
        case 'restart':
          world.restart(c.r);
          break;
      }
    }
    world.drain();
    const digests = world.stores.map((s) => s.digest());
    for (let r = 1; r < digests.length; r++) {
      if (digests[r] !== digests[0]) {
        assert.deepEqual(
          dumpAll(world.stores[r]),
          dumpAll(world.stores[0]),
          `${world.names[r]} differs from the hub`,
        );
        assert.fail(`${world.names[r]} differs from the hub in its registers`);
      }
    }
    const expected = model(world.written, world.rebases);
    const hub = world.stores[0];
    for (const [key, want] of expected) {
      const [c, id] = key.split('/');
      const got = hub.get(c, id, { includeDeleted: true });
      assert.ok(got, `${key} missing at the hub`);
      assert.equal(!got._meta.deleted, want.alive, `${key} alive`);
      const { id: _id, _meta, ...doc } = got;
      assert.deepEqual(doc, want.doc, `${key} fields`);
    }
  } finally {
    world.close();
  }
}

test('replicas converge byte-identically and match the reference model', (t) => {
  const root = tempDir(t);
  let caseNo = 0;
  fc.assert(
    fc.property(scenario, (sc) => checkConvergence(root, caseNo++, sc)),
    { numRuns: RUNS, includeErrorInReport: true },
  );
});

if (process.env.BACKROOM_CONVERGENCE_LARGE === '1') {
  test('8 replicas and 10,000 operations converge (BACKROOM_CONVERGENCE_LARGE)', (t) => {
    const root = tempDir(t);
    const large = fc.record({
      n: fc.constant(8),
      skews: fc.array(fc.oneof(fc.integer({ min: -20_000, max: 20_000 }), fc.constant(86_400_000)), {
        minLength: 8,
        maxLength: 8,
      }),
      roles: fc.array(fc.constantFrom('pos', 'manager'), { minLength: 8, maxLength: 8 }),
      cmds: fc.array(cmd(8), { minLength: 10_000, maxLength: 10_000 }),
    });
    const started = performance.now();
    fc.assert(
      fc.property(large, (sc) => checkConvergence(root, 0, sc)),
      { numRuns: 1, includeErrorInReport: true, endOnFailure: true },
    );
    t.diagnostic(`8 replicas × 10,000 operations: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  });
}
