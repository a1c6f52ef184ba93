// The text query language of `flarelet logs --query`: what each form compiles to, that the
// result is accepted by the API's model, and where errors point.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseQueryText, QuerySyntaxError } from '../../src/observability/logs/query-text.ts';
import { checkFilters, toWireFilters } from '../../src/observability/logs/query.ts';
import type { FilterGroup } from '../../src/observability/logs/query.ts';

const leaf = (key: string, operation: string, value?: unknown, type = typeof value === 'number' ? 'number' : typeof value === 'boolean' ? 'boolean' : 'string') =>
  value === undefined ? { kind: 'filter', key, operation, type } : { kind: 'filter', key, operation, type, value };
const and = (...filters: unknown[]) => ({ kind: 'group', filterCombination: 'and', filters });
const or = (...filters: unknown[]) => ({ kind: 'group', filterCombination: 'or', filters });

function parsed(text: string): FilterGroup {
  const group = parseQueryText(text);
  // Whatever the text parser makes, the API's checker takes.
  checkFilters(toWireFilters(group));
  return group;
}

function syntaxError(text: string): QuerySyntaxError {
  try {
    parseQueryText(text);
  } catch (error) {
    assert.ok(error instanceof QuerySyntaxError, `expected a QuerySyntaxError, got ${String(error)}`);
    return error;
  }
  assert.fail(`${text} parsed`);
}

describe('the seed queries', () => {
  test('$metadata.error EXISTS', () => {
    assert.deepEqual(parsed('$metadata.error EXISTS'), and(leaf('$metadata.error', 'exists')));
  });
  test('$workers.outcome = "exception"', () => {
    assert.deepEqual(parsed('$workers.outcome = "exception"'), and(leaf('$workers.outcome', 'eq', 'exception')));
  });
});

describe('operators', () => {
  const cases: [string, string, unknown][] = [
    ['$workers.cpuTimeMs = 5', 'eq', 5],
    ['$workers.cpuTimeMs == 5', 'eq', 5],
    ['$workers.cpuTimeMs eq 5', 'eq', 5],
    ['$workers.cpuTimeMs != 5', 'neq', 5],
    ['$workers.cpuTimeMs <> 5', 'neq', 5],
    ['$workers.cpuTimeMs NEQ 5', 'neq', 5],
    ['$workers.cpuTimeMs > 5', 'gt', 5],
    ['$workers.cpuTimeMs gt 5', 'gt', 5],
    ['$workers.cpuTimeMs >= 5', 'gte', 5],
    ['$workers.cpuTimeMs GTE 5', 'gte', 5],
    ['$workers.cpuTimeMs < 5', 'lt', 5],
    ['$workers.cpuTimeMs lt 5', 'lt', 5],
    ['$workers.cpuTimeMs <= 5', 'lte', 5],
    ['$workers.cpuTimeMs LTE 5', 'lte', 5],
    ['$metadata.message includes "city"', 'includes', 'city'],
    ['$metadata.message INCLUDES "city"', 'includes', 'city'],
    ['$metadata.message NOT_INCLUDES "city"', 'not_includes', 'city'],
    ['$metadata.message DOES_NOT_INCLUDE "city"', 'not_includes', 'city'],
    ['$metadata.message not includes "city"', 'not_includes', 'city'],
    ['$metadata.message STARTS_WITH "GET"', 'starts_with', 'GET'],
    ['$metadata.message startsWith "GET"', 'starts_with', 'GET'],
    ['$metadata.message ENDS_WITH "/x"', 'ends_with', '/x'],
    ['$metadata.message REGEX "^GET .*"', 'regex', '^GET .*'],
    ['$metadata.message MATCH_REGEX "a+"', 'regex', 'a+'],
    ['$metadata.error EXISTS', 'exists', undefined],
    ['$metadata.error exists', 'exists', undefined],
    ['$metadata.error IS NOT NULL', 'exists', undefined],
    ['$metadata.error DOES_NOT_EXIST', 'is_null', undefined],
    ['$metadata.error DOES NOT EXIST', 'is_null', undefined],
    ['$metadata.error NOT EXISTS', 'is_null', undefined],
    ['$metadata.error IS_NULL', 'is_null', undefined],
    ['$metadata.error is null', 'is_null', undefined],
  ];
  for (const [text, operation, value] of cases) {
    test(text, () => {
      assert.deepEqual(parsed(text), and(leaf(text.split(' ')[0], operation, value)));
    });
  }

  test('IN and NOT IN take a list; a single value is a list of one', () => {
    assert.deepEqual(parsed('$workers.outcome IN ("ok", "canceled")'), and(leaf('$workers.outcome', 'in', ['ok', 'canceled'])));
    assert.deepEqual(parsed('$workers.outcome not_in ("ok")'), and(leaf('$workers.outcome', 'not_in', ['ok'])));
    assert.deepEqual(parsed('$workers.outcome NOT IN ("ok","exception")'), and(leaf('$workers.outcome', 'not_in', ['ok', 'exception'])));
    assert.deepEqual(parsed('$workers.event.response.status in (500, 503)'), and(leaf('$workers.event.response.status', 'in', [500, 503], 'number')));
    assert.deepEqual(parsed('$workers.outcome IN "ok"'), and(leaf('$workers.outcome', 'in', ['ok'])));
  });
});

