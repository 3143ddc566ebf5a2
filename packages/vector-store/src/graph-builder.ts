/**
 * Builds a graph file from vectors off the main thread: in a worker thread holding its own hnswlib
 * index (the default), or in slices on the main thread that yield to the event loop between them.
 * Either way MQTT and HTTP keep answering while 100k vectors are indexed.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { VectorStoreError } from './errors.js';
import { type GraphParams, HnswGraph } from './hnsw-graph.js';

/** A build job: vectors for labels 0..count-1, `dim` floats each. */
export interface BuildJob {
  params: GraphParams;
  /** Slot capacity of the new graph (≥ count, with room to grow). */
  capacity: number;
  count: number;
  vectors: Float32Array;
  /** Where the worker writes the graph file (hnswlib format). */
  path: string;
}

/** Builds the graph of `job` and writes it to `job.path`, in this thread; yields every ~8 ms. */
export async function buildInSlices(job: BuildJob): Promise<void> {
  const g = HnswGraph.create(job.params, job.capacity);
  const dim = job.params.dim;
  let sliceStart = performance.now();
  for (let i = 0; i < job.count; i++) {
    g.add(Array.from(job.vectors.subarray(i * dim, (i + 1) * dim)), i);
    if (performance.now() - sliceStart > 8) {
      await yieldToLoop();
      sliceStart = performance.now();
    }
  }
  g.write(job.path);
}

const fromSource = import.meta.url.endsWith('.ts');
const workerUrl = new URL(fromSource ? './build-worker.ts' : './build-worker.js', import.meta.url);

/**
 * The compiled package starts the worker file directly. Run from TypeScript sources (tests, benches),
 * Node 20 does not carry tsx's loader hooks into worker threads, so a tiny bootstrap registers tsx first.
 */
function startWorker(workerData: BuildJob): Worker {
  if (!fromSource) return new Worker(workerUrl, { workerData });
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((t) => { t.register(); return import(${JSON.stringify(workerUrl.href)}); })`;
  return new Worker(boot, { eval: true, workerData });
}

/**
 * Builds the graph of `job` in a worker thread. The vectors are copied to it (the caller keeps using
 * its own). Rejects with VEC_ERR_BUILD_FAILED if the worker fails or exits early; `signal` terminates it.
 */
export function buildInWorker(job: BuildJob, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const worker = startWorker(job);
    let settled = false;
    const finish = (err?: unknown) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      if (err) reject(new VectorStoreError('VEC_ERR_BUILD_FAILED', 'graph build failed', {}, err));
      else resolve();
      void worker.terminate();
    };
    const onAbort = () => finish(new Error('build aborted'));
    signal?.addEventListener('abort', onAbort);
    worker.once('message', (m: { ok: boolean; error?: string }) =>
      finish(m.ok ? undefined : new Error(m.error)),
    );
    worker.once('error', finish);
    worker.once('exit', (code) => finish(new Error(`build worker exited with code ${code}`)));
  });
}
