/**
 * `@backroom/vector-store/testing`: a `VectorSource` over float32 blob tables with a writer for them, and
 * seeded synthetic data, for tests and benchmarks of code built on a `VectorSource`.
 */
export { ReplicaWriter } from './replica-writer.js';
export type { SqliteDatabase, SqliteVectorSourceOptions } from './sqlite-vector-source.js';
export { openSqliteDatabase, SqliteVectorSource } from './sqlite-vector-source.js';
export type { ClusteredOptions } from './synthetic.js';
export { clusteredVectors, recall, seededRandom, transactionDoc } from './synthetic.js';
