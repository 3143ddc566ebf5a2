/**
 * What the hub checks before it merges a terminal's push, so that a hostile or broken terminal cannot
 * out-rank or overwrite what is not its own (docs/protocol.md, "What a device cannot do"):
 * - the collection exists and the device may write it (direction, role);
 * - every write is signed with the device's own node id (it cannot pose as the hub or another till);
 * - its precedence is what the collection's rule gives such a write (no "manager" writes from a till, no
 *   `open` status ranked as `closed`);
 * - in a filtered collection, it only touches objects its filter gives it, before and after the write;
 * - it does not edit an object whose deletion was collected while it was away (no resurrection).
 * A refusal names the object, so the terminal can set that object's writes aside and push the rest. It is
 * returned, not thrown: the push handler sends it as the batch's `reject`.
 */
import {
  type Change,
  type CollectionDef,
  isSyncError,
  type ObjectReader,
  precedenceOf,
  type StoredObject,
  type Tombstones,
  type Version,
} from '@backroom/sync-core';
import type { Access } from '../access/access.js';
import type { Refusal } from './refusal.js';

/** What the push guard reads of the hub's replica: the objects as they are, and the tombstone horizon. */
export type GuardedStore = Pick<ObjectReader, 'collection' | 'get'> & Pick<Tombstones, 'tombstoneHorizon'>;

/** The outcome of {@link checkPush}. */
export type PushCheck =
  | {
      readonly ok: true;
      /** Objects of filtered collections that are the device's after the push, keyed `collection\u0000id`. */
      readonly visible: ReadonlySet<string>;
    }
  | ({ readonly ok: false } & Refusal);

/** A refusal of one change, naming its object. */
function refusal(c: Change, code: Refusal['code'], message: string): Refusal {
  return { code, message, object: { collection: c.collection, id: c.id } };
}

function forbidden(c: Change, why: string): Refusal {
  return refusal(c, 'SYNC_ERR_FORBIDDEN', `${c.collection}/${c.id}: ${why}`);
}

/**
 * The store's and the access rules' checks throw their refusal as a SyncError: this is that refusal,
 * naming the change's object. Anything else is not a refusal and is thrown again.
 */
function refusalThrown(c: Change, e: unknown): Refusal {
  if (isSyncError(e)) return refusal(c, e.code, e.message);
  throw e;
}

/**
 * Checks every change of a push before anything of it is merged, and stops at the first bad one.
 * @returns `ok` with the objects of filtered collections that will be the device's after the push (their
 *   fields pass its filter), or the refusal of the first bad change (`SYNC_ERR_FORBIDDEN`,
 *   `SYNC_ERR_UNKNOWN_COLLECTION`, `SYNC_ERR_NOT_FOUND`, `SYNC_ERR_GONE`) naming its object.
 */
export function checkPush(store: GuardedStore, access: Access, changes: readonly Change[]): PushCheck {
  const visible = new Set<string>();
  for (const c of changes) {
    const refused = checkChange(store, access, c, visible);
    if (refused) return { ok: false, ...refused };
  }
  return { ok: true, visible };
}

/** Checks one change; adds its object to `visible` when it is a filtered object of the device's. */
function checkChange(
  store: GuardedStore,
  access: Access,
  c: Change,
  visible: Set<string>,
): Refusal | undefined {
  let def: CollectionDef;
  try {
    def = store.collection(c.collection);
    access.assertWritable(def);
  } catch (e) {
    return refusalThrown(c, e);
  }
  const stored = store.get(def.name, c.id, { includeDeleted: true });
  const current = stored && !stored._meta.deleted ? stored : undefined;
  if (!stored && !c.exists) {
    // Edits of an object the hub does not know, without its creation. If the hub never collected a
    // tombstone, the object never existed here; otherwise it may have been deleted and its tombstone
    // collected while the device was away. Applying the edits would create (or resurrect) it.
    if (store.tombstoneHorizon() === 0) {
      return refusal(
        c,
        'SYNC_ERR_NOT_FOUND',
        `${c.collection}/${c.id} does not exist on the hub: edits of its fields came without its creation`,
      );
    }
    return refusal(
      c,
      'SYNC_ERR_GONE',
      `${c.collection}/${c.id} is not on the hub: it was deleted while this device was away (or never existed)`,
    );
  }
  const device = access.principal.role === 'admin' ? access.principal.subject : access.principal.deviceId;
  const maxRank = precedenceBound(def, access, c, stored);
  const signed = (v: Version, what: string): Refusal | undefined => {
    if (v.n !== device) return forbidden(c, `${what} is signed by "${v.n}", not by ${device}`);
    if (v.p > maxRank)
      return forbidden(c, `${what} claims precedence ${v.p}, above the ${maxRank} it may have`);
    return undefined;
  };
  const versions: [Version, string][] = [];
  if (c.exists) versions.push([c.exists.ver, 'existence']);
  for (const f in c.fields ?? {}) versions.push([c.fields![f].ver, f]);
  for (const f in c.bases ?? {}) versions.push([c.bases![f].ver, f]);
  for (const [v, what] of versions) {
    const bad = signed(v, what);
    if (bad) return bad;
  }
  for (const inc of c.incs ?? []) {
    const bad = signed(inc.ver, inc.field);
    if (bad) return bad;
    if (!inc.op.startsWith(`${device}/`)) return forbidden(c, `increment ${inc.op} is not ${device}'s`);
  }
  const rule = def.precedence;
  if (rule && 'field' in rule && c.fields && Object.hasOwn(c.fields, rule.field)) {
    // The rank of the field that decides precedence is the rank of the value written.
    const w = c.fields[rule.field];
    const rank = precedenceOf(def, { [rule.field]: w.v }, undefined);
    if (w.ver.p !== rank)
      return forbidden(c, `${rule.field} = ${JSON.stringify(w.v)} ranks ${rank}, not ${w.ver.p}`);
  }
  if (access.filtered(def.name)) {
    let after: Record<string, unknown> | undefined;
    if (c.fields) {
      after = { ...(current ?? {}) };
      for (const f in c.fields) after[f] = c.fields[f].v;
    }
    // The same check as an HTTP write by this device (Access.assertWithinView).
    try {
      access.assertWithinView(def.name, c.id, current, after);
    } catch (e) {
      return refusalThrown(c, e);
    }
    if (after || current) visible.add(`${def.name}\u0000${c.id}`);
  }
  return undefined;
}

/** The highest precedence a write of this device may carry for this object. */
function precedenceBound(
  def: CollectionDef,
  access: Access,
  c: Change,
  current: StoredObject | undefined,
): number {
  const rule = def.precedence;
  if (!rule) return 0;
  if ('role' in rule) return rule.role[access.principal.role] ?? 0;
  // A field rule: ranked by the object as the device saw it (the hub has at least that) or as it wrote it.
  const written =
    c.fields && Object.hasOwn(c.fields, rule.field) ? { [rule.field]: c.fields[rule.field].v } : {};
  return Math.max(
    precedenceOf(def, current ?? {}, undefined),
    current?._meta.precedence ?? 0,
    precedenceOf(def, written, undefined),
  );
}
