// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${client.x ?? d}` is filter syntax, not a template.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type Filter,
  filterFields,
  filterVariables,
  isSyncError,
  MAX_FILTER_DEPTH,
  parseFilter,
  printFilter,
  type SyncError,
} from '@backroom/sync-core';
import fc from 'fast-check';

const field = (path: string) => ({ kind: 'field', path }) as const;
const lit = (value: string | number | boolean | null) => ({ kind: 'literal', value }) as const;
const cmp = (l: string, op: string, value: string | number | boolean | null): Filter =>
  ({ kind: 'cmp', op, left: field(l), right: lit(value) }) as Filter;

test('every comparison operator parses to its own node', () => {
  for (const op of ['==', '!=', '<', '>', '<=', '>=', '==~', '^=', '*=', '$=']) {
    assert.deepEqual(parseFilter(`name ${op} "Milk"`), cmp('name', op, 'Milk'), op);
    // Operators need no surrounding spaces.
    assert.deepEqual(parseFilter(`name${op}"Milk"`), cmp('name', op, 'Milk'), op);
  }
});

test('AND binds tighter than OR, parentheses override, NOT binds tightest', () => {
  const a = cmp('a', '==', 1);
  const b = cmp('b', '==', 2);
  const c = cmp('c', '==', 3);
  assert.deepEqual(parseFilter('a == 1 OR b == 2 AND c == 3'), {
    kind: 'or',
    args: [a, { kind: 'and', args: [b, c] }],
  });
  assert.deepEqual(parseFilter('a == 1 AND b == 2 OR c == 3'), {
    kind: 'or',
    args: [{ kind: 'and', args: [a, b] }, c],
  });
  assert.deepEqual(parseFilter('(a == 1 OR b == 2) AND c == 3'), {
    kind: 'and',
    args: [{ kind: 'or', args: [a, b] }, c],
  });
  assert.deepEqual(parseFilter('a == 1 AND b == 2 AND c == 3'), { kind: 'and', args: [a, b, c] });
  assert.deepEqual(parseFilter('NOT a == 1 AND b == 2'), { kind: 'and', args: [{ kind: 'not', arg: a }, b] });
  assert.deepEqual(parseFilter('NOT (a == 1 OR b == 2)'), { kind: 'not', arg: { kind: 'or', args: [a, b] } });
  assert.deepEqual(parseFilter('((a == 1))'), a);
});

test('IN takes [..] and (..) lists, an empty list, NOT IN and a list variable', () => {
  const expected = { kind: 'in', left: field('status'), list: [lit('open'), lit('approved')] };
  assert.deepEqual(parseFilter('status IN ["open", "approved"]'), expected);
  assert.deepEqual(parseFilter("status IN ('open','approved')"), expected);
  assert.deepEqual(parseFilter('status IN []'), { kind: 'in', left: field('status'), list: [] });
  assert.deepEqual(parseFilter('status NOT IN ["closed"]'), {
    kind: 'not',
    arg: { kind: 'in', left: field('status'), list: [lit('closed')] },
  });
  assert.deepEqual(parseFilter('store IN $auth.stores'), {
    kind: 'in',
    left: field('store'),
    list: { kind: 'var', scope: 'auth', name: 'stores' },
  });
  assert.deepEqual(parseFilter('x IN [1, -2.5, true, false, null, $client.n]'), {
    kind: 'in',
    left: field('x'),
    list: [lit(1), lit(-2.5), lit(true), lit(false), lit(null), { kind: 'var', scope: 'client', name: 'n' }],
  });
});

test('keywords are case-insensitive; field names are not keywords when dotted', () => {
  const a = cmp('a', '==', true);
  const b = cmp('b', '==', null);
  assert.deepEqual(parseFilter('a == TRUE and b == Null'), { kind: 'and', args: [a, b] });
  assert.deepEqual(parseFilter('a == true Or b == NULL'), { kind: 'or', args: [a, b] });
  assert.deepEqual(parseFilter('not a == True'), { kind: 'not', arg: a });
  assert.deepEqual(parseFilter('a in [false]'), { kind: 'in', left: field('a'), list: [lit(false)] });
  assert.deepEqual(parseFilter('address.in == "x"'), cmp('address.in', '==', 'x'));
  assert.deepEqual(parseFilter('address.city ^= "Ber"'), cmp('address.city', '^=', 'Ber'));
});

