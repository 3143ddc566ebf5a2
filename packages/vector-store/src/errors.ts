/**
 * vector-store's error catalogue. Every error a caller can meet has a stable `code` (each documented in
 * docs/errors.md, section "vector-store"; a test checks that), an HTTP status where one fits, the context
 * in `details`, and the underlying error in the ES2022 `cause`.
 */
import { defineErrorCatalogue } from '@backroom/sync-core';

export const VectorStoreErrorCodes = {
  /** A vector whose length is not the index's `dim`; `details.expected`, `details.actual`. */
  VEC_ERR_DIM_MISMATCH: 400,
  /** A vector with NaN or ±Infinity in it (or all zeros under cosine); `details.position`. */
  VEC_ERR_INVALID_VECTOR: 400,
  /** A metric other than `cosine`, `l2` or `ip`; `details.metric`. */
  VEC_ERR_UNKNOWN_METRIC: 400,
  /** No index for this collection and field; `details.collection`, `details.field`. */
  VEC_ERR_NO_INDEX: 404,
  /** Index options that are out of range (M, efConstruction, ef, k, dim); `details.option`. */
  VEC_ERR_INVALID_OPTION: 400,
  /**
   * A snapshot file that is missing, truncated, fails its checksum or does not match the index options.
   * Internal: the index rebuilds itself from the store and logs a warning; callers never see it.
   */
  VEC_ERR_SNAPSHOT_CORRUPT: 500,
  /**
   * The store no longer keeps the changes after the snapshot's sequence (its delete log was pruned).
   * Internal like the one above: handled by a rebuild from the store.
   */
  VEC_ERR_CHANGES_PRUNED: 500,
  /** The index was closed; `details.collection`, `details.field`. */
  VEC_ERR_CLOSED: 503,
  /** A background build or compaction failed (worker crash, disk full); the old graph stays in use. */
  VEC_ERR_BUILD_FAILED: 500,
} as const;

/** One of the codes in {@link VectorStoreErrorCodes}. */
export type VectorStoreErrorCode = keyof typeof VectorStoreErrorCodes;

/**
 * The one error class of vector-store (built by sync-core's `defineErrorCatalogue`). Check `code`, never
 * the message.
 *
 * @example
 * throw new VectorStoreError('VEC_ERR_DIM_MISMATCH', `expected ${dim} numbers`, { expected: dim, actual });
 */
export class VectorStoreError extends defineErrorCatalogue('VectorStoreError', VectorStoreErrorCodes) {}

/** True when `e` is a {@link VectorStoreError}, optionally with the given code. */
export function isVectorStoreError(e: unknown, code?: VectorStoreErrorCode): e is VectorStoreError {
  return VectorStoreError.is(e, code);
}

/**
 * True when `e` carries `code`, whatever its class. A `VectorSource` signals pruned changes with an
 * error whose `code` is `VEC_ERR_CHANGES_PRUNED` but whose class is its own (sync-core's replica feed
 * throws `VectorFeedPrunedError`, since sync-core cannot depend on this package), so the index recognises
 * that signal by code, never by `instanceof`.
 */
export function hasErrorCode(
  e: unknown,
  code: VectorStoreErrorCode,
): e is Error & { code: VectorStoreErrorCode; details?: Readonly<Record<string, unknown>> } {
  return e instanceof Error && (e as { code?: unknown }).code === code;
}
