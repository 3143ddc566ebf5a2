/**
 * Merging what a peer sent: a batch of changes, validated whole and applied in one transaction, all or
 * nothing, by the same rules as local writes (merge.ts), so applying the same changes again, in any order,
 * changes nothing. Stamps too far in the future are re-stamped on receipt (HLC receive rule with a skew
 * bound), and the hub's re-stamping of this node's own writes is taken back here (`applyRebase`).
 */
import { stampFromString, stampToString } from '../clock.js';
import { applyChange } from '../merge.js';
import type { Statement } from '../sqlite.js';
import type { Change, FieldWrite, Stamp, Version } from '../types.js';
import { compareStored, type StoredVersion } from '../version.js';
import type { ReplicaCore } from './core.js';
import { checkRemote } from './validate.js';

/** One stamp the store re-stamped on receipt because it was too far in the future. */
export interface Rebase {
  readonly collection: string;
  readonly id: string;
  readonly node: string;
  readonly from: Stamp;
  readonly to: Stamp;
}

/** Result of `RemoteMerger.applyRemote`. */
export interface ApplyResult {
  readonly objects: number;
  readonly rebased: readonly Rebase[];
}

/** The statements of this module, by name: the record of every stamp rebased here. */
interface RebaseStatements {
  readonly nodes: Statement<[], string>;
  readonly get: Statement<[node: string, from: string], string>;
  readonly put: Statement<[node: string, from: string, to: string], never>;
}

/** Batches smaller than this read their objects one by one: one query each costs about the same. */
const PRELOAD_MIN = 8;

/** Remote merges of one replica (see the file comment); each method is documented on `RemoteMerger`. */
export class RemoteMerge {
  private readonly st: RebaseStatements;
  /** Nodes that ever had a stamp rebased here: only their stamps need a look-up in `rebases`. */
  private readonly rebasedNodes: Set<string>;

  constructor(private readonly core: ReplicaCore) {
    const db = core.db;
    this.st = {
      nodes: db.prepare<[], string>('SELECT DISTINCT node FROM rebases').pluck(),
      get: db
        .prepare<[string, string], string>('SELECT to_s FROM rebases WHERE node = ? AND from_s = ?')
        .pluck(),
      put: db.prepare('INSERT OR IGNORE INTO rebases (node, from_s, to_s) VALUES (?, ?, ?)'),
    };
    this.rebasedNodes = new Set(this.st.nodes.all());
  }

  applyRemote(changes: readonly Change[], opts: { rebase?: boolean } = {}): ApplyResult {
    this.core.assertOpen();
    const defs = changes.map((c, i) => checkRemote(this.core.schema, c, i));
    const rebase = opts.rebase ?? true;
    return this.core.transaction(() => {
      // Local writes after this must stay after it: they are no longer free to move (restamp.ts).
      this.core.wallRuns?.remoteSeen();
      const rebaseMap = rebase ? this.rebaseMap(changes) : new Map<string, Stamp>();
      const rebased: Rebase[] = [];
      const before = this.core.changedCount();
      if (changes.length >= PRELOAD_MIN) this.preload(changes);
      for (let i = 0; i < changes.length; i++) {
        let change = changes[i];
        if (rebaseMap.size) change = this.rebaseChange(change, rebaseMap, rebased);
        else if (rebase) this.receiveStamps(change);
        else this.observeStamps(change);
        const state = this.core.load(defs[i], change.id);
        if (applyChange(defs[i], state, change, this.core.merge, () => this.core.nextSeq()))
          this.core.markDirty(state, true);
      }
      return { objects: this.core.changedCount() - before, rebased };
    });
  }

  applyRebase(rebases: readonly Rebase[], hubState: readonly Change[] = []): void {
    if (rebases.length === 0 && hubState.length === 0) return;
    const { core } = this;
    core.transaction(() => {
      core.wallRuns?.remoteSeen();
      const byObject = new Map<string, Rebase[]>();
      for (const r of rebases) {
        const k = `${r.collection}\u0000${r.id}`;
        byObject.set(k, [...(byObject.get(k) ?? []), r]);
        core.clock.observe(r.to);
      }
      for (const list of byObject.values()) {
        if (!Object.hasOwn(core.schema.collections, list[0].collection)) continue;
        const def = core.collection(list[0].collection);
        const state = core.load(def, list[0].id);
        const map = new Map(list.map((r) => [`${r.node}/${stampToString(r.from)}`, stampToString(r.to)]));
        const swap = (v: StoredVersion | null) => {
          const to = v && map.get(`${v[2]}/${v[1]}`);
          return to && v ? ([v[0], to, v[2]] as StoredVersion) : v;
        };
        for (const f of Object.keys(state.vers)) state.vers[f] = swap(state.vers[f])!;
        for (const f of Object.keys(state.bases)) {
          const b = state.bases[f];
          const sv = swap([b[1], b[2], b[3]])!;
          state.bases[f] = [b[0], sv[0], sv[1], sv[2]];
        }
        state.ever = swap(state.ever);
        if (def.counters.length) {
          const ops = core.merge.list(def.name, state.id);
          for (const o of ops) {
            const sv = swap(o.ver)!;
            if (sv !== o.ver) {
              core.merge.setVersion(def.name, state.id, o, sv);
              o.ver = sv;
            }
          }
          // The increments' order against the stocktake may have changed: recount.
          for (const f of def.counters) {
            const b = state.bases[f];
            const bv: StoredVersion | null = b ? [b[1], b[2], b[3]] : null;
            let total = b ? b[0] : 0;
            let any = !!b;
            for (const o of ops) {
              if (o.field !== f) continue;
              any = true;
              if (!bv || compareStored(o.ver, bv) > 0) total += o.delta;
            }
            if (any) state.doc[f] = total;
          }
        }
        state.seq = core.nextSeq();
        core.markDirty(state, true);
      }
      if (hubState.length) this.applyRemote(hubState, { rebase: false });
    });
  }