test('literals: both quote styles, escapes, ints, floats, negatives, exponents', () => {
  const value = (text: string) => (parseFilter(`x == ${text}`) as { right: { value: unknown } }).right.value;
  assert.equal(value('"double"'), 'double');
  assert.equal(value("'single'"), 'single');
  assert.equal(value(String.raw`"a\"b\'c\\d\/e"`), 'a"b\'c\\d/e');
  assert.equal(value(String.raw`'it\'s'`), "it's");
  assert.equal(value(String.raw`"\n\t\r\b\f"`), '\n\t\r\b\f');
  assert.equal(value(String.raw`"caf\u00e9 \uD83D\uDE00"`), 'café 😀');
  assert.equal(value('"raw é 😀"'), 'raw é 😀');
  assert.equal(value('42'), 42);
  assert.equal(value('-7'), -7);
  assert.equal(value('3.25'), 3.25);
  assert.equal(value('-0.5'), -0.5);
  assert.equal(value('1e3'), 1000);
  assert.equal(value('2.5E-2'), 0.025);
  assert.ok(Object.is(value('-0'), -0));
});

test('variables with and without defaults, in both spellings', () => {
  assert.deepEqual(parseFilter('terminalId == $auth.sub'), {
    kind: 'cmp',
    op: '==',
    left: field('terminalId'),
    right: { kind: 'var', scope: 'auth', name: 'sub' },
  });
  const right = (text: string) => (parseFilter(`x == ${text}`) as { right: unknown }).right;
  assert.deepEqual(right('$client.store'), { kind: 'var', scope: 'client', name: 'store' });
  assert.deepEqual(right('$auth.app.store'), { kind: 'var', scope: 'auth', name: 'app.store' });
  assert.deepEqual(right('${client.store ?? "s1"}'), {
    kind: 'var',
    scope: 'client',
    name: 'store',
    default: 's1',
  });
  assert.deepEqual(right('${ auth.limit ?? 42 }'), {
    kind: 'var',
    scope: 'auth',
    name: 'limit',
    default: 42,
  });
  assert.deepEqual(right('${auth.flag??null}'), { kind: 'var', scope: 'auth', name: 'flag', default: null });
  assert.deepEqual(right('${auth.sub}'), { kind: 'var', scope: 'auth', name: 'sub' });
  // A variable may stand on the left too: managers see everything.
  assert.deepEqual(parseFilter('$auth.role == "manager" OR terminalId == $auth.sub').kind, 'or');
  // `$=` is the ends-with operator, not a variable.
  assert.deepEqual(parseFilter('sku $= "-X"'), cmp('sku', '$=', '-X'));
});

test('the contract example parses to the expected tree', () => {
  const f = parseFilter(
    'store == ${client.store ?? "s1"} AND (status IN ["open","approved"] OR total >= 100)',
  );
  assert.deepEqual(f, {
    kind: 'and',
    args: [
      {
        kind: 'cmp',
        op: '==',
        left: field('store'),
        right: { kind: 'var', scope: 'client', name: 'store', default: 's1' },
      },
      {
        kind: 'or',
        args: [
          { kind: 'in', left: field('status'), list: [lit('open'), lit('approved')] },
          cmp('total', '>=', 100),
        ],
      },
    ],
  });
  assert.deepEqual(filterFields(f), ['store', 'status', 'total']);
  assert.deepEqual(filterVariables(f), [{ scope: 'client', name: 'store', hasDefault: true }]);
  assert.equal(
    printFilter(f),
    'store == ${client.store ?? "s1"} AND (status IN ["open", "approved"] OR total >= 100)',
  );
});

test('filterFields and filterVariables list each name once', () => {
  const f = parseFilter(
    'a == $auth.sub OR (b.c IN [$client.x, 1] AND a != ${auth.sub ?? "d"}) OR "k" == b.c',
  );
  assert.deepEqual(filterFields(f), ['a', 'b.c']);
  assert.deepEqual(filterVariables(f), [
    { scope: 'auth', name: 'sub', hasDefault: false },
    { scope: 'client', name: 'x', hasDefault: false },
  ]);
});

function syntaxErrorOf(text: string): SyncError {
  try {
    parseFilter(text);
  } catch (e) {
    assert.ok(isSyncError(e, 'SYNC_ERR_FILTER_SYNTAX'), `${text}: ${String(e)}`);
    return e;
  }
  assert.fail(`parsed without error: ${text}`);
}

