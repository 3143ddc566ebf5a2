/**
 * The object and search routes (`/v1/collections/...`) on the hub, against the hub's replica: the shared
 * routes of `@backroom/sync-core/http` and `@backroom/vector-store/http`, with every decision about the
 * caller taken by its {@link Access} (the same rule set the sync server applies over MQTT).
 * Authentication (401) and the role check per route (403) come from the hub's HTTP server (./server.ts).
 */
import { type ReplicaStore, type StoredObject, SyncError } from '@backroom/sync-core';
import { type ReadRestriction, registerObjectRoutes } from '@backroom/sync-core/http';
import type { VectorStore } from '@backroom/vector-store';
import { registerSearchRoute } from '@backroom/vector-store/http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Access } from '../access/access.js';

/** Options of {@link registerHubObjectRoutes}. */
export interface HubObjectRoutesOptions {
  /** The hub's replica (opened by the sync server). */
  readonly store: ReplicaStore;
  /** Similarity search indexes; without them, no search route. */
  readonly vectors?: VectorStore;
  /** The caller's access (built once per request from its principal). */
  readonly access: (request: FastifyRequest) => Access;
}

/**
 * Registers the object routes (and the search route) on the hub's fastify instance, before it listens.
 * A caller reads the collections its role may read, through its sync filters; writes are refused unless
 * its role may write the collection, and a filtered caller may only touch objects its filter gives it,
 * before and after the write (checked inside the write's transaction: a refused write leaves nothing).
 *
 * @example
 * registerHubObjectRoutes(fastify, { store, vectors, access: (req) => new Access(req.principal!, schema, filters) });
 */
export function registerHubObjectRoutes(fastify: FastifyInstance, options: HubObjectRoutesOptions): void {
  const { store, access } = options;
  const restrict = (request: FastifyRequest, collection: string): ReadRestriction => {
    const scope = access(request).readScope(collection);
    return scope.kind === 'all' ? undefined : scope.kind === 'none' ? false : scope.filter;
  };
  const authorize = (request: FastifyRequest, collection: string, action: 'read' | 'write') => {
    const a = access(request);
    const def = store.collection(collection);
    if (!a.readable(def)) {
      throw new SyncError('SYNC_ERR_FORBIDDEN', `the ${a.role} role may not read ${collection}`, {
        collection,
        role: a.role,
      });
    }
    if (action === 'write') a.assertWritable(def);
  };
  registerObjectRoutes(fastify, {
    store,
    role: (request) => access(request).writerRole(),
    authorize,
    vars: (request) => access(request).vars,
    restrict,
    guardWrite: (request, collection, id, write) => {
      const a = access(request);
      if (!a.filtered(collection)) return write();
      a.assertWithinView(collection, id, store.get(collection, id), undefined);
      const result = write();
      const after =
        typeof result === 'object' && result !== null ? (result as unknown as StoredObject) : undefined;
      a.assertWithinView(collection, id, undefined, after && !after._meta?.deleted ? after : undefined);
      return result;
    },
  });
  if (options.vectors) {
    registerSearchRoute(fastify, {
      store,
      vectors: options.vectors,
      authorize,
      vars: (request) => access(request).vars,
      restrict,
    });
  }
}
