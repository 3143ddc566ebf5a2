/**
 * `@backroom/vector-store/testing`: a writer of the replica tables and seeded synthetic data, for tests
 * and benchmarks of code built on a `VectorSource`.
 */
export { ReplicaWriter } from './replica-writer.js';
export type { ClusteredOptions } from './synthetic.js';
export { clusteredVectors, gaussian, recall, seededRandom, transactionDoc } from './synthetic.js';
