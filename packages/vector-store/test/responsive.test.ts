import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clusteredVectors } from '@backroom/vector-store/testing';
import { fill, fixture, row } from './helpers.js';

const DIM = 32;
const N = 8000;

for (const build of ['worker', 'slices'] as const) {
  test(`a bulk build (${build}) leaves the event loop answering`, async (t) => {
    const f = fixture(t);
    const vectors = clusteredVectors({ count: N, dim: DIM, seed: 12 });
    fill(f.writer, vectors, DIM, N);
    // A stand-in for MQTT keep-alives and HTTP requests: a timer that must keep firing during the build.
    let ticks = 0;
    const timer = setInterval(() => ticks++, 2);
    t.after(() => clearInterval(timer));
    let done = false;
    const opening = f.open({ dim: DIM, build, exactBelow: 0 }).finally(() => {
      done = true;
    });
    const ticksWhileBuilding = await new Promise<number>((resolve) => {
      const check = setInterval(() => {
        if (done || ticks >= 20) {
          clearInterval(check);
          resolve(done ? -1 : ticks);
        }
      }, 2);
    });
    const index = await opening;
    assert.ok(ticksWhileBuilding >= 20, 'timers fired while the graph was being built');
    assert.equal(index.search(row(vectors, DIM, 123), 1)[0].id, 't123');
  });
}
