/**
 * Where `src/http/object-routes.ts` imports `ReplicaStore` from. The store lives in `replica/` now (the
 * facade in `replica/replica-store.ts`, each role in its own file); this file goes once that import points
 * there. Other packages import it from `@backroom/sync-core`.
 */
export { ReplicaStore } from './replica/replica-store.js';
