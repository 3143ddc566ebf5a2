/**
 * The change feed: which objects changed after a sequence, and the registers of one object as a
 * {@link Change} to send. The hub pages pulls from it and a terminal's push reads its own writes through
 * it. Reads only: every row it serves was committed by the core's transaction, and `seq` is the rowid, so
 * "changed after S" is a range scan.
 */
import type { CollectionDef } from '../schema.js';
import type { Statement } from '../sqlite.js';
import type { Change, CounterIncrement, FieldWrite, Version } from '../types.js';
import { loadVersion, type StoredVersion } from '../version.js';
import type { ReplicaCore } from './core.js';
import { rowToState } from './rows.js';

/** A row of the change feed: an object that changed after some sequence. */
export interface ChangedObject {
  readonly seq: number;
  readonly collection: string;
  readonly id: string;
  readonly alive: boolean;
  /** Current field values (counter totals included), as JSON text. */
  readonly doc: string;
  /** Set when every register of the row (fields, existence, no stocktake) was written by this one node. */
  readonly soleWriter?: string;
}

/** Which registers of an object to send (see `ChangeFeed.changeFor`). */
export interface ChangeSelection {
  /** Only counter increments recorded after this local sequence. */
  readonly opsAfterSeq?: number;
  /** Leave out writes made by this node (it has them already). */
  readonly skipNode?: string;
  /** Only writes made by this node. */
  readonly onlyNode?: string;
  /** Only these increments. */
  readonly opIds?: ReadonlySet<string>;
}

/** Every register of an object, with the local sequence of each increment (aligned with `change.incs`). */
export interface ObjectRegisters {
  readonly change: Change;
  readonly opSeqs: readonly number[];
}

/**
 * Narrows an object's registers ({@link FeedReader.registersOf}) to what one peer needs; undefined when
 * nothing is left. Reads nothing: the hub reads an object once and serves every device from it.
 */
export function selectChange(regs: ObjectRegisters, sel: ChangeSelection): Change | undefined {
  const { change: c, opSeqs } = regs;
  const only = sel.onlyNode;
  const skipNode = sel.skipNode;
  if (skipNode === undefined && only === undefined && sel.opsAfterSeq === undefined && !sel.opIds) return c;
  const keep = (v: Version) => v.n !== skipNode && (only === undefined || v.n === only);
  let fields: Record<string, FieldWrite> | undefined;
  for (const f in c.fields) {
    const w = c.fields[f];
    if (!keep(w.ver)) continue;
    fields ??= {};
    fields[f] = w;
  }
  let bases: Record<string, FieldWrite> | undefined;
  for (const f in c.bases) {
    const w = c.bases[f];
    if (!keep(w.ver)) continue;
    bases ??= {};
    bases[f] = w;
  }
  let incs: CounterIncrement[] | undefined;
  if (c.incs) {
    for (let i = 0; i < c.incs.length; i++) {
      const inc = c.incs[i];
      if (!keep(inc.ver)) continue;
      if (sel.opsAfterSeq !== undefined && opSeqs[i] <= sel.opsAfterSeq) continue;
      if (sel.opIds && !sel.opIds.has(inc.op)) continue;
      incs ??= [];
      incs.push(inc);
    }
  }
  const exists = c.exists && keep(c.exists.ver) ? c.exists : undefined;
  if (!fields && !bases && !incs && !exists) return undefined;
  return {
    collection: c.collection,
    id: c.id,
    ...(fields ? { fields } : {}),
    ...(exists ? { exists } : {}),
    ...(bases ? { bases } : {}),
    ...(incs ? { incs } : {}),
  };
}

/** A row of the feed query: `sole` is 1 when no field or stocktake carries a version of its own. */
interface FeedRow {
  seq: number;
  collection: string;
  id: string;
  alive: number;
  doc: string;
  ever: string | null;
  sole: number;
}

/** The feed query: `afterSeq`, `limit`. */
type FeedStatement = Statement<[afterSeq: number, limit: number], FeedRow>;
/** The feed query with a projected `doc`: the projection's parameters, then `afterSeq`, `limit`. */
type ProjectedFeedStatement = Statement<(string | number)[], FeedRow>;

/** Which top-level fields of which collections a projected feed's `doc` keeps. */
export type FeedProjection = Readonly<Record<string, readonly string[]>>;

