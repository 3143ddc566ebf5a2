/**
 * Reads hnswlib's index file format (hnswlib 0.8 `saveIndex`, as bundled by hnswlib-node 3) without
 * hnswlib: to check a snapshot's structure before handing it to native code (which trusts every byte),
 * and to read each slot's label, deleted mark and vector so the exact-search copy is restored from the
 * same bytes the graph is.
 */

/** hnswlib's fixed header: 11 size_t/int fields and a double, 96 bytes, little-endian. */
const HEADER_BYTES = 96;
/** hnswlib marks a deleted slot with bit 0 of the third byte of its level-0 link list header. */
const DELETE_MARK = 0x01;

/** What a graph file holds, slot by slot. */
export interface GraphFileContents {
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
  /** Calls `fn(slot, data, offset)` with the slot's `dim` floats at `data[offset..]`. */
  forEachVector(fn: (slot: number, data: Float32Array, offset: number) => void): void;
}

/**
 * Parses and checks a whole graph file. Returns a reason string instead of throwing when the bytes are
 * not a well-formed graph of this `dim`: the caller then rebuilds.
 */
export function parseGraphFile(buf: Buffer, dim: number): GraphFileContents | string {
  if (buf.byteLength < HEADER_BYTES) return 'graph file shorter than its header';
  const u64 = (at: number): number => {
    const v = buf.readBigUInt64LE(at);
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
  const level0End = HEADER_BYTES + slots * sizePerElement;
  if (level0End > buf.byteLength) return 'graph file truncated in level 0';
  // Upper-level link lists: a 4-byte size then that many bytes, per slot; they must end exactly at EOF.
  const perLevel = (m * 4 + 4) >>> 0;
  let at = level0End;
  for (let i = 0; i < slots; i++) {
    if (at + 4 > buf.byteLength) return 'graph file truncated in upper levels';
    const size = buf.readUInt32LE(at);
    if (size % perLevel !== 0) return 'graph file has a malformed link list';
    at += 4 + size;
  }
  if (at !== buf.byteLength) return 'graph file has trailing or missing bytes';

  const labels = new Uint32Array(slots);
  const deleted = new Uint8Array(slots);
  for (let i = 0; i < slots; i++) {
    const base = HEADER_BYTES + i * sizePerElement;
    const label = buf.readBigUInt64LE(base + labelOffset);
    if (label > 0xffffffffn) return 'graph file has a label out of range';
    labels[i] = Number(label);
    deleted[i] = buf[base + 2] & DELETE_MARK;
  }
  return {
    slots,
    capacity,
    m,
    efConstruction,
    labels,
    deleted,
    forEachVector(fn) {
      if (sizePerElement % 4 !== 0) throw new Error('unaligned hnswlib element size');
      // A view when the Buffer is 4-aligned (a readFile Buffer is); else one aligned copy of level 0.
      const start = buf.byteOffset + HEADER_BYTES;
      let aligned: Float32Array;
      if (start % 4 === 0) aligned = new Float32Array(buf.buffer, start, (slots * sizePerElement) / 4);
      else {
        aligned = new Float32Array((slots * sizePerElement) / 4);
        new Uint8Array(aligned.buffer).set(buf.subarray(HEADER_BYTES, level0End));
      }
      const stride = sizePerElement / 4;
      const dataOff = offsetData / 4;
      for (let i = 0; i < slots; i++) fn(i, aligned, i * stride + dataOff);
    },
  };
}
