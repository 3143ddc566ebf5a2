/**
 * Who may read and write what over sync: the collection's direction, the device's role, and the sync
 * filters from the hub config (CONTRACT.md "Sync filters"). Filters are parsed once at start-up and
 * compiled once per device session with its `$auth` claims and `$client` variables.
 */
import {
  type CollectionDef,
  compileFilter,
  type Filter,
  type FilterVars,
  parseFilter,
  type Schema,
  SyncError,
} from '@backroom/sync-core';
import type { DevicePrincipal } from '../auth/device.js';
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

/** Parsed sync filters per collection. */
export type FilterTable = ReadonlyMap<string, Filter>;

/**
 * Parses the configured filters (plus {@link DEFAULT_FILTERS} for collections the config leaves out).
 * @throws HubError `HUB_ERR_CONFIG_INVALID` listing every filter that does not parse or names an unknown
 *   collection.
 */
export function parseFilterTable(schema: Schema, configured: Readonly<Record<string, string>>): FilterTable {
  const table = new Map<string, Filter>();
  const problems: string[] = [];
  for (const [c, text] of Object.entries(DEFAULT_FILTERS)) {
    if (Object.hasOwn(schema.collections, c) && !Object.hasOwn(configured, c))
      table.set(c, parseFilter(text));
  }
  for (const [c, text] of Object.entries(configured)) {
    if (!Object.hasOwn(schema.collections, c)) {
      problems.push(`filters.${c}: no such collection in the schema`);
      continue;
    }
    if (text.trim() === '') continue; // an empty filter: every device gets everything
    try {
      table.set(c, parseFilter(text));
    } catch (e) {
      problems.push(`filters.${c}: ${(e as Error).message}`);
    }
  }
  if (problems.length) {
    throw new HubError('HUB_ERR_CONFIG_INVALID', `invalid sync filters: ${problems.join('; ')}`, {
      problems,
    });
  }
  return table;
}

/** A device's view of the collections: what it may read (and through which filter) and write. */
export class DeviceAccess {
  readonly vars: FilterVars;
  private readonly matchers = new Map<string, (doc: Readonly<Record<string, unknown>>) => boolean>();

  constructor(
    readonly principal: DevicePrincipal,
    private readonly schema: Schema,
    filters: FilterTable,
    clientVars: Readonly<Record<string, string>>,
  ) {
    this.vars = {
      auth: { ...principal.claims, sub: principal.deviceId, role: principal.role },
      client: clientVars,
    };
    for (const [c, f] of filters) {
      try {
        this.matchers.set(c, compileFilter(f, this.vars));
      } catch (e) {
        // A filter variable this device cannot fill: it sees nothing of that collection, never everything.
        if (e instanceof SyncError) this.matchers.set(c, () => false);
        else throw e;
      }
    }
  }

  /** Collections this device receives. */
  readable(def: CollectionDef): boolean {
    if (this.principal.role === 'sensor') return SENSOR_COLLECTIONS.has(def.name);
    return true;
  }

  /** True when the collection has a sync filter (so the hub tracks which objects the device holds). */
  filtered(collection: string): boolean {
    return this.matchers.has(collection);
  }

  /** Whether an object (its current fields) belongs on this device. */
  sees(collection: string, doc: Readonly<Record<string, unknown>>): boolean {
    const m = this.matchers.get(collection);
    return m ? m(doc) : true;
  }

  /**
   * @throws SyncError `SYNC_ERR_FORBIDDEN` when the device may not write the collection: hub-only
   *   (`down`) collections, anything but readings for a sensor, anything for a dashboard.
   */
  assertWritable(def: CollectionDef): void {
    const role = this.principal.role;
    const ok =
      role === 'dashboard'
        ? false
        : role === 'sensor'
          ? SENSOR_COLLECTIONS.has(def.name)
          : def.sync !== 'down';
    if (!ok) {
      throw new SyncError(
        'SYNC_ERR_FORBIDDEN',
        `device ${this.principal.deviceId} may not write ${def.name}`,
        {
          collection: def.name,
          role,
        },
      );
    }
  }

  /** The schema the access rules apply to. */
  get collections(): Schema['collections'] {
    return this.schema.collections;
  }
}
