/**
 * THE access rule set of the hub (CONTRACT.md "Access rules"): what a caller may read and write, decided
 * here once and used by the sync server (MQTT) and the HTTP API alike, so the two cannot drift apart.
 *
 * - `admin` (the admin token) may do everything.
 * - `dashboard` reads every collection, unfiltered, and the operational routes; it writes nothing but
 *   fraud feedback.
 * - A device role (`pos`, `sensor`) reads the collections its role may read, through the sync filters of
 *   the hub config (`$auth` from its credential or JWT, `$client` from its hello), and writes what the
 *   collection's direction allows, only objects its filter gives it, before and after the write.
 *
 * Filters are parsed once at start-up and compiled once per caller with its variables.
 */
import {
  assertFilterFields,
  type CollectionDef,
  compileFilter,
  type Filter,
  type FilterVars,
  parseFilter,
  type Schema,
  SyncError,
} from '@backroom/sync-core';
import type { Principal } from '../auth/authenticator.js';
import { HubError } from '../errors.js';

/**
 * Filters applied when the config gives none for a collection of the retail schema: a terminal sees its
 * own transactions, and the alerts addressed to it or to every terminal.
 */
export const DEFAULT_FILTERS: Readonly<Record<string, string>> = {
  transactions: 'terminalId == $auth.sub',
  alerts: 'terminalId == $auth.sub OR terminalId == null',
  readings: 'deviceId == $auth.sub',
};

/** Collections a sensor node may read and write; it never sees sales data. */
const SENSOR_COLLECTIONS = new Set(['readings']);

/**
 * What a caller may use besides collections. Each HTTP route names the capability it needs
 * (./routes.ts); a role has exactly the capabilities listed in {@link GRANTS}.
 */
export type Capability =
  /** The object, query and search routes (what is inside is decided per collection and object). */
  | 'collections'
  /** `GET /v1/devices`. */
  | 'devices'
  /** `GET /metrics`. */
  | 'metrics'
  /** `GET /v1/conflicts`. */
  | 'conflicts'
  /** `GET /v1/uplink`. */
  | 'uplink'
  /** `GET /v1/changes/stream`. */
  | 'changes'
  /** `POST /v1/fraud/alerts/{id}/feedback`. */
  | 'fraud-feedback'
  /** Anything else: administration. */
  | 'admin';

/** Roles a principal can have. */
export type Role = Principal['role'];

/** What a dashboard may use: everything but administration (its one write, fraud feedback, included). */
const OPERATIONS: readonly Capability[] = [
  'collections',
  'devices',
  'metrics',
  'conflicts',
  'uplink',
  'changes',
  'fraud-feedback',
];

/** Capabilities of each role. */
export const GRANTS: Readonly<Record<Role, ReadonlySet<Capability>>> = {
  admin: new Set<Capability>([...OPERATIONS, 'admin']),
  dashboard: new Set(OPERATIONS),
  pos: new Set<Capability>(['collections', 'changes']),
  sensor: new Set<Capability>(['collections']),
};

/** Parsed sync filters per collection. */
export type FilterTable = ReadonlyMap<string, Filter>;

/**
 * Parses the configured filters (plus {@link DEFAULT_FILTERS} for collections the config leaves out).
 * @throws HubError `HUB_ERR_CONFIG_INVALID` listing every filter that does not parse, names an unknown
 *   collection, or reads a field its collection does not have.
 */
export function parseFilterTable(schema: Schema, configured: Readonly<Record<string, string>>): FilterTable {
  const table = new Map<string, Filter>();
  const problems: string[] = [];
  const add = (c: string, text: string, source: string) => {
    try {
      const filter = parseFilter(text);
      // A field the collection does not have reads as null: the filter would silently match nothing.
      // Sync filters see an object's fields only (not its id).
      assertFilterFields(schema.collections[c], filter, { id: false });
      table.set(c, filter);
    } catch (e) {
      problems.push(`${source}: ${(e as Error).message}`);
    }
  };
  for (const [c, text] of Object.entries(DEFAULT_FILTERS)) {
    if (Object.hasOwn(schema.collections, c) && !Object.hasOwn(configured, c)) {
      add(c, text, `filters.${c} (the default "${text}"; set filters.${c} in the config to replace it)`);
    }
  }
  for (const [c, text] of Object.entries(configured)) {
    if (!Object.hasOwn(schema.collections, c)) {
      problems.push(`filters.${c}: no such collection in the schema`);
      continue;
    }
    if (text.trim() === '') continue; // an empty filter: every device gets everything
    add(c, text, `filters.${c}`);
  }
  if (problems.length) {
    throw new HubError('HUB_ERR_CONFIG_INVALID', `invalid sync filters: ${problems.join('; ')}`, {
      problems,
    });
  }
  return table;
}

/** What a caller reads of a collection: all of it, nothing, or the objects matching a filter. */
export type ReadScope =
  | { readonly kind: 'all' }
  | { readonly kind: 'none' }
  | { readonly kind: 'filter'; readonly filter: Filter };

