// Headers as the guest sees it. Expected error texts are workerd's (checked against workerd).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Headers, cloneHeaders, headersFromList, headersToList, setHeadersGuard, getHeadersGuard, setHeaderUnguarded,
} from '../../src/guest/headers.ts';

const typeError = (message: string) => ({ name: 'TypeError', message });

test('names are lowercased and repeated values joined with ", "', () => {
  const h = new Headers();
  h.append('X-Thing', 'a');
  h.append('x-thing', 'b');
  assert.equal(h.get('X-THING'), 'a, b');
  assert.equal(h.has('x-thing'), true);
  h.set('X-Thing', 'c');
  assert.equal(h.get('x-thing'), 'c');
  h.delete('X-THING');
  assert.equal(h.get('x-thing'), null);
  assert.equal(h.has('x-thing'), false);
});

test('iteration is sorted by name and keeps Set-Cookie values apart', () => {
  const h = new Headers([['Set-Cookie', 'a=1'], ['B', '2'], ['set-cookie', 'b=2'], ['a', '1'], ['b', '3']]);
  assert.deepEqual([...h], [['a', '1'], ['b', '2, 3'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2']]);
  assert.deepEqual([...h.keys()], ['a', 'b', 'set-cookie', 'set-cookie']);
  assert.deepEqual([...h.values()], ['1', '2, 3', 'a=1', 'b=2']);
  assert.equal(h.get('set-cookie'), 'a=1, b=2');
  assert.deepEqual(h.getSetCookie(), ['a=1', 'b=2']);
  assert.deepEqual(h.getAll('Set-Cookie'), ['a=1', 'b=2']);
  const seen: string[] = [];
  h.forEach(function (this: unknown, value, key, parent) {
    assert.equal(parent, h);
    assert.equal(this, 'ctx');
    seen.push(`${key}=${value}`);
  }, 'ctx');
  assert.deepEqual(seen, ['a=1', 'b=2, 3', 'set-cookie=a=1', 'set-cookie=b=2']);
});

test('iterators work on a snapshot, so mutation while iterating is harmless', () => {
  const h = new Headers({ a: '1', b: '2' });
  const seen: string[] = [];
  for (const [k] of h) {
    seen.push(k);
    h.delete('b');
  }
  assert.deepEqual(seen, ['a', 'b']);
});

test('values are trimmed of HTTP whitespace; non-ASCII is kept', () => {
  const h = new Headers({ a: ' \t x y \n', b: 'é' });
  assert.equal(h.get('a'), 'x y');
  assert.equal(h.get('b'), 'é');
});

test('invalid names and values throw workerd\'s TypeErrors', () => {
  const h = new Headers();
  assert.throws(() => h.set('a b', 'x'), typeError('Invalid header name.'));
  assert.throws(() => h.set('é', 'x'), typeError('Invalid header name.'));
  assert.throws(() => h.get('a b'), typeError('Invalid header name.'));
  assert.throws(() => h.has('a:b'), typeError('Invalid header name.'));
  assert.throws(() => h.delete('a b'), typeError('Invalid header name.'));
  assert.throws(() => h.set('a', 'x\ny'), typeError('Invalid header value.'));
  assert.throws(() => h.append('a', 'x\0y'), typeError('Invalid header value.'));
  assert.throws(() => h.append('a', 'x\ry'), typeError('Invalid header value.'));
  // Value is checked before name, as in workerd.
  assert.throws(() => h.set('a b', 'x\ny'), typeError('Invalid header value.'));
  // workerd accepts the empty name.
  h.set('', 'x');
  assert.equal(h.get(''), 'x');
});

test('constructor accepts Headers, pairs and records, and rejects the rest', () => {
  const base = new Headers({ 'X-A': '1' });
  const copy = new Headers(base);
  copy.set('x-a', '2');
  assert.equal(base.get('x-a'), '1');
  assert.equal(new Headers([['a', 'b']]).get('a'), 'b');
  assert.equal(new Headers(new Map([['m', 'v']])).get('m'), 'v');
  assert.throws(() => new Headers([['a']] as never), typeError(
    'To initialize a Headers object from a sequence, each inner sequence must have exactly two elements.'));
  assert.throws(() => new Headers([['a', 'b', 'c']] as never), typeError(
    'To initialize a Headers object from a sequence, each inner sequence must have exactly two elements.'));
  assert.throws(() => new Headers(['ab'] as never), typeError(
    "Incorrect type: the provided value is not of type 'Sequence'."));
  for (const bad of [5, 'ab', null]) {
    assert.throws(() => new Headers(bad as never), typeError(
      "Failed to construct 'Headers': constructor parameter 1 is not of type 'Headers or Sequence or object'."));
  }
  assert.throws(() => new Headers().getAll('x'), typeError(
    'getAll() can only be used with the header name "Set-Cookie".'));
});

test('any guard but "none" makes headers immutable', () => {
  for (const guard of ['immutable', 'request', 'response'] as const) {
    const h = new Headers({ a: '1' });
    setHeadersGuard(h, guard);
    assert.equal(getHeadersGuard(h), guard);
    assert.throws(() => h.set('a', '2'), typeError("Can't modify immutable headers."));
    assert.throws(() => h.append('a', '2'), typeError("Can't modify immutable headers."));
    assert.throws(() => h.delete('a'), typeError("Can't modify immutable headers."));
    // The guard is checked before the name.
    assert.throws(() => h.append('a b', '2'), typeError("Can't modify immutable headers."));
    assert.equal(h.get('a'), '1');
    // A copy made by the constructor is mutable; cloneHeaders keeps the guard.
    new Headers(h).set('a', '3');
    assert.throws(() => cloneHeaders(h).set('a', '3'), typeError("Can't modify immutable headers."));
    setHeaderUnguarded(h, 'content-type', 'text/plain');
    assert.equal(h.get('content-type'), 'text/plain');
    assert.equal(getHeadersGuard(h), guard);
  }
});

test('headersFromList is lazy, case-insensitive and round-trips through headersToList', () => {
  const flat = ['Content-Type', 'text/plain', 'Set-Cookie', 'a=1', 'set-cookie', 'b=2', 'X-A', '1'];
  const lazy = headersFromList(flat, 'immutable');
  assert.deepEqual(headersToList(lazy), ['content-type', 'text/plain', 'set-cookie', 'a=1', 'set-cookie', 'b=2', 'x-a', '1']);
  assert.equal(lazy.get('content-type'), 'text/plain');
  assert.deepEqual(lazy.getSetCookie(), ['a=1', 'b=2']);
  assert.throws(() => lazy.set('a', 'b'), typeError("Can't modify immutable headers."));
  const h = new Headers();
  h.append('Set-Cookie', 'x=1');
  h.append('set-cookie', 'y=2');
  h.append('Vary', 'a');
  h.append('vary', 'b');
  assert.deepEqual(headersToList(h), ['set-cookie', 'x=1', 'set-cookie', 'y=2', 'vary', 'a', 'vary', 'b']);
  assert.deepEqual(headersToList(new Headers()), []);
});

test('behaves like Node\'s Headers for ordinary use', () => {
  const init: [string, string][] = [['B', '2'], ['a', '1'], ['b', '3'], ['Set-Cookie', 'x'], ['set-cookie', 'y']];
  assert.deepEqual([...new Headers(init)], [...new globalThis.Headers(init)]);
  assert.equal(Object.prototype.toString.call(new Headers()), '[object Headers]');
  assert.deepEqual(Object.keys(new Headers({ a: '1' })), []);
});
