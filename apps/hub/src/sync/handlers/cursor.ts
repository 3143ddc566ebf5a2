/**
 * Cursors as they arrive in `hello` and `pull`: a decimal position in the hub's change sequence, at most
 * 2^53 − 1 (docs/protocol.md, "Pages and pull"). Anything else is refused as malformed.
 */
import type { Refusal } from '../refusal.js';

/** A cursor's position, or the refusal of a cursor that is not a safe non-negative integer. */
export function parseCursor(text: string): number | Refusal {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) {
    return { code: 'SYNC_ERR_MESSAGE_MALFORMED', message: 'cursor out of range', details: { cursor: text } };
  }
  return n;
}