/** The change feed of one replica (see the file comment). */
export class FeedReader {
  private readonly feed: FeedStatement;
  /** Projected feed statements by projection, each prepared once. */
  private readonly projected = new Map<string, { stmt: ProjectedFeedStatement; params: string[] }>();

  constructor(private readonly core: ReplicaCore) {
    this.feed = core.db.prepare(
      'SELECT seq, collection, id, alive, doc, ever, (vers IS NULL AND bases IS NULL) AS sole FROM objects WHERE seq > ? ORDER BY seq LIMIT ?',
    );
  }

  /** See `ChangeFeed.changedSince`. */
  changedSince(afterSeq: number, limit: number, project?: FeedProjection): ChangedObject[] {
    this.core.assertOpen();
    const p = project ? this.projectedStatement(project) : undefined;
    const rows = p ? p.stmt.all(...p.params, afterSeq, limit) : this.feed.all(afterSeq, limit);
    return rows.map((r) => ({
      seq: r.seq,
      collection: r.collection,
      id: r.id,
      alive: r.alive === 1,
      doc: r.doc,
      // Every field and existence carry one version (and no stocktake): the row is one node's write.
      soleWriter: r.sole === 1 && r.ever ? (JSON.parse(r.ever) as StoredVersion)[2] : undefined,
    }));
  }

  /** See `ChangeFeed.registersOf`. */
  registersOf(collection: string, id: string, withoutOps = false): ObjectRegisters | undefined {
    const def = this.core.collection(collection);
    const row = this.core.row(collection, id);
    if (!row) return undefined;
    const state = rowToState(def, row);
    const fields: Record<string, FieldWrite> = {};
    let nFields = 0;
    for (const f of def.fieldNames) {
      const sv = state.vers[f];
      if (!sv || def.fields[f].type === 'counter') continue;
      fields[f] = { v: state.doc[f] ?? null, ver: loadVersion(sv) };
      nFields++;
    }
    const bases: Record<string, FieldWrite> = {};
    let nBases = 0;
    for (const [f, b] of Object.entries(state.bases)) {
      bases[f] = { v: b[0], ver: loadVersion([b[1], b[2], b[3]]) };
      nBases++;
    }
    const incs: CounterIncrement[] = [];
    const opSeqs: number[] = [];
    const ops = withoutOps || !def.counters.length ? [] : this.core.merge.list(collection, id);
    for (const o of ops) {
      incs.push({ field: o.field, delta: o.delta, op: o.op, ver: loadVersion(o.ver) });
      opSeqs.push(o.seq);
    }
    const change: Change = {
      collection,
      id,
      ...(nFields ? { fields } : {}),
      ...(state.ever ? { exists: { v: state.alive, ver: loadVersion(state.ever) } } : {}),
      ...(nBases ? { bases } : {}),
      ...(incs.length ? { incs } : {}),
    };
    return { change, opSeqs };
  }

  /** See `RemoteMerger.changeFor`. */
  changeFor(collection: string, id: string, opts: ChangeSelection = {}): Change | undefined {
    const regs = this.registersOf(collection, id, opts.opIds?.size === 0);
    return regs && selectChange(regs, opts);
  }

  /** The feed query whose `doc` keeps only the projected fields (`{}` for collections not listed). */
  private projectedStatement(project: FeedProjection) {
    const key = JSON.stringify(project);
    let st = this.projected.get(key);
    if (!st) {
      const params: string[] = [];
      const whens: string[] = [];
      for (const [c, fields] of Object.entries(project)) {
        const def: CollectionDef = this.core.collection(c);
        const pairs: string[] = [];
        for (const f of new Set(fields.map((x) => x.split('.')[0]))) {
          if (!Object.hasOwn(def.fields, f)) continue; // unknown fields read as null anyway
          pairs.push('?, doc -> ?');
          params.push(f, `$.${f}`);
        }
        whens.push(`WHEN ? THEN json_object(${pairs.join(', ')})`);
        params.splice(params.length - pairs.length * 2, 0, c);
      }
      const docExpr = whens.length ? `CASE collection ${whens.join(' ')} ELSE '{}' END` : `'{}'`;
      st = {
        stmt: this.core.db.prepare(
          `SELECT seq, collection, id, alive, ${docExpr} AS doc, ever, (vers IS NULL AND bases IS NULL) AS sole
           FROM objects WHERE seq > ? ORDER BY seq LIMIT ?`,
        ),
        params,
      };
      this.projected.set(key, st);
    }
    return st;
  }
}