describe('values', () => {
  test('quoted strings with escapes, in double or single quotes', () => {
    assert.deepEqual(parsed(String.raw`$metadata.message = "a \"b\" \\ c\n\t\u00e9"`), and(leaf('$metadata.message', 'eq', 'a "b" \\ c\n\té')));
    assert.deepEqual(parsed(`$metadata.message = 'it\\'s "x"'`), and(leaf('$metadata.message', 'eq', `it's "x"`)));
  });
  test('numbers: integers, negatives, decimals, exponents', () => {
    assert.deepEqual(parsed('items > -1.5'), and(leaf('items', 'gt', -1.5)));
    assert.deepEqual(parsed('items <= 2e3'), and(leaf('items', 'lte', 2000)));
    assert.deepEqual(parsed('$workers.wallTimeMs >= 10'), and(leaf('$workers.wallTimeMs', 'gte', 10)));
  });
  test('booleans and keys of structured logs and headers', () => {
    assert.deepEqual(parsed('$workers.truncated = true'), and(leaf('$workers.truncated', 'eq', true)));
    assert.deepEqual(parsed('cache.hit = FALSE'), and(leaf('cache.hit', 'eq', false)));
    assert.deepEqual(parsed('$workers.event.request.headers.user-agent includes "curl"'), and(leaf('$workers.event.request.headers.user-agent', 'includes', 'curl')));
  });
});

describe('AND, OR, NOT and parentheses', () => {
  const a = leaf('$workers.outcome', 'eq', 'exception');
  const b = leaf('$workers.event.request.method', 'eq', 'POST');
  const c = leaf('$metadata.message', 'includes', 'city');

  test('AND', () => {
    assert.deepEqual(parsed('$workers.outcome = "exception" AND $workers.event.request.method = "POST"'), and(a, b));
  });
  test('AND binds tighter than OR', () => {
    assert.deepEqual(parsed('$workers.outcome = "exception" OR $workers.event.request.method = "POST" and $metadata.message includes "city"'), or(a, and(b, c)));
    assert.deepEqual(parsed('$workers.outcome = "exception" AND $workers.event.request.method = "POST" OR $metadata.message includes "city"'), or(and(a, b), c));
  });
  test('parentheses group', () => {
    assert.deepEqual(parsed('($workers.outcome = "exception" OR $workers.event.request.method = "POST") AND $metadata.message includes "city"'), and(or(a, b), c));
    assert.deepEqual(parsed('((($workers.outcome = "exception")))'), and(a));
  });
  test('chains of one combination are flattened', () => {
    assert.deepEqual(parsed('$workers.outcome = "exception" AND ($workers.event.request.method = "POST" AND $metadata.message includes "city")'), and(a, b, c));
  });
  test('NOT turns a filter into its complement where one exists', () => {
    assert.deepEqual(parsed('NOT $workers.outcome = "exception"'), and(leaf('$workers.outcome', 'neq', 'exception')));
    assert.deepEqual(parsed('NOT $metadata.error EXISTS'), and(leaf('$metadata.error', 'is_null')));
    assert.deepEqual(parsed('not $metadata.message includes "city"'), and(leaf('$metadata.message', 'not_includes', 'city')));
    assert.deepEqual(parsed('NOT NOT $workers.outcome = "exception"'), and(a));
  });
  test('NOT of anything else is a negated group', () => {
    assert.deepEqual(parsed('NOT $metadata.message starts_with "GET"'), { kind: 'group', filterCombination: 'and', filters: [leaf('$metadata.message', 'starts_with', 'GET')], negate: true });
    assert.deepEqual(parsed('NOT ($workers.outcome = "exception" OR $workers.event.request.method = "POST")'), { ...or(a, b), negate: true });
  });
});

