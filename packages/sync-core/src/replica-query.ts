/**
 * Where `src/http/object-routes.ts` imports the query types from. They live in `replica/query.ts` now;
 * this file goes once that import points there.
 */
export type { QueryOptions, QueryResult, SortSpec } from './replica/query.js';
