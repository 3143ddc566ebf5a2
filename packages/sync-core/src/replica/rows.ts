/**
 * The replica's on-disk format: the SQLite tables and how an object's registers are written to and read
 * from a row. Everything that decides what bytes a replica holds is here, so two replicas that hold the
 * same registers write byte-identical rows.
 */
import type { ObjectState, StoredBase } from '../merge.js';
import type { CollectionDef } from '../schema.js';
import type { ObjectMeta, StoredObject } from '../types.js';
import type { StoredVersion } from '../version.js';

/**
 * Version of the file format; a newer file is refused rather than misread. 2: vector fields also as
 * float32 blobs (vectors.ts); a format-1 file is upgraded at open.
 */
export const FORMAT = 2;

/** A row of the `objects` table. */
export interface Row {
  collection: string;
  id: string;
  seq: number;
  alive: number;
  doc: string;
  vers: string | null;
  bases: string | null;
  ever: string | null;
}

/** An object's registers as read from its row (the in-memory form the merge works on). */
export function rowToState(def: CollectionDef, r: Row): ObjectState {
  const doc = JSON.parse(r.doc) as Record<string, unknown>;
  const ever = r.ever ? (JSON.parse(r.ever) as StoredVersion) : null;
  return {
    collection: r.collection,
    id: r.id,
    seq: r.seq,
    stored: true,
    alive: r.alive === 1,
    doc,
    vers: parseVers(r.vers, ever, doc, def),
    bases: r.bases ? (JSON.parse(r.bases) as Record<string, StoredBase>) : {},
    ever,
  };
}

/** Field values in declaration order: replicas holding the same registers write byte-identical rows. */
export function docJson(def: CollectionDef, s: ObjectState): string {
  // Usually the keys are already in declaration order (puts write them so): check without allocating.
  const names = def.fieldNames;
  let i = 0;
  let ordered = true;
  for (const k in s.doc) {
    while (i < names.length && names[i] !== k) i++;
    if (i++ === names.length) {
      ordered = false;
      break;
    }
  }
  if (ordered) return JSON.stringify(s.doc);
  const o: Record<string, unknown> = {};
  for (const f of def.fieldNames) if (f in s.doc) o[f] = s.doc[f];
  return JSON.stringify(o);
}

/**
 * Field versions as stored: `[[version, ...], {field: index}]`, listing only fields whose version is not
 * the existence register's; NULL when every field carries that version (the usual case after a put or a
 * delete). The fields of one write share a version, so each distinct version is written once.
 */
export function versJson(def: CollectionDef, s: ObjectState): string | null {
  const list: StoredVersion[] = [];
  const index: Record<string, number> = {};
  const ever = s.ever;
  let n = 0;
  for (const f of def.fieldNames) {
    const v = s.vers[f];
    if (!v || (ever && (v === ever || (v[1] === ever[1] && v[2] === ever[2] && v[0] === ever[0])))) continue;
    let i = list.findIndex((x) => x === v || (x[1] === v[1] && x[2] === v[2] && x[0] === v[0]));
    if (i < 0) i = list.push(v) - 1;
    index[f] = i;
    n++;
  }
  return n ? JSON.stringify([list, index]) : null;
}

function parseVers(
  text: string | null,
  ever: StoredVersion | null,
  doc: Record<string, unknown>,
  def: CollectionDef | undefined,
): Record<string, StoredVersion> {
  const vers: Record<string, StoredVersion> = {};
  if (ever) {
    for (const f in doc) if (def?.fields[f]?.type !== 'counter') vers[f] = ever;
  }
  if (text) {
    const [list, index] = JSON.parse(text) as [StoredVersion[], Record<string, number>];
    for (const f in index) vers[f] = list[index[f]];
  }
  return vers;
}

/** The newest register by stamp (fields, existence, counter bases): `_meta.stamp` and `_meta.origin`. */
function newestRegister(s: ObjectState): StoredVersion | null {
  let top: StoredVersion | null = s.ever;
  const consider = (v: StoredVersion) => {
    if (!top || v[1] > top[1] || (v[1] === top[1] && v[2] > top[2])) top = v;
  };
  for (const f in s.vers) consider(s.vers[f]);
  for (const f in s.bases) consider([s.bases[f][1], s.bases[f][2], s.bases[f][3]]);
  return top;
}

/**
 * The object as callers see it: `id`, every declared field in declaration order (a missing field null, a
 * missing counter 0) and `_meta`.
 */
export function toStoredObject(def: CollectionDef, s: ObjectState): StoredObject {
  const top = newestRegister(s);
  const meta: ObjectMeta = {
    stamp: top ? top[1] : '0000000000000000',
    precedence: s.ever ? s.ever[0] : 0,
    origin: top ? top[2] : '',
    deleted: !s.alive,
  };
  const o: Record<string, unknown> = { id: s.id };
  for (const f of def.fieldNames) {
    if (f in s.doc) o[f] = s.doc[f];
    else o[f] = def.fields[f].type === 'counter' ? 0 : null;
  }
  o._meta = meta;
  return o as StoredObject;
}

/** The replica's tables, created when missing (`IF NOT EXISTS`): run at every open. */
export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS objects (
  -- The local change sequence is the rowid: a change moves the row to a new rowid, so the change feed
  -- is a rowid range scan and needs no index of its own.
  seq INTEGER PRIMARY KEY,
  collection TEXT NOT NULL,
  id TEXT NOT NULL,
  alive INTEGER NOT NULL,
  doc TEXT NOT NULL,
  vers TEXT,
  bases TEXT,
  ever TEXT,
  UNIQUE (collection, id)
);
CREATE TABLE IF NOT EXISTS counter_ops (
  collection TEXT NOT NULL,
  id TEXT NOT NULL,
  field TEXT NOT NULL,
  op TEXT NOT NULL,
  delta INTEGER NOT NULL,
  ver TEXT NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (collection, id, field, op)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rebases (
  node TEXT NOT NULL,
  from_s TEXT NOT NULL,
  to_s TEXT NOT NULL,
  PRIMARY KEY (node, from_s)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  collection TEXT NOT NULL,
  id TEXT NOT NULL,
  op TEXT
);
CREATE TABLE IF NOT EXISTS peer_objects (
  peer TEXT NOT NULL,
  collection TEXT NOT NULL,
  id TEXT NOT NULL,
  PRIMARY KEY (peer, collection, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS quarantine (
  collection TEXT NOT NULL,
  id TEXT NOT NULL,
  code TEXT NOT NULL,
  message TEXT NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (collection, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS peers (peer TEXT PRIMARY KEY, cursor TEXT NOT NULL, updated INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS conflicts (
  rowid INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  collection TEXT NOT NULL,
  id TEXT NOT NULL,
  field TEXT NOT NULL,
  loser TEXT NOT NULL,
  loser_ver TEXT NOT NULL,
  winner_ver TEXT NOT NULL
);
`;