describe('errors name the column and what was expected', () => {
  test('a missing operator (the example of the brief)', () => {
    const error = syntaxError('$workers.outcome "exception"');
    assert.equal(error.column, 18);
    assert.match(error.message, /^expected an operator after "\$workers\.outcome" at column 18/);
  });
  const cases: [string, number, RegExp][] = [
    ['', 1, /expected a condition/],
    ['   ', 4, /expected a condition/],
    ['$workers.outcome =', 19, /expected a value .* after "=" at column 19/],
    ['$workers.outcome = exception', 20, /expected a value .*quote text: "exception".* at column 20/],
    ['$workers.outcome = "exception', 20, /unterminated string starting at column 20/],
    [String.raw`$metadata.message = "a\qb"`, 23, /invalid escape "\\q" at column 23/],
    ['($workers.outcome = "ok"', 25, /expected AND, OR or "\)" to close the "\(" of column 1 at column 25/],
    ['$workers.outcome = "ok")', 24, /unexpected "\)"/],
    ['$workers.outcome = "ok" $metadata.level = "log"', 25, /expected AND, OR or the end of the query at column 25/],
    ['$workers.outcome = "ok" AND', 28, /expected a key .* at column 28/],
    ['AND $workers.outcome = "ok"', 1, /expected a key .* at column 1/],
    ['$workers.outcome LIKE "ok"', 18, /expected an operator after "\$workers\.outcome" at column 18, found "LIKE"/],
    ['$metadata.nope = 1', 1, /unknown key "\$metadata\.nope" at column 1/],
    ['$foo.bar EXISTS', 1, /unknown key "\$foo\.bar" at column 1/],
    ['$metadata.message regex "("', 25, /invalid value for \$metadata\.message at column 25: invalid regular expression/],
    ['$workers.cpuTimeMs > "fast"', 22, /invalid value for \$workers\.cpuTimeMs at column 22: "fast" is not a number/],
    ['$workers.outcome IN ("ok" "exception")', 27, /expected "," or "\)" in the list at column 27/],
    ['$workers.outcome IN ()', 22, /expected a value .* after "\(" at column 22/],
    ['$workers.outcome = "ok" # comment', 25, /unexpected character "#" at column 25/],
    ['$metadata.level = 1abc', 19, /a key cannot start with a digit/],
    ['()', 2, /expected a condition inside "\(\)"/],
    ['$metadata.error IS', 19, /expected the rest of an operator after "IS" .* at column 19/],
    ['$metadata.error IS NOT', 23, /expected the rest of an operator after "IS NOT" .* at column 23/],
  ];
  for (const [text, column, message] of cases) {
    test(JSON.stringify(text), () => {
      const error = syntaxError(text);
      assert.match(error.message, message);
      assert.equal(error.column, column, error.message);
      assert.ok(error.message.includes(`column ${column}`), error.message);
    });
  }
});
