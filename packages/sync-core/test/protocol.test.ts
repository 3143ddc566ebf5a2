import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Change, SyncMessage, Version } from '@backroom/sync-core';
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  decodeChange,
  decodeMessage,
  encodeChange,
  encodeMessage,
  isSyncError,
  measureEnvelope,
  PROTOCOL_VERSION,
  type SyncError,
  splitChanges,
} from '@backroom/sync-core';
import { Packr } from 'msgpackr';

// Stamps above 2^53 (where a JS number would round) and at the very top of the uint64 range.
const BIG = (1n << 62n) + 12_345n;
const MAX_STAMP = (1n << 64n) - 1n;
const ver: Version = { p: 2, s: BIG, n: 'pos-07' };
const hubVer: Version = { p: 0, s: MAX_STAMP, n: 'hub-main' };

const sale: Change = {
  collection: 'orders',
  id: 'ORD-1001',
  fields: {
    status: { v: 'open', ver },
    lines: { v: [{ sku: 'SKU-42', qty: 2, price: 3.99 }], ver },
    note: { v: null, ver },
  },
  exists: { v: true, ver },
};
const stockMove: Change = {
  collection: 'inventory',
  id: 'SKU-42',
  bases: { stock: { v: 120, ver: hubVer } },
  incs: [{ field: 'stock', delta: -2, ver, op: 'pos-07/4000000000003039' }],
};
const tombstone: Change = { collection: 'orders', id: 'ORD-0999', exists: { v: false, ver } };

/** One message of every kind, optional fields both present and absent. */
const everyKind: SyncMessage[] = [
  {
    k: 'hello',
    deviceId: 'pos-07',
    clientVars: { store: 'berlin-mitte', lane: '3' },
    cursor: '0',
    wallTime: 1_760_000_000_123,
    agentVersion: '0.1.0',
  },
  {
    k: 'hello',
    deviceId: 'pos-07',
    clientVars: {},
    cursor: '18446744073709551615',
    wallTime: 1.5,
    agentVersion: '0.1.0',
    token: 'secret',
  },
  {
    k: 'welcome',
    hubId: 'hub-main',
    hubTime: 1_760_000_000_456,
    offsetMs: -333.5,
    resync: false,
    maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
    maxSkewMs: 60_000,
  },
  { k: 'push', batchId: 'batch-1', changes: [sale, stockMove, tombstone] },
  { k: 'push', batchId: 'batch-empty', changes: [] },
  {
    k: 'ack',
    batchId: 'batch-1',
    rebased: [
      { collection: 'orders', id: 'ORD-1', node: 'pos-07', from: MAX_STAMP, to: 0x4000000000003039n },
    ],
    state: [sale],
  },
  { k: 'ack', batchId: 'batch-2', rebased: [], state: [] },
  { k: 'pull', since: '9000' },
  {
    k: 'changes',
    since: '9000',
    changes: [sale, { collection: 'products', id: 'SKU-42' }],
    evict: [{ collection: 'transactions', id: 'T-17' }],
    cursor: '9001',
    more: true,
  },
  { k: 'reject', batchId: 'batch-1', code: 'SYNC_ERR_MESSAGE_MALFORMED', message: 'bad stamp' },
  { k: 'reject', code: 'SYNC_ERR_UNSUPPORTED_VERSION', message: '' },
  {
    k: 'reject',
    batchId: 'till-1:42',
    code: 'SYNC_ERR_FORBIDDEN',
    message: 'outside the filter',
    object: { collection: 'transactions', id: 'T-9' },
  },
  { k: 'time', t0: 1_760_000_000_000 },
  { k: 'time', t0: 1_760_000_000_000, t1: 1_760_000_000_042.25 },
];

/** Raw MessagePack writer for hand-made wire messages (permissive: Dates, Sets, Maps...). */
const raw = new Packr({ useRecords: false, moreTypes: true, structuredClone: false });
const wireVer = [2, BIG, 'pos-07'];
const wireChange = () => ['orders', 'ORD-1', { status: ['open', [...wireVer]] }];
const wirePush = (change: unknown = wireChange()) => ({ v: 1, k: 'push', batchId: 'b', changes: [change] });

