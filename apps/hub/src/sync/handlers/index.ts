/**
 * The dispatcher of the hub's sync server: one handler per message kind a device sends, in a table, as
 * aedes dispatches MQTT packets in `lib/handlers/index.js`. Like aedes, the dispatcher, not each handler,
 * enforces the session's order: every connection starts with a `hello`, and a `push` or `pull` before it
 * is refused (docs/protocol.md, "Connecting").
 *
 * A handler's refusals are values it sends through the context as `reject` messages. An error that still
 * escapes a handler (a failure of the store, a bug) becomes a `reject` here too, so one device's bad
 * message never stops the hub from serving the others.
 */
import { isSyncError, type SyncMessage } from '@backroom/sync-core';
import { refusalOf, rejectMessage } from '../refusal.js';
import type { DeviceSession } from '../session.js';
import type { SyncContext } from './context.js';
import { handleHello } from './hello.js';
import { handlePull } from './pull.js';
import { handlePush } from './push.js';
import { handleTime } from './time.js';

/** A handler of one message kind. */
type Handler<M extends SyncMessage> = (ctx: SyncContext, session: DeviceSession, m: M) => void;

/** The kinds a device sends (`up`); the others only the hub sends. */
type UpKind = 'hello' | 'push' | 'pull' | 'time' | 'reject';

/** One handler per kind a device may send. */
const handlers: { readonly [K in UpKind]: Handler<Extract<SyncMessage, { k: K }>> } = {
  hello: handleHello,
  push: handlePush,
  pull: handlePull,
  time: handleTime,
  // A device refusing something of ours: nothing to do but say so in the log.
  reject: (ctx, session, m) => ctx.log.warn({ deviceId: session.deviceId, code: m.code }, m.message),
};

/** Kinds refused until the device said hello on this connection. */
const AFTER_HELLO: ReadonlySet<SyncMessage['k']> = new Set(['push', 'pull']);

/**
 * Hands one decoded message from a device to the handler of its kind. Never throws: whatever goes wrong
 * is a `reject` the device hears (for the push's `batchId` when it was a push).
 */
export function handle(ctx: SyncContext, session: DeviceSession, m: SyncMessage): void {
  const batchId = m.k === 'push' ? m.batchId : undefined;
  if (!Object.hasOwn(handlers, m.k)) {
    ctx.send(
      session,
      rejectMessage({ code: 'SYNC_ERR_PROTOCOL', message: `a device does not send "${m.k}" messages` }),
    );
    return;
  }
  if (AFTER_HELLO.has(m.k) && !session.greeted) {
    ctx.reject(session, { code: 'SYNC_ERR_PROTOCOL', message: `${m.k} before hello`, details: {} }, batchId);
    return;
  }
  const handler = handlers[m.k as UpKind] as Handler<SyncMessage>;
  try {
    handler(ctx, session, m);
  } catch (e) {
    if (isSyncError(e)) {
      // An error of sync-core's catalogue: the device hears its code (for a push, naming the object).
      ctx.reject(session, refusalOf(e, m.k === 'push'), batchId);
    } else {
      ctx.log.error({ err: e, deviceId: session.deviceId, kind: m.k }, 'sync handler failed');
      ctx.send(
        session,
        rejectMessage(
          { code: 'SYNC_ERR_PROTOCOL', message: 'the hub could not process this message' },
          batchId,
        ),
      );
    }
  }
}
