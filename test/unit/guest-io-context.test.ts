// The pure parts of cross-request I/O and the buffering limit: messages, ownership checks, the
// global-scope rule, Content-Length parsing and the limit arithmetic. Texts are workerd's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setCurrentInvocationId } from '../../src/guest/host.ts';
import {
  CROSS_REQUEST_MESSAGE, GLOBAL_SCOPE_MESSAGE, IoType, assertSameIoContext, crossRequestError,
  enforceGlobalScopeRule, foreignIoError, requireIoContext,
} from '../../src/guest/io-context.ts';
import { declaredBodyLength } from '../../src/guest/incoming-length.ts';
import {
  DEFAULT_BUFFERING_LIMIT, EXCEEDED_MESSAGE, WOULD_EXCEED_MESSAGE, bufferingLimit, knownLengthError, readTotalError,
  setBufferingLimit,
} from '../../src/guest/buffering-limit.ts';

const SOURCE_TEXT =
  "Cannot perform I/O on behalf of a different request. I/O objects (such as streams, request/response bodies, and others) created in the context of one request handler cannot be accessed from a different request's handler. This is a limitation of Cloudflare Workers which allows us to improve overall performance. (I/O type: ReadableStreamSource>)";

function inInvocation<T>(id: number, fn: () => T): T {
  setCurrentInvocationId(id);
  try { return fn(); } finally { setCurrentInvocationId(0); }
}

test('the cross-request error is an Error with workerd text and the I/O type appended', () => {
  const e = crossRequestError(IoType.StreamSource);
  assert.equal(e.name, 'Error');
  assert.equal(e.message, SOURCE_TEXT);
  assert.equal(crossRequestError(IoType.Canceler).message, `${CROSS_REQUEST_MESSAGE} (I/O type: Canceler)`);
});

test('an I/O object may be used by the request that made it and by no other', () => {
  inInvocation(3, () => {
    assert.equal(foreignIoError(3, IoType.StreamSource), null);
    assert.doesNotThrow(() => assertSameIoContext(3, IoType.StreamSource));
    assert.equal(foreignIoError(4, IoType.Canceler)?.message, `${CROSS_REQUEST_MESSAGE} (I/O type: Canceler)`);
    assert.throws(() => assertSameIoContext(4, IoType.StreamSource), { name: 'Error', message: SOURCE_TEXT });
    // The top-level scope is a context of its own.
    assert.throws(() => assertSameIoContext(0, IoType.StreamSource), { message: SOURCE_TEXT });
  });
});

test('the global-scope rule refuses only while no request runs, and only once turned on', () => {
  assert.doesNotThrow(() => requireIoContext());
  enforceGlobalScopeRule();
  try {
    assert.throws(() => requireIoContext(), { name: 'Error', message: GLOBAL_SCOPE_MESSAGE });
    assert.doesNotThrow(() => inInvocation(1, () => requireIoContext()));
  } finally {
    enforceGlobalScopeRule(false);
  }
  assert.match(GLOBAL_SCOPE_MESSAGE, /^Disallowed operation called within global scope\. Asynchronous I\/O/);
});

test('declaredBodyLength reads Content-Length in any case, refusing what is not a plain number', () => {
  assert.equal(declaredBodyLength(['Content-Length', '42'], false), 42);
  assert.equal(declaredBodyLength(['content-type', 'text/plain', 'content-length', ' 7 '], false), 7);
  assert.equal(declaredBodyLength(['host', 'x'], false), null);
  assert.equal(declaredBodyLength(['content-length', '4x'], false), null);
  assert.equal(declaredBodyLength(['content-length', '-1'], false), null);
  assert.equal(declaredBodyLength(['content-length', ''], false), null);
  assert.equal(declaredBodyLength(['content-length', '5, 5'], false), null);
  assert.equal(declaredBodyLength(['content-length', '5', 'Content-Length', '5'], false), 5);
  assert.equal(declaredBodyLength(['content-length', '5', 'content-length', '6'], false), null);
  assert.equal(declaredBodyLength(['content-length', '99999999999999999999'], false), 1e20);
});

test('a decoded body (subrequest response) has no known length once a Content-Encoding applied', () => {
  assert.equal(declaredBodyLength(['content-encoding', 'gzip', 'content-length', '10'], true), null);
  assert.equal(declaredBodyLength(['content-length', '10', 'Content-Encoding', 'br'], true), null);
  assert.equal(declaredBodyLength(['content-encoding', 'identity', 'content-length', '10'], true), 10);
  // An incoming request's body reaches the worker undecoded: its length holds.
  assert.equal(declaredBodyLength(['content-encoding', 'gzip', 'content-length', '10'], false), 10);
});

test('the buffering limit defaults to 128 MiB and takes positive whole numbers or Infinity', () => {
  assert.equal(DEFAULT_BUFFERING_LIMIT, 134217728);
  assert.equal(bufferingLimit(), DEFAULT_BUFFERING_LIMIT);
  try {
    setBufferingLimit(10);
    assert.equal(bufferingLimit(), 10);
    setBufferingLimit(Infinity);
    assert.equal(bufferingLimit(), Infinity);
    for (const bad of [0, -1, 1.5, NaN, '10' as never]) {
      assert.throws(() => setBufferingLimit(bad), RangeError, String(bad));
    }
    assert.equal(bufferingLimit(), Infinity);
  } finally {
    setBufferingLimit(DEFAULT_BUFFERING_LIMIT);
  }
});

test('limit arithmetic: a known length must stay below it; internal streams count to it, JS streams past it', () => {
  setBufferingLimit(10);
  try {
    assert.equal(knownLengthError(null), null);
    assert.equal(knownLengthError(9), null);
    const would = knownLengthError(10);
    assert.ok(would instanceof TypeError);
    assert.equal(would.message, WOULD_EXCEED_MESSAGE);
    assert.equal(readTotalError(9, true), null);
    assert.equal(readTotalError(10, true)?.message, EXCEEDED_MESSAGE);
    assert.equal(readTotalError(10, false), null);
    assert.ok(readTotalError(11, false) instanceof TypeError);
    assert.equal(readTotalError(11, false)?.message, EXCEEDED_MESSAGE);
  } finally {
    setBufferingLimit(DEFAULT_BUFFERING_LIMIT);
  }
});
