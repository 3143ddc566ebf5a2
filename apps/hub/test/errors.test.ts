import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { HubError, HubErrorCodes, isHubError } from '../src/errors.js';

const docs = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
const start = docs.indexOf('## Hub');
const end = docs.indexOf('\n## ', start + 1);
const hubSection = docs.slice(start, end === -1 ? undefined : end);

test('every HUB_ERR code is documented in docs/errors.md, section "Hub", with its HTTP status', () => {
  assert.ok(docs.includes('## Hub'), 'docs/errors.md has a "Hub" section');
  for (const [code, status] of Object.entries(HubErrorCodes)) {
    const row = hubSection.split('\n').find((line) => new RegExp(`^\\|\\s*\`${code}\`\\s*\\|`).test(line));
    assert.ok(row, `${code} is listed in docs/errors.md`);
    assert.match(
      row,
      new RegExp(`^\\|\\s*\`${code}\`\\s*\\|\\s*${status}\\s*\\|\\s*\\S`),
      `${code} has status ${status} and a meaning`,
    );
  }
});

test('HubError carries code, status, details and cause', () => {
  const cause = new Error('EACCES');
  const e = new HubError('HUB_ERR_DEVICE_NOT_FOUND', 'no device "pos-9"', { deviceId: 'pos-9' }, cause);
  assert.equal(e.code, 'HUB_ERR_DEVICE_NOT_FOUND');
  assert.equal(e.statusCode, 404);
  assert.deepEqual(e.details, { deviceId: 'pos-9' });
  assert.equal(e.cause, cause);
  assert.ok(isHubError(e, 'HUB_ERR_DEVICE_NOT_FOUND'));
  assert.ok(!isHubError(e, 'HUB_ERR_DEVICE_EXISTS'));
  assert.ok(!isHubError(new Error('x')));
});