const ALL_OBJECTS: ReadScope = { kind: 'all' };
const NOTHING: ReadScope = { kind: 'none' };

/**
 * One caller's view of the hub: its role's capabilities, and per collection what it may read (and
 * through which filter) and write. Build one per MQTT session (with the hello's `$client` variables) or
 * per HTTP request.
 */
export class Access {
  /** Values of `$auth.*` and `$client.*` for this caller's filters. */
  readonly vars: FilterVars;
  private readonly matchers = new Map<string, (doc: Readonly<Record<string, unknown>>) => boolean>();
  private readonly scopes = new Map<string, ReadScope>();

  constructor(
    readonly principal: Principal,
    private readonly schema: Schema,
    filters: FilterTable,
    clientVars: Readonly<Record<string, unknown>> = {},
  ) {
    const subject = principal.role === 'admin' ? principal.subject : principal.deviceId;
    this.vars = {
      auth: { ...principal.claims, sub: subject, role: principal.role },
      client: clientVars,
    };
    // The admin and dashboards see whole collections; terminals and sensors see them through the filters.
    if (principal.role === 'admin' || principal.role === 'dashboard') return;
    for (const [c, f] of filters) {
      try {
        this.matchers.set(c, compileFilter(f, this.vars));
        this.scopes.set(c, { kind: 'filter', filter: f });
      } catch (e) {
        // A filter variable this caller cannot fill: it sees nothing of that collection, never everything.
        if (!(e instanceof SyncError)) throw e;
        this.matchers.set(c, () => false);
        this.scopes.set(c, NOTHING);
      }
    }
  }

  /** The role deciding everything else. */
  get role(): Role {
    return this.principal.role;
  }

  /** Whether this caller's role has a capability (a route outside the collections). */
  may(capability: Capability): boolean {
    return GRANTS[this.role].has(capability);
  }

  /** Collections this caller reads (MQTT: receives; HTTP: may query). */
  readable(def: CollectionDef): boolean {
    if (this.role === 'sensor') return SENSOR_COLLECTIONS.has(def.name);
    return true;
  }

  /** True when the collection is read through a filter (so the hub tracks which objects a device holds). */
  filtered(collection: string): boolean {
    return this.matchers.has(collection);
  }

  /** Whether an object (its current fields) belongs to this caller's view. */
  sees(collection: string, doc: Readonly<Record<string, unknown>>): boolean {
    const m = this.matchers.get(collection);
    return m ? m(doc) : true;
  }

  /** How much of a readable collection this caller reads: for queries, which AND the scope's filter in. */
  readScope(collection: string): ReadScope {
    return this.scopes.get(collection) ?? ALL_OBJECTS;
  }

  /**
   * @throws SyncError `SYNC_ERR_FORBIDDEN` when this caller may not write the collection: hub-only
   *   (`down`) collections for devices, anything but readings for a sensor, anything for a dashboard.
   */
  assertWritable(def: CollectionDef): void {
    const role = this.role;
    const ok =
      role === 'admin'
        ? true
        : role === 'dashboard'
          ? false
          : role === 'sensor'
            ? SENSOR_COLLECTIONS.has(def.name)
            : def.sync !== 'down';
    if (!ok) {
      const who = this.principal.role === 'admin' ? 'admin' : `device ${this.principal.deviceId}`;
      throw new SyncError(
        'SYNC_ERR_FORBIDDEN',
        role === 'dashboard'
          ? `a dashboard is read-only: it may not write ${def.name}`
          : `${who} (${role}) may not write ${def.name}`,
        { collection: def.name, role },
      );
    }
  }

  /**
   * The filter half of the push guard, for one object: a caller whose collection is filtered may only
   * touch an object its filter gives it before the write (`before`, absent for a new object) and after it
   * (`after`, absent once deleted).
   *
   * @throws SyncError `SYNC_ERR_FORBIDDEN` naming the object.
   */
  assertWithinView(
    collection: string,
    id: string,
    before: Readonly<Record<string, unknown>> | undefined,
    after: Readonly<Record<string, unknown>> | undefined,
  ): void {
    if (!this.filtered(collection)) return;
    if (before && !this.sees(collection, before)) {
      throw new SyncError('SYNC_ERR_FORBIDDEN', `${collection}/${id}: outside this device's sync filter`, {
        collection,
        id,
      });
    }
    if (after && !this.sees(collection, after)) {
      throw new SyncError(
        'SYNC_ERR_FORBIDDEN',
        `${collection}/${id}: the write would put it outside this device's sync filter`,
        { collection, id },
      );
    }
  }

  /** The writer role for role-based precedence: the device's role; `manager` for the admin token. */
  writerRole(): string | undefined {
    const p = this.principal;
    if (p.role !== 'admin') return p.role;
    return p.method === 'insecure' ? undefined : 'manager';
  }

  /** The schema the access rules apply to. */
  get collections(): Schema['collections'] {
    return this.schema.collections;
  }
}
