/**
 * Builds the next page of changes for one device from the hub's change feed: what it may read, through
 * its sync filter, split under the message size limit.
 *
 * For a filtered collection the hub records which objects the device holds (acknowledged pages, and the
 * device's own pushes): an object that starts matching is sent whole (a move-in: every register and every
 * counter increment that still counts); one that stops matching is evicted (a move-out). Otherwise only
 * what changed after the device's cursor travels, minus the device's own writes, which it already has.
 */
import {
  type Change,
  type ChangeSelection,
  type ChangesMessage,
  type EvictedObject,
  isSyncError,
  measureEnvelope,
  selectChange,
  splitChanges,
} from '@backroom/sync-core';
import type { Feed, FeedRow } from './feed.js';
import type { DeviceSession } from './session.js';

/** Rows of the change feed scanned per page. */
const FEED_ROWS = 2000;

/** What a page needs to know of the device's session. */
export type PagedDevice = Pick<
  DeviceSession,
  'deviceId' | 'access' | 'acked' | 'fromZero' | 'hasPushed' | 'holdsKey'
>;

/** A page ready to send, with the object-holding records to commit once the device acknowledges it. */
export interface Page {
  readonly message: ChangesMessage;
  /** The feed position this page brings the device to. */
  readonly cursor: number;
  /** `[collection, id, holds]` records to apply to the device's view on acknowledgement. */
  readonly view: readonly [string, string, boolean][];
  /** True when the page carries nothing: only the cursor moves. */
  readonly empty: boolean;
}

/**
 * The next page for a device whose acknowledged cursor is `session.acked`, scanning from `from`
 * (≥ acked: stretches with nothing for the device are skipped without a round trip). Undefined when the
 * feed has nothing after `from`. `headSeq` is the store's current sequence.
 */
export function nextPage(
  feed: Feed,
  session: PagedDevice,
  from: number,
  headSeq: number,
  maxBytes: number,
  onSkip?: (change: Change, why: Error) => void,
): Page | undefined {
  const access = session.access;
  const acked = session.acked;
  const rows = feed.after(from, FEED_ROWS);
  if (rows.length === 0) return undefined;
  const changes: Change[] = [];
  const changeSeq: number[] = [];
  const evict: (EvictedObject & { seq: number })[] = [];
  const view: [string, string, boolean][] = [];
  const viewSeq: number[] = [];
  // The device holds its own writes already, except in a session that began from cursor 0 (a first sync
  // or a full resync): then only those of the objects it pushed in this session.
  const partial: ChangeSelection = { opsAfterSeq: acked, skipNode: session.deviceId };
  const mine: ChangeSelection = { skipNode: session.deviceId };
  const everything: ChangeSelection = {};
  const own = (key: string) =>
    session.hasPushed(key) ? (session.fromZero ? mine : partial) : session.fromZero ? everything : partial;
  const pick = (row: FeedRow, sel: ChangeSelection, hasCounters: boolean): Change | undefined => {
    // Only the device's own writes, and no counters: nothing to send, no need to read the registers.
    if (sel.skipNode !== undefined && row.soleWriter === sel.skipNode && !hasCounters) return undefined;
    const regs = row.registers();
    return regs && selectChange(regs, sel);
  };
  for (const row of rows) {
    const def = access.collections[row.collection];
    if (!def || !access.readable(def)) continue;
    let change: Change | undefined;
    if (access.filtered(row.collection)) {
      const holds = session.holdsKey(row.key);
      const matches = row.alive ? access.sees(row.collection, row.doc()) : holds;
      if (matches) {
        change = pick(row, holds ? own(row.key) : {}, def.counters.length > 0);
        if (!holds) {
          view.push([row.collection, row.id, true]);
          viewSeq.push(row.seq);
        }
      } else if (holds) {
        evict.push({ collection: row.collection, id: row.id, seq: row.seq });
        view.push([row.collection, row.id, false]);
        viewSeq.push(row.seq);
      }
    } else {
      change = pick(row, own(row.key), def.counters.length > 0);
    }
    if (change) {
      changes.push(change);
      changeSeq.push(row.seq);
    }
  }
  let cursor = rows[rows.length - 1].seq;
  let pageChanges = changes;
  const envelope = measureEnvelope({
    k: 'changes',
    since: String(acked),
    changes: [],
    evict: evict.map(({ collection, id }) => ({ collection, id })),
    cursor: String(cursor),
    more: true,
  });
  if (changes.length) {
    let batches: Change[][] | undefined;
    while (!batches) {
      try {
        batches = splitChanges(changes, maxBytes, envelope);
      } catch (e) {
        const i = isSyncError(e, 'SYNC_ERR_CHANGE_TOO_LARGE') ? (e.details.index as number) : -1;
        if (i < 0 || i >= changes.length) throw e;
        // Cannot fit in any message (the store refuses such objects now; an older file may hold one).
        onSkip?.(changes[i], e as Error);
        changes.splice(i, 1);
        changeSeq.splice(i, 1);
        if (changes.length === 0) batches = [[]];
      }
    }
    if (batches.length > 1 && batches[0].length < changes.length) {
      // Only the first batch fits: the page ends just before the first change left out.
      pageChanges = batches[0];
      cursor = changeSeq[pageChanges.length] - 1;
    }
  }
  const evictInPage = evict.filter((e) => e.seq <= cursor).map(({ collection, id }) => ({ collection, id }));
  const viewInPage = view.filter((_, i) => viewSeq[i] <= cursor);
  return {
    message: {
      k: 'changes',
      since: String(acked),
      changes: pageChanges,
      evict: evictInPage,
      cursor: String(cursor),
      more: cursor < headSeq,
    },
    cursor,
    view: viewInPage,
    empty: pageChanges.length === 0 && evictInPage.length === 0,
  };
}
