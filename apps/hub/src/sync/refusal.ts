/**
 * A refusal the hub owes a device: the value a handler or the push guard returns when it will not do what
 * a message asks, turned into a `reject` message on the device's `down` topic (docs/protocol.md,
 * "Rejects"). Refusals are values, not exceptions, so that "refused" and "the hub failed" cannot be told
 * apart only by which `catch` happened to see them (aedes `lib/handlers/connect.js` answers the same way).
 */
import type { EvictedObject, RejectMessage, SyncError, SyncErrorCode } from '@backroom/sync-core';

/** Why the hub refuses a message, as the device hears it. */
export interface Refusal {
  /** A stable code from sync-core's catalogue (docs/errors.md, "Sync core"). */
  readonly code: SyncErrorCode;
  readonly message: string;
  /**
   * The object whose change made the hub refuse a push, when one did: the device sets that object's
   * pending writes aside and pushes the rest again.
   */
  readonly object?: EvictedObject;
  /** Context for the hub's log; never sent to the device. */
  readonly details?: Readonly<Record<string, unknown>>;
}

/**
 * The refusal a {@link SyncError} stands for. With `namesObject`, an error whose details carry a
 * `collection` and an `id` (the store's errors about one change of a batch do) names that object.
 */
export function refusalOf(e: SyncError, namesObject: boolean): Refusal {
  const { collection, id } = e.details as { collection?: unknown; id?: unknown };
  const object =
    namesObject && typeof collection === 'string' && typeof id === 'string' && collection && id
      ? { collection, id }
      : undefined;
  return { code: e.code, message: e.message, details: e.details, ...(object ? { object } : {}) };
}

/** The `reject` message of a refusal, for the push `batchId` when it refuses one. */
export function rejectMessage(refusal: Refusal, batchId?: string): RejectMessage {
  return {
    k: 'reject',
    code: refusal.code,
    message: refusal.message,
    ...(batchId === undefined ? {} : { batchId }),
    ...(refusal.object === undefined ? {} : { object: refusal.object }),
  };
}
