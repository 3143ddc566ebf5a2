// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${client.x ?? d}` is filter syntax, not a template.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileFilter, evaluateFilter, isSyncError, parseFilter } from '@backroom/sync-core';

const matches = (text: string, obj: Record<string, unknown>, vars = {}) =>
  evaluateFilter(parseFilter(text), obj, vars);

test('a terminal sees only its own transactions', () => {
  const mine = compileFilter(parseFilter('terminalId == $auth.sub'), { auth: { sub: 'pos-3' } });
  const transactions = [
    { id: 't1', terminalId: 'pos-3', total: 12.5 },
    { id: 't2', terminalId: 'pos-4', total: 3 },
    { id: 't3', total: 7 },
    { id: 't4', terminalId: 'POS-3' },
  ];
  assert.deepEqual(
    transactions.filter(mine).map((t) => t.id),
    ['t1'],
  );
});

test('a store filter with a hello variable and its default', () => {
  const f = parseFilter('store == ${client.store ?? "s1"}');
  const inventory = [
    { id: 'sku-1', store: 's1', stock: 4 },
    { id: 'sku-2', store: 's2', stock: 9 },
  ];
  const ids = (vars: object) => inventory.filter((o) => evaluateFilter(f, o, vars)).map((o) => o.id);
  assert.deepEqual(ids({ client: { store: 's2' } }), ['sku-2']);
  assert.deepEqual(ids({}), ['sku-1']);
  assert.deepEqual(ids({ client: { store: null } }), ['sku-1']); // null counts as absent, like `??`
});

test('orders by status IN, or large ones whatever their status', () => {
  const f = parseFilter('store == $auth.store AND (status IN ["open", "approved"] OR total >= 100)');
  const vars = { auth: { store: 's1' } };
  const orders = [
    { id: 'o1', store: 's1', status: 'open', total: 10 },
    { id: 'o2', store: 's1', status: 'closed', total: 10 },
    { id: 'o3', store: 's1', status: 'closed', total: 100 },
    { id: 'o4', store: 's2', status: 'open', total: 500 },
    { id: 'o5', store: 's1', status: 'approved', total: '500' },
    { id: 'o6', store: 's1', status: 'closed', total: '500' }, // a string total is not a number
  ];
  assert.deepEqual(
    orders.filter((o) => evaluateFilter(f, o, vars)).map((o) => o.id),
    ['o1', 'o3', 'o5'],
  );
});

test('managers see every transaction, terminals their own', () => {
  const f = parseFilter('$auth.role == "manager" OR terminalId == $auth.sub');
  const tx = { terminalId: 'pos-1' };
  assert.equal(evaluateFilter(f, tx, { auth: { role: 'manager', sub: 'dash-1' } }), true);
  assert.equal(evaluateFilter(f, tx, { auth: { role: 'pos', sub: 'pos-2' } }), false);
  assert.equal(evaluateFilter(f, tx, { auth: { role: 'pos', sub: 'pos-1' } }), true);
});

test('a list variable: a regional manager sees the stores in the JWT', () => {
  const f = parseFilter('store IN $auth.stores');
  assert.equal(evaluateFilter(f, { store: 's2' }, { auth: { stores: ['s1', 's2'] } }), true);
  assert.equal(evaluateFilter(f, { store: 's3' }, { auth: { stores: ['s1', 's2'] } }), false);
  assert.equal(evaluateFilter(f, { store: 's3' }, { auth: { stores: 's3' } }), true); // one value
  assert.equal(evaluateFilter(f, { store: 's3' }, { auth: { stores: [] } }), false);
});

test('no type coercion: different JSON types are never equal and never ordered', () => {
  assert.equal(matches('qty == 1', { qty: '1' }), false);
  assert.equal(matches('qty == "1"', { qty: 1 }), false);
  assert.equal(matches('qty == 1', { qty: 1.0 }), true);
  assert.equal(matches('qty == 1.5', { qty: 1.5 }), true);
  assert.equal(matches('active == true', { active: 1 }), false);
  assert.equal(matches('active == 1', { active: true }), false);
  assert.equal(matches('active == true', { active: true }), true);
  assert.equal(matches('active != true', { active: 'true' }), true);
  assert.equal(matches('qty < 10', { qty: '5' }), false);
  assert.equal(matches('name < "b"', { name: 5 }), false);
  assert.equal(matches('active < true', { active: false }), false); // booleans are not ordered
  assert.equal(matches('qty >= 0', { qty: false }), false);
  assert.equal(matches('qty == 0', { qty: null }), false);
});

