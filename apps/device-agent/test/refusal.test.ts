import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { HubRefusalCodes, refusalOf } from '../src/transport/refusal.js';

/** What mqtt.js 5 hands to `error` for a CONNACK refusal (ErrorWithReasonCode). */
function connackError(rc: number, words: string) {
  return Object.assign(new Error(`Connection refused: ${words}`), { code: rc });
}

test('a CONNACK refusal maps to a stable code and keeps the broker words', () => {
  assert.deepEqual(refusalOf(connackError(5, 'Not authorized')), {
    code: 'AGENT_ERR_NOT_AUTHORIZED',
    message: 'Connection refused: Not authorized',
    returnCode: 5,
  });
  assert.equal(refusalOf(connackError(4, 'Bad username or password'))?.code, 'AGENT_ERR_NOT_AUTHORIZED');
  assert.equal(refusalOf(connackError(3, 'Server unavailable'))?.code, 'AGENT_ERR_HUB_UNAVAILABLE');
  assert.equal(refusalOf(connackError(2, 'Identifier rejected'))?.code, 'AGENT_ERR_CONNECT_REFUSED');
  assert.equal(refusalOf(connackError(135, 'Not authorized'))?.code, 'AGENT_ERR_CONNECT_REFUSED');
});

test('network failures are not refusals: the hub never answered', () => {
  const refusedSocket = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1883'), {
    code: 'ECONNREFUSED',
  });
  assert.equal(refusalOf(refusedSocket), undefined);
  assert.equal(refusalOf(new Error('connack timeout')), undefined);
  // A protocol error mqtt.js raises itself (a duplicate CONNACK) is not the hub refusing the terminal.
  assert.equal(
    refusalOf(Object.assign(new Error('Protocol error: duplicate CONNACK'), { code: 130 })),
    undefined,
  );
  assert.equal(refusalOf(undefined), undefined);
});

test('every connection refusal code is documented in docs/errors.md, section "Device agent"', () => {
  const docs = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
  const section = docs.split(/^## /m).find((s) => s.startsWith('Device agent'));
  assert.ok(section, 'docs/errors.md has a "Device agent" section');
  for (const [code, rcs] of Object.entries(HubRefusalCodes)) {
    const row = section.split('\n').find((l) => l.startsWith(`| \`${code}\``));
    assert.ok(row, `${code} is listed`);
    assert.match(row, new RegExp(`\\|\\s*${rcs.join(', ')}\\s*\\|`), `${code} is listed with ${rcs}`);
  }
});
