/**
 * Reads hnswlib's index file format (hnswlib 0.8 `saveIndex`, as bundled by hnswlib-node 3) without
 * hnswlib: to check a snapshot's structure before handing it to native code (which trusts every byte),
 * and to read each slot's label, deleted mark and vector so an exact-search copy is restored from the
 * same bytes the graph is.
 */

import { type FileHandle, open } from 'node:fs/promises';

/** hnswlib's fixed header: 11 size_t/int fields and a double, 96 bytes, little-endian. */
const HEADER_BYTES = 96;
/** hnswlib marks a deleted slot with bit 0 of the third byte of its level-0 link list header. */
const DELETE_MARK = 0x01;

/** What a graph file holds, slot by slot (its vectors are passed to a callback while reading). */
export interface GraphFileSlots {
  /** Slots written (deleted ones included). */
  slots: number;
  /** Slot capacity the file was saved with. */
  capacity: number;
  m: number;
  efConstruction: number;
  /** Label of each slot. */
  labels: Uint32Array;
  /** 1 where the slot is marked deleted. */
  deleted: Uint8Array;
}

/**
 * Sequential reads of a file through one fixed buffer: `take(n)` returns the next `n` bytes (a view that
 * stays valid until the next call), so a whole graph file is never held in memory at once.
 */
class ChunkReader {
  private buf: Buffer;
  private start = 0;
  private end = 0;
  private filePos = 0;

  constructor(
    private readonly fh: FileHandle,
    chunk: number,
  ) {
    this.buf = Buffer.allocUnsafe(chunk);
  }

  /** The next `n` bytes, or null at end of file before `n` bytes. */
  async take(n: number): Promise<Buffer | null> {
    if (this.end - this.start < n) {
      if (n > this.buf.length) {
        const grown = Buffer.allocUnsafe(n);
        this.buf.copy(grown, 0, this.start, this.end);
        this.buf = grown;
      } else this.buf.copy(this.buf, 0, this.start, this.end);
      this.end -= this.start;
      this.start = 0;
      while (this.end < n) {
        const { bytesRead } = await this.fh.read(
          this.buf,
          this.end,
          this.buf.length - this.end,
          this.filePos,
        );
        if (bytesRead === 0) return null;
        this.end += bytesRead;
        this.filePos += bytesRead;
      }
    }
    const out = this.buf.subarray(this.start, this.start + n);
    this.start += n;
    return out;
  }

  /** Skips `n` bytes; false at end of file before them. */
  async skip(n: number): Promise<boolean> {
    let left = n;
    while (left > 0) {
      const step = Math.min(left, this.buf.length);
      if ((await this.take(step)) === null) return false;
      left -= step;
    }
    return true;
  }

  /** Whether the whole file was consumed. */
  async atEnd(): Promise<boolean> {
    return this.end === this.start && (await this.take(1)) === null;
  }
}

/**
 * Parses and checks a whole graph file (header layout, every link-list size, labels, deleted marks),
 * reading it in 8 MiB chunks rather than as one Buffer (about 70 MB at 100k × 128, held while the graph
 * loads). `onVector(slot, floats)` receives each slot's `dim` floats (a view valid during the call).
 * Returns a reason string when the bytes are not a well-formed graph of this `dim`.
 */
export async function scanGraphFile(
  path: string,
  dim: number,
  onVector?: (slot: number, floats: Float32Array) => void,
): Promise<GraphFileSlots | string> {
  const fh = await open(path, 'r');
  try {
    const r = new ChunkReader(fh, 8 << 20);
    const head = await r.take(HEADER_BYTES);
    if (!head) return 'graph file shorter than its header';
    const u64 = (at: number): number => {
      const v = head.readBigUInt64LE(at);
      return v > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(v);
    };
    const offsetLevel0 = u64(0);
    const capacity = u64(8);
    const slots = u64(16);
    const sizePerElement = u64(24);
    const labelOffset = u64(32);
    const offsetData = u64(40);
    const maxM0 = u64(64);
    const m = u64(72);
    const efConstruction = u64(88);
    const linksLevel0 = maxM0 * 4 + 4;
    if (
      offsetLevel0 !== 0 ||
      slots < 0 ||
      capacity < slots ||
      maxM0 !== m * 2 ||
      offsetData !== linksLevel0 ||
      labelOffset !== linksLevel0 + dim * 4 ||
      sizePerElement !== labelOffset + 8
    ) {
      return 'graph file header does not match the index layout';
    }
    const labels = new Uint32Array(slots);
    const deleted = new Uint8Array(slots);
    const floats = new Float32Array(dim);
    const floatBytes = new Uint8Array(floats.buffer);
    for (let i = 0; i < slots; i++) {
      const el = await r.take(sizePerElement);
      if (!el) return 'graph file truncated in level 0';
      const label = el.readBigUInt64LE(labelOffset);
      if (label > 0xffffffffn) return 'graph file has a label out of range';
      labels[i] = Number(label);
      deleted[i] = el[2] & DELETE_MARK;
      if (onVector) {
        floatBytes.set(el.subarray(offsetData, offsetData + dim * 4));
        onVector(i, floats);
      }
    }
    const perLevel = (m * 4 + 4) >>> 0;
    for (let i = 0; i < slots; i++) {
      const sizeBytes = await r.take(4);
      if (!sizeBytes) return 'graph file truncated in upper levels';
      const size = sizeBytes.readUInt32LE(0);
      if (size % perLevel !== 0) return 'graph file has a malformed link list';
      if (!(await r.skip(size))) return 'graph file has trailing or missing bytes';
    }
    if (!(await r.atEnd())) return 'graph file has trailing or missing bytes';
    return { slots, capacity, m, efConstruction, labels, deleted };
  } finally {
    await fh.close();
  }
}
