/**
 * Input checks of the replica store: local writes and remote changes are validated whole, before
 * anything is written, so a bad field or a malformed change never leaves half a batch behind.
 */
import { SyncError } from '../errors.js';
import { type CollectionDef, checkFieldValue, type Schema } from '../schema.js';
import type { Change, Version } from '../types.js';

/** Longest object id. */
export const MAX_ID = 256;

/** @throws SyncError `SYNC_ERR_INVALID_ID`. */
export function checkId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID) {
    throw new SyncError(
      'SYNC_ERR_INVALID_ID',
      'object id must be a non-empty string of at most 256 characters',
      {
        id,
      },
    );
  }
}

/**
 * The fields of a put or patch, checked against the collection: unknown fields and wrong types are
 * listed; counters are dropped (PUT and PATCH leave counters alone, CONTRACT.md).
 * @throws SyncError `SYNC_ERR_INVALID_OBJECT` with every problem in `details.problems`.
 */
export function checkFields(
  def: CollectionDef,
  fields: Readonly<Record<string, unknown>>,
  fill = false,
): Record<string, unknown> {
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) {
    throw new SyncError('SYNC_ERR_INVALID_OBJECT', 'an object body is required', { collection: def.name });
  }
  let problems: string[] | undefined;
  for (const f in fields) {
    if (f !== 'id' && f !== '_meta' && !Object.hasOwn(def.fields, f)) {
      problems ??= [];
      problems.push(`${f}: not a field of ${def.name}`);
    }
  }
  // In declaration order, so the stored document needs no reordering; with `fill` (a PUT), every
  // non-counter field is present, null when not given.
  const out: Record<string, unknown> = {};
  for (const f of def.fieldNames) {
    const fd = def.fields[f];
    if (fd.type === 'counter') continue; // PUT and PATCH leave counters alone (CONTRACT.md).
    if (!Object.hasOwn(fields, f)) {
      if (fill) out[f] = null;
      continue;
    }
    const v = fields[f] === undefined ? null : fields[f];
    const p = checkFieldValue(fd, v);
    if (p) {
      problems ??= [];
      problems.push(`${f}: ${p}`);
    } else out[f] = v;
  }
  if (problems) {
    throw new SyncError('SYNC_ERR_INVALID_OBJECT', `invalid ${def.name} object: ${problems.join('; ')}`, {
      collection: def.name,
      problems,
    });
  }
  return out;
}
/** The largest magnitude a counter (and one increment) may have: JavaScript numbers count exactly up to it. */
export const MAX_COUNTER = Number.MAX_SAFE_INTEGER;

/**
 * `SYNC_ERR_COUNTER_OVERFLOW` for one counter of one object; `reason` says what is out of range
 * (`stock would reach 9007199254740992`).
 */
export function counterOverflow(
  collection: string,
  id: string,
  field: string,
  reason: string,
  extra: Record<string, unknown> = {},
): SyncError {
  return new SyncError(
    'SYNC_ERR_COUNTER_OVERFLOW',
    `${collection}/${id}: ${reason}, beyond ±${MAX_COUNTER} (2^53 − 1), the largest integer a counter holds exactly; nothing was changed`,
    { ...extra, collection, id, field },
  );
}

/** `SYNC_ERR_DELTA_TOO_LARGE` when `delta` is beyond the counter's `maxDelta`, else undefined. */
function deltaTooLarge(
  def: CollectionDef,
  id: string,
  field: string,
  delta: number,
  extra: Record<string, unknown> = {},
): SyncError | undefined {
  const max = def.fields[field]?.maxDelta;
  if (max === undefined || Math.abs(delta) <= max) return undefined;
  return new SyncError(
    'SYNC_ERR_DELTA_TOO_LARGE',
    `${def.name}/${id}: an increment of ${delta} to ${field} is larger than its maxDelta of ${max}`,
    { ...extra, collection: def.name, id, field, delta, maxDelta: max },
  );
}

/**
 * The counter deltas (`what` = `'delta'`) or stocktake values (`'value'`) of a local write to `id`.
 * Counters count integers only: sums of integers do not depend on the order replicas add them in.
 * @throws SyncError `SYNC_ERR_INVALID_OBJECT` unless every key is a counter and every value an integer;
 *   `SYNC_ERR_COUNTER_OVERFLOW` for an integer beyond ±2^53 − 1; `SYNC_ERR_DELTA_TOO_LARGE` for a delta
 *   beyond the field's `maxDelta`.
 */