/** assert.throws predicate: a MALFORMED SyncError pointing at `path`. */
const malformedAt = (path: string) => (e: unknown) =>
  isSyncError(e, 'SYNC_ERR_MESSAGE_MALFORMED') && e.details.path === path;

function rejects(buf: Uint8Array, code: string, details?: Record<string, unknown>): SyncError {
  try {
    decodeMessage(buf);
  } catch (e) {
    assert.ok(isSyncError(e), `expected a SyncError, got ${e}`);
    assert.equal(e.code, code, e.message);
    if (details) for (const [k, v] of Object.entries(details)) assert.deepEqual(e.details[k], v, e.message);
    return e;
  }
  assert.fail('decodeMessage accepted the buffer');
}

describe('protocol: round trip', () => {
  it('decodes every kind of message to exactly what was encoded', () => {
    for (const m of everyKind) assert.deepStrictEqual(decodeMessage(encodeMessage(m)), m, m.k);
  });

  it('keeps stamps as bigints above 2^53, never rounding them through a number', () => {
    const m = decodeMessage(encodeMessage({ k: 'push', batchId: 'b', changes: [stockMove] }));
    assert.equal(m.k, 'push');
    const inc = m.changes[0].incs?.[0];
    assert.equal(typeof inc?.ver.s, 'bigint');
    assert.equal(inc?.ver.s, BIG);
    assert.equal(m.changes[0].bases?.stock.ver.s, MAX_STAMP);
    assert.notEqual(BigInt(Number(BIG)), BIG, 'the test stamp must be one a number would round');
  });

  it('stamps the protocol version and kind on the wire', () => {
    const wire = new Packr({ useRecords: false }).unpack(encodeMessage({ k: 'pull', since: '5' }));
    assert.deepEqual(wire, { v: PROTOCOL_VERSION, k: 'pull', since: '5' });
  });

  it('round-trips a change alone through encodeChange/decodeChange', () => {
    for (const c of [sale, stockMove, tombstone, { collection: 'products', id: 'SKU-1' }]) {
      assert.deepStrictEqual(decodeChange(encodeChange(c)), c);
    }
  });

  it('encodes a change with the same bytes alone and inside a message (outboxes can keep them)', () => {
    const alone = Buffer.from(encodeChange(stockMove)).toString('hex');
    const inMessage = Buffer.from(encodeMessage({ k: 'push', batchId: 'b', changes: [stockMove] })).toString(
      'hex',
    );
    assert.ok(inMessage.includes(alone));
  });
});

describe('protocol: size limits', () => {
  const big: Change = {
    collection: 'fraud_cases',
    id: 'C-1',
    fields: { notes: { v: 'x'.repeat(5000), ver } },
  };

  it('refuses to encode a message over maxBytes', () => {
    const m: SyncMessage = { k: 'push', batchId: 'b', changes: [big] };
    const size = encodeMessage(m).length;
    assert.equal(encodeMessage(m, { maxBytes: size }).length, size);
    assert.throws(
      () => encodeMessage(m, { maxBytes: size - 1 }),
      (e) =>
        isSyncError(e, 'SYNC_ERR_MESSAGE_TOO_LARGE') &&
        e.details.bytes === size &&
        e.details.maxBytes === size - 1,
    );
  });

  it('refuses to decode a payload over maxBytes before looking at its bytes', () => {
    const buf = encodeMessage({ k: 'push', batchId: 'b', changes: [big] });
    assert.equal(decodeMessage(buf, { maxBytes: buf.length }).k, 'push');
    assert.throws(() => decodeMessage(buf, { maxBytes: buf.length - 1 }), {
      code: 'SYNC_ERR_MESSAGE_TOO_LARGE',
    });
    // Garbage that is too large is reported as too large, not malformed: the length is checked first.
    const garbage = new Uint8Array(DEFAULT_MAX_MESSAGE_BYTES + 1).fill(0xc1);
    rejects(garbage, 'SYNC_ERR_MESSAGE_TOO_LARGE', { bytes: DEFAULT_MAX_MESSAGE_BYTES + 1 });
  });
});

