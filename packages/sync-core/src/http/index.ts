/**
 * @backroom/sync-core/http — the object routes shared by the hub and the device agent, and the error
 * shape of Backroom's HTTP APIs. Depends on fastify only for types: the host app brings fastify.
 */
export {
  type ErrorBody,
  errorHandler,
  httpConventions,
  notFoundHandler,
  parseJsonBody,
  toErrorResponse,
  useHttpConventions,
} from './error-handler.js';
export {
  type CollectionSummary,
  type FieldSummary,
  type ObjectAction,
  type ObjectRoutesOptions,
  type QueryBody,
  type ReadRestriction,
  registerObjectRoutes,
} from './object-routes.js';
export { keepReadingRefusedBodies } from './refused-bodies.js';
export { MAX_OBJECT_ID, OBJECT_ROUTES_MAX_PARAM_LENGTH } from './schemas.js';
