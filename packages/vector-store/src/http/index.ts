/**
 * `@backroom/vector-store/http` — the search route of CONTRACT.md (`POST /v1/collections/{c}/search`) for
 * the hub and the device agent. Depends on fastify only for types: the host app brings fastify.
 */
export {
  MAX_SEARCH_K,
  registerSearchRoute,
  type SearchBody,
  type SearchResult,
  type SearchRouteOptions,
} from './search-route.js';
