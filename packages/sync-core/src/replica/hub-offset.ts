/**
 * Taking the hub's time at `welcome`: a terminal's writes made on its own wall clock that never left it are
 * moved to hub time, with the clock, in one transaction, before anything is pushed on the new connection.
 * restamp.ts holds the rules (which stamps may move, when, and why that is safe); this module applies them
 * to the replica's registers, increments and outbox.
 */
import { stampFromString, type TimeBase } from '../clock.js';
import { SyncError } from '../errors.js';
import type { Stamp } from '../types.js';
import type { ReplicaCore } from './core.js';
import type { OutboxQueue } from './outbox.js';
import { moveOwnVersions, planRestamp, type RestampResult, stampMover } from './restamp.js';

/** What the move reads and rewrites in the outbox. */
type OutboxEntries = Pick<OutboxQueue, 'pendingObjects' | 'renameIncrement'>;

/**
 * `RemoteMerger.adoptHubOffset`: moves the open wall run's stamps by `offsetMs` when restamp.ts's
 * `planRestamp` allows it, then sets the clock on hub time.
 * @throws SyncError `SYNC_ERR_PROTOCOL` inside a transaction (a rollback could not undo the clock).
 */
export function adoptHubOffset(
  core: ReplicaCore,
  outbox: OutboxEntries,
  offsetMs: number,
  opts: { measuredAt?: TimeBase } = {},
): RestampResult {
  core.assertOpen();
  if (core.inTransaction()) {
    throw new SyncError('SYNC_ERR_PROTOCOL', 'adoptHubOffset cannot run inside a transaction');
  }
  const clock = core.clock;
  const runs = core.wallRuns;
  const run = runs?.current();
  const highWater = clock.highWater();
  let result: RestampResult;
  try {
    result = core.transaction(() => {
      runs?.close();
      const plan = planRestamp(run, offsetMs, highWater, clock.timeBase(), opts.measuredAt);
      if (!run || 'skipped' in plan) {
        return { stamps: 0, objects: 0, shiftMs: 0, skipped: 'skipped' in plan ? plan.skipped : undefined };
      }
      return moveUnsentStamps(core, outbox, run.floor, plan.shiftMs);
    });
  } catch (e) {
    // Rolled back: the run is still open and the clock must not stay lowered.
    runs?.restore(run);
    clock.observe(highWater);
    throw e;
  }
  clock.adoptOffset(offsetMs);
  return result;
}

/** {@link adoptHubOffset}'s move, inside its transaction: this node's stamps above `floor` by `shiftMs`. */
function moveUnsentStamps(
  core: ReplicaCore,
  outbox: OutboxEntries,
  floor: Stamp,
  shiftMs: number,
): RestampResult {
  const node = core.nodeId;
  const move = stampMover(floor, shiftMs);
  const moved = new Set<string>();
  const tracked = (hex: string) => {
    const to = move(hex);
    if (to !== undefined) moved.add(to);
    return to;
  };
  let objects = 0;
  // Every write of the run is in the outbox: rows leave it only with a push, after a welcome.
  for (const o of outbox.pendingObjects()) {
    if (!Object.hasOwn(core.schema.collections, o.collection)) continue;
    const def = core.collection(o.collection);
    const state = core.load(def, o.id);
    if (!state.stored) continue;
    let changed = moveOwnVersions(state, node, tracked);
    if (def.counters.length) {
      const renamed = new Map<string, string>();
      for (const op of core.merge.list(def.name, o.id)) {
        if (op.ver[2] !== node) continue;
        const to = tracked(op.ver[1]);
        if (to === undefined) continue;
        // The increment never left: it takes the id of its new stamp, so ids stay unique below the old clock.
        const id = op.op === `${node}/${op.ver[1]}` ? `${node}/${to}` : op.op;
        core.merge.rename(def.name, o.id, op, id, [op.ver[0], to, op.ver[2]]);
        if (id !== op.op) renamed.set(op.op, id);
        changed = true;
      }
      for (const [from, to] of renamed) outbox.renameIncrement(def.name, o.id, from, to);
    }
    if (changed) {
      state.seq = core.nextSeq();
      core.markDirty(state, true);
      objects++;
    }
  }
  // The old stamps exist nowhere now: the clock goes on from the highest moved one (or the floor), down
  // for a clock that ran ahead, up for one that ran behind.
  let top = floor;
  for (const hex of moved) {
    const s = stampFromString(hex);
    if (s > top) top = s;
  }
  core.clock.observe(top);
  core.clock.retract(top);
  core.log?.info({ stamps: moved.size, objects, shiftMs }, 'offline writes placed at hub time');
  return { stamps: moved.size, objects, shiftMs };
}
