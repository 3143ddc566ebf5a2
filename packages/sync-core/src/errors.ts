/**
 * sync-core's error catalogue. Every error a caller can meet has a stable `code` (documented in
 * docs/errors.md; a test checks that), an HTTP status where one fits, the context in `details`, and the
 * underlying error in the ES2022 `cause`.
 */
import { defineErrorCatalogue } from './error-catalogue.js';

export const SyncErrorCodes = {
  /** The collection schema is invalid; `details.problems` lists every problem. */
  SYNC_ERR_SCHEMA_INVALID: 400,
  /** A collection name that the schema does not declare. */
  SYNC_ERR_UNKNOWN_COLLECTION: 404,
  /** A field the collection does not declare, or a value of the wrong type. */
  SYNC_ERR_INVALID_OBJECT: 400,
  /** An object id that is not a non-empty string of at most 256 characters. */
  SYNC_ERR_INVALID_ID: 400,
  /**
   * A counter would leave the range JavaScript numbers count exactly (±Number.MAX_SAFE_INTEGER, 2^53 − 1):
   * an increment or stocktake refused; `details`: `collection`, `id`, `field`.
   */
  SYNC_ERR_COUNTER_OVERFLOW: 422,
  /** A counter increment larger than the field's `maxDelta`; `details`: `collection`, `id`, `field`. */
  SYNC_ERR_DELTA_TOO_LARGE: 400,
  /** The object does not exist (or is deleted). */
  SYNC_ERR_NOT_FOUND: 404,
  /** A filter expression that does not parse; `details.position` points at the problem. */
  SYNC_ERR_FILTER_SYNTAX: 400,
  /** A filter refers to a variable that has no value and no default. */
  SYNC_ERR_FILTER_VARIABLE: 400,
  /** A filter names a field the collection does not have; `details`: `collection`, `field`, `fields`. */
  SYNC_ERR_UNKNOWN_FIELD: 400,
  /** A query sort, limit or cursor that is not valid. */
  SYNC_ERR_INVALID_QUERY: 400,
  /** A protocol message that is not valid msgpack or not a known message shape. */
  SYNC_ERR_MESSAGE_MALFORMED: 400,
  /** A protocol message larger than the configured maximum. */
  SYNC_ERR_MESSAGE_TOO_LARGE: 413,
  /** A protocol message of a version this node does not speak. */
  SYNC_ERR_UNSUPPORTED_VERSION: 400,
  /** A single change that cannot fit in one message even alone. */
  SYNC_ERR_CHANGE_TOO_LARGE: 413,
  /** The Sync Clock cannot issue a stamp (physical time beyond 48 bits, or persistence failed). */
  SYNC_ERR_CLOCK: 500,
  /** The replica store file is not a Backroom replica, or its format is newer than this code. */
  SYNC_ERR_STORE_CORRUPT: 500,
  /** A backup could not be written. */
  SYNC_ERR_BACKUP_FAILED: 500,
  /** A device pushed to a collection it may not write (a `down` collection, its role, or outside its filter). */
  SYNC_ERR_FORBIDDEN: 403,
  /**
   * A device pushed writes to an object the hub no longer knows (deleted, and its tombstone collected):
   * applying them would bring it back. The device sets them aside.
   */
  SYNC_ERR_GONE: 410,
  /** A sync message arrived before the device's `hello`, or in a state where it makes no sense. */
  SYNC_ERR_PROTOCOL: 400,
  /**
   * An HTTP request that does not match the route's schema, or whose body is not valid JSON or not a JSON
   * object (status 415 for an unsupported content type).
   */
  SYNC_ERR_INVALID_REQUEST: 400,
  /** An HTTP request body larger than the server accepts. */
  SYNC_ERR_PAYLOAD_TOO_LARGE: 413,
  /** An unexpected failure behind an HTTP route; the response says nothing more, the log has the details. */
  SYNC_ERR_INTERNAL: 500,
} as const;

/** One of sync-core's stable error codes. */
export type SyncErrorCode = keyof typeof SyncErrorCodes;

/**
 * The one error class of sync-core (built by {@link defineErrorCatalogue}). Check `code`, never the message.
 *
 * @example
 * throw new SyncError('SYNC_ERR_NOT_FOUND', `no ${collection} "${id}"`, { collection, id });
 */
export class SyncError extends defineErrorCatalogue('SyncError', SyncErrorCodes) {}

/** True when `e` is a {@link SyncError}, optionally with the given code. */
export function isSyncError(e: unknown, code?: SyncErrorCode): e is SyncError {
  return SyncError.is(e, code);
}
