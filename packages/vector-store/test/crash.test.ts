import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { VectorIndex } from '@backroom/vector-store';
import { openSqliteDatabase, SqliteVectorSource } from '@backroom/vector-store/testing';

const WRITER = fileURLToPath(new URL('./fixtures/crash-writer.ts', import.meta.url));
const ITERATIONS = 20;

/** Runs the writer until SIGKILL at a random point; returns its acknowledged writes. */
async function runAndKill(dir: string): Promise<string[]> {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', WRITER, dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  let ready: () => void;
  const isReady = new Promise<void>((r) => {
    ready = r;
  });
  child.stdout.on('data', (b: Buffer) => {
    out += b.toString();
    if (out.startsWith('ready\n')) ready();
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  await Promise.race([isReady, exited]);
  await sleep(20 + Math.random() * 300);
  child.kill('SIGKILL');
  await exited;
  assert.ok(out.startsWith('ready\n'), `writer failed to start: ${out.slice(0, 200)}`);
  const lines = out.split('\n');
  lines.pop(); // a line the kill cut short was never acknowledged
  return lines.filter((l) => l.startsWith('ack ')).map((l) => l.slice(4));
}

test(`SIGKILL at random points ${ITERATIONS} times: reopening always agrees with the store`, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vector-crash-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  let acked = 0;
  const reopenedFrom = { snapshot: 0, rebuild: 0 };
  for (let i = 0; i < ITERATIONS; i++) {
    const acks = await runAndKill(dir);
    acked += acks.length;
    const db = openSqliteDatabase(join(dir, 'replica.db'));
    const source = new SqliteVectorSource({ database: db, collection: 'transactions', field: 'embedding' });
    try {
      const index = await VectorIndex.open({
        collection: 'transactions',
        field: 'embedding',
        dim: 8,
        metric: 'l2',
        source,
        dir: join(dir, 'vectors'),
        exactBelow: 0,
      });
      reopenedFrom[index.stats().openedFrom]++;
      const report = index.verify();
      assert.ok(report.ok, `iteration ${i}: ${JSON.stringify(report).slice(0, 500)}`);
      // No acknowledged write is lost: the store holds it or a later write of the same id (the kill may
      // land between a commit and its ack line), and where it is the latest, the index shows it.
      const last = new Map<string, { op: string; seq: number }>();
      for (const a of acks) {
        const [op, id, seq] = a.split(' ');
        last.set(id, { op, seq: Number(seq) });
      }
      const rowOf = db.prepare("SELECT seq, alive FROM objects WHERE collection = 'transactions' AND id = ?");
      for (const [id, { op, seq }] of last) {
        const row = rowOf.get(id) as { seq: number; alive: number } | undefined;
        const superseded = row !== undefined && row.seq > seq;
        if (op === 'put') assert.ok(row && row.seq >= seq, `iteration ${i}: put ${id} at ${seq} lost`);
        else assert.ok(!row || row.alive === 0 || superseded, `iteration ${i}: delete ${id} at ${seq} lost`);
        if (!superseded)
          assert.equal(index.has(id), op === 'put', `iteration ${i}: index disagrees on ${id}`);
      }
      if (i % 2 === 0) await index.close(); // half the time the next run starts from this snapshot
    } finally {
      source.close();
      db.close();
    }
  }
  t.diagnostic(`acknowledged writes: ${acked}; reopened ${JSON.stringify(reopenedFrom)}`);
  assert.ok(acked > ITERATIONS, 'the writer got work done between kills');
});
