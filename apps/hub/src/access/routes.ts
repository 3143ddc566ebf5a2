/**
 * Which capability each HTTP route needs (./access.ts {@link GRANTS} says which role has it). A route
 * missing here needs `admin`: new routes are closed until someone decides otherwise. docs/access.md has
 * the same table by role, and a test walks it against the running hub.
 */
import { type Capability, GRANTS, type Role } from './access.js';

/** `public`: no credentials needed. */
export type RouteRequirement = Capability | 'public';

/** `METHOD URL-PATTERN` (fastify's pattern, e.g. `/v1/collections/:c/objects/:id`) → requirement. */
export const ROUTE_REQUIREMENTS: Readonly<Record<string, RouteRequirement>> = {
  'GET /health': 'public',
  'GET /metrics': 'metrics',
  'GET /v1/devices': 'devices',
  'GET /v1/collections': 'collections',
  'PUT /v1/collections/:c/objects/:id': 'collections',
  'PATCH /v1/collections/:c/objects/:id': 'collections',
  'GET /v1/collections/:c/objects/:id': 'collections',
  'DELETE /v1/collections/:c/objects/:id': 'collections',
  'POST /v1/collections/:c/increment/:id': 'collections',
  'POST /v1/collections/:c/stocktake/:id': 'collections',
  'POST /v1/collections/:c/query': 'collections',
  'POST /v1/collections/:c/search': 'collections',
};

/** The requirement of a route (HEAD routes follow their GET route); `admin` for unlisted routes. */
export function routeRequirement(method: string, url: string): RouteRequirement {
  const m = method === 'HEAD' ? 'GET' : method;
  return ROUTE_REQUIREMENTS[`${m} ${url}`] ?? 'admin';
}

/** Whether a role may call a route at all (what it may see inside is the route's business). */
export function roleMayCall(role: Role, requirement: RouteRequirement): boolean {
  return requirement === 'public' || GRANTS[role].has(requirement);
}