describe('protocol: splitChanges', () => {
  const changes: Change[] = Array.from({ length: 500 }, (_, i) => ({
    collection: 'transactions',
    id: `T-${i}`,
    // Varying sizes, so batches are not all alike.
    fields: { total: { v: i * 1.25, ver }, memo: { v: 'm'.repeat((i * 37) % 400), ver } },
  }));

  it('keeps order, fits every batch, and fills batches greedily', () => {
    const maxBytes = 8 * 1024;
    const envelope = { k: 'push', batchId: 'batch-0123456789', changes: [] } as const;
    const batches = splitChanges(changes, maxBytes, measureEnvelope(envelope));
    assert.ok(batches.length > 10);
    assert.deepStrictEqual(batches.flat(), changes);
    for (let i = 0; i < batches.length; i++) {
      assert.ok(batches[i].length > 0);
      const size = encodeMessage({ ...envelope, changes: batches[i] }, { maxBytes }).length;
      assert.ok(size <= maxBytes);
      if (i + 1 < batches.length) {
        const grown = encodeMessage(
          { ...envelope, changes: [...batches[i], batches[i + 1][0]] },
          { maxBytes: 1e9 },
        );
        assert.ok(grown.length > maxBytes, `batch ${i} could have taken one more change`);
      }
    }
  });

  it('fits `changes` pages with evictions when given their measured envelope', () => {
    const page = {
      k: 'changes',
      since: '0',
      changes: [],
      evict: Array.from({ length: 50 }, (_, i) => ({ collection: 'transactions', id: `OLD-${i}` })),
      cursor: '123456789',
      more: true,
    } as const;
    const maxBytes = 4096;
    const batches = splitChanges(changes, maxBytes, measureEnvelope(page));
    assert.deepStrictEqual(batches.flat(), changes);
    for (const b of batches)
      assert.ok(encodeMessage({ ...page, changes: b }, { maxBytes }).length <= maxBytes);
  });

  it('exactly fills a limit: a message may be exactly maxBytes long', () => {
    const two = changes.slice(0, 2);
    const exact = encodeMessage({ k: 'push', batchId: 'b', changes: two }).length;
    const env = measureEnvelope({ k: 'push', batchId: 'b', changes: [] });
    assert.equal(splitChanges(two, exact, env).length, 1);
    assert.equal(splitChanges(two, exact - 1, env).length, 2);
  });

  it('names a change that cannot fit even alone', () => {
    const huge: Change = {
      collection: 'fraud_cases',
      id: 'C-9',
      fields: { blob: { v: 'z'.repeat(10_000), ver } },
    };
    assert.throws(
      () => splitChanges([changes[0], huge, changes[1]], 4096),
      (e) =>
        isSyncError(e, 'SYNC_ERR_CHANGE_TOO_LARGE') &&
        e.details.collection === 'fraud_cases' &&
        e.details.id === 'C-9' &&
        e.details.bytes === encodeChange(huge).length,
    );
  });

  it('returns no batches for no changes, and refuses an invalid change with its index in the path', () => {
    assert.deepEqual(splitChanges([], 1024), []);
    const bad = { collection: 'orders', id: '' } as Change;
    assert.throws(() => splitChanges([changes[0], bad], 1024), {
      code: 'SYNC_ERR_MESSAGE_MALFORMED',
      details: { path: '$[1].id', reason: 'expected a non-empty string, got an empty string' },
    });
  });
});

