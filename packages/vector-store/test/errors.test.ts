import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSyncError } from '@backroom/sync-core';
import {
  isVectorStoreError,
  VectorStore,
  VectorStoreError,
  VectorStoreErrorCodes,
} from '@backroom/vector-store';
import { assertCatalogueDocumented } from '../../../test/helpers/error-docs.js';
import { fixture } from './helpers.js';

test('every VEC_ERR code is documented in docs/errors.md, section "vector-store", with its HTTP status', () => {
  assertCatalogueDocumented('vector-store', VectorStoreErrorCodes);
});

test('bad vectors, options and lookups fail with stable codes', async (t) => {
  const f = fixture(t);
  f.writer.put('transactions', 'a', { storeId: 's1' }, { embedding: [1, 2, 3] });
  const index = await f.open({ dim: 3 });
  const code = (c: string) => (e: unknown) => isVectorStoreError(e) && e.code === c;
  assert.throws(() => index.search([1, 2], 1), code('VEC_ERR_DIM_MISMATCH'));
  assert.throws(() => index.search([1, Number.NaN, 3], 1), code('VEC_ERR_INVALID_VECTOR'));
  assert.throws(() => index.search([1, Number.POSITIVE_INFINITY, 3], 1), code('VEC_ERR_INVALID_VECTOR'));
  assert.throws(() => index.search([0, 0, 0], 1), code('VEC_ERR_INVALID_VECTOR')); // no cosine direction
  assert.throws(() => index.search([1, 2, 3], 0), code('VEC_ERR_INVALID_OPTION'));
  assert.throws(
    () => index.search([1, 2, 3], 1, { filter: 'storeId ==' }),
    (e) => isSyncError(e, 'SYNC_ERR_FILTER_SYNTAX'),
  );
  await assert.rejects(
    f.open({ dim: 3, metric: 'hamming' as 'l2', dir: `${f.dir}/x` }),
    code('VEC_ERR_UNKNOWN_METRIC'),
  );
  await assert.rejects(f.open({ dim: 0, dir: `${f.dir}/y` }), code('VEC_ERR_INVALID_OPTION'));

  const store = new VectorStore({ dir: `${f.dir}/store` });
  t.after(() => store.close());
  assert.throws(() => store.search('transactions', 'nope', [1, 2, 3], 1), code('VEC_ERR_NO_INDEX'));
  await store.open({ collection: 'transactions', field: 'embedding', dim: 3, metric: 'cosine' }, f.source);
  assert.equal(store.search('transactions', 'embedding', [1, 2, 3], 1)[0].id, 'a');

  await index.close();
  assert.throws(
    () => index.search([1, 2, 3], 1),
    (e) => e instanceof VectorStoreError && e.code === 'VEC_ERR_CLOSED' && e.statusCode === 503,
  );
});

test('a stored vector the index cannot use is left out and logged, not thrown at searchers', async (t) => {
  const f = fixture(t);
  const warnings: unknown[] = [];
  const logger = { info() {}, warn: (o: object) => warnings.push(o), error() {} };
  f.writer.put('transactions', 'good', {}, { embedding: [1, 0, 0] });
  f.writer.put('transactions', 'short', {}, { embedding: [1, 0] });
  f.writer.put('transactions', 'nan', {}, { embedding: [Number.NaN, 0, 0] });
  const index = await f.open({ dim: 3, logger });
  assert.deepEqual(
    index.search([1, 0, 0], 5).map((h) => h.id),
    ['good'],
  );
  assert.ok(warnings.length >= 2);
});
