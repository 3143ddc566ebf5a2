/**
 * Plugs the sync server into a hub built by `createHub`: loads and validates the schema and the sync
 * filters, then wires the parts together (the sync server and its replica, the device info it adds to
 * `GET /v1/devices`, sensor telemetry, the vector indexes and the object routes, revocation polling) and closes them in
 * order. The parts do their own work in their own files.
 */
import { join } from 'node:path';
import { VectorStore } from '@backroom/vector-store';
import type { FastifyRequest } from 'fastify';
import { Access, parseFilterTable } from '../access/access.js';
import type { HubAttachment, HubContext } from '../app.js';
import { registerHubObjectRoutes } from '../http/objects.js';
import { ReadingsIngest } from '../telemetry/readings.js';
import { watchRevocations } from './revocations.js';
import { loadSchemaFile } from './schema-file.js';
import { SyncServer } from './sync-server.js';

export { loadSchemaFile } from './schema-file.js';

/** A running hub's sync attachment: its server (and through it, the hub's replica). */
export interface SyncAttachment extends HubAttachment {
  readonly server: SyncServer;
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
  // Plain MQTT sensors: their telemetry lands in `readings` when the schema has it.
  if (Object.hasOwn(schema.collections, 'readings')) {
    const readings = new ReadingsIngest(server.store, ctx.logger.child({ component: 'telemetry' }));
    ctx.channel.onTelemetry((id, metric, payload, packet) => readings.ingest(id, metric, payload, packet));
  }
  // Similarity search over vector fields: indexes open on first use, snapshots under DATA/vectors.
  const vectors = new VectorStore({
    dir: join(ctx.config.dataDir, 'vectors'),
    logger: ctx.logger.child({ component: 'vectors' }),
  });
  // One Access per request, from the principal the HTTP server authenticated: the same rules as MQTT.
  const accesses = new WeakMap<FastifyRequest, Access>();
  const access = (request: FastifyRequest): Access => {
    let a = accesses.get(request);
    if (!a) {
      if (!request.principal) throw new Error('an object route ran without an authenticated principal');
      a = new Access(request.principal, schema, filters);
      accesses.set(request, a);
    }
    return a;
  };
  registerHubObjectRoutes(ctx.fastify, { store: server.store, vectors, access });
  const stopRevocations = watchRevocations(ctx.channel, ctx.registry, ctx.logger);
  return {
    server,
    close: async () => {
      stopRevocations();
      await vectors.close(); // writes the final snapshots: before the store closes
      await server.close();
    },
  };
}
