/**
 * Plugs the sync server into a hub built by `createHub`: loads and validates the schema and the sync
 * filters, opens the hub's replica, serves devices and the object routes.
 */
import { readFileSync } from 'node:fs';
import { isSyncError, loadSchema, type Schema } from '@backroom/sync-core';
import type { HubAttachment, HubContext } from '../app.js';
import { HubError } from '../errors.js';
import { registerHubObjectRoutes } from '../http/objects.js';
import { parseFilterTable } from './access.js';
import { SyncServer } from './sync-server.js';

/** A running hub's sync attachment: its server (and through it, the hub's replica). */
export interface SyncAttachment extends HubAttachment {
  readonly server: SyncServer;
}

/**
 * Loads the collection schema file.
 * @throws HubError `HUB_ERR_CONFIG_INVALID` with every problem of the file listed.
 */
export function loadSchemaFile(file: string): Schema {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new HubError('HUB_ERR_CONFIG_INVALID', `cannot read schema ${file}: ${(e as Error).message}`, {
      problems: [`schemaFile: ${(e as Error).message}`],
    });
  }
  try {
    return loadSchema(doc);
  } catch (e) {
    if (!isSyncError(e, 'SYNC_ERR_SCHEMA_INVALID')) throw e;
    const problems = (e.details.problems as string[]).map((p) => `schema ${file}: ${p}`);
    throw new HubError('HUB_ERR_CONFIG_INVALID', `invalid schema: ${problems.join('; ')}`, { problems }, e);
  }
}

/** The `attach` hook of `createHub` that makes a hub a sync hub. */
export async function attachSync(ctx: HubContext): Promise<SyncAttachment> {
  const schema = loadSchemaFile(ctx.config.schemaFile);
  const filters = parseFilterTable(schema, ctx.config.filters);
  const server = SyncServer.start({
    config: ctx.config,
    schema,
    filters,
    channel: ctx.channel,
    logger: ctx.logger.child({ component: 'sync' }),
  });
  ctx.addDeviceInfo((id) => server.deviceInfo(id));
  registerHubObjectRoutes(ctx.fastify, { store: server.store });
  return { server, close: () => server.close() };
}
