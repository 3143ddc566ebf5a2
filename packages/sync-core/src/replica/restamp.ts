/**
 * Placing a terminal's offline writes at the hub's time before they are pushed (docs/sync-model.md,
 * "Clock skew").
 *
 * Until a terminal has met the hub, its Sync Clock runs on its own wall clock. A till whose wall clock is a
 * day ahead stamps its offline writes a day ahead; the hub would rebase them to when it receives them, after
 * writes other tills really made later. But the till knows better: at its next `hello` the hub measures the
 * offset (hub time − wall time), and while the wall clock has not jumped since the writes were made (wall
 * minus monotonic time unchanged, same boot), `stamp + offset` is when each was really made.
 *
 * What makes moving stamps safe (every rule below is checked here or in hub-offset.ts, which applies them):
 * - **Only stamps that never left the node.** A run of wall-clock stamps ({@link WallRun}) begins at a
 *   `floor`, the clock's high-water mark, so every stamp the node sent or received before is at or below it.
 *   Stamps only leave in pushes, which follow a `welcome`; the run is closed at every `welcome` (after the
 *   move) and whenever a remote change is applied. So every stamp of this node above the floor of an open
 *   run was made in the run and never left.
 * - **One translation.** Every stamp of the run moves by the same offset (counter kept), and only when its
 *   first stamp stays above the floor. The order among the node's own writes is kept, and so is their order
 *   against everything at or below the floor: no register changes its winner, no counter its value.
 * - **Unique increment ids.** An increment's id is `node/stamp`; a moved increment takes the id of its new
 *   stamp, in `counter_ops` and in the outbox alike, so ids stay unique after the clock is lowered.
 * - **The clock comes down too.** Its high-water mark becomes the highest moved stamp (or the floor): the
 *   old stamps exist nowhere any more, so the terminal stamps at hub time from then on instead of ticking
 *   a day ahead.
 * - **All or nothing.** Registers, increments, outbox and high-water mark change in one SQLite transaction.
 *
 * When the wall clock did jump (an operator changed it, the terminal was suspended or rebooted), the offset
 * tells nothing about when the writes were made: they keep their stamps and the hub rebases those too far
 * ahead on receipt, as for any device whose stamps already left.
 */
import { MAX_STAMP_MS, type SyncClock, stampToString, type TimeBase } from '../clock.js';
import type { ObjectState } from '../merge.js';
import type { Stamp } from '../types.js';
import type { StoredVersion } from '../version.js';

/** Time bases further apart than this count as a jump of the wall clock (suspend, reboot, clock set). */
export const RESTAMP_TOLERANCE_MS = 1000;
/**
 * Offsets smaller than this are left alone: the hub measures the offset one way (network delay included),
 * so moving stamps by less would not place them better.
 */
export const RESTAMP_MIN_OFFSET_MS = 1000;

/** A run of stamps this node issued from its own wall clock, none of which has left it. */
export interface WallRun {
  /** Boot id and wall − monotonic time when the run began. */
  readonly boot: string;
  readonly wallMinusMono: number;
  /** The clock's high-water mark before the run: every stamp sent or received earlier is at or below it. */
  readonly floor: Stamp;
  /** The run's first (lowest) stamp. */
  readonly first: Stamp;
}

/** Why {@link planRestamp} left the stamps alone. */
export type RestampSkip =
  /** No local write since the last `welcome` or remote change. */
  | 'nothing-unsent'
  /** The offset is below {@link RESTAMP_MIN_OFFSET_MS}. */
  | 'small-offset'
  /** The terminal rebooted since the writes: the monotonic clock restarted. */
  | 'rebooted'
  /** The wall clock jumped since the writes (set by hand, an NTP step, a suspend). */
  | 'clock-jumped'
  /**
   * Moved, the writes would fall at or below stamps that cannot move: stamps that left the node or came from
   * the hub, or its own writes from before a clock jump (or the move would leave the 48-bit range).
   */
  | 'below-kept-stamps';

/** What {@link planRestamp} decided. */
export type RestampPlan = { readonly shiftMs: number } | { readonly skipped: RestampSkip };

/** Outcome of `ReplicaStore.adoptHubOffset`. */
export interface RestampResult {
  /** Distinct stamps moved (0 when skipped). */
  readonly stamps: number;
  /** Objects whose registers or increments were moved. */
  readonly objects: number;
  /** How far they moved (ms; the hub offset), 0 when skipped. */
  readonly shiftMs: number;
  readonly skipped?: RestampSkip;
}

/** The part of a {@link TimeBase} that tells whether the wall clock jumped. */
type Base = Pick<TimeBase, 'boot' | 'wallMinusMono'>;

function sameBase(a: Base, b: Base): boolean {
  return a.boot === b.boot && Math.abs(a.wallMinusMono - b.wallMinusMono) <= RESTAMP_TOLERANCE_MS;
}

/**
 * Keeps track of the open {@link WallRun} of a device's replica: which of its stamps were made on its own
 * wall clock and never left it. The store issues every local stamp through {@link stamp}, reports every
 * remote change with {@link remoteSeen}, and persists {@link serialize} in each transaction.
 */
export class WallRuns {
  private run: WallRun | undefined;

  constructor(
    private readonly clock: SyncClock,
    persisted?: string,
  ) {
    this.run = parseRun(persisted);
  }

