/**
 * What the hub checks before it merges a terminal's push, so that a hostile or broken terminal cannot
 * out-rank or overwrite what is not its own (docs/protocol.md, "What a device cannot do"):
 * - the collection exists and the device may write it (direction, role);
 * - every write is signed with the device's own node id (it cannot pose as the hub or another till);
 * - its precedence is what the collection's rule gives such a write (no "manager" writes from a till, no
 *   `open` status ranked as `closed`);
 * - in a filtered collection, it only touches objects its filter gives it, before and after the write;
 * - it does not edit an object whose deletion was collected while it was away (no resurrection).
 * A refusal names the object, so the terminal can set that object's writes aside and push the rest.
 */
import {
  type Change,
  type CollectionDef,
  precedenceOf,
  type ReplicaStore,
  type StoredObject,
  SyncError,
  type Version,
} from '@backroom/sync-core';
import type { Access } from '../access/access.js';

function refuse(c: Change, why: string): SyncError {
  return new SyncError('SYNC_ERR_FORBIDDEN', `${c.collection}/${c.id}: ${why}`, {
    collection: c.collection,
    id: c.id,
  });
}

/**
 * @returns the objects of filtered collections that will be the device's after the push (their fields
 *   pass its filter), keyed `collection\u0000id`.
 * @throws SyncError (`SYNC_ERR_FORBIDDEN`, `SYNC_ERR_UNKNOWN_COLLECTION`) naming the first bad change.
 */
export function checkPush(store: ReplicaStore, access: Access, changes: readonly Change[]): Set<string> {
  const visible = new Set<string>();
  const device = access.principal.role === 'admin' ? access.principal.subject : access.principal.deviceId;
  for (const c of changes) {
    let def: CollectionDef;
    try {
      def = store.collection(c.collection);
      access.assertWritable(def);
    } catch (e) {
      if (e instanceof SyncError)
        throw new SyncError(e.code, e.message, { collection: c.collection, id: c.id }, e);
      throw e;
    }
    const stored = store.get(def.name, c.id, { includeDeleted: true });
    const current = stored && !stored._meta.deleted ? stored : undefined;
    if (!stored && !c.exists) {
      // Edits of an object the hub does not know, without its creation. If the hub never collected a
      // tombstone, the object never existed here; otherwise it may have been deleted and its tombstone
      // collected while the device was away. Applying the edits would create (or resurrect) it.
      if (store.tombstoneHorizon() === 0) {
        throw new SyncError(
          'SYNC_ERR_NOT_FOUND',
          `${c.collection}/${c.id} does not exist on the hub: edits of its fields came without its creation`,
          { collection: c.collection, id: c.id },
        );
      }
      throw new SyncError(
        'SYNC_ERR_GONE',
        `${c.collection}/${c.id} is not on the hub: it was deleted while this device was away (or never existed)`,
        { collection: c.collection, id: c.id },
      );
    }
    const maxRank = precedenceBound(def, access, c, stored);
    const check = (v: Version, what: string) => {
      if (v.n !== device) throw refuse(c, `${what} is signed by "${v.n}", not by ${device}`);
      if (v.p > maxRank)
        throw refuse(c, `${what} claims precedence ${v.p}, above the ${maxRank} it may have`);
    };
    if (c.exists) check(c.exists.ver, 'existence');
    for (const f in c.fields ?? {}) check(c.fields![f].ver, f);
    for (const f in c.bases ?? {}) check(c.bases![f].ver, f);
    for (const inc of c.incs ?? []) {
      check(inc.ver, inc.field);
      if (!inc.op.startsWith(`${device}/`)) throw refuse(c, `increment ${inc.op} is not ${device}'s`);
    }
    const rule = def.precedence;
    if (rule && 'field' in rule && c.fields && Object.hasOwn(c.fields, rule.field)) {
      // The rank of the field that decides precedence is the rank of the value written.
      const w = c.fields[rule.field];
      const rank = precedenceOf(def, { [rule.field]: w.v }, undefined);
      if (w.ver.p !== rank)
        throw refuse(c, `${rule.field} = ${JSON.stringify(w.v)} ranks ${rank}, not ${w.ver.p}`);
    }
    if (access.filtered(def.name)) {
      let after: Record<string, unknown> | undefined;
      if (c.fields) {
        after = { ...(current ?? {}) };
        for (const f in c.fields) after[f] = c.fields[f].v;
      }
      // The same check as an HTTP write by this device (Access.assertWithinView).
      access.assertWithinView(def.name, c.id, current, after);
      if (after || current) visible.add(`${def.name}\u0000${c.id}`);
    }
  }
  return visible;
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
