import { SyncError } from './errors.js';

/** Field types a collection may declare (CONTRACT.md "Data model"). */
export type FieldType = 'string' | 'int' | 'float' | 'bool' | 'datetime' | 'json' | 'counter' | 'vector';
export type VectorMetric = 'cosine' | 'l2' | 'ip';

export interface FieldDef {
  readonly type: FieldType;
  /** Vectors only. */
  readonly dim?: number;
  readonly metric?: VectorMetric;
  /**
   * Counters only: the largest magnitude of one increment (`{ "type": "counter", "maxDelta": 10000 }`).
   * A larger increment, local or pushed by a device, is refused (`SYNC_ERR_DELTA_TOO_LARGE`). Stocktakes
   * are not bounded by it. Absent: any safe integer.
   */
  readonly maxDelta?: number;
}

/**
 * How a collection ranks concurrent writes before the stamp decides (Sync Precedence):
 * - `{ field }`: the value of a numeric field (floored, negative counts as 0);
 * - `{ field, order }`: the position of a string field's value in `order` (`open < approved < closed`);
 *   values not in the list rank 0;
 * - `{ role }`: the writer's role mapped to a rank (`{ pos: 0, manager: 1 }`); unlisted roles rank 0.
 */
export type PrecedenceRule =
  | { readonly field: string; readonly order?: readonly string[] }
  | { readonly role: Readonly<Record<string, number>> };

/** Which way a collection syncs between terminals and the hub. */
export type SyncDirection = 'down' | 'up' | 'both';

export interface CollectionDef {
  readonly name: string;
  readonly fields: Readonly<Record<string, FieldDef>>;
  /** Field names in declaration order: documents are written in this order so replicas are byte-identical. */
  readonly fieldNames: readonly string[];
  readonly counters: readonly string[];
  /** `field` (default): every field merges on its own. `object`: the whole object wins. */
  readonly merge: 'field' | 'object';
  readonly precedence?: PrecedenceRule;
  /** `down`: written at the hub only; `up`: written by terminals; `both` (default). */
  readonly sync: SyncDirection;
  readonly description?: string;
}

export interface Schema {
  readonly collections: Readonly<Record<string, CollectionDef>>;
}

const FIELD_TYPES: readonly string[] = [
  'string',
  'int',
  'float',
  'bool',
  'datetime',
  'json',
  'counter',
  'vector',
];
const METRICS: readonly string[] = ['cosine', 'l2', 'ip'];
const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const RESERVED = new Set(['id', '_meta']);

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function unknownKeys(
  obj: Record<string, unknown>,
  allowed: readonly string[],
  where: string,
  problems: string[],
) {
  for (const k of Object.keys(obj)) if (!allowed.includes(k)) problems.push(`${where}: unknown key "${k}"`);
}

/**
 * Validates a schema document (`{ "collections": { NAME: { fields, merge?, precedence?, sync? } } }`)
 * and returns it normalised and frozen. A field is a type name (`"string"`) or `{ "type": ...,
 * "description"? }`, plus `dim` and `metric` for vectors and an optional `maxDelta` (a positive integer
 * bounding one increment) for counters.
 *
 * @throws SyncError `SYNC_ERR_SCHEMA_INVALID` listing every problem found in `details.problems`.
 * @example
 * const schema = loadSchema(JSON.parse(readFileSync('retail.json', 'utf8')));
 */