  /** Reads the batch's objects a few hundred per query, collection by collection (core `preload`). */
  private preload(changes: readonly Change[]): void {
    const ids = new Map<string, string[]>();
    for (const c of changes) {
      const list = ids.get(c.collection);
      if (list) list.push(c.id);
      else ids.set(c.collection, [c.id]);
    }
    for (const [collection, list] of ids) this.core.preload(this.core.collection(collection), list);
  }

  /**
   * Stamps of the batch to replace, keyed `node/stamp`: those too far ahead get fresh local stamps in
   * their original order. Every replacement is recorded, so a redelivered change is re-stamped to the
   * same stamp (even once it is no longer ahead): rebasing stays idempotent and every replica agrees.
   */
  private rebaseMap(changes: readonly Change[]): Map<string, Stamp> {
    const clock = this.core.clock;
    const map = new Map<string, Stamp>();
    const ahead: Version[] = [];
    // The key (a bigint printed in decimal) is built only for the rare stamps that need one.
    const check = (v: Version) => {
      if (this.rebasedNodes.has(v.n)) {
        const k = `${v.n}/${v.s}`;
        if (map.has(k)) return;
        const to = this.st.get.get(v.n, stampToString(v.s));
        if (to !== undefined) {
          map.set(k, stampFromString(to));
          return;
        }
      }
      if (clock.isTooFarAhead(v.s)) {
        const k = `${v.n}/${v.s}`;
        if (map.has(k)) return;
        map.set(k, 0n);
        ahead.push(v);
      }
    };
    for (const c of changes) forEachVersion(c, check);
    if (ahead.length === 0) return map;
    ahead.sort((a, b) => (a.s < b.s ? -1 : a.s > b.s ? 1 : a.n < b.n ? -1 : 1));
    for (const v of ahead) {
      const to = clock.now();
      map.set(`${v.n}/${v.s}`, to);
      this.st.put.run(v.n, stampToString(v.s), stampToString(to));
      this.rebasedNodes.add(v.n);
    }
    this.core.log?.warn(
      { count: ahead.length, nodes: [...new Set(ahead.map((v) => v.n))] },
      'rebased stamps too far ahead',
    );
    return map;
  }

  /** Changes from the hub, the store's time authority, move the clock without the skew check. */
  private observeStamps(c: Change): void {
    forEachVersion(c, (v) => this.core.clock.observe(v.s));
  }

  /** HLC receive rule: the clock moves past every stamp of the change. */
  private receiveStamps(c: Change): void {
    forEachVersion(c, (v) => {
      this.core.clock.receive(v.s);
    });
  }

  /** The change with its rebased stamps replaced (each replacement reported once in `out`). */
  private rebaseChange(c: Change, map: Map<string, Stamp>, out: Rebase[]): Change {
    const seen = new Set<string>();
    const fix = (v: Version): Version => {
      const k = `${v.n}/${v.s}`;
      const to = map.get(k);
      if (to === undefined) {
        this.core.clock.receive(v.s);
        return v;
      }
      if (!seen.has(k)) {
        seen.add(k);
        out.push({ collection: c.collection, id: c.id, node: v.n, from: v.s, to });
      }
      return { p: v.p, s: to, n: v.n };
    };
    const mapWrites = (w: Readonly<Record<string, FieldWrite>> | undefined) =>
      w && Object.fromEntries(Object.entries(w).map(([f, x]) => [f, { v: x.v, ver: fix(x.ver) }]));
    return {
      collection: c.collection,
      id: c.id,
      fields: mapWrites(c.fields),
      bases: mapWrites(c.bases),
      // The increment keeps its identity (`op`): a redelivery of the original still counts once.
      incs: c.incs?.map((i) => ({ ...i, ver: fix(i.ver) })),
      exists: c.exists && { v: c.exists.v, ver: fix(c.exists.ver) },
    };
  }
}

/** Calls `fn` for each version in a change; a version shared by consecutive writes is visited once. */
function forEachVersion(c: Change, fn: (v: Version) => void): void {
  let last: Version | undefined;
  const visit = (v: Version) => {
    if (v !== last && (last === undefined || v.s !== last.s || v.n !== last.n || v.p !== last.p)) fn(v);
    last = v;
  };
  if (c.exists) visit(c.exists.ver);
  if (c.fields) for (const f in c.fields) visit(c.fields[f].ver);
  if (c.bases) for (const f in c.bases) visit(c.bases[f].ver);
  if (c.incs) for (const i of c.incs) visit(i.ver);
}
