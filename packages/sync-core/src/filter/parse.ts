/**
 * Recursive-descent parser for the sync filter syntax (CONTRACT.md "Sync filters"). The text is only
 * ever read as data: nothing here evaluates code.
 *
 * Grammar (keywords case-insensitive; AND binds tighter than OR; NOT binds tightest):
 * ```
 * filter     = or EOF
 * or         = and { "OR" and }
 * and        = unary { "AND" unary }
 * unary      = "NOT" unary | "(" or ")" | comparison
 * comparison = operand ( compareOp operand | [ "NOT" ] "IN" list )
 * compareOp  = "==" | "!=" | "<" | ">" | "<=" | ">=" | "==~" | "^=" | "*=" | "$="
 * list       = "[" [ value { "," value } ] "]" | "(" [ value { "," value } ] ")" | variable
 * operand    = field | value
 * value      = string | number | "TRUE" | "FALSE" | "NULL" | variable
 * variable   = "$" scope "." name | "${" scope "." name [ "??" literal ] "}"
 * scope      = "auth" | "client"
 * field      = ident { "." ident }          (first segment not a keyword)
 * ```
 */

import { SyncError } from '../errors.js';
import {
  FILTER_COMPARE_OPS,
  type Filter,
  type FilterCompareOp,
  type FilterOperand,
  type FilterScalar,
  type FilterValue,
  type FilterVariable,
  type FilterVarScope,
} from './ast.js';
import { chainSqlDepth, LEAF_SQL_DEPTH, MAX_FILTER_SQL_DEPTH } from './sql-depth.js';

/** Nesting deeper than this (parentheses and NOTs) is a syntax error, not a stack overflow. */
export const MAX_FILTER_DEPTH = 100;

const KEYWORDS = new Set(['AND', 'OR', 'NOT', 'IN', 'TRUE', 'FALSE', 'NULL']);

/** True when `word` is a filter keyword (and so cannot be a bare field name). */
export function isFilterKeyword(word: string): boolean {
  return KEYWORDS.has(word.toUpperCase());
}

type Token =
  | {
      readonly t: 'punct';
      readonly v: '(' | ')' | '[' | ']' | ',' | '}' | '${' | '??';
      pos: number;
      end: number;
    }
  | { readonly t: 'op'; readonly v: FilterCompareOp; pos: number; end: number }
  | { readonly t: 'kw'; readonly v: string; pos: number; end: number }
  | { readonly t: 'ident'; readonly v: string; pos: number; end: number }
  | { readonly t: 'var'; readonly scope: FilterVarScope; readonly name: string; pos: number; end: number }
  | { readonly t: 'string'; readonly v: string; pos: number; end: number }
  | { readonly t: 'number'; readonly v: number; pos: number; end: number }
  | { readonly t: 'eof'; pos: number; end: number };

const isIdentStart = (c: string | undefined): boolean => c !== undefined && /[A-Za-z_]/.test(c);
const isIdentPart = (c: string | undefined): boolean => c !== undefined && /[A-Za-z0-9_]/.test(c);
const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

function syntaxError(position: number, expected: string | undefined, found: string | undefined): SyncError {
  const what = expected === undefined ? 'unexpected input' : `expected ${expected}`;
  const message = `Filter syntax error at position ${position}: ${what}${found === undefined ? '' : `, found ${found}`}`;
  const details: Record<string, unknown> = { position };
  if (expected !== undefined) details.expected = expected;
  if (found !== undefined) details.found = found;
  return new SyncError('SYNC_ERR_FILTER_SYNTAX', message, details);
}

const ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  "'": "'",
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

/** Produces tokens on demand, so that errors surface in text order. */
class Lexer {
  private pos = 0;
  private peeked: Token | undefined;

  constructor(private readonly text: string) {}

  peek(): Token {
    this.peeked ??= this.lex();
    return this.peeked;
  }

  next(): Token {
    const tok = this.peek();
    this.peeked = undefined;
    return tok;
  }

  /** How a token reads in an error message. */
  describe(tok: Token): string {
    return tok.t === 'eof' ? 'end of input' : JSON.stringify(this.text.slice(tok.pos, tok.end));
  }

  private fail(position: number, expected: string): never {
    const c = this.text[position];
    throw syntaxError(position, expected, c === undefined ? 'end of input' : JSON.stringify(c));
  }

