import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { clusteredVectors } from '@backroom/vector-store/testing';
import { COLLECTION, FIELD, fill, fixture, row } from './helpers.js';

const DIM = 16;
const N = 3000;

async function snapshotted(t: Parameters<typeof fixture>[0]) {
  const f = fixture(t);
  const vectors = clusteredVectors({ count: N + 10, dim: DIM, seed: 3 });
  fill(f.writer, vectors, DIM, N);
  const first = await f.open({ dim: DIM, exactBelow: 0 });
  assert.equal(first.stats().openedFrom, 'rebuild');
  first.setEf(37);
  await first.close();
  const vdir = join(f.dir, 'vectors');
  const graph = readdirSync(vdir).find((n) => n.endsWith('.graph'))!;
  return {
    f,
    vectors,
    vdir,
    graphPath: join(vdir, graph),
    metaPath: join(vdir, `${COLLECTION}.${FIELD}.meta`),
  };
}

test('reopen loads the snapshot, restores ef, and replays only the changes after it', async (t) => {
  const { f, vectors } = await snapshotted(t);
  // Changes after the snapshot: an update, a delete, an insert.
  f.writer.put(COLLECTION, 't1', {}, { [FIELD]: row(vectors, DIM, N) });
  f.writer.delete(COLLECTION, 't2');
  f.writer.put(COLLECTION, 'new', {}, { [FIELD]: row(vectors, DIM, N + 1) });
  const index = await f.open({ dim: DIM, exactBelow: 0 });
  const s = index.stats();
  assert.equal(s.openedFrom, 'snapshot');
  assert.equal(s.ef, 37, 'ef comes back from the snapshot, not hnswlib');
  assert.equal(s.size, N);
  assert.equal(index.search(row(vectors, DIM, N), 1)[0].id, 't1');
  assert.equal(index.search(row(vectors, DIM, N + 1), 1)[0].id, 'new');
  assert.ok(!index.search(row(vectors, DIM, 2), 10).some((h) => h.id === 't2'));
  assert.ok(index.verify().ok);
});

test('a truncated graph file is detected and the index rebuilt from the store', async (t) => {
  const { f, vectors, graphPath } = await snapshotted(t);
  truncateSync(graphPath, Math.floor(statSync(graphPath).size / 2));
  const index = await f.open({ dim: DIM });
  assert.equal(index.stats().openedFrom, 'rebuild');
  assert.match(index.stats().rebuildReason!, /VEC_ERR_SNAPSHOT_CORRUPT/);
  assert.equal(index.search(row(vectors, DIM, 5), 1)[0].id, 't5');
  assert.ok(index.verify().ok);
});

test('a corrupted byte in the graph, or a damaged meta, is detected by checksum and rebuilt', async (t) => {
  const { f, graphPath, metaPath } = await snapshotted(t);
  const bytes = readFileSync(graphPath);
  bytes[Math.floor(bytes.length / 3)] ^= 0x5a; // a flipped byte in the middle of the link lists
  writeFileSync(graphPath, bytes);
  const index = await f.open({ dim: DIM, dir: join(f.dir, 'vectors') });
  assert.equal(index.stats().openedFrom, 'rebuild');
  assert.match(index.stats().rebuildReason!, /checksum/);
  assert.ok(index.verify().ok);
  await index.close();

  const meta = readFileSync(metaPath, 'utf8');
  writeFileSync(metaPath, meta.replace('"seq":', '"seq":1'));
  const again = await f.open({ dim: DIM });
  assert.equal(again.stats().openedFrom, 'rebuild');
  assert.match(again.stats().rebuildReason!, /meta checksum/);
  assert.ok(again.verify().ok);
});

test('a snapshot built with other options, or older than the pruned deletes, is rebuilt', async (t) => {
  const { f } = await snapshotted(t);
  const other = await f.open({ dim: DIM, m: 8 });
  assert.equal(other.stats().openedFrom, 'rebuild');
  assert.equal(other.stats().rebuildReason, 'index options changed');
  await other.close();

  const seq = f.writer.delete(COLLECTION, 't9');
  f.writer.pruneTombstones(COLLECTION, FIELD, seq);
  const pruned = await f.open({ dim: DIM, m: 8 });
  assert.equal(pruned.stats().openedFrom, 'rebuild');
  assert.match(pruned.stats().rebuildReason!, /VEC_ERR_CHANGES_PRUNED/);
  assert.equal(pruned.has('t9'), false);
  assert.ok(pruned.verify().ok);
});

test('snapshot leaves one graph generation and no temporary files behind', async (t) => {
  const { f, vdir } = await snapshotted(t);
  const index = await f.open({ dim: DIM });
  for (let i = 0; i < 3; i++) {
    f.writer.delete(COLLECTION, `t${i}`);
    index.refresh();
    await index.snapshot();
  }
  const files = readdirSync(vdir).sort();
  assert.equal(files.filter((n) => n.endsWith('.graph')).length, 1);
  assert.equal(files.filter((n) => n.endsWith('.tmp')).length, 0);
  assert.equal(index.stats().snapshotSeq, index.stats().appliedSeq);
});

test('a small index reopened from its snapshot searches exactly from the graph file bytes', async (t) => {
  const f = fixture(t);
  const vectors = clusteredVectors({ count: 1010, dim: DIM, seed: 4 });
  fill(f.writer, vectors, DIM, 1000);
  // At most exactBelow vectors: searched exactly, from the copy the index keeps while small.
  const first = await f.open({ dim: DIM });
  const want = [0, 3, 500, 999].map((q) => first.search(row(vectors, DIM, 1000 + (q % 10)), 5));
  await first.close();
  const again = await f.open({ dim: DIM });
  assert.equal(again.stats().openedFrom, 'snapshot');
  assert.equal(again.stats().lastPath, 'empty');
  const got = [0, 3, 500, 999].map((q) => again.search(row(vectors, DIM, 1000 + (q % 10)), 5));
  assert.equal(again.stats().lastPath, 'exact');
  assert.deepEqual(
    got.map((hits) => hits.map((h) => h.id)),
    want.map((hits) => hits.map((h) => h.id)),
  );
  for (let i = 0; i < got.length; i++) {
    for (let j = 0; j < 5; j++) assert.ok(Math.abs(got[i][j].distance - want[i][j].distance) < 1e-6);
  }
  assert.ok(again.verify().ok);
});
