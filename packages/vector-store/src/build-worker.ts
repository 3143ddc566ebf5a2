/**
 * Worker-thread entry of {@link buildInWorker}: builds one graph with its own hnswlib index and writes
 * it to the job's path, then reports `{ ok }` to the parent.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type BuildJob, buildInSlices } from './graph-builder.js';

const job = workerData as BuildJob;
buildInSlices(job).then(
  () => parentPort?.postMessage({ ok: true }),
  (e: unknown) => parentPort?.postMessage({ ok: false, error: e instanceof Error ? e.message : String(e) }),
);