export function checkCounters(
  def: CollectionDef,
  id: string,
  values: Readonly<Record<string, number>>,
  what: 'delta' | 'value',
) {
  const entries = Object.entries(values ?? {});
  const problems: string[] = [];
  if (entries.length === 0) problems.push(`at least one counter ${what} is required`);
  for (const [f, v] of entries) {
    if (!Object.hasOwn(def.fields, f) || def.fields[f].type !== 'counter')
      problems.push(`${f}: not a counter of ${def.name}`);
    else if (!Number.isInteger(v)) problems.push(`${f}: ${what} must be an integer`);
  }
  if (problems.length) {
    throw new SyncError('SYNC_ERR_INVALID_OBJECT', `invalid counter ${what}: ${problems.join('; ')}`, {
      collection: def.name,
      problems,
    });
  }
  for (const [f, v] of entries) {
    if (!Number.isSafeInteger(v))
      throw counterOverflow(def.name, id, f, `${f} ${what} ${v} is`, { [what]: v });
    if (what === 'delta') {
      const e = deltaTooLarge(def, id, f, v);
      if (e) throw e;
    }
  }
  return entries;
}
/**
 * One remote change, checked completely against the schema.
 * @throws SyncError `SYNC_ERR_UNKNOWN_COLLECTION`, `SYNC_ERR_INVALID_OBJECT`, `SYNC_ERR_COUNTER_OVERFLOW`
 *   (a delta or stocktake value beyond ±2^53 − 1) or `SYNC_ERR_DELTA_TOO_LARGE` (beyond the field's
 *   `maxDelta`), each with `details.index`.
 */
export function checkRemote(schema: Schema, c: Change, index: number): CollectionDef {
  const bad = (problem: string) =>
    new SyncError('SYNC_ERR_INVALID_OBJECT', `change ${index}: ${problem}`, {
      index,
      collection: c?.collection,
      id: c?.id,
    });
  if (typeof c !== 'object' || c === null) throw bad('not an object');
  if (!Object.hasOwn(schema.collections, c.collection)) {
    throw new SyncError(
      'SYNC_ERR_UNKNOWN_COLLECTION',
      `change ${index}: unknown collection "${c.collection}"`,
      {
        index,
        collection: c.collection,
      },
    );
  }
  const def = schema.collections[c.collection];
  if (typeof c.id !== 'string' || c.id.length === 0 || c.id.length > MAX_ID) throw bad('invalid id');
  const checkVer = (v: Version | undefined, where: string) => {
    if (!v || !Number.isInteger(v.p) || v.p < 0 || typeof v.s !== 'bigint' || v.s < 0n || v.s >= 1n << 64n) {
      throw bad(`${where}: invalid version`);
    }
    if (typeof v.n !== 'string' || v.n.length === 0) throw bad(`${where}: invalid node id`);
  };
  // Own keys walked without Object.entries: this runs for every change of every batch.
  const fields = c.fields ?? {};
  for (const f in fields) {
    if (!Object.hasOwn(fields, f)) continue;
    const w = fields[f];
    const fd = Object.hasOwn(def.fields, f) ? def.fields[f] : undefined;
    if (!fd || fd.type === 'counter') throw bad(`${f}: not a writable field of ${def.name}`);
    const p = checkFieldValue(fd, w?.v);
    if (p) throw bad(`${f}: ${p}`);
    checkVer(w.ver, f);
  }
  const bases = c.bases ?? {};
  for (const f in bases) {
    if (!Object.hasOwn(bases, f)) continue;
    const w = bases[f];
    if (!Object.hasOwn(def.fields, f) || def.fields[f].type !== 'counter') throw bad(`${f}: not a counter`);
    if (!Number.isInteger(w?.v)) throw bad(`${f}: counter value must be an integer`);
    if (!Number.isSafeInteger(w.v)) {
      throw counterOverflow(def.name, c.id, f, `${f} stocktake value ${w.v} is`, { index, value: w.v });
    }
    checkVer(w.ver, f);
  }
  for (const inc of c.incs ?? []) {
    if (!Object.hasOwn(def.fields, inc?.field) || def.fields[inc.field].type !== 'counter') {
      throw bad(`${inc?.field}: not a counter`);
    }
    if (!Number.isInteger(inc.delta)) throw bad(`${inc.field}: delta must be an integer`);
    if (!Number.isSafeInteger(inc.delta)) {
      throw counterOverflow(def.name, c.id, inc.field, `${inc.field} delta ${inc.delta} is`, {
        index,
        delta: inc.delta,
      });
    }
    const tooLarge = deltaTooLarge(def, c.id, inc.field, inc.delta, { index });
    if (tooLarge) throw tooLarge;
    if (typeof inc.op !== 'string' || inc.op.length === 0 || inc.op.length > 300)
      throw bad('invalid increment id');
    checkVer(inc.ver, inc.field);
  }
  if (c.exists !== undefined) {
    if (typeof c.exists.v !== 'boolean') throw bad('exists must be true or false');
    checkVer(c.exists.ver, 'exists');
  }
  return def;
}
