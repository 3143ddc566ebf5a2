import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Change, SyncMessage, Version } from '@backroom/sync-core';
import { decodeMessage, encodeChange, encodeMessage, SyncError, splitChanges } from '@backroom/sync-core';
import fc from 'fast-check';
import { Packr, Unpackr } from 'msgpackr';

// ---- arbitraries of valid messages ------------------------------------------------------------------------

const noNegZero = (x: number) => (Object.is(x, -0) ? 0 : x); // MessagePack writes -0 as the integer 0
const finite = fc.double({ noNaN: true, noDefaultInfinity: true }).map(noNegZero);
const clock = fc.double({ min: 0, max: 1e13, noNaN: true }).map(noNegZero);
const text = fc.string({ minLength: 1, maxLength: 12, unit: 'binary' });
const key = text.filter((k) => k !== '__proto__');
const stamp = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const cursor = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map(String);

const version: fc.Arbitrary<Version> = fc.record({
  p: fc.oneof(fc.nat(), fc.maxSafeNat()),
  s: stamp,
  n: text,
});
const { value } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { maxDepth: 3 },
    fc.constant(null),
    fc.boolean(),
    finite,
    fc.string(),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.array(fc.tuple(key, tie('value')), { maxLength: 4 }).map((e) => Object.fromEntries(e)),
  ),
}));
const writes = fc
  .array(fc.tuple(key, fc.record({ v: value, ver: version })), { maxLength: 4 })
  .map((e) => Object.fromEntries(e));
const change: fc.Arbitrary<Change> = fc.record(
  {
    collection: text,
    id: text,
    fields: writes,
    exists: fc.record({ v: fc.boolean(), ver: version }),
    bases: writes,
    incs: fc.array(fc.record({ field: key, delta: finite, ver: version, op: text }), { maxLength: 3 }),
  },
  { requiredKeys: ['collection', 'id'] },
);
const changes = fc.array(change, { maxLength: 5 });

const message: fc.Arbitrary<SyncMessage> = fc.oneof(
  fc.record(
    {
      k: fc.constant('hello' as const),
      deviceId: text,
      clientVars: fc.array(fc.tuple(key, fc.string()), { maxLength: 3 }).map((e) => Object.fromEntries(e)),
      cursor,
      wallTime: clock,
      agentVersion: text,
      token: text,
    },
    { requiredKeys: ['k', 'deviceId', 'clientVars', 'cursor', 'wallTime', 'agentVersion'] },
  ),
  fc.record({
    k: fc.constant('welcome' as const),
    hubId: text,
    hubTime: clock,
    offsetMs: finite,
    resync: fc.boolean(),
    maxMessageBytes: fc.integer({ min: 1, max: 1 << 30 }),
    maxSkewMs: clock,
  }),
  fc.record({ k: fc.constant('push' as const), batchId: text, changes }),
  fc.record({
    k: fc.constant('ack' as const),
    batchId: text,
    rebased: fc.array(fc.record({ collection: text, id: text, node: text, from: stamp, to: stamp }), {
      maxLength: 3,
    }),
    state: changes,
  }),
  fc.record({ k: fc.constant('pull' as const), since: cursor }),
  fc.record({
    k: fc.constant('changes' as const),
    since: cursor,
    changes,
    evict: fc.array(fc.record({ collection: text, id: text }), { maxLength: 3 }),
    cursor,
    more: fc.boolean(),
  }),
  fc.record(
    { k: fc.constant('reject' as const), batchId: text, code: text, message: fc.string() },
    { requiredKeys: ['k', 'code', 'message'] },
  ),
  fc.record({ k: fc.constant('time' as const), t0: clock, t1: clock }, { requiredKeys: ['k', 't0'] }),
);

// ---- the property every input must satisfy ------------------------------------------------------------------