  private lex(): Token {
    const s = this.text;
    while (this.pos < s.length && /\s/.test(s[this.pos]!)) this.pos++;
    const pos = this.pos;
    const c = s[pos];
    if (c === undefined) return { t: 'eof', pos, end: pos };
    const two = s.slice(pos, pos + 2);
    if (c === '(' || c === ')' || c === '[' || c === ']' || c === ',' || c === '}') {
      this.pos++;
      return { t: 'punct', v: c, pos, end: this.pos };
    }
    if (two === '${' || two === '??') {
      this.pos += 2;
      return { t: 'punct', v: two, pos, end: this.pos };
    }
    for (const op of FILTER_COMPARE_OPS) {
      if (s.startsWith(op, pos)) {
        this.pos += op.length;
        return { t: 'op', v: op, pos, end: this.pos };
      }
    }
    if (c === '$') return this.lexVariable(pos);
    if (c === '"' || c === "'") return this.lexString(pos, c);
    if (isDigit(c) || (c === '-' && isDigit(s[pos + 1]))) return this.lexNumber(pos);
    if (isIdentStart(c)) {
      const path = this.lexPath(pos);
      if (!path.includes('.') && isFilterKeyword(path)) {
        return { t: 'kw', v: path.toUpperCase(), pos, end: this.pos };
      }
      return { t: 'ident', v: path, pos, end: this.pos };
    }
    if (c === '=' || c === '!') this.fail(pos, 'an operator (==, !=, ==~)');
    this.fail(pos, 'a field, value, operator or parenthesis');
  }

  /** `ident { "." ident }`, starting at `pos` (which holds an identifier start). */
  private lexPath(pos: number): string {
    const s = this.text;
    let i = pos;
    for (;;) {
      while (isIdentPart(s[i])) i++;
      if (s[i] !== '.') break;
      if (!isIdentStart(s[i + 1])) this.fail(i + 1, 'a field name after "."');
      i++;
    }
    this.pos = i;
    return s.slice(pos, i);
  }

  private lexVariable(pos: number): Token {
    const s = this.text;
    if (!isIdentStart(s[pos + 1])) this.fail(pos + 1, 'a variable scope (auth or client), "{" or "="');
    const path = this.lexPath(pos + 1);
    const dot = path.indexOf('.');
    const scope = dot < 0 ? path : path.slice(0, dot);
    if (scope !== 'auth' && scope !== 'client') {
      throw syntaxError(pos + 1, 'a variable scope (auth or client)', JSON.stringify(scope));
    }
    if (dot < 0) this.fail(this.pos, `"." and a name after $${scope}`);
    return { t: 'var', scope, name: path.slice(dot + 1), pos, end: this.pos };
  }

  private lexString(pos: number, quote: string): Token {
    const s = this.text;
    let out = '';
    let i = pos + 1;
    for (;;) {
      const ch = s[i];
      if (ch === undefined)
        throw syntaxError(pos, `a closing ${quote} for the string starting here`, 'end of input');
      if (ch === quote) break;
      if (ch === '\\') {
        const e = s[i + 1];
        if (e === 'u') {
          const hex = s.slice(i + 2, i + 6);
          if (!/^[0-9A-Fa-f]{4}$/.test(hex)) this.fail(i + 2, 'four hex digits after \\u');
          out += String.fromCharCode(Number.parseInt(hex, 16));
          i += 6;
          continue;
        }
        const rep = e === undefined ? undefined : ESCAPES[e];
        if (rep === undefined) this.fail(i + 1, 'an escape (\\" \\\' \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)');
        out += rep;
        i += 2;
        continue;
      }
      out += ch;
      i++;
    }
    this.pos = i + 1;
    return { t: 'string', v: out, pos, end: this.pos };
  }

  private lexNumber(pos: number): Token {
    const m = /^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(this.text.slice(pos));
    // lex() only gets here when a digit follows the optional minus, so the pattern always matches.
    const raw = m![0];
    const v = Number(raw);
    if (!Number.isFinite(v)) throw syntaxError(pos, 'a finite number', JSON.stringify(raw));
    this.pos = pos + raw.length;
    const after = this.text[this.pos];
    if (after === '.') this.fail(this.pos + 1, 'a digit after "."');
    return { t: 'number', v, pos, end: this.pos };
  }
}

