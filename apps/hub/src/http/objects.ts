/**
 * The object routes (`/v1/collections/...`) on the hub, against the hub's replica: the shared routes of
 * `@backroom/sync-core/http` with the hub's principals mapped to writer roles and filter variables.
 * Authentication (401) and the error shape come from the hub's HTTP server (./server.ts).
 */
import type { ReplicaStore } from '@backroom/sync-core';
import { type ObjectAction, registerObjectRoutes } from '@backroom/sync-core/http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { HttpPrincipal } from '../auth/authenticator.js';

/** Options of {@link registerHubObjectRoutes}. */
export interface HubObjectRoutesOptions {
  /** The hub's replica (opened by the sync server). */
  readonly store: ReplicaStore;
  /**
   * Extra per-collection permission check, called after authentication; throw (e.g. a `HubError`
   * `HUB_ERR_FORBIDDEN`) to refuse. Default: every authenticated caller may read and write everything.
   */
  readonly authorize?: (request: FastifyRequest, collection: string, action: ObjectAction) => void;
}

/**
 * The writer role of an HTTP caller for role-based precedence: `manager` for the admin token (the store
 * operator), the JWT's `role` claim otherwise; `undefined` (the store's default role) when there is none.
 */
export function writerRole(principal: HttpPrincipal | null): string | undefined {
  if (!principal) return undefined;
  if (principal.kind === 'admin') return 'manager';
  return principal.role;
}

/**
 * Registers the object routes on the hub's fastify instance (before it listens). Writes carry the
 * caller's role ({@link writerRole}); `$auth.*` in query filters reads the caller's token claims.
 *
 * @example
 * // in the sync server's attachment:
 * attach: async ({ fastify }) => {
 *   const store = ReplicaStore.open({ path, schema, nodeId: 'hub', role: 'hub', outbox: false });
 *   registerHubObjectRoutes(fastify, { store });
 *   return { close: async () => store.close() };
 * }
 */
export function registerHubObjectRoutes(fastify: FastifyInstance, options: HubObjectRoutesOptions): void {
  registerObjectRoutes(fastify, {
    store: options.store,
    role: (request) => writerRole(request.principal),
    authorize: options.authorize,
    vars: (request) => (request.principal ? { auth: request.principal.claims } : undefined),
  });
}
