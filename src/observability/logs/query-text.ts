// The text form of a log filter, as Cloudflare's docs write it (`$metadata.error EXISTS`,
// `$workers.outcome = "exception"`), compiled to the filter model the query API takes.
//
//   query     := or
//   or        := and ( OR and )*
//   and       := unary ( AND unary )*            AND binds tighter than OR
//   unary     := NOT unary | "(" or ")" | condition
//   condition := key operator [ value | list ]
//   list      := "(" value ( "," value )* ")"
//   value     := "string" | 'string' | number | true | false
//
// Keywords and operator words are case-insensitive. Every error names the 1-based column where
// the parser stopped and what it expected there.
import { KeyError, resolveKey } from './keys.ts';
import { checkLeaf, LIST_OPERATIONS, normalizeOperation, QueryError, VALUELESS } from './query.ts';
import type { FilterGroup, FilterLeaf, FilterNode, Operation, Scalar } from './query.ts';

export class QuerySyntaxError extends Error {
  /** 1-based column (in UTF-16 code units) where the problem is */
  readonly column: number;
  constructor(message: string, column: number) {
    super(message);
    this.name = 'QuerySyntaxError';
    this.column = column;
  }
}

type TokenKind = 'word' | 'string' | 'number' | 'symbol' | 'open' | 'close' | 'comma' | 'end';

interface Token {
  kind: TokenKind;
  /** the text as written */
  text: string;
  /** the decoded value of strings and numbers */
  value?: string | number;
  /** 0-based offset */
  start: number;
}

const WORD_START = /[$A-Za-z_]/;
const WORD_CHAR = /[$A-Za-z0-9_.\-:@/]/;
const SYMBOLS = ['>=', '<=', '!=', '<>', '==', '=', '>', '<'];
const ESCAPES: Record<string, string> = { '"': '"', "'": "'", '\\': '\\', '/': '/', n: '\n', t: '\t', r: '\r', b: '\b', f: '\f' };

function at(offset: number): string {
  return `at column ${offset + 1}`;
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) { i++; continue; }
    const start = i;
    if (c === '(') { tokens.push({ kind: 'open', text: c, start }); i++; continue; }
    if (c === ')') { tokens.push({ kind: 'close', text: c, start }); i++; continue; }
    if (c === ',') { tokens.push({ kind: 'comma', text: c, start }); i++; continue; }
    const symbol = SYMBOLS.find((s) => text.startsWith(s, i));
    if (symbol) { tokens.push({ kind: 'symbol', text: symbol, start }); i += symbol.length; continue; }
    if (c === '"' || c === "'") {
      let value = '';
      i++;
      for (;;) {
        if (i >= text.length) throw new QuerySyntaxError(`unterminated string starting ${at(start)}: expected a closing ${c}`, start + 1);
        const ch = text[i];
        if (ch === c) { i++; break; }
        if (ch === '\\') {
          const next = text[i + 1];
          if (next === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
            value += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16));
            i += 6;
            continue;
          }
          if (next === undefined || !(next in ESCAPES)) {
            throw new QuerySyntaxError(`invalid escape "\\${next ?? ''}" ${at(i)}: use \\" \\' \\\\ \\n \\t or \\uXXXX`, i + 1);
          }
          value += ESCAPES[next];
          i += 2;
          continue;
        }
        value += ch;
        i++;
      }
      tokens.push({ kind: 'string', text: text.slice(start, i), value, start });
      continue;
    }
    const number = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/.exec(text.slice(i));
    if (number && (c !== '-' || /[\d.]/.test(text[i + 1] ?? ''))) {
      const after = text[i + number[0].length];
      if (after !== undefined && WORD_CHAR.test(after)) {
        throw new QuerySyntaxError(`unexpected "${text.slice(i, i + number[0].length + 1)}" ${at(i)}: a key cannot start with a digit`, i + 1);
      }
      tokens.push({ kind: 'number', text: number[0], value: Number(number[0]), start });
      i += number[0].length;
      continue;
    }
    if (WORD_START.test(c)) {
      while (i < text.length && WORD_CHAR.test(text[i])) i++;
      tokens.push({ kind: 'word', text: text.slice(start, i), start });
      continue;
    }
    throw new QuerySyntaxError(`unexpected character "${c}" ${at(start)}`, start + 1);
  }
  tokens.push({ kind: 'end', text: '', start: text.length });
  return tokens;
}

