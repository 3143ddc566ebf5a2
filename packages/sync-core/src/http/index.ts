/**
 * @backroom/sync-core/http — the object routes shared by the hub and the device agent, and the error
 * shape of Backroom's HTTP APIs. Depends on fastify only for types: the host app brings fastify.
 */
export { type ErrorBody, errorHandler, notFoundHandler, toErrorResponse } from './error-handler.js';
export {
  type CollectionSummary,
  type FieldSummary,
  type ObjectAction,
  type ObjectRoutesOptions,
  type QueryBody,
  registerObjectRoutes,
} from './object-routes.js';
export { MAX_OBJECT_ID, OBJECT_ROUTES_MAX_PARAM_LENGTH } from './schemas.js';