describe('protocol: strict decoding', () => {
  it('refuses another protocol version, even with a kind it does not know', () => {
    rejects(raw.pack({ v: 2, k: 'pull', since: '0' }), 'SYNC_ERR_UNSUPPORTED_VERSION', { version: 2 });
    rejects(raw.pack({ v: 7, k: 'teleport' }), 'SYNC_ERR_UNSUPPORTED_VERSION', { version: 7 });
    rejects(raw.pack({ v: 0, k: 'pull', since: '0' }), 'SYNC_ERR_UNSUPPORTED_VERSION', { version: 0 });
    rejects(raw.pack({ k: 'pull', since: '0' }), 'SYNC_ERR_MESSAGE_MALFORMED', { path: '$.v' });
    rejects(raw.pack({ v: '1', k: 'pull', since: '0' }), 'SYNC_ERR_MESSAGE_MALFORMED', { path: '$.v' });
  });

  it('refuses every truncation of a valid message', () => {
    const buf = encodeMessage({ k: 'push', batchId: 'batch-1', changes: [sale, stockMove, tombstone] });
    for (let n = 0; n < buf.length; n++)
      rejects(buf.subarray(0, n), 'SYNC_ERR_MESSAGE_MALFORMED', { path: '$' });
  });

  it('refuses trailing bytes, non-msgpack and non-map payloads', () => {
    const buf = encodeMessage({ k: 'pull', since: '1' });
    rejects(Buffer.concat([buf, Buffer.from([0x00])]), 'SYNC_ERR_MESSAGE_MALFORMED', { path: '$' });
    rejects(Buffer.from('{"v":1,"k":"pull"}'), 'SYNC_ERR_MESSAGE_MALFORMED', { path: '$' });
    rejects(Buffer.from([0xc1]), 'SYNC_ERR_MESSAGE_MALFORMED', { path: '$' });
    rejects(raw.pack([1, 'pull', '0']), 'SYNC_ERR_MESSAGE_MALFORMED', { path: '$' });
    assert.throws(() => decodeMessage('hello' as unknown as Uint8Array), {
      code: 'SYNC_ERR_MESSAGE_MALFORMED',
    });
  });

  it('says where a message is wrong', () => {
    const cases: [unknown, string][] = [
      [{ v: 1, k: 'teleport' }, '$.k'],
      [{ v: 1 }, '$.k'],
      [{ v: 1, k: 'pull', since: '0', extra: true }, '$.extra'],
      [{ v: 1, k: 'pull' }, '$.since'],
      [{ v: 1, k: 'pull', since: '007' }, '$.since'],
      [{ v: 1, k: 'pull', since: 7 }, '$.since'],
      [
        {
          v: 1,
          k: 'hello',
          deviceId: 'd',
          clientVars: { lane: 3 },
          cursor: '0',
          wallTime: 1,
          agentVersion: 'a',
        },
        '$.clientVars.lane',
      ],
      [
        { v: 1, k: 'hello', deviceId: '', clientVars: {}, cursor: '0', wallTime: 1, agentVersion: 'a' },
        '$.deviceId',
      ],
      [
        {
          v: 1,
          k: 'hello',
          deviceId: 'd',
          clientVars: {},
          cursor: '0',
          wallTime: 1,
          agentVersion: 'a',
          token: null,
        },
        '$.token',
      ],
      [
        {
          v: 1,
          k: 'welcome',
          hubId: 'h',
          hubTime: 1,
          offsetMs: 0,
          resync: 'no',
          maxMessageBytes: 1,
          maxSkewMs: 1,
        },
        '$.resync',
      ],
      [
        {
          v: 1,
          k: 'welcome',
          hubId: 'h',
          hubTime: 1,
          offsetMs: 0,
          resync: false,
          maxMessageBytes: 0,
          maxSkewMs: 1,
        },
        '$.maxMessageBytes',
      ],
      [{ v: 1, k: 'time', t0: Number.NaN }, '$.t0'],
      [{ v: 1, k: 'time', t0: 1, t1: -1 }, '$.t1'],
      [{ v: 1, k: 'ack', batchId: 'b', rebased: [['c', 'i', 'n', 5, 6n]], state: [] }, '$.rebased[0].from'],
      [{ v: 1, k: 'ack', batchId: 'b', rebased: [['c', 'i', 'n', 5n, -5n]], state: [] }, '$.rebased[0].to'],
      [{ v: 1, k: 'ack', batchId: 'b', rebased: [['op', 5n]], state: [] }, '$.rebased[0]'],
      [
        { v: 1, k: 'changes', since: '0', changes: [], evict: [['c']], cursor: '1', more: false },
        '$.evict[0]',
      ],
      [{ v: 1, k: 'changes', since: '0', changes: [], evict: [], cursor: '1' }, '$.more'],
      [{ v: 1, k: 'reject', code: '', message: 'm' }, '$.code'],
      [{ v: 1, k: 'push', batchId: 'b', changes: {} }, '$.changes'],
      [wirePush(['', 'ORD-1']), '$.changes[0].collection'],
      [wirePush(['orders', 42]), '$.changes[0].id'],
      [wirePush(['orders']), '$.changes[0]'],
      [wirePush(['orders', 'ORD-1', null, null, null, null, null]), '$.changes[0]'],
      [wirePush(['orders', 'ORD-1', { status: ['open'] }]), '$.changes[0].fields.status'],
      [
        wirePush(['orders', 'ORD-1', { status: ['open', [-1, BIG, 'n']] }]),
        '$.changes[0].fields.status.ver.p',
      ],
      [
        wirePush(['orders', 'ORD-1', { status: ['open', [1.5, BIG, 'n']] }]),
        '$.changes[0].fields.status.ver.p',
      ],
      [
        wirePush(['orders', 'ORD-1', { status: ['open', [1, 12345, 'n']] }]),
        '$.changes[0].fields.status.ver.s',
      ],
      [
        wirePush(['orders', 'ORD-1', { status: ['open', [1, -1n, 'n']] }]),
        '$.changes[0].fields.status.ver.s',
      ],
      [wirePush(['orders', 'ORD-1', { status: ['open', [1, BIG, '']] }]), '$.changes[0].fields.status.ver.n'],
      [wirePush(['orders', 'ORD-1', { status: ['open', [1, BIG]] }]), '$.changes[0].fields.status.ver'],
      [
        wirePush(['orders', 'ORD-1', { 'unit price': [Number.POSITIVE_INFINITY, wireVer] }]),
        '$.changes[0].fields["unit price"].v',
      ],
      [wirePush(['orders', 'ORD-1', null, [1, wireVer]]), '$.changes[0].exists.v'],
      [wirePush(['orders', 'ORD-1', null, null, [], null]), '$.changes[0].bases'],
      [
        wirePush(['inventory', 'S', null, null, null, [['stock', 'two', wireVer, 'op']]]),
        '$.changes[0].incs[0].delta',
      ],
      [
        wirePush(['inventory', 'S', null, null, null, [['stock', Number.NaN, wireVer, 'op']]]),
        '$.changes[0].incs[0].delta',
      ],
      [
        wirePush(['inventory', 'S', null, null, null, [['stock', 1, wireVer, '']]]),
        '$.changes[0].incs[0].op',
      ],
      [wirePush(['inventory', 'S', null, null, null, [['stock', 1, wireVer]]]), '$.changes[0].incs[0]'],
    ];
    for (const [wire, path] of cases) rejects(raw.pack(wire), 'SYNC_ERR_MESSAGE_MALFORMED', { path });
  });

  it('refuses field values that are not JSON-like data (Date, Set, Map, binary, bigint, undefined)', () => {
    const values: [unknown, string][] = [
      [new Date(0), '.v'],
      [new Set([1]), '.v'],
      [{ when: new Date(0) }, '.v.when'],
      [[1, 2, new Uint8Array([1])], '.v[2]'],
      [{ big: 5n }, '.v.big'],
      [[undefined], '.v[0]'],
      [/re/, '.v'],
      [new Error('boom'), '.v'],
    ];
    for (const [v, at] of values) {
      rejects(raw.pack(wirePush(['orders', 'ORD-1', { memo: [v, wireVer] }])), 'SYNC_ERR_MESSAGE_MALFORMED', {
        path: `$.changes[0].fields.memo${at}`,
      });
    }
    // A MessagePack map with non-string keys decodes to an object, its keys as strings: still plain data.
    const m = decodeMessage(
      raw.pack(wirePush(['orders', 'ORD-1', { memo: [new Map([[1, 'a']]), wireVer] }])),
    );
    assert.equal(
      m.k === 'push' && m.changes[0].fields?.memo.v && JSON.stringify(m.changes[0].fields.memo.v),
      '{"1":"a"}',
    );
  });

  it('refuses values nested deeper than 64 levels', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 65; i++) deep = [deep];
    rejects(raw.pack(wirePush(['orders', 'ORD-1', { memo: [deep, wireVer] }])), 'SYNC_ERR_MESSAGE_MALFORMED');
    let ok: unknown = 'leaf';
    for (let i = 0; i < 64; i++) ok = [ok];
    assert.equal(decodeMessage(raw.pack(wirePush(['orders', 'ORD-1', { memo: [ok, wireVer] }]))).k, 'push');
  });

  it('survives nesting deep enough to overflow the stack', () => {
    const bytes = new Uint8Array(200_000).fill(0x91); // [[[[...]]]]
    bytes[bytes.length - 1] = 0xc0;
    rejects(bytes, 'SYNC_ERR_MESSAGE_MALFORMED', { path: '$' });
  });

  it('refuses a malformed change in decodeChange', () => {
    assert.throws(() => decodeChange(raw.pack(['orders', 'ORD-1', { s: ['x', [0, 1, 'n']] }])), {
      code: 'SYNC_ERR_MESSAGE_MALFORMED',
      details: { path: '$.fields.s.ver.s', reason: 'expected a bigint stamp in [0, 2^64), got number' },
    });
    assert.throws(() => decodeChange(Buffer.from([0x92, 0xa1])), { code: 'SYNC_ERR_MESSAGE_MALFORMED' });
  });
});

