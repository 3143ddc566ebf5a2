/**
 * The error catalogue and its documentation stay in step: an integrator who meets a `SYNC_ERR_` code
 * finds it in docs/errors.md with the HTTP status it really carries, and the docs never name a code the
 * code cannot produce.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { SyncErrorCodes } from '@backroom/sync-core';
import { assertCatalogueDocumented } from '../../../test/helpers/error-docs.js';

test('every code of the sync-core catalogue is documented in docs/errors.md with its HTTP status', () => {
  assertCatalogueDocumented('sync-core', SyncErrorCodes);
});

test('every SYNC_ERR_ code the docs name exists in the catalogue', () => {
  for (const name of ['errors.md', 'sync-model.md']) {
    const text = readFileSync(new URL(`../../../docs/${name}`, import.meta.url), 'utf8');
    for (const code of new Set(text.match(/SYNC_ERR_[A-Z0-9_]+/g) ?? [])) {
      assert.ok(Object.hasOwn(SyncErrorCodes, code), `docs/${name} names ${code}, which is not in errors.ts`);
    }
  }
});
