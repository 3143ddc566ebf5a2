/**
 * The dispatcher of messages from the hub: one handler per message kind, looked up in a table (in the
 * spirit of aedes `lib/handlers/index.js`), each in its own file beside this one. A payload that does not
 * decode, a kind the hub never sends down, and a handler that throws are logged and dropped: one bad
 * message never stops the session.
 */
import { DEFAULT_MAX_MESSAGE_BYTES, decodeMessage, type SyncMessage } from '@backroom/sync-core';
import type { SyncContext } from '../context.js';
import { onAck } from './ack.js';
import { onChanges } from './changes.js';
import { onReject } from './reject.js';
import { onTime } from './time.js';
import { onWelcome } from './welcome.js';

/** A handler of one message kind. */
export type Handler<M extends SyncMessage> = (ctx: SyncContext, m: M) => void;

/** The kinds the hub sends down (docs/protocol.md, "Topics"); `hello`, `push` and `pull` only go up. */
const handlers: { readonly [K in SyncMessage['k']]?: Handler<Extract<SyncMessage, { k: K }>> } = {
  welcome: onWelcome,
  ack: onAck,
  changes: onChanges,
  reject: onReject,
  time: onTime,
};

/** Decodes one payload from the hub's `down` topic and hands it to its kind's handler. Never throws. */
export function dispatch(ctx: SyncContext, payload: Buffer): void {
  let m: SyncMessage;
  try {
    // This session's limit bounds what it sends; what it accepts is never below the protocol's default.
    m = decodeMessage(payload, { maxBytes: Math.max(ctx.messageLimit(), DEFAULT_MAX_MESSAGE_BYTES) });
  } catch (err) {
    ctx.log?.warn({ err: (err as Error).message }, 'bad message from the hub ignored');
    return;
  }
  const handler = handlers[m.k] as Handler<SyncMessage> | undefined;
  if (!handler) {
    ctx.log?.warn({ kind: m.k }, 'unexpected message from the hub ignored');
    return;
  }
  try {
    handler(ctx, m);
  } catch (err) {
    ctx.log?.error({ err, kind: m.k }, 'could not apply a message from the hub');
  }
}