export function loadSchema(doc: unknown): Schema {
  const problems: string[] = [];
  const collections: Record<string, CollectionDef> = {};
  if (!isObj(doc)) throw invalid(['schema: must be a JSON object']);
  unknownKeys(doc, ['collections', 'description', '$schema'], 'schema', problems);
  if (!isObj(doc.collections)) {
    problems.push('schema.collections: must be an object of collections');
    throw invalid(problems);
  }
  for (const [name, raw] of Object.entries(doc.collections)) {
    const where = `collections.${name}`;
    if (!NAME.test(name)) problems.push(`${where}: collection name must match ${NAME}`);
    if (!isObj(raw)) {
      problems.push(`${where}: must be an object`);
      continue;
    }
    unknownKeys(raw, ['fields', 'merge', 'precedence', 'sync', 'description'], where, problems);
    const fields: Record<string, FieldDef> = {};
    if (!isObj(raw.fields)) problems.push(`${where}.fields: must be an object of fields`);
    else {
      for (const [fname, fdef] of Object.entries(raw.fields)) {
        const fw = `${where}.fields.${fname}`;
        if (!NAME.test(fname)) problems.push(`${fw}: field name must match ${NAME}`);
        if (RESERVED.has(fname)) problems.push(`${fw}: "${fname}" is reserved`);
        const def = typeof fdef === 'string' ? { type: fdef } : fdef;
        if (!isObj(def)) {
          problems.push(`${fw}: must be a type name or { "type": ... }`);
          continue;
        }
        unknownKeys(def, ['type', 'dim', 'metric', 'maxDelta', 'description'], fw, problems);
        const type = def.type;
        if (typeof type !== 'string' || !FIELD_TYPES.includes(type)) {
          problems.push(
            `${fw}: unknown type ${JSON.stringify(type)} (expected one of ${FIELD_TYPES.join(', ')})`,
          );
          continue;
        }
        if (type === 'vector') {
          if (!Number.isInteger(def.dim) || (def.dim as number) < 1 || (def.dim as number) > 65536) {
            problems.push(`${fw}: vector needs an integer "dim" between 1 and 65536`);
          }
          if (def.metric !== undefined && !METRICS.includes(def.metric as string)) {
            problems.push(`${fw}: unknown metric ${JSON.stringify(def.metric)} (expected cosine, l2 or ip)`);
          }
          fields[fname] = { type, dim: def.dim as number, metric: (def.metric as VectorMetric) ?? 'cosine' };
        } else {
          if (def.dim !== undefined || def.metric !== undefined) {
            problems.push(`${fw}: "dim" and "metric" apply to vector fields only`);
          }
          fields[fname] = { type: type as FieldType };
        }
        if (def.maxDelta !== undefined) {
          if (type !== 'counter') problems.push(`${fw}: "maxDelta" applies to counter fields only`);
          else if (!Number.isSafeInteger(def.maxDelta) || (def.maxDelta as number) < 1) {
            problems.push(
              `${fw}: "maxDelta" must be a positive integer, not ${JSON.stringify(def.maxDelta)}`,
            );
          } else fields[fname] = { type: 'counter', maxDelta: def.maxDelta as number };
        }
      }
    }
    const merge = raw.merge ?? 'field';
    if (merge !== 'field' && merge !== 'object') problems.push(`${where}.merge: must be "field" or "object"`);
    const sync = raw.sync ?? 'both';
    if (sync !== 'down' && sync !== 'up' && sync !== 'both')
      problems.push(`${where}.sync: must be down, up or both`);
    const precedence = checkPrecedence(raw.precedence, fields, `${where}.precedence`, problems);
    const fieldNames = Object.keys(fields);
    collections[name] = {
      name,
      fields,
      fieldNames,
      counters: fieldNames.filter((f) => fields[f].type === 'counter'),
      merge: merge as 'field' | 'object',
      precedence,
      sync: sync as SyncDirection,
      description: typeof raw.description === 'string' ? raw.description : undefined,
    };
  }
  if (problems.length) throw invalid(problems);
  return deepFreeze({ collections });
}