function describe(token: Token): string {
  if (token.kind === 'end') return 'the end of the query';
  return token.kind === 'string' ? token.text : `"${token.text}"`;
}

// NOT of a filter: the complementary operation where one exists (absent keys included, so
// NOT (k = v) is exactly k != v), otherwise a negated group.
const COMPLEMENT: Partial<Record<Operation, Operation>> = {
  eq: 'neq', neq: 'eq', includes: 'not_includes', not_includes: 'includes', in: 'not_in', not_in: 'in', exists: 'is_null', is_null: 'exists',
};

function negate(node: FilterNode): FilterNode {
  if (node.kind === 'group') return { ...node, negate: !node.negate };
  const complement = COMPLEMENT[node.operation];
  if (complement) return { ...node, operation: complement };
  return { kind: 'group', filterCombination: 'and', filters: [node], negate: true };
}

function combine(combination: 'and' | 'or', nodes: FilterNode[]): FilterNode {
  if (nodes.length === 1) return nodes[0];
  // a AND (b AND c) is one group of three
  const flat = nodes.flatMap((n) => (n.kind === 'group' && !n.negate && n.filterCombination === combination ? n.filters : [n]));
  return { kind: 'group', filterCombination: combination, filters: flat };
}

class Parser {
  private readonly tokens: Token[];
  private index = 0;
  constructor(text: string) {
    this.tokens = tokenize(text);
  }

  /** The next token, not consumed (a method, not a getter: the parser moves between two reads). */
  private peek(): Token {
    return this.tokens[this.index];
  }

  private next(): Token {
    const token = this.tokens[this.index];
    if (token.kind !== 'end') this.index++;
    return token;
  }

  private isWord(token: Token, ...words: string[]): boolean {
    return token.kind === 'word' && words.includes(token.text.toUpperCase());
  }

  private fail(expected: string, token: Token = this.peek()): never {
    const found = token.kind === 'end' ? '' : `, found ${describe(token)}`;
    throw new QuerySyntaxError(`${expected} ${at(token.start)}${found}`, token.start + 1);
  }

  parse(): FilterGroup {
    if (this.peek().kind === 'end') this.fail('expected a condition such as $workers.outcome = "exception"');
    const node = this.or();
    if (this.peek().kind !== 'end') {
      if (this.peek().kind === 'close') this.fail('unexpected ")" with no "(" before it;');
      this.fail('expected AND, OR or the end of the query');
    }
    return node.kind === 'group' ? node : { kind: 'group', filterCombination: 'and', filters: [node] };
  }

  private or(): FilterNode {
    const nodes = [this.and()];
    while (this.isWord(this.peek(), 'OR')) {
      this.next();
      nodes.push(this.and());
    }
    return combine('or', nodes);
  }

  private and(): FilterNode {
    const nodes = [this.unary()];
    while (this.isWord(this.peek(), 'AND')) {
      this.next();
      nodes.push(this.unary());
    }
    return combine('and', nodes);
  }

  private unary(): FilterNode {
    const token = this.peek();
    if (this.isWord(token, 'NOT')) {
      this.next();
      return negate(this.unary());
    }
    if (token.kind === 'open') {
      this.next();
      if (this.peek().kind === 'close') this.fail('expected a condition inside "()"');
      const inner = this.or();
      if (this.peek().kind !== 'close') this.fail(`expected AND, OR or ")" to close the "(" of column ${token.start + 1}`);
      this.next();
      return inner;
    }
    if (token.kind === 'word' && !this.isWord(token, 'AND', 'OR')) return this.condition();
    return this.fail('expected a key (such as $workers.outcome), "(" or NOT');
  }

