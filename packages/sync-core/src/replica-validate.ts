/**
 * Where `src/merge.ts` imports the counter bounds from. They live in `replica/validate.ts` now; this file
 * goes once that import points there.
 */
export { counterOverflow, MAX_COUNTER } from './replica/validate.js';