const CODES = new Set([
  'SYNC_ERR_MESSAGE_MALFORMED',
  'SYNC_ERR_MESSAGE_TOO_LARGE',
  'SYNC_ERR_UNSUPPORTED_VERSION',
]);

/** decodeMessage either returns a valid message or throws a SyncError with a protocol code. */
function decodesOrRefuses(buf: Uint8Array): 'decoded' | 'refused' {
  let m: SyncMessage;
  try {
    m = decodeMessage(buf);
  } catch (e) {
    assert.ok(e instanceof SyncError, `threw a non-SyncError: ${e}`);
    assert.ok(CODES.has(e.code), e.code);
    return 'refused';
  }
  // Valid means: it encodes (the encoder validates too), and re-decoding gives the same bytes again.
  const once = encodeMessage(m);
  assert.ok(
    Buffer.from(encodeMessage(decodeMessage(once))).equals(once),
    'a decoded message did not re-encode',
  );
  return 'decoded';
}

/** Permissive writer/reader for hand-made and mutated wire trees. */
const rawPackr = new Packr({ useRecords: false, moreTypes: true, structuredClone: false });
const rawUnpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'bigint' });

describe('protocol fuzz', () => {
  it('round-trips random valid messages of every kind', () => {
    fc.assert(
      fc.property(message, (m) => {
        // structuredClone: the generator may build null-prototype objects; decoded ones are plain.
        assert.deepStrictEqual(decodeMessage(encodeMessage(m)), structuredClone(m));
      }),
      { numRuns: 400 },
    );
  });

  it('splitChanges measures exactly: every batch fits, and no batch could take the next change', () => {
    // Strings of every UTF-8 width (lone surrogates too) and lengths around the header thresholds.
    const wide = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.string({ unit: 'grapheme', minLength: 28, maxLength: 300 }),
      fc.integer({ min: 0, max: 70_000 }).map((n) => 'é'.repeat(n)),
      fc.string({
        unit: fc.integer({ min: 0xd7ff, max: 0xe000 }).map((c) => String.fromCharCode(c)),
        maxLength: 60,
      }),
    );
    const numbers = fc.oneof(
      finite,
      fc.integer(),
      fc.integer({ min: -0x10001, max: 0x10001 }),
      fc.maxSafeInteger(),
    );
    const bulky = fc.record({
      collection: text,
      id: wide.filter((x) => x.length > 0),
      fields: fc
        .array(
          fc.tuple(key, fc.record({ v: fc.oneof(value, wide, numbers, fc.array(numbers)), ver: version })),
          {
            maxLength: 20,
          },
        )
        .map((e) => Object.fromEntries(e)),
    });
    fc.assert(
      fc.property(
        fc.array(fc.oneof(change, bulky), { maxLength: 30 }),
        fc.integer({ min: 200_000, max: 400_000 }),
        fc.integer({ min: 5, max: 60 }),
        (list, maxBytes, batchIdLength) => {
          const env = { k: 'push', batchId: 'b'.repeat(batchIdLength), changes: [] } as const;
          const envelope = encodeMessage(env).length;
          for (const c of list) {
            // Alone, a change fits a limit of exactly its size and not one byte less.
            const exact = encodeMessage({ ...env, changes: [c] }, { maxBytes: 1e9 }).length;
            assert.equal(exact, envelope + encodeChange(c).length);
            assert.equal(splitChanges([c], exact, envelope).length, 1);
            assert.throws(
              () => splitChanges([c], exact - 1, envelope),
              (e) => e instanceof SyncError && e.details.bytes === exact - envelope,
            );
          }
          // A small limit forces many cuts; the measured sizes must match the encoder's byte for byte.
          const limit = Math.max(envelope + 8, Math.min(maxBytes, (list.length * 600) / 3));
          let batches: Change[][];
          try {
            batches = splitChanges(list, limit, envelope);
          } catch (e) {
            assert.ok(e instanceof SyncError && e.code === 'SYNC_ERR_CHANGE_TOO_LARGE', String(e));
            const c = list[e.details.index as number];
            assert.equal(e.details.bytes, encodeChange(c).length);
            assert.ok(encodeMessage({ ...env, changes: [c] }).length > limit);
            return;
          }
          assert.deepStrictEqual(batches.flat(), list);
          for (let i = 0; i < batches.length; i++) {
            assert.ok(encodeMessage({ ...env, changes: batches[i] }, { maxBytes: limit }).length <= limit);
            if (i + 1 < batches.length) {
              const grown = encodeMessage(
                { ...env, changes: [...batches[i], batches[i + 1][0]] },
                { maxBytes: 1e9 },
              );
              assert.ok(grown.length > limit, 'a batch was cut early');
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('random bytes are decoded to a valid message or refused with a SyncError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        decodesOrRefuses(bytes);
      }),
      { numRuns: 500 },
    );
    // Random bytes behind a valid-looking envelope prefix reach deeper into the validation.
    const prefix = encodeMessage({ k: 'push', batchId: 'b', changes: [] }).subarray(0, 20);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        decodesOrRefuses(Buffer.concat([prefix, bytes]));
      }),
      { numRuns: 500 },
    );
  });

  it('byte-level mutations of valid messages are decoded or refused with a SyncError', () => {
    const mutation = fc.record({
      op: fc.constantFrom('flip', 'set', 'insert', 'delete', 'truncate'),
      at: fc.nat(),
      byte: fc.integer({ min: 0, max: 255 }),
    });
    let refused = 0;
    fc.assert(
      fc.property(message, fc.array(mutation, { minLength: 1, maxLength: 4 }), (m, mutations) => {
        const bytes = [...encodeMessage(m)];
        for (const { op, at, byte } of mutations) {
          if (bytes.length === 0) {
            bytes.push(byte);
            continue;
          }
          const i = at % (bytes.length + 1);
          if (op === 'flip') bytes[i % bytes.length] ^= 1 << (byte % 8);
          else if (op === 'set') bytes[i % bytes.length] = byte;
          else if (op === 'insert') bytes.splice(i, 0, byte);
          else if (op === 'delete') bytes.splice(i % bytes.length, 1);
          else bytes.length = i % bytes.length;
        }
        if (decodesOrRefuses(Uint8Array.from(bytes)) === 'refused') refused++;
      }),
      { numRuns: 800 },
    );
    assert.ok(refused > 400, `only ${refused} of 800 mutated messages were refused`);
  });

  it('structural mutations (a random part replaced by any value) are decoded or refused', () => {
    const anyValue = fc.anything({
      maxDepth: 2,
      withBigInt: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withTypedArray: true,
      withNullPrototype: true,
      withSparseArray: true,
    });
    fc.assert(
      fc.property(message, fc.array(fc.nat()), anyValue, fc.boolean(), (m, route, replacement, remove) => {
        const tree = rawUnpackr.unpack(encodeMessage(m)) as Record<string, unknown>;
        // Walk a random route down the wire tree, then replace (or delete) what is there.
        let parent: Record<string, unknown> | unknown[] = tree;
        let slot: string | number = Object.keys(tree)[0];
        for (const step of route) {
          const keys = Object.keys(parent);
          slot = Array.isArray(parent) ? step % Math.max(parent.length, 1) : keys[step % keys.length];
          const next = (parent as Record<string | number, unknown>)[slot];
          if (typeof next !== 'object' || next === null || Object.keys(next).length === 0) break;
          parent = next as Record<string, unknown>;
        }
        if (remove && !Array.isArray(parent)) delete parent[slot as string];
        else (parent as Record<string | number, unknown>)[slot] = replacement;
        let bytes: Uint8Array;
        try {
          bytes = rawPackr.pack(tree);
        } catch {
          return; // some generated values cannot be written as MessagePack at all
        }
        decodesOrRefuses(bytes);
      }),
      { numRuns: 800 },
    );
  });
});