class Parser {
  private readonly lx: Lexer;
  private depth = 0;
  /** Estimated SQL depth of the NOT, AND and OR nodes built so far (sql-depth.ts); comparisons are leaves. */
  private readonly sqlDepths = new WeakMap<Filter, number>();

  constructor(text: string) {
    this.lx = new Lexer(text);
  }

  parse(): Filter {
    const f = this.parseOr();
    const tok = this.lx.peek();
    if (tok.t !== 'eof') throw this.unexpected(tok, 'AND, OR or end of input');
    return f;
  }

  private unexpected(tok: Token, expected: string): SyncError {
    return syntaxError(tok.pos, expected, this.lx.describe(tok));
  }

  private isKw(tok: Token, kw: string): boolean {
    return tok.t === 'kw' && tok.v === kw;
  }

  private isPunct(tok: Token, p: string): boolean {
    return tok.t === 'punct' && tok.v === p;
  }

  private enter(tok: Token): void {
    if (++this.depth > MAX_FILTER_DEPTH) {
      throw syntaxError(
        tok.pos,
        `at most ${MAX_FILTER_DEPTH} nested parentheses or NOTs`,
        this.lx.describe(tok),
      );
    }
  }

  private sqlDepth(f: Filter): number {
    return this.sqlDepths.get(f) ?? LEAF_SQL_DEPTH;
  }

  /**
   * Records the estimated SQL depth of a new node, refusing it when SQLite could not run the filter
   * (every filter the parser accepts must compile to SQL that runs, whatever its length).
   */
  private built<F extends Filter>(f: F, depth: number, start: Token): F {
    if (depth > MAX_FILTER_SQL_DEPTH) {
      throw new SyncError(
        'SYNC_ERR_FILTER_SYNTAX',
        `Filter too complex at position ${start.pos}: its AND/OR/NOT nesting would compile to SQL about ${depth} levels deep, more than SQLite runs (at most ${MAX_FILTER_SQL_DEPTH}); use IN lists or fewer nested groups`,
        {
          position: start.pos,
          expected: `a filter nesting at most ${MAX_FILTER_SQL_DEPTH} levels deep once compiled`,
          found: `about ${depth} levels`,
          depth,
          maxDepth: MAX_FILTER_SQL_DEPTH,
        },
      );
    }
    this.sqlDepths.set(f, depth);
    return f;
  }

  private chain(kind: 'and' | 'or', args: Filter[], start: Token): Filter {
    if (args.length === 1) return args[0]!;
    let deepest = 0;
    for (const a of args) deepest = Math.max(deepest, this.sqlDepth(a));
    return this.built({ kind, args }, chainSqlDepth(args.length, deepest), start);
  }

  private parseOr(): Filter {
    const start = this.lx.peek();
    const args = [this.parseAnd()];
    while (this.isKw(this.lx.peek(), 'OR')) {
      this.lx.next();
      args.push(this.parseAnd());
    }
    return this.chain('or', args, start);
  }

  private parseAnd(): Filter {
    const start = this.lx.peek();
    const args = [this.parseUnary()];
    while (this.isKw(this.lx.peek(), 'AND')) {
      this.lx.next();
      args.push(this.parseUnary());
    }
    return this.chain('and', args, start);
  }

  private parseUnary(): Filter {
    const tok = this.lx.peek();
    if (this.isKw(tok, 'NOT')) {
      this.lx.next();
      this.enter(tok);
      const arg = this.parseUnary();
      this.depth--;
      return this.built({ kind: 'not', arg }, this.sqlDepth(arg) + 1, tok);
    }
    if (this.isPunct(tok, '(')) {
      this.lx.next();
      this.enter(tok);
      const inner = this.parseOr();
      const close = this.lx.next();
      if (!this.isPunct(close, ')')) throw this.unexpected(close, '")", AND or OR');
      this.depth--;
      return inner;
    }
    return this.parseComparison();
  }

  private parseComparison(): Filter {
    const left = this.parseOperand('a field, value, NOT or "("');
    const tok = this.lx.next();
    if (tok.t === 'op') {
      const right = this.parseOperand('a field or value');
      return { kind: 'cmp', op: tok.v, left, right };
    }
    if (this.isKw(tok, 'IN')) return { kind: 'in', left, list: this.parseList() };
    if (this.isKw(tok, 'NOT')) {
      const inTok = this.lx.next();
      if (!this.isKw(inTok, 'IN')) throw this.unexpected(inTok, 'IN');
      return this.built(
        { kind: 'not', arg: { kind: 'in', left, list: this.parseList() } },
        LEAF_SQL_DEPTH + 1,
        tok,
      );
    }
    throw this.unexpected(tok, 'a comparison operator or IN');
  }

