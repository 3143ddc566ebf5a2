/**
 * Every filter the parser accepts runs: long AND/OR chains and deep nesting compile to SQL that SQLite
 * can parse (it refuses expressions over 1000 levels deep), on a real replica file, and the JavaScript
 * evaluator handles them too. What cannot run is refused by the parser with a coded 400.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  evaluateFilter,
  type Filter,
  filterToSql,
  loadSchema,
  MAX_FILTER_DEPTH,
  parseFilter,
  type ReplicaStore,
  type SyncError,
} from '@backroom/sync-core';
import { openReplica, retailSchema, tempDir } from './helpers.js';

/** The HTTP route's limit on a filter's length. */
const MAX_FILTER_TEXT = 8192;

const schema = loadSchema({
  collections: {
    orders: { fields: { x: 'float', status: 'string', total: 'float' } },
    cases: { fields: { x: 'float', embedding: { type: 'vector', dim: 2 } } },
  },
});

function ordersStore(t: Parameters<typeof tempDir>[0]): ReplicaStore {
  const store = openReplica(t, tempDir(t), 'hub', { schema });
  store.put('orders', 'o-big', { x: 5, status: 'open' });
  store.put('orders', 'o-small', { x: 0, status: 'open' });
  store.put('orders', 'o-none', { status: 'closed' });
  return store;
}

const ids = (store: ReplicaStore, filter: string) =>
  store
    .query('orders', { filter, limit: 1000 })
    .objects.map((o) => o.id)
    .sort();

/**
 * `leaf` nested `levels` deep: `leaf OR ... OR leaf AND ... AND (inner)` at each level. After a number
 * the keywords need no space before them (`x>1OR x>1`): the densest text the syntax allows.
 */
function nested(levels: number, ors: number, ands: number, leaf = 'x>1'): string {
  const space = /\d$/.test(leaf) ? '' : ' ';
  let inner = leaf;
  for (let i = 0; i < levels; i++) {
    const and = [...Array(ands - 1).fill(leaf), `(${inner})`].join(`${space}AND `);
    inner = [...Array(ors - 1).fill(leaf), and].join(`${space}OR `);
  }
  return inner;
}

test('a 999-term OR chain (7 KB) runs on a real replica instead of failing inside SQLite', (t) => {
  const store = ordersStore(t);
  const filter = Array(999).fill('x>1').join(' OR ');
  assert.ok(filter.length < MAX_FILTER_TEXT);
  assert.deepEqual(ids(store, filter), ['o-big']);
  // Against the shipped orders (which have no `x`) the same filter is a 400 naming the field, not a 500.
  const retail = openReplica(t, tempDir(t), 'retail', { schema: retailSchema });
  assert.throws(
    () => retail.query('orders', { filter }),
    (e: SyncError) => e.code === 'SYNC_ERR_UNKNOWN_FIELD' && e.statusCode === 400,
  );
  retail.put('orders', 'o-1', { total: 5 });
  assert.equal(retail.query('orders', { filter: Array(999).fill('total>1').join(' OR ') }).objects.length, 1);
});

test('a 999-term AND chain, and chains of 1,500 terms, run', (t) => {
  const store = ordersStore(t);
  assert.deepEqual(ids(store, Array(999).fill('x>1').join(' AND ')), ['o-big']);
  assert.deepEqual(ids(store, [...Array(1499).fill('x>1'), 'status == "open"'].join(' AND ')), ['o-big']);
  assert.deepEqual(ids(store, [...Array(1499).fill('x>100'), 'x == 0'].join(' OR ')), ['o-small']);
  // Parenthesised chains of the same operator are one chain.
  const groups = Array.from({ length: 300 }, () => '(x>1 OR x>2 OR x>3)').join(' OR ');
  assert.deepEqual(ids(store, groups), ['o-big']);
});

