import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DOMException, legacyCodeFor } from '../../src/guest/dom-exception.ts';

test('name, message and legacy code', () => {
  const e = new DOMException('x', 'AbortError');
  assert.equal(e.name, 'AbortError');
  assert.equal(e.message, 'x');
  assert.equal(e.code, 20);
  assert.equal(new DOMException('x', 'FooError').code, 0);
  const plain = new DOMException();
  assert.equal(plain.name, 'Error');
  assert.equal(plain.message, '');
  assert.equal(plain.code, 0);
  assert.equal(new DOMException(null as never, null as never).name, 'null');
  assert.equal(legacyCodeFor('DataCloneError'), 25);
});

test('it is an Error with a useful stack and toString', () => {
  const e = new DOMException('went away', 'AbortError');
  assert.ok(e instanceof Error);
  assert.match(e.stack!, /^AbortError: went away\n\s+at /);
  assert.doesNotMatch(e.stack!, /new DOMException/);
  assert.equal(String(e), 'AbortError: went away');
});

test('own properties are read-only and shaped like workerd\'s', () => {
  const e = new DOMException('m', 'AbortError');
  assert.deepEqual(Object.getOwnPropertyNames(e), ['code', 'name', 'message', 'stack']);
  assert.deepEqual(Object.getOwnPropertyDescriptor(e, 'name'), { value: 'AbortError', writable: false, enumerable: true, configurable: true });
  assert.throws(() => {
    (e as { name: string }).name = 'q';
  }, TypeError);
  assert.equal(DOMException.length, 0);
});

test('legacy constants on the constructor and prototype', () => {
  assert.equal(DOMException.INDEX_SIZE_ERR, 1);
  assert.equal(DOMException.ABORT_ERR, 20);
  assert.equal(DOMException.TIMEOUT_ERR, 23);
  assert.equal(DOMException.DATA_CLONE_ERR, 25);
  assert.equal((DOMException.prototype as unknown as Record<string, number>).INVALID_STATE_ERR, 11);
  assert.equal((new DOMException('x') as unknown as Record<string, number>).NOT_FOUND_ERR, 8);
});

test('subclasses work and keep their own frames out of the stack', () => {
  class Custom extends DOMException {
    constructor() {
      super('custom', 'InvalidStateError');
    }
  }
  const c = new Custom();
  assert.ok(c instanceof Custom && c instanceof DOMException);
  assert.equal(c.code, 11);
  assert.match(c.stack!, /^InvalidStateError: custom/);
  assert.doesNotMatch(c.stack!, /new Custom/);
});
