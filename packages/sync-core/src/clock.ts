import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SyncError } from './errors.js';
import type { Stamp } from './types.js';

/** Largest physical time a stamp can carry: 48 bits of milliseconds (year 10889). */
export const MAX_STAMP_MS = 2 ** 48 - 1;
const MAX_COUNTER = 0xffff;

/** Packs 48-bit milliseconds and a 16-bit counter into a stamp. Sort order of stamps = clock order. */
export function packStamp(ms: number, counter: number): Stamp {
  return (BigInt(ms) << 16n) | BigInt(counter);
}

/** Splits a stamp into its milliseconds and counter. */
export function unpackStamp(s: Stamp): { ms: number; counter: number } {
  return { ms: Number(s >> 16n), counter: Number(s & 0xffffn) };
}

/** Fixed-width (16 hex digits) form of a stamp; string order equals stamp order. Used in SQLite and ids. */
export function stampToString(s: Stamp): string {
  return s.toString(16).padStart(16, '0');
}

/** Inverse of {@link stampToString}. */
export function stampFromString(hex: string): Stamp {
  return BigInt(`0x${hex}`);
}

/** Where physical time comes from. Tests substitute their own; production uses the defaults. */
export interface TimeSource {
  /** Wall-clock milliseconds (Date.now()). */
  wall(): number;
  /**
   * Monotonic milliseconds: never jumps when an operator changes the wall clock. The system's is
   * CLOCK_MONOTONIC (time since boot, suspend excluded), the same in every process of one boot.
   */
  monotonic(): number;
  /**
   * Names the monotonic clock's epoch: the same value for as long as {@link monotonic} readings are
   * comparable (the system's: the kernel's boot id). A source without it counts as one epoch forever.
   */
  bootId?(): string;
}

let systemBootId: string | undefined;

/** The kernel's boot id; where there is none (not Linux), one per process: readings never cross processes. */
function readBootId(): string {
  if (systemBootId === undefined) {
    try {
      systemBootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
    } catch {
      // not Linux, or /proc not mounted
    }
    systemBootId ??= `process-${randomUUID()}`;
  }
  return systemBootId;
}

export const systemTime: TimeSource = {
  wall: () => Date.now(),
  // process.hrtime is CLOCK_MONOTONIC: unlike performance.now() it does not restart with the process.
  monotonic: () => Number(process.hrtime.bigint() / 1000n) / 1000,
  bootId: readBootId,
};

/**
 * How the wall clock stands against the monotonic clock at one moment. It stays the same (to within a
 * millisecond) until the wall clock is stepped (an operator, an NTP step), the machine is suspended, or it
 * reboots: so two equal time bases tell that no such jump happened in between.
 */
export interface TimeBase {
  /** {@link TimeSource.bootId}, `''` when the source has none. */
  readonly boot: string;
  /** Wall-clock ms minus monotonic ms. */
  readonly wallMinusMono: number;
  /** The wall clock's reading (ms) at that moment. */
  readonly wall: number;
}

/** Options of a {@link SyncClock}. */
export interface SyncClockOptions {
  /** A remote stamp more than this far ahead of local physical time is rebased. Default 60 000 ms. */
  readonly maxSkewMs?: number;
  readonly time?: TimeSource;
  /** The highest stamp this node ever issued or accepted (from persistent storage): the clock starts above it. */
  readonly highWater?: Stamp;
}

/** What {@link SyncClock.receive} decided about a remote stamp. */
export interface ReceiveResult {
  /** The stamp to store the change under: the remote stamp itself, or a fresh local stamp if rebased. */
  readonly stamp: Stamp;
  /** True when the remote stamp was too far in the future and was replaced. */
  readonly rebased: boolean;
}

/**
 * The Sync Clock: a hybrid logical clock (Kulkarni et al. 2014, "Logical Physical Clocks", fig. 5) with
 * 48-bit milliseconds and a 16-bit counter.
 *
 * Promises: every stamp from {@link now} is strictly greater than every stamp this clock issued or
 * accepted before, including before a restart when the caller persists {@link highWater} before a stamp
 * leaves the node and passes it back in `highWater`. A counter overflow rolls into the next millisecond
 * instead of wrapping. A remote stamp more than `maxSkewMs` ahead of local physical time never moves the
 * clock: {@link receive} hands back a fresh local stamp instead and reports it as rebased.
 *
 * Physical time is the wall clock until {@link adoptOffset} is called with the offset learned from the hub;
 * from then on it is the hub's time measured with the monotonic clock, so an operator changing a terminal's
 * wall clock while it is offline does not distort its stamps.
 *
 * @example
 * const clock = new SyncClock({ highWater: store.clockHighWater() });
 * const stamp = clock.now();
 */
export class SyncClock {
  readonly maxSkewMs: number;
  private readonly time: TimeSource;
  private l = 0; // milliseconds part of the last stamp
  private c = 0; // counter part of the last stamp
  /** When set: physical = anchorWall + (monotonic() - anchorMono). */
  private anchor: { wall: number; mono: number } | undefined;