describe('protocol: strict encoding', () => {
  const withValue = (v: unknown): SyncMessage => ({
    k: 'push',
    batchId: 'b',
    changes: [{ collection: 'orders', id: 'ORD-1', fields: { memo: { v, ver } } }],
  });

  it('refuses values a peer would refuse, naming where', () => {
    class Basket {
      items = 1;
    }
    const values: [unknown, string][] = [
      [new Date(0), '.v'],
      [new Map([['a', 1]]), '.v'],
      [new Set([1]), '.v'],
      [new Basket(), '.v'],
      [{ qty: undefined }, '.v.qty'],
      [[1, Number.NaN], '.v[1]'],
      [10n, '.v'],
      [Buffer.from('x'), '.v'],
      [JSON.parse('{"__proto__": {"admin": true}}'), '.v'],
      [() => 1, '.v'],
    ];
    for (const [v, at] of values) {
      assert.throws(() => encodeMessage(withValue(v)), malformedAt(`$.changes[0].fields.memo${at}`));
    }
  });

  it('refuses a stamp that is a number, a missing ver, and bad envelopes', () => {
    const numberStamp = { collection: 'o', id: 'i', exists: { v: true, ver: { p: 0, s: 5, n: 'd' } } };
    assert.throws(() => encodeChange(numberStamp as unknown as Change), malformedAt('$.exists.ver.s'));
    const noVer = { collection: 'o', id: 'i', fields: { a: { v: 1 } } };
    assert.throws(() => encodeChange(noVer as unknown as Change), malformedAt('$.fields.a'));
    assert.throws(() => encodeMessage({ k: 'nope' } as unknown as SyncMessage), malformedAt('$.k'));
    assert.throws(() => encodeMessage({ k: 'pull', since: '-1' }), malformedAt('$.since'));
    assert.throws(() => encodeMessage({ k: 'pull', since: '1' }, { maxBytes: 0 }), RangeError);
  });
});
