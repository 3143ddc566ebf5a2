/**
 * The hub's change feed, read once for every device: the most recent rows of the store's change sequence
 * stay in memory, each object's document is parsed once and its registers read once, whatever the number
 * of terminals that need them. A device far behind (reconnecting after a day) reads the store directly.
 */
import type { ChangeFeed, ObjectRegisters } from '@backroom/sync-core';

/** One object as of one position of the feed. */
export interface FeedRow {
  readonly seq: number;
  readonly collection: string;
  readonly id: string;
  readonly alive: boolean;
  /** `collection\u0000id`. */
  readonly key: string;
  /** Set when every register of the object was written by this one node (see `ChangedObject`). */
  readonly soleWriter: string | undefined;
  /** The fields the sync filters read (parsed once). */
  doc(): Readonly<Record<string, unknown>>;
  /** Every register of the object (read once); undefined when it is gone. */
  registers(): ObjectRegisters | undefined;
}

class Entry implements FeedRow {
  stale = false;
  readonly key: string;
  private parsed: Record<string, unknown> | undefined;
  private regs: ObjectRegisters | undefined | null = null;

  constructor(
    private readonly store: ChangeFeed,
    readonly seq: number,
    readonly collection: string,
    readonly id: string,
    readonly alive: boolean,
    private readonly text: string,
    readonly soleWriter: string | undefined,
  ) {
    this.key = `${collection}\u0000${id}`;
  }

  doc(): Readonly<Record<string, unknown>> {
    this.parsed ??= JSON.parse(this.text) as Record<string, unknown>;
    return this.parsed;
  }

  registers(): ObjectRegisters | undefined {
    if (this.regs === null) this.regs = this.store.registersOf(this.collection, this.id);
    return this.regs;
  }
}

/** Rows read from the store per refill. */
const READ_ROWS = 5000;

/** The change feed shared by every device's pager, cached in memory past the store's {@link ChangeFeed}. */
export class Feed {
  /** Cached rows in ascending seq; superseded ones are flagged stale and dropped on compaction. */
  private rows: Entry[] = [];
  private readonly byKey = new Map<string, Entry>();
  /** The cache holds every current row with from < seq <= to. */
  private from: number;
  private to: number;
  private staleCount = 0;

  /**
   * @param project per filtered collection, the fields its sync filters read: only those are fetched
   *   and parsed for filter checks.
   */
  constructor(
    private readonly store: ChangeFeed,
    private readonly project: Readonly<Record<string, readonly string[]>>,
    private readonly maxRows = 50_000,
  ) {
    this.from = this.to = store.currentSeq();
  }

  /** Current rows after `seq`, ascending, at most `limit`. */
  after(seq: number, limit: number): FeedRow[] {
    this.refill();
    if (seq < this.from) {
      return this.store
        .changedSince(seq, limit, this.project)
        .map((r) => new Entry(this.store, r.seq, r.collection, r.id, r.alive, r.doc, r.soleWriter));
    }
    let lo = 0;
    let hi = this.rows.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.rows[mid].seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    const out: FeedRow[] = [];
    for (let i = lo; i < this.rows.length && out.length < limit; i++)
      if (!this.rows[i].stale) out.push(this.rows[i]);
    return out;
  }

  /** Forgets everything (tombstones were collected: cached rows may be gone). */
  reset(): void {
    this.rows = [];
    this.byKey.clear();
    this.staleCount = 0;
    this.from = this.to = this.store.currentSeq();
  }

  private refill(): void {
    for (;;) {
      if (this.store.currentSeq() <= this.to) return;
      const fresh = this.store.changedSince(this.to, READ_ROWS, this.project);
      if (fresh.length === 0) {
        this.to = this.store.currentSeq();
        return;
      }
      for (const r of fresh) {
        const e = new Entry(this.store, r.seq, r.collection, r.id, r.alive, r.doc, r.soleWriter);
        const key = e.key;
        const old = this.byKey.get(key);
        if (old) {
          // The object moved on: its earlier row is no longer in the store's feed.
          old.stale = true;
          this.staleCount++;
        }
        this.rows.push(e);
        this.byKey.set(key, e);
        this.to = r.seq;
      }
      this.trim();
    }
  }

  private trim(): void {
    const live = this.rows.length - this.staleCount;
    if (live > this.maxRows) {
      const drop = live - this.maxRows;
      let dropped = 0;
      let i = 0;
      for (; i < this.rows.length && dropped < drop; i++) {
        const e = this.rows[i];
        if (e.stale) this.staleCount--;
        else {
          dropped++;
          this.byKey.delete(`${e.collection}\u0000${e.id}`);
        }
        this.from = e.seq;
      }
      this.rows = this.rows.slice(i);
    }
    if (this.staleCount > this.rows.length / 2) {
      this.rows = this.rows.filter((e) => !e.stale);
      this.staleCount = 0;
    }
  }
}
