import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AbortController,
  AbortSignal,
  setAbortTimerFunction,
  createAbortSignal,
  signalAbort,
  addAbortAlgorithm,
} from '../../src/guest/abort.ts';
import { DOMException } from '../../src/guest/dom-exception.ts';
import { Event } from '../../src/guest/events.ts';

test('abort() without a reason uses workerd\'s AbortError', () => {
  const controller = new AbortController();
  const { signal } = controller;
  assert.equal(signal.aborted, false);
  assert.equal(signal.reason, undefined);
  signal.throwIfAborted();
  controller.abort();
  assert.equal(signal.aborted, true);
  // Read through controller.signal: `signal.reason` is narrowed to undefined above.
  const reason = controller.signal.reason;
  assert.ok(reason instanceof DOMException);
  assert.equal(reason.name, 'AbortError');
  assert.equal(reason.message, 'The operation was aborted');
  assert.equal(reason.code, 20);
  assert.throws(() => signal.throwIfAborted(), (e) => e === signal.reason);
});

test('explicit reasons are kept, null included; undefined means the default', () => {
  const a = new AbortController();
  a.abort('why');
  assert.equal(a.signal.reason, 'why');
  const b = new AbortController();
  b.abort(null);
  assert.equal(b.signal.reason, null);
  const c = new AbortController();
  c.abort(undefined);
  assert.equal((c.signal.reason as DOMException).name, 'AbortError');
});

test('abort fires once: onabort and listeners, in registration order', () => {
  const controller = new AbortController();
  let log = '';
  controller.signal.onabort = (e) => (log += `h:${e.type};`);
  controller.signal.addEventListener('abort', (e) => {
    assert.ok(e instanceof Event);
    assert.equal(controller.signal.aborted, true);
    log += 'L;';
  });
  controller.abort();
  controller.abort();
  assert.equal(log, 'h:abort;L;');
  assert.equal(typeof controller.signal.onabort, 'function');
});

test('AbortSignal cannot be constructed by user code', () => {
  assert.throws(() => new (AbortSignal as unknown as new () => AbortSignal)(), { name: 'TypeError', message: 'Illegal constructor' });
  assert.ok(createAbortSignal() instanceof AbortSignal);
});

test('AbortSignal.abort returns an already aborted signal', () => {
  assert.equal(AbortSignal.abort().aborted, true);
  assert.equal((AbortSignal.abort().reason as DOMException).message, 'The operation was aborted');
  assert.equal(AbortSignal.abort(42).reason, 42);
});

test('AbortSignal.timeout uses the installed timer and a TimeoutError', () => {
  const scheduled: Array<{ callback: () => void; ms: number }> = [];
  setAbortTimerFunction((callback, ms) => scheduled.push({ callback, ms }));
  try {
    const signal = AbortSignal.timeout(250);
    const negative = AbortSignal.timeout(-5);
    assert.deepEqual(scheduled.map((s) => s.ms), [250, 0]);
    assert.equal(signal.aborted, false);
    let fired = false;
    signal.onabort = () => (fired = true);
    scheduled[0]!.callback();
    assert.equal(fired, true);
    const reason = signal.reason as DOMException;
    assert.ok(reason instanceof DOMException);
    assert.equal(reason.name, 'TimeoutError');
    assert.equal(reason.code, 23);
    assert.equal(reason.message, 'The operation was aborted due to timeout');
    assert.equal(negative.aborted, false);
  } finally {
    setAbortTimerFunction(null);
  }
  assert.throws(() => AbortSignal.timeout(1), /no timer function/);
});

test('AbortSignal.any follows any source, including through other any() signals', () => {
  const a = new AbortController();
  const b = new AbortController();
  const either = AbortSignal.any([a.signal, b.signal]);
  const nested = AbortSignal.any([either]);
  let log = '';
  a.signal.onabort = () => (log += `a${either.aborted}${nested.aborted};`);
  either.onabort = () => (log += 'either;');
  nested.onabort = () => (log += 'nested;');
  b.abort('b-reason');
  assert.equal(either.aborted, true);
  assert.equal(either.reason, 'b-reason');
  assert.equal(nested.reason, 'b-reason');
  assert.equal(log, 'either;nested;');
  a.abort('late');
  assert.equal(either.reason, 'b-reason');
  assert.equal(log, 'either;nested;atruetrue;');
});

test('AbortSignal.any with an aborted input is aborted at once; validates input', () => {
  assert.equal(AbortSignal.any([AbortSignal.abort('r')]).reason, 'r');
  assert.equal(AbortSignal.any([]).aborted, false);
  assert.throws(() => AbortSignal.any(5 as never), { message: "Failed to execute 'any' on 'AbortSignal': parameter 1 is not of type 'Array'." });
  assert.throws(() => AbortSignal.any([1] as never), { message: "Incorrect type for array element 0: the provided value is not of type 'AbortSignal'." });
});

test('internal helpers: signalAbort and abort algorithms', () => {
  const signal = createAbortSignal();
  const log: string[] = [];
  const remove = addAbortAlgorithm(signal, () => log.push('removed'));
  addAbortAlgorithm(signal, () => log.push(`algo:${signal.aborted}`));
  signal.addEventListener('abort', () => log.push('event'));
  remove();
  signalAbort(signal, new DOMException('The client has disconnected', 'AbortError'));
  assert.deepEqual(log, ['algo:true', 'event']);
  assert.equal((signal.reason as DOMException).message, 'The client has disconnected');
  addAbortAlgorithm(signal, () => log.push('never'));
  assert.equal(log.length, 2);
});