  private parseOperand(expected: string): FilterOperand {
    const tok = this.lx.peek();
    if (tok.t === 'ident') {
      this.lx.next();
      return { kind: 'field', path: tok.v };
    }
    return this.parseValue(expected);
  }

  private parseValue(expected: string): FilterValue {
    const tok = this.lx.peek();
    if (tok.t === 'var') {
      this.lx.next();
      return { kind: 'var', scope: tok.scope, name: tok.name };
    }
    if (this.isPunct(tok, '${')) return this.parseBracedVariable();
    const value = this.tryLiteral(tok);
    if (value === undefined) throw this.unexpected(tok, expected);
    this.lx.next();
    return { kind: 'literal', value };
  }

  /** The literal `tok` spells, or undefined when it is not a literal. */
  private tryLiteral(tok: Token): FilterScalar | undefined {
    if (tok.t === 'string' || tok.t === 'number') return tok.v;
    if (tok.t === 'kw' && (tok.v === 'TRUE' || tok.v === 'FALSE' || tok.v === 'NULL')) {
      return tok.v === 'NULL' ? null : tok.v === 'TRUE';
    }
    return undefined;
  }

  private parseBracedVariable(): FilterVariable {
    this.lx.next(); // "${"
    const id = this.lx.next();
    const dot = id.t === 'ident' ? id.v.indexOf('.') : -1;
    const scope = id.t === 'ident' ? id.v.slice(0, dot < 0 ? undefined : dot) : '';
    if (id.t !== 'ident' || (scope !== 'auth' && scope !== 'client')) {
      throw this.unexpected(id, 'a variable scope (auth or client)');
    }
    if (dot < 0) throw syntaxError(id.end, `"." and a name after ${scope}`, this.lx.describe(this.lx.peek()));
    const name = id.v.slice(dot + 1);
    let tok = this.lx.next();
    let def: FilterScalar | undefined;
    if (this.isPunct(tok, '??')) {
      const lit = this.lx.next();
      def = this.tryLiteral(lit);
      if (def === undefined)
        throw this.unexpected(lit, 'a literal default (string, number, true, false or null)');
      tok = this.lx.next();
    }
    if (!this.isPunct(tok, '}')) throw this.unexpected(tok, def === undefined ? '"??" or "}"' : '"}"');
    return def === undefined ? { kind: 'var', scope, name } : { kind: 'var', scope, name, default: def };
  }

  private parseList(): readonly FilterValue[] | FilterVariable {
    const open = this.lx.peek();
    if (open.t === 'var' || this.isPunct(open, '${')) return this.parseValue('a variable') as FilterVariable;
    if (open.t !== 'punct' || (open.v !== '[' && open.v !== '(')) {
      throw this.unexpected(open, 'a list ("[" or "(") or a variable');
    }
    this.lx.next();
    const close = open.v === '[' ? ']' : ')';
    const items: FilterValue[] = [];
    if (this.isPunct(this.lx.peek(), close)) {
      this.lx.next();
      return items;
    }
    for (;;) {
      items.push(this.parseValue('a value (string, number, true, false, null or variable)'));
      const tok = this.lx.next();
      if (this.isPunct(tok, close)) return items;
      if (!this.isPunct(tok, ',')) throw this.unexpected(tok, `"," or "${close}"`);
    }
  }
}

/**
 * Parses a sync filter, e.g. `terminalId == $auth.sub` or
 * `store == ${client.store ?? "s1"} AND (status IN ["open", "approved"] OR total >= 100)`.
 *
 * @throws SyncError `SYNC_ERR_FILTER_SYNTAX` with `details.position` (0-based offset into `text`),
 *   `details.expected` (what would have been valid there) and `details.found`; also for nesting deeper
 *   than {@link MAX_FILTER_DEPTH} parentheses and NOTs, or AND/OR/NOT nesting SQLite could not run
 *   (`details.depth`, `details.maxDepth`). Nothing else is thrown.
 */
export function parseFilter(text: string): Filter {
  if (typeof text !== 'string') throw syntaxError(0, 'filter text (a string)', typeof text);
  return new Parser(text).parse();
}
