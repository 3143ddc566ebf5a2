/**
 * JSON Schemas of the object routes' params and bodies (plain JSON Schema objects, compiled by the host
 * fastify's validator). They only check the shape of a request; field values are checked by the
 * {@link ReplicaStore} against the collection schema, which knows the field types.
 */

/** Longest object id (the replica store's limit). */
export const MAX_OBJECT_ID = 256;

/** Longest filter expression accepted over HTTP. */
const MAX_FILTER = 8192;

/**
 * Route params in the URL may be percent-encoded (up to three characters per character of the id), and
 * fastify's router answers 404 for a param longer than its `maxParamLength` (default 100) before any
 * schema runs. A host app serving the object routes should build fastify with
 * `routerOptions: { maxParamLength: OBJECT_ROUTES_MAX_PARAM_LENGTH }` so that every id up to 256
 * characters is routed and a longer one gets a 400 instead of a 404.
 */
export const OBJECT_ROUTES_MAX_PARAM_LENGTH = 1024;

const collectionParam = { type: 'string', minLength: 1, maxLength: 128 } as const;

/** `:c` — the collection name. */
export const collectionParams = {
  type: 'object',
  required: ['c'],
  properties: { c: collectionParam },
} as const;

/** `:c` and `:id`. */
export const objectParams = {
  type: 'object',
  required: ['c', 'id'],
  properties: { c: collectionParam, id: { type: 'string', minLength: 1, maxLength: MAX_OBJECT_ID } },
} as const;

/** A JSON object of fields (PUT, PATCH). Values are checked by the store against the collection schema. */
export const fieldsBody = { type: 'object' } as const;

/**
 * `{ FIELD: NUMBER }` for increments and stocktakes. Values are not typed here on purpose: fastify's
 * validator coerces types (`"5"` would become 5), and a quantity sent as a string is a client bug the
 * store reports with `SYNC_ERR_INVALID_OBJECT`.
 */
export const counterBody = { type: 'object', minProperties: 1 } as const;

/** `GET .../objects/:id?includeDeleted=true` shows a tombstone instead of a 404. */
export const getQuerystring = {
  type: 'object',
  properties: { includeDeleted: { type: 'boolean' } },
} as const;

/** Body of `POST .../query`. Unknown keys are refused (a misspelt `fliter` must not return everything). */
export const queryBody = {
  type: 'object',
  // `propertyNames` rather than `additionalProperties: false`: fastify's validator silently strips
  // additional properties (`removeAdditional`) instead of refusing them.
  propertyNames: { enum: ['filter', 'sort', 'limit', 'after', 'includeDeleted'] },
  properties: {
    filter: { type: 'string', maxLength: MAX_FILTER },
    sort: {
      type: 'array',
      maxItems: 16,
      items: {
        anyOf: [
          { type: 'string', minLength: 1, maxLength: 65 },
          {
            type: 'object',
            required: ['field'],
            propertyNames: { enum: ['field', 'order'] },
            properties: {
              field: { type: 'string', minLength: 1, maxLength: 64 },
              order: { enum: ['asc', 'desc'] },
            },
          },
        ],
      },
    },
    limit: { type: 'integer', minimum: 1, maximum: 1000 },
    after: { type: 'string', minLength: 1, maxLength: 16384 },
    includeDeleted: { type: 'boolean' },
  },
} as const;
