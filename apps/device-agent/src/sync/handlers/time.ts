/**
 * `time` from the hub (docs/protocol-messages.md, "time"): an answer to an NTP-style clock probe. The
 * agent never probes (its clock is placed by the `welcome`'s offset instead), so an answer is ignored.
 */
import type { TimeMessage } from '@backroom/sync-core';
import type { SyncContext } from '../context.js';

/** Ignores a `time` message: this agent sends no probes. */
export function onTime(_ctx: SyncContext, _m: TimeMessage): void {}