test('syntax errors point at the 0-based position with what was expected', () => {
  const cases: [text: string, position: number, expected: RegExp][] = [
    ['', 0, /field, value/],
    ['name == "Milk', 8, /closing "/], // unclosed string: points at its opening quote
    ["name == 'Milk", 8, /closing '/],
    ['a == 1 AND', 10, /field, value/], // dangling AND
    ['a == 1 OR ', 10, /field, value/], // dangling OR
    ['total ==', 8, /field or value/], // == without a right side
    ['total == AND b == 1', 9, /field or value/],
    ['total = 5', 6, /operator/], // unknown operator
    ['total ~= 5', 6, /field, value, operator/],
    ['total 5', 6, /comparison operator or IN/], // missing operator
    ['$nope.x == 1', 1, /auth or client/],
    ['${nope.x} == 1', 2, /auth or client/],
    ['a == 1 b == 2', 7, /AND, OR or end of input/], // trailing garbage
    ['a == 1)', 6, /AND, OR or end of input/],
    ['(a == 1', 7, /"\)", AND or OR/], // unclosed parenthesis
    ['a IN ["x", "y"', 14, /"," or "\]"/],
    ['a IN ("x" "y")', 10, /"," or "\)"/],
    ['a IN "x"', 5, /list/],
    ['a NOT == 1', 6, /IN/],
    ['a == "\\q"', 7, /escape/],
    ['a == "\\u12G4"', 8, /hex digits/],
    ['a == 1.', 7, /digit/],
    ['a == 1e999', 5, /finite number/],
    ['address. == 1', 8, /field name after/],
    ['a == ${client.x ?? y}', 19, /literal default/],
    ['a == ${client.x ?? 1', 20, /"}"/],
    ['a == $auth', 10, /"\." and a name/],
    ['a == $', 6, /variable scope/],
    ['AND == 1', 0, /field, value/],
  ];
  for (const [text, position, expected] of cases) {
    const e = syntaxErrorOf(text);
    assert.equal(e.details.position, position, `${JSON.stringify(text)}: ${e.message}`);
    assert.match(String(e.details.expected), expected, `${JSON.stringify(text)}: ${e.message}`);
    assert.equal(typeof e.details.found, 'string', text);
    assert.equal(e.statusCode, 400);
    assert.match(e.message, new RegExp(`position ${position}`));
  }
});

test('absurd nesting is a syntax error, not a stack overflow', () => {
  const deep = `${'('.repeat(MAX_FILTER_DEPTH + 1)}a == 1${')'.repeat(MAX_FILTER_DEPTH + 1)}`;
  assert.equal(syntaxErrorOf(deep).details.position, MAX_FILTER_DEPTH);
  assert.equal(syntaxErrorOf(`${'NOT '.repeat(100_000)}a == 1`).code, 'SYNC_ERR_FILTER_SYNTAX');
  const ok = `${'('.repeat(MAX_FILTER_DEPTH)}a == 1${')'.repeat(MAX_FILTER_DEPTH)}`;
  assert.deepEqual(parseFilter(ok), cmp('a', '==', 1));
});

test('printFilter output parses back to the same tree', () => {
  for (const text of [
    'a == 1 OR b == 2 AND c == 3',
    '(a == 1 OR b == 2) AND c == 3',
    '(a == 1 AND b == 2) AND c == 3',
    'NOT (a == 1 OR b == 2) AND NOT NOT c $= "x\\"y"',
    'x NOT IN ("a", \'b\') OR y IN $auth.stores OR z IN []',
    '-0 < n AND n <= 1e21 AND 5 == ${client.k ?? -2.5} AND s ==~ "\\u0000\\uD800"',
  ]) {
    const f = parseFilter(text);
    assert.deepEqual(parseFilter(printFilter(f)), f, text);
  }
});

const TOKENS = [
  'a',
  'b.c',
  ' ',
  '==',
  '!=',
  '<',
  '>=',
  '==~',
  '^=',
  '*=',
  '$=',
  '=',
  '!',
  'AND',
  'or',
  'NOT',
  'IN',
  '(',
  ')',
  '[',
  ']',
  ',',
  '"x',
  '"',
  "'",
  '\\',
  '1',
  '-',
  '.',
  '2.5',
  'e9',
  'true',
  'null',
  '$',
  '$auth.sub',
  '$client',
  '${',
  '}',
  '??',
  '.x',
  '\n',
];

function assertOnlySyntaxErrors(text: string): void {
  try {
    parseFilter(text);
  } catch (e) {
    if (!isSyncError(e, 'SYNC_ERR_FILTER_SYNTAX')) throw e;
    const pos = e.details.position;
    if (typeof pos !== 'number' || !Number.isInteger(pos) || pos < 0 || pos > text.length) {
      throw new Error(`bad position ${String(pos)} for ${JSON.stringify(text)}`);
    }
  }
}

test('fuzz: parseFilter throws nothing but SyncError SYNC_ERR_FILTER_SYNTAX at a position in the text', () => {
  fc.assert(fc.property(fc.string({ maxLength: 60, unit: 'binary' }), assertOnlySyntaxErrors), {
    numRuns: 300,
  });
  // Strings made of filter tokens get much further into the grammar than random characters do.
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...TOKENS), { maxLength: 25 }), (parts) =>
      assertOnlySyntaxErrors(parts.join('')),
    ),
    { numRuns: 500 },
  );
});
