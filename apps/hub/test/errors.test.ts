import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertCatalogueDocumented } from '../../../test/helpers/error-docs.js';
import { HubError, HubErrorCodes, isHubError } from '../src/errors.js';

test('every HUB_ERR code is documented in docs/errors.md, section "Hub", with its HTTP status', () => {
  assertCatalogueDocumented('Hub', HubErrorCodes);
});

test('HubError carries code, status, details and cause', () => {
  const cause = new Error('EACCES');
  const e = new HubError('HUB_ERR_DEVICE_NOT_FOUND', 'no device "pos-9"', { deviceId: 'pos-9' }, cause);
  assert.equal(e.code, 'HUB_ERR_DEVICE_NOT_FOUND');
  assert.equal(e.statusCode, 404);
  assert.deepEqual(e.details, { deviceId: 'pos-9' });
  assert.equal(e.cause, cause);
  assert.equal(e.name, 'HubError');
  assert.ok(e instanceof HubError && e instanceof Error);
  assert.ok(isHubError(e, 'HUB_ERR_DEVICE_NOT_FOUND'));
  assert.ok(!isHubError(e, 'HUB_ERR_DEVICE_EXISTS'));
  assert.ok(!isHubError(new Error('x')));
});
