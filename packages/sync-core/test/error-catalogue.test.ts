/**
 * The error factory every catalogue is built with: what a caller relies on when it checks an error (code,
 * status, details, cause, `instanceof`, the guard) and what the HTTP surfaces turn into a response.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defineErrorCatalogue, isSyncError, SyncError } from '@backroom/sync-core';
import { toErrorResponse } from '@backroom/sync-core/http';

const ShelfCodes = { SHELF_ERR_EMPTY: 409, SHELF_ERR_MISSING: 404 } as const;
class ShelfError extends defineErrorCatalogue('ShelfError', ShelfCodes) {}

test('an error carries its code, the status from the catalogue, its details and its cause', () => {
  const cause = new Error('SQLITE_BUSY');
  const e = new ShelfError('SHELF_ERR_EMPTY', 'shelf A3 is empty', { shelf: 'A3' }, cause);
  assert.ok(e instanceof ShelfError && e instanceof Error);
  assert.equal(e.name, 'ShelfError');
  assert.equal(e.message, 'shelf A3 is empty');
  assert.equal(e.code, 'SHELF_ERR_EMPTY');
  assert.equal(e.statusCode, 409);
  assert.deepEqual(e.details, { shelf: 'A3' });
  assert.equal(e.cause, cause);
  assert.match(e.stack ?? '', /^ShelfError: shelf A3 is empty/);

  const bare = new ShelfError('SHELF_ERR_MISSING', 'no shelf B1');
  assert.deepEqual(bare.details, {});
  assert.equal(bare.statusCode, 404);
  assert.ok(!('cause' in bare), 'no cause given: none set');
});

test('the guard tells one catalogue from another, and checks the code when given one', () => {
  const shelf = new ShelfError('SHELF_ERR_MISSING', 'no shelf B1');
  const sync = new SyncError('SYNC_ERR_NOT_FOUND', 'no product "SKU-9"');
  assert.ok(!(sync instanceof ShelfError) && !(shelf instanceof SyncError));
  assert.ok(ShelfError.is(shelf));
  assert.ok(ShelfError.is(shelf, 'SHELF_ERR_MISSING'));
  assert.ok(!ShelfError.is(shelf, 'SHELF_ERR_EMPTY'));
  assert.ok(!ShelfError.is(sync));
  assert.ok(isSyncError(sync, 'SYNC_ERR_NOT_FOUND') && !isSyncError(shelf));
  assert.ok(!ShelfError.is({ code: 'SHELF_ERR_MISSING', statusCode: 404 }), 'by class, not by shape');
});

test('every HTTP surface answers a catalogued error with its code, status and client details', () => {
  const { status, body } = toErrorResponse(
    new ShelfError('SHELF_ERR_EMPTY', 'shelf A3 is empty', { shelf: 'A3' }),
  );
  assert.equal(status, 409);
  assert.deepEqual(body, {
    error: { code: 'SHELF_ERR_EMPTY', message: 'shelf A3 is empty', details: { shelf: 'A3' } },
  });
});