test('deep nesting runs up to the parser limit of parentheses and NOTs', (t) => {
  const store = ordersStore(t);
  const d = MAX_FILTER_DEPTH;
  assert.deepEqual(ids(store, `${'('.repeat(d)}x>1${')'.repeat(d)}`), ['o-big']);
  assert.deepEqual(ids(store, `${'NOT '.repeat(d)}x>1`), ['o-big']); // an even number of NOTs
  assert.deepEqual(ids(store, `${'NOT ('.repeat(d / 2)}x>1${')'.repeat(d / 2)}`), ['o-big']);
  // x>1 OR (x>1 AND (x>1 OR (...))) 99 levels deep, and the densest nesting that fits in 8 KB.
  assert.deepEqual(ids(store, nested(d - 1, 2, 2)), ['o-big']);
  const dense = nested(d - 1, 5, 9);
  assert.ok(dense.length <= MAX_FILTER_TEXT, `${dense.length}`);
  assert.deepEqual(ids(store, dense), ['o-big']);
  // Field-to-field comparisons compile to the deepest SQL of all comparisons.
  assert.deepEqual(ids(store, nested(d - 1, 5, 9, '"a" $= status')), []);
  assert.deepEqual(ids(store, nested(d - 1, 5, 9, 'x != total')), ['o-big', 'o-small']);
});

test('nesting beyond the limits is a coded 400 that says what the limit is', (t) => {
  const store = ordersStore(t);
  const tooDeep = `${'('.repeat(MAX_FILTER_DEPTH + 1)}x>1${')'.repeat(MAX_FILTER_DEPTH + 1)}`;
  assert.throws(
    () => store.query('orders', { filter: tooDeep }),
    (e: SyncError) =>
      e.code === 'SYNC_ERR_FILTER_SYNTAX' &&
      e.statusCode === 400 &&
      e.message.includes(`at most ${MAX_FILTER_DEPTH} nested parentheses or NOTs`),
  );
  // Far longer than any HTTP request may send: nesting whose SQL SQLite could not parse.
  const huge = nested(MAX_FILTER_DEPTH - 1, 33, 33);
  assert.throws(
    () => store.query('orders', { filter: huge }),
    (e: SyncError) =>
      e.code === 'SYNC_ERR_FILTER_SYNTAX' &&
      e.statusCode === 400 &&
      /Filter too complex at position \d+: .*at most 900/.test(e.message) &&
      e.details.maxDepth === 900,
  );
  // The same shape, a little shallower, still runs (nothing between "refused" and "runs").
  const justUnder = nested(70, 33, 33);
  assert.deepEqual(ids(store, justUnder), ['o-big']);
});

test('the JavaScript evaluator handles the same filters without overflowing its stack', () => {
  const doc = { x: 5, status: 'open' };
  for (const text of [
    Array(999).fill('x>1').join(' OR '),
    Array(999).fill('x>1').join(' AND '),
    `${'('.repeat(MAX_FILTER_DEPTH)}x>1${')'.repeat(MAX_FILTER_DEPTH)}`,
    `${'NOT '.repeat(MAX_FILTER_DEPTH)}x>1`,
    nested(MAX_FILTER_DEPTH - 1, 5, 9),
    nested(70, 33, 33),
  ]) {
    assert.equal(evaluateFilter(parseFilter(text), doc), true, text.slice(0, 40));
    assert.equal(evaluateFilter(parseFilter(text), { x: 0 }), false, text.slice(0, 40));
  }
});

test('a tree built by hand too deep for SQLite is a TypeError from filterToSql, never a SQLite failure', () => {
  let f: Filter = parseFilter('x > 1');
  for (let i = 0; i < 1000; i++) f = { kind: 'not', arg: f };
  assert.throws(() => filterToSql(f, {}, 'doc'), /Filter nests too deeply to run in SQLite .*at most 900/);
  assert.throws(() => filterToSql(f, {}, 'doc'), TypeError);
});

test('vector search filters run long chains too', (t) => {
  const store = openReplica(t, tempDir(t), 'hub', { schema });
  store.put('cases', 'c-1', { x: 5, embedding: [1, 0] });
  store.put('cases', 'c-2', { x: 0, embedding: [0, 1] });
  const feed = store.vectorSource('cases', 'embedding');
  t.after(() => feed.close());
  const matches = [...feed.matchingIds(parseFilter(Array(999).fill('x>1').join(' OR ')), {})];
  assert.deepEqual(matches, [{ id: 'c-1', matches: true }]);
  const since = [...feed.matchingIds(parseFilter(Array(999).fill('x>1').join(' AND ')), {}, 0)];
  assert.deepEqual(
    since.filter((m) => m.matches).map((m) => m.id),
    ['c-1'],
  );
});