  constructor(opts: SyncClockOptions = {}) {
    this.maxSkewMs = opts.maxSkewMs ?? 60_000;
    this.time = opts.time ?? systemTime;
    if (opts.highWater !== undefined) this.observe(opts.highWater);
  }

  /** Local physical time in ms: wall clock, or hub time measured monotonically once an offset is adopted. */
  physicalNow(): number {
    const a = this.anchor;
    return a ? Math.floor(a.wall + (this.time.monotonic() - a.mono)) : this.time.wall();
  }

  /**
   * Takes the hub's time offset (hub − local wall clock, ms, as estimated at connection) and from now on
   * measures physical time as hub time advanced by the monotonic clock.
   */
  adoptOffset(offsetMs: number): void {
    this.anchor = { wall: this.time.wall() + offsetMs, mono: this.time.monotonic() };
  }

  /** Offset currently applied to the wall clock (0 until {@link adoptOffset}). */
  offsetMs(): number {
    return this.anchor ? this.physicalNow() - this.time.wall() : 0;
  }

  /** True once {@link adoptOffset} was called: physical time is the hub's, not this node's wall clock. */
  hasHubTime(): boolean {
    return this.anchor !== undefined;
  }

  /** The wall clock against the monotonic clock now (see {@link TimeBase}). */
  timeBase(): TimeBase {
    const wall = this.time.wall();
    return { boot: this.time.bootId?.() ?? '', wallMinusMono: wall - this.time.monotonic(), wall };
  }

  /** Send rule: a stamp for a local event, strictly after every stamp seen so far. */
  now(): Stamp {
    const pt = this.physical();
    if (pt > this.l) {
      this.l = pt;
      this.c = 0;
    } else {
      this.tick();
    }
    return packStamp(this.l, this.c);
  }

  /**
   * Receive rule: merges a remote stamp into the clock. A stamp more than `maxSkewMs` ahead of local
   * physical time is not merged; the caller gets a fresh local stamp (`rebased: true`).
   */
  receive(remote: Stamp): ReceiveResult {
    const pt = this.physical();
    const lm = Number(remote >> 16n);
    const cm = Number(remote & 0xffffn);
    if (lm > pt + this.maxSkewMs) return { stamp: this.now(), rebased: true };
    const lOld = this.l;
    const l = Math.max(lOld, lm, pt);
    if (l === lOld && l === lm) this.c = Math.max(this.c, cm) + 1;
    else if (l === lOld) this.c += 1;
    else if (l === lm) this.c = cm + 1;
    else this.c = 0;
    this.l = l;
    if (this.c > MAX_COUNTER) this.rollOver();
    return { stamp: remote, rebased: false };
  }

  /**
   * Raises the clock to at least `s` without the skew check: for stamps this node itself persisted
   * (its own high-water mark at start-up).
   */
  observe(s: Stamp): void {
    const lm = Number(s >> 16n);
    const cm = Number(s & 0xffffn);
    if (lm > this.l || (lm === this.l && cm > this.c)) {
      this.l = lm;
      this.c = cm;
    }
  }

  /** True when a remote stamp would be rebased by {@link receive} right now. */
  isTooFarAhead(remote: Stamp): boolean {
    return Number(remote >> 16n) > this.physical() + this.maxSkewMs;
  }

  /** The last stamp issued or accepted: persist it before a newer stamp leaves the node. */
  highWater(): Stamp {
    return packStamp(this.l, this.c);
  }

  /**
   * Lowers the clock to `to` when it is above it. The one exception to "never backwards", and only safe
   * when no stamp above `to` ever left this node and none is kept anywhere any more: the replica store
   * calls it once it has moved a device's never-pushed stamps to the hub's time
   * (`ReplicaStore.adoptHubOffset`). Anything else keeps every stamp unique only by never calling it.
   */
  retract(to: Stamp): void {
    if (to >= this.highWater()) return;
    const { ms, counter } = unpackStamp(to);
    this.l = ms;
    this.c = counter;
  }

  private physical(): number {
    const pt = this.physicalNow();
    if (!Number.isFinite(pt) || pt < 0 || pt > MAX_STAMP_MS) {
      throw new SyncError('SYNC_ERR_CLOCK', 'physical time is outside the 48-bit millisecond range', { pt });
    }
    return pt;
  }

  private tick(): void {
    this.c += 1;
    if (this.c > MAX_COUNTER) this.rollOver();
  }

  /** 65,536 stamps in one millisecond: borrow the next millisecond rather than wrap the counter. */
  private rollOver(): void {
    if (this.l >= MAX_STAMP_MS)
      throw new SyncError('SYNC_ERR_CLOCK', 'stamp space exhausted', { ms: this.l });
    this.l += 1;
    this.c = 0;
  }
}