function checkPrecedence(
  raw: unknown,
  fields: Record<string, FieldDef>,
  where: string,
  problems: string[],
): PrecedenceRule | undefined {
  if (raw === undefined) return undefined;
  if (!isObj(raw)) {
    problems.push(
      `${where}: must be { "field": ... }, { "field": ..., "order": [...] } or { "role": {...} }`,
    );
    return undefined;
  }
  if ('role' in raw) {
    unknownKeys(raw, ['role'], where, problems);
    if (
      !isObj(raw.role) ||
      !Object.values(raw.role).every((r) => Number.isInteger(r) && (r as number) >= 0)
    ) {
      problems.push(`${where}.role: must map role names to non-negative integers`);
      return undefined;
    }
    return { role: { ...(raw.role as Record<string, number>) } };
  }
  unknownKeys(raw, ['field', 'order'], where, problems);
  const field = raw.field;
  if (typeof field !== 'string') {
    problems.push(`${where}: needs "field" or "role"`);
    return undefined;
  }
  const def = fields[field];
  if (!def) {
    problems.push(`${where}: field "${field}" is not declared in the collection`);
    return undefined;
  }
  if (raw.order !== undefined) {
    if (
      !Array.isArray(raw.order) ||
      raw.order.length === 0 ||
      !raw.order.every((v) => typeof v === 'string')
    ) {
      problems.push(`${where}.order: must be a non-empty list of strings`);
      return undefined;
    }
    if (def.type !== 'string')
      problems.push(`${where}: "order" needs a string field, "${field}" is ${def.type}`);
    return { field, order: [...raw.order] };
  }
  if (def.type !== 'int' && def.type !== 'float') {
    problems.push(`${where}: field "${field}" must be int or float to rank writes (or give an "order")`);
  }
  return { field };
}

function invalid(problems: string[]): SyncError {
  return new SyncError(
    'SYNC_ERR_SCHEMA_INVALID',
    `invalid schema: ${problems.length} problem(s): ${problems.join('; ')}`,
    {
      problems,
    },
  );
}

function deepFreeze<T>(o: T): T {
  if (typeof o === 'object' && o !== null) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/**
 * The precedence of a write, computed where the write is made from the object as it will read after the
 * write (and the writer's role), then carried with the write so that every replica ranks it the same.
 */
export function precedenceOf(
  def: CollectionDef,
  doc: Readonly<Record<string, unknown>>,
  role: string | undefined,
): number {
  const rule = def.precedence;
  if (!rule) return 0;
  if ('role' in rule) return (role !== undefined && rule.role[role]) || 0;
  const v = doc[rule.field];
  if (rule.order) {
    const i = typeof v === 'string' ? rule.order.indexOf(v) : -1;
    return Math.max(i, 0);
  }
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.min(Math.floor(v), 2 ** 31 - 1) : 0;
}

/**
 * Checks one field value against its declared type. Returns a problem description or undefined.
 * `null` is accepted for every non-counter field (an unset field).
 */
export function checkFieldValue(def: FieldDef, v: unknown): string | undefined {
  if (v === null) return def.type === 'counter' ? 'counters cannot be null' : undefined;
  switch (def.type) {
    case 'string':
      return typeof v === 'string' ? undefined : 'expected a string';
    case 'int':
      return Number.isSafeInteger(v) ? undefined : 'expected a safe integer';
    case 'float':
      return typeof v === 'number' && Number.isFinite(v) ? undefined : 'expected a finite number';
    case 'bool':
      return typeof v === 'boolean' ? undefined : 'expected true or false';
    case 'datetime':
      return typeof v === 'string' && !Number.isNaN(Date.parse(v))
        ? undefined
        : 'expected an ISO 8601 date-time string';
    case 'json':
      return isJsonValue(v, 0) ? undefined : 'expected plain JSON data';
    case 'counter':
      return Number.isSafeInteger(v) ? undefined : 'expected a safe integer';
    case 'vector': {
      if (!Array.isArray(v) || v.length !== def.dim) return `expected an array of ${def.dim} numbers`;
      for (const x of v)
        if (typeof x !== 'number' || !Number.isFinite(x)) return 'vector holds a non-finite number';
      return undefined;
    }
  }
}

function isJsonValue(v: unknown, depth: number): boolean {
  if (depth > 32) return false;
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return true;
  if (typeof v === 'number') return Number.isFinite(v);
  if (Array.isArray(v)) return v.every((x) => isJsonValue(x, depth + 1));
  if (isObj(v) && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.values(v).every((x) => isJsonValue(x, depth + 1));
  }
  return false;
}
