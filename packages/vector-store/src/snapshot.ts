/**
 * Snapshot files of one index, in its own folder:
 *
 * - `<name>.<gen>.graph`: the graph in hnswlib's format, never modified once named.
 * - `<name>.meta`: `<crc32 hex>\n<JSON>` naming the graph file with its size and CRC-32, the store
 *   sequence the snapshot covers, the options it was built with, the search ef, and the labels' ids.
 *
 * Commit protocol: graph written to a `.tmp`, fsynced, renamed to its generation name; then the meta
 * written to a `.tmp`, fsynced, renamed over the old meta, and the folder fsynced. The meta rename is the
 * commit point: a crash before it leaves the old snapshot in force, a crash after it the new one. Old
 * generations and stray `.tmp` files are removed after a commit and at open.
 */
import { constants as fsc } from 'node:fs';
import { open, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { VectorStoreError } from './errors.js';
import type { GraphParams } from './hnsw-graph.js';

const FORMAT = 1;

/** The meta document of a snapshot. */
export interface SnapshotMeta {
  format: number;
  gen: number;
  /** Every store change with a sequence ≤ seq is in the snapshot; later ones are replayed. */
  seq: number;
  params: GraphParams;
  /** The default search ef (hnswlib does not save it). */
  ef: number;
  graphFile: string;
  graphBytes: number;
  graphCrc: number;
  /** Object id per label, null for free slots. */
  ids: (string | null)[];
}

/** A graph file that is written, fsynced and named, but not yet committed by a meta. */
export interface GraphFileInfo {
  graphFile: string;
  graphBytes: number;
  graphCrc: number;
}

const corrupt = (reason: string, details: Record<string, unknown> = {}, cause?: unknown) =>
  new VectorStoreError('VEC_ERR_SNAPSHOT_CORRUPT', reason, { reason, ...details }, cause);

/** File names of one index's snapshot in `dir`. */
export class SnapshotFiles {
  readonly dir: string;
  readonly name: string;

  constructor(dir: string, name: string) {
    this.dir = dir;
    this.name = name;
  }

  get metaPath(): string {
    return join(this.dir, `${this.name}.meta`);
  }

  graphName(gen: number): string {
    return `${this.name}.${gen}.graph`;
  }

  /** A fresh temporary path in the folder (same filesystem, so rename is atomic). */
  tmpPath(tag: string): string {
    return join(this.dir, `${this.name}.${tag}.${process.pid}.${Date.now()}.tmp`);
  }

  /**
   * Fsyncs a graph file just written at `tmp` and renames it to generation `gen`, computing its CRC-32
   * from the bytes on disk (so a short write is caught here, not at the next open).
   */
  async sealGraph(tmp: string, gen: number): Promise<GraphFileInfo> {
    const fh = await open(tmp, fsc.O_RDWR);
    let crc = 0;
    let bytes = 0;
    try {
      await fh.sync();
      const chunk = Buffer.allocUnsafe(8 << 20);
      for (;;) {
        const { bytesRead } = await fh.read(chunk, 0, chunk.length, bytes);
        if (bytesRead === 0) break;
        crc = crc32(chunk.subarray(0, bytesRead), crc);
        bytes += bytesRead;
      }
    } finally {
      await fh.close();
    }
    const graphFile = this.graphName(gen);
    await rename(tmp, join(this.dir, graphFile));
    return { graphFile, graphBytes: bytes, graphCrc: crc };
  }

  /** Commits `meta` (whose graph file is sealed) atomically, then removes older generations. */
  async commit(meta: SnapshotMeta): Promise<void> {
    const json = JSON.stringify(meta);
    const body = `${crc32(json).toString(16).padStart(8, '0')}\n${json}`;
    const tmp = this.tmpPath('meta');
    await writeFile(tmp, body);
    const fh = await open(tmp, fsc.O_RDWR);
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.metaPath);
    await this.syncDir();
    await this.removeStale(meta.graphFile);
  }

  /**
   * Reads and checks the committed meta and its graph file's size and CRC-32 (streamed in chunks: the
   * graph is not held in memory). Throws VEC_ERR_SNAPSHOT_CORRUPT for a missing, truncated or altered
   * file; returns null when there is no snapshot at all.
   */
  async load(): Promise<{ meta: SnapshotMeta; graphPath: string } | null> {
    let text: string;
    try {
      text = await readFile(this.metaPath, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw corrupt('meta unreadable', {}, e);
    }
    const nl = text.indexOf('\n');
    const json = nl < 0 ? '' : text.slice(nl + 1);
    if (nl !== 8 || Number.parseInt(text.slice(0, 8), 16) !== crc32(json)) throw corrupt('meta checksum');
    let meta: SnapshotMeta;
    try {
      meta = JSON.parse(json);
    } catch (e) {
      throw corrupt('meta not JSON', {}, e);
    }
    if (meta.format !== FORMAT) throw corrupt('meta format', { format: meta.format });
    const graphPath = join(this.dir, meta.graphFile);
    let bytes = 0;
    let crc = 0;
    try {
      const fh = await open(graphPath, 'r');
      try {
        const chunk = Buffer.allocUnsafe(8 << 20);
        for (;;) {
          const { bytesRead } = await fh.read(chunk, 0, chunk.length, bytes);
          if (bytesRead === 0) break;
          crc = crc32(chunk.subarray(0, bytesRead), crc);
          bytes += bytesRead;
        }
      } finally {
        await fh.close();
      }
    } catch (e) {
      throw corrupt('graph file unreadable', { graphFile: meta.graphFile }, e);
    }
    if (bytes !== meta.graphBytes) {
      throw corrupt('graph file size', { expected: meta.graphBytes, actual: bytes });
    }
    if (crc !== meta.graphCrc) throw corrupt('graph file checksum');
    return { meta, graphPath };
  }

  /** Removes the snapshot entirely (after it was found corrupt, before a rebuild). */
  async discard(): Promise<void> {
    await unlink(this.metaPath).catch(() => {});
    await this.removeStale(null);
  }

  /** Deletes this index's `.tmp` files and every graph generation except `keep`. */
  async removeStale(keep: string | null): Promise<void> {
    const prefix = `${this.name}.`;
    for (const f of await readdir(this.dir)) {
      if (!f.startsWith(prefix) || f === keep) continue;
      const rest = f.slice(prefix.length);
      // Only our own kinds of file: `<gen>.graph` and `*.tmp`; `<name>.meta` stays.
      if (/^\d+\.graph$/.test(rest) || rest.endsWith('.tmp')) await unlink(join(this.dir, f)).catch(() => {});
    }
  }

  private async syncDir(): Promise<void> {
    // Makes the renames durable. Not supported on every platform (Windows): best effort there.
    try {
      const fh = await open(this.dir, fsc.O_RDONLY);
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    } catch {}
  }
}