test('missing fields read as null; ordering with null is false', () => {
  assert.equal(matches('voidedAt == null', {}), true);
  assert.equal(matches('voidedAt == null', { voidedAt: null }), true);
  assert.equal(matches('voidedAt == null', { voidedAt: 0 }), false);
  assert.equal(matches('voidedAt != null', { voidedAt: '2024-05-01' }), true);
  assert.equal(matches('voidedAt != null', {}), false);
  assert.equal(matches('qty < 5', {}), false);
  assert.equal(matches('qty >= 5', {}), false);
  assert.equal(matches('qty <= null', { qty: null }), false);
  assert.equal(matches('status != "closed"', {}), true); // != is NOT ==
  assert.equal(matches('NOT status == "closed"', { status: 'closed' }), false);
});

test('dotted paths read into json fields, never through arrays or strings', () => {
  const customer = { address: { city: 'Berlin', zip: '10115' }, tags: [{ city: 'Berlin' }], name: 'Ada' };
  assert.equal(matches('address.city == "Berlin"', customer), true);
  assert.equal(matches('address.country == null', customer), true);
  assert.equal(matches('tags.city == null', customer), true);
  assert.equal(matches('name.length == null', customer), true);
  assert.equal(matches('address == null', customer), false);
  // Objects and arrays compare to nothing, not even themselves.
  assert.equal(matches('address == address', customer), false);
  assert.equal(matches('name == name', customer), true);
  // Inherited properties are not fields.
  assert.equal(matches('constructor == null AND toString == null', {}), true);
});

test('string operators: case-insensitive equality (ASCII), prefix, infix, suffix', () => {
  const p = { name: 'Organic Whole Milk 1L', sku: 'MLK-001' };
  assert.equal(matches('name ==~ "ORGANIC whole milk 1l"', p), true);
  assert.equal(matches('name ==~ "Organic"', p), false);
  assert.equal(matches('city ==~ "é"', { city: 'É' }), false); // ASCII-only folding, as SQLite
  assert.equal(matches('name ^= "Organic"', p), true);
  assert.equal(matches('name ^= "organic"', p), false);
  assert.equal(matches('name *= "Whole"', p), true);
  assert.equal(matches('name *= "whole"', p), false);
  assert.equal(matches('sku $= "-001"', p), true);
  assert.equal(matches('sku $= "MLK"', p), false);
  assert.equal(matches('sku ^= ""', p), true);
  assert.equal(matches('qty ^= "1"', { qty: 12 }), false); // not a string
  assert.equal(matches('"MLK-001-X" ^= sku', p), true); // literal on the left: literal starts with field
});

test('string ordering is by code point (UTF-8 byte order), as SQLite BINARY', () => {
  assert.equal(matches('s > "\uFFFF"', { s: '😀' }), true); // UTF-16 unit order would say false
  assert.equal(matches('s < "a"', { s: 'Z' }), true);
  assert.equal(matches('s < "ab"', { s: 'a' }), true);
});

test('variables without a value or default fail the whole filter, never match everything', () => {
  const noVar = (fn: () => unknown) =>
    assert.throws(fn, (e: unknown) => isSyncError(e, 'SYNC_ERR_FILTER_VARIABLE') && e.statusCode === 400);
  const f = parseFilter('terminalId == $auth.sub');
  noVar(() => evaluateFilter(f, { terminalId: 'pos-1' }));
  noVar(() => evaluateFilter(f, { terminalId: 'pos-1' }, { auth: {} }));
  noVar(() => evaluateFilter(f, {}, { auth: { sub: null } }));
  // Even where OR would short-circuit before reaching the variable.
  noVar(() => matches('a == 1 OR b == $client.x', { a: 1 }));
  // A value that is not a JSON scalar is refused too.
  noVar(() => evaluateFilter(f, {}, { auth: { sub: { nested: 1 } } }));
  noVar(() => evaluateFilter(f, {}, { auth: { sub: Number.NaN } }));
  noVar(() => matches('x IN $auth.stores', {}, { auth: { stores: [['s1']] } }));
  noVar(() => matches('x IN $auth.stores', {}, {}));
  assert.equal(matches('x IN ${auth.stores ?? "s1"}', { x: 's1' }), true);
  assert.equal(matches('x == ${auth.sub ?? null}', {}), true);
  assert.equal(matches('x == $auth.app.store', { x: 's9' }, { auth: { app: { store: 's9' } } }), true);
});

test('no filter matches everything', () => {
  assert.equal(evaluateFilter(undefined, {}), true);
  assert.equal(compileFilter(undefined)({ anything: 1 }), true);
});
