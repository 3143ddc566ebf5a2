/**
 * Filters checked against a collection: a filter that names a field the collection does not have would
 * silently match nothing (a missing field reads as null), so it is refused instead.
 */
import { SyncError } from './errors.js';
import type { Filter } from './filter/index.js';
import { filterFields } from './filter/index.js';
import type { CollectionDef } from './schema.js';

/** Options of {@link assertFilterFields}. */
export interface FilterFieldOptions {
  /**
   * Accept the field `id` (the object's id). Default true: `ReplicaStore.query` and vector search compile
   * it to the id column, and `evaluateFilter` reads it from a `StoredObject`. Pass false where filters are
   * evaluated on documents that hold the fields only.
   */
  readonly id?: boolean;
}

/** Why `path` is not a field `f` can read in `def`, or undefined when it is one. */
function fieldProblem(def: CollectionDef, path: string, opts: FilterFieldOptions): string | undefined {
  const dot = path.indexOf('.');
  const top = dot < 0 ? path : path.slice(0, dot);
  if (top === 'id' && opts.id !== false) return dot < 0 ? undefined : 'the id is a string';
  if (!Object.hasOwn(def.fields, top)) return top === '_meta' ? 'filters see fields, not _meta' : '';
  const type = def.fields[top]!.type;
  // A dotted path reads into a json field; into anything else it always reads null.
  if (dot < 0 || type === 'json') return undefined;
  return `${top} is a ${type} field; only json fields have sub-fields`;
}

/**
 * Checks that every field `filter` reads exists in the collection: a declared field, a dotted path into
 * a `json` field (`items.sku`), or `id` (see {@link FilterFieldOptions.id}). `_meta` is not readable.
 * The hub calls it for its configured sync filters at start-up; `ReplicaStore.query` and vector search
 * call it for every filter they compile.
 *
 * @throws SyncError `SYNC_ERR_UNKNOWN_FIELD` (400) naming the first unknown field in `details.field`,
 *   every one in `details.fields`, and the collection in `details.collection`.
 * @example
 * assertFilterFields(schema.collections.orders, parseFilter('colour == "red"'));
 * // throws SyncError SYNC_ERR_UNKNOWN_FIELD: orders has no field "colour"
 */
export function assertFilterFields(def: CollectionDef, filter: Filter, opts: FilterFieldOptions = {}): void {
  const bad: { path: string; why: string }[] = [];
  for (const path of filterFields(filter)) {
    const why = fieldProblem(def, path, opts);
    if (why !== undefined) bad.push({ path, why });
  }
  if (bad.length === 0) return;
  const names = bad.map((b) => (b.why ? `"${b.path}" (${b.why})` : `"${b.path}"`)).join(', ');
  throw new SyncError(
    'SYNC_ERR_UNKNOWN_FIELD',
    `${def.name} has no field${bad.length > 1 ? 's' : ''} ${names}`,
    {
      collection: def.name,
      field: bad[0]!.path,
      fields: bad.map((b) => b.path),
    },
  );
}