  private operator(key: Token): { operation: Operation; token: Token } {
    const token = this.peek();
    if (token.kind === 'symbol') {
      this.next();
      return { operation: normalizeOperation(token.text)!, token };
    }
    if (token.kind !== 'word') return this.fail(`expected an operator after "${key.text}"`);
    const word = token.text.toUpperCase();
    // Operators written in several words: NOT IN, NOT INCLUDES, IS [NOT] NULL, DOES NOT EXIST…
    if (word === 'NOT' || word === 'IS' || word === 'DOES') {
      this.next();
      const words = [word];
      while (this.isWord(this.peek(), 'NOT', 'NULL', 'IN', 'INCLUDES', 'INCLUDE', 'CONTAINS', 'CONTAIN', 'EXIST', 'EXISTS')) {
        words.push(this.next().text.toUpperCase());
        const joined = words.join(' ');
        const operation = MULTI_WORD[joined];
        if (operation) return { operation, token };
      }
      return this.fail(`expected the rest of an operator after "${words.join(' ')}" (NOT IN, NOT INCLUDES, NOT EXISTS, IS NULL, IS NOT NULL, DOES NOT EXIST)`);
    }
    const operation = normalizeOperation(token.text);
    if (!operation) return this.fail(`expected an operator after "${key.text}"`);
    this.next();
    return { operation, token };
  }

  private scalar(after: Token): { value: Scalar; token: Token } {
    const token = this.peek();
    if (token.kind === 'string' || token.kind === 'number') {
      this.next();
      return { value: token.value!, token };
    }
    if (this.isWord(token, 'TRUE', 'FALSE')) {
      this.next();
      return { value: token.text.toUpperCase() === 'TRUE', token };
    }
    const hint = token.kind === 'word' ? ` (quote text: "${token.text}")` : '';
    return this.fail(`expected a value ("quoted text", a number, true or false) after "${after.text}"${hint}`);
  }

  private list(after: Token): { value: Scalar[]; token: Token } {
    const open = this.peek();
    if (open.kind !== 'open') {
      // A single value is a list of one: `$workers.outcome IN "ok"`.
      const { value, token } = this.scalar(after);
      return { value: [value], token };
    }
    this.next();
    const values: Scalar[] = [];
    for (;;) {
      values.push(this.scalar(values.length === 0 ? open : this.tokens[this.index - 1]).value);
      if (this.peek().kind === 'comma') { this.next(); continue; }
      if (this.peek().kind === 'close') { this.next(); break; }
      this.fail('expected "," or ")" in the list');
    }
    return { value: values, token: open };
  }

  private condition(): FilterLeaf {
    const key = this.next();
    try {
      resolveKey(key.text);
    } catch (error) {
      if (error instanceof KeyError) {
        throw new QuerySyntaxError(`${error.headline} ${at(key.start)}${error.detail ? `: ${error.detail}` : ''}`, key.start + 1);
      }
      throw error;
    }
    const { operation, token: opToken } = this.operator(key);
    let value: Scalar | Scalar[] | undefined;
    let valueToken = opToken;
    if (LIST_OPERATIONS.has(operation)) ({ value, token: valueToken } = this.list(opToken));
    else if (!VALUELESS.has(operation)) ({ value, token: valueToken } = this.scalar(opToken));
    const first = Array.isArray(value) ? value[0] : value;
    const type = typeof first === 'number' ? 'number' : typeof first === 'boolean' ? 'boolean' : 'string';
    const leaf: FilterLeaf = { kind: 'filter', key: key.text, operation, type, ...(value === undefined ? {} : { value }) };
    try {
      // The same checks the API makes (value fits the key, regex compiles), reported here.
      checkLeaf({ ...leaf }, 'query');
    } catch (error) {
      if (error instanceof QueryError) throw new QuerySyntaxError(`invalid value for ${key.text} ${at(valueToken.start)}: ${error.detail}`, valueToken.start + 1);
      throw error;
    }
    return leaf;
  }
}

const MULTI_WORD: Record<string, Operation> = {
  'NOT IN': 'not_in',
  'NOT INCLUDES': 'not_includes',
  'NOT CONTAINS': 'not_includes',
  'NOT EXISTS': 'is_null',
  'IS NULL': 'is_null',
  'IS NOT NULL': 'exists',
  'DOES NOT EXIST': 'is_null',
  'DOES NOT INCLUDE': 'not_includes',
  'DOES NOT CONTAIN': 'not_includes',
};

/** Parses a text filter into the API's filter model; throws QuerySyntaxError. */
export function parseQueryText(text: string): FilterGroup {
  return new Parser(text).parse();
}