  /**
   * A stamp for a local write. Opens a new run when none is open or the wall clock jumped since the open
   * one began (the stamps before the jump then stay where they are). Stamps on hub time open none.
   */
  stamp(): Stamp {
    if (this.clock.hasHubTime()) {
      this.run = undefined;
      return this.clock.now();
    }
    const base = this.clock.timeBase();
    const open = this.run && sameBase(this.run, base) ? this.run : undefined;
    const floor = open ? open.floor : this.clock.highWater();
    const s = this.clock.now();
    this.run = open ?? { boot: base.boot, wallMinusMono: base.wallMinusMono, floor, first: s };
    return s;
  }

  /** A remote change was applied: later local writes must stay after it, so the open run ends here. */
  remoteSeen(): void {
    this.run = undefined;
  }

  /** The open run, if any. */
  current(): WallRun | undefined {
    return this.run;
  }

  /** Ends the open run and returns it. */
  close(): WallRun | undefined {
    const r = this.run;
    this.run = undefined;
    return r;
  }

  /** Puts a run back (a transaction that closed it rolled back). */
  restore(run: WallRun | undefined): void {
    this.run = run;
  }

  /** The open run as stored in the replica's `meta` table (`null` when none). */
  serialize(): string {
    const r = this.run;
    return r
      ? JSON.stringify({
          boot: r.boot,
          wallMinusMono: r.wallMinusMono,
          floor: stampToString(r.floor),
          first: stampToString(r.first),
        })
      : 'null';
  }
}

function parseRun(text: string | undefined): WallRun | undefined {
  if (!text) return undefined;
  try {
    const o = JSON.parse(text) as Record<string, unknown> | null;
    if (
      !o ||
      typeof o.boot !== 'string' ||
      typeof o.wallMinusMono !== 'number' ||
      typeof o.floor !== 'string' ||
      typeof o.first !== 'string' ||
      !/^[0-9a-f]{16}$/.test(o.floor) ||
      !/^[0-9a-f]{16}$/.test(o.first)
    ) {
      return undefined;
    }
    return {
      boot: o.boot,
      wallMinusMono: o.wallMinusMono,
      floor: BigInt(`0x${o.floor}`),
      first: BigInt(`0x${o.first}`),
    };
  } catch {
    // Unreadable: no run, so nothing is moved (the hub rebases as for any device).
    return undefined;
  }
}

/**
 * Decides whether the run's stamps can move by `offsetMs` (hub − wall time, measured at `hello`):
 * only when the wall clock kept its relation to the monotonic clock from the run's start to the `hello`
 * (`measuredAt`) and to now, the offset is worth it, and the moved stamps stay above the floor (and, the
 * run's `last` stamp moved, inside the 48-bit range).
 */
export function planRestamp(
  run: WallRun | undefined,
  offsetMs: number,
  last: Stamp,
  now: TimeBase,
  measuredAt: TimeBase = now,
): RestampPlan {
  if (!run) return { skipped: 'nothing-unsent' };
  if (run.boot !== now.boot || run.boot !== measuredAt.boot) return { skipped: 'rebooted' };
  if (!sameBase(run, now) || !sameBase(run, measuredAt)) return { skipped: 'clock-jumped' };
  const shiftMs = Math.round(offsetMs);
  if (!Number.isFinite(shiftMs) || Math.abs(shiftMs) < RESTAMP_MIN_OFFSET_MS) {
    return { skipped: 'small-offset' };
  }
  const shift = shiftStamp(shiftMs);
  if (run.first + shift <= run.floor || Number((last + shift) >> 16n) > MAX_STAMP_MS) {
    return { skipped: 'below-kept-stamps' };
  }
  return { shiftMs };
}

/** `shiftMs` milliseconds as a stamp difference (the counter is kept). */
export function shiftStamp(shiftMs: number): bigint {
  return BigInt(shiftMs) << 16n;
}

/**
 * Moves this node's versions above `floor` in one object's registers (fields, existence, stocktakes) by
 * `shift`. Returns whether anything moved. Values are untouched: the move keeps every register's winner.
 */
export function moveOwnVersions(state: ObjectState, node: string, move: (hex: string) => string | undefined) {
  let moved = false;
  const fix = (v: StoredVersion): StoredVersion => {
    if (v[2] !== node) return v;
    const to = move(v[1]);
    if (to === undefined) return v;
    moved = true;
    return [v[0], to, v[2]];
  };
  for (const f of Object.keys(state.vers)) state.vers[f] = fix(state.vers[f]);
  for (const f of Object.keys(state.bases)) {
    const b = state.bases[f];
    const v = fix([b[1], b[2], b[3]]);
    if (v[1] !== b[2]) state.bases[f] = [b[0], v[0], v[1], v[2]];
  }
  if (state.ever) state.ever = fix(state.ever);
  return moved;
}

/** A function moving stamp strings above `floor` by `shift` (see {@link moveOwnVersions}). */
export function stampMover(floor: Stamp, shiftMs: number): (hex: string) => string | undefined {
  const floorHex = stampToString(floor);
  const shift = shiftStamp(shiftMs);
  return (hex) => (hex > floorHex ? stampToString(BigInt(`0x${hex}`) + shift) : undefined);
}
