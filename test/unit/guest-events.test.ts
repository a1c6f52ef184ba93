import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  Event,
  EventTarget,
  CustomEvent,
  setListenerErrorReporter,
  isEventDispatching,
  setEventTrusted,
  defineEventHandler,
} from '../../src/guest/events.ts';
import { AbortController } from '../../src/guest/abort.ts';
import { DOMException } from '../../src/guest/dom-exception.ts';

afterEach(() => setListenerErrorReporter(null));

test('Event defaults and init dictionary', () => {
  const e = new Event('x');
  assert.equal(e.type, 'x');
  assert.equal(e.bubbles, false);
  assert.equal(e.cancelable, false);
  assert.equal(e.composed, false);
  assert.equal(e.defaultPrevented, false);
  assert.equal(e.returnValue, true);
  assert.equal(e.isTrusted, false);
  assert.equal(e.timeStamp, 0);
  assert.equal(e.eventPhase, Event.NONE);
  assert.equal(e.target, undefined);
  assert.equal(e.currentTarget, undefined);
  assert.deepEqual(e.composedPath(), []);
  assert.deepEqual(Object.getOwnPropertyNames(e), []); // state is private
  const f = new Event(5 as unknown as string, { bubbles: true, cancelable: 1 as unknown as boolean, composed: true });
  assert.equal(f.type, '5');
  assert.equal(f.bubbles && f.cancelable && f.composed, true);
  assert.equal(new Event('x', null).type, 'x');
  assert.equal(Event.AT_TARGET, 2);
  assert.equal(e.BUBBLING_PHASE, 3);
});

test('Event constructor argument errors use workerd texts', () => {
  assert.throws(() => new (Event as unknown as new () => Event)(), {
    name: 'TypeError',
    message: "Failed to construct 'Event': constructor parameter 1 is not of type 'string'.",
  });
  assert.throws(() => new Event('x', 5 as never), {
    message: "Failed to construct 'Event': constructor parameter 2 is not of type 'Init'.",
  });
});

test('preventDefault only works on cancelable events and outside passive listeners', () => {
  const a = new Event('x');
  a.preventDefault();
  assert.equal(a.defaultPrevented, false);
  const b = new Event('x', { cancelable: true });
  b.preventDefault();
  assert.equal(b.defaultPrevented, true);
  assert.equal(b.returnValue, false);

  const target = new EventTarget();
  target.addEventListener('x', (e) => e.preventDefault(), { passive: true });
  assert.equal(target.dispatchEvent(new Event('x', { cancelable: true })), true);
  const other = new EventTarget();
  other.addEventListener('x', (e) => e.preventDefault());
  assert.equal(other.dispatchEvent(new Event('x', { cancelable: true })), false);
});

test('dispatch sets target, phase and this; listeners run in order with handleEvent objects', () => {
  const target = new EventTarget();
  const log: string[] = [];
  const event = new Event('ping');
  target.addEventListener('ping', function (this: unknown, e) {
    assert.equal(this, target);
    assert.equal(e.target, target);
    assert.equal(e.currentTarget, target);
    assert.equal(e.eventPhase, Event.AT_TARGET);
    assert.equal(isEventDispatching(e), true);
    assert.deepEqual(e.composedPath(), [target]);
    log.push('fn');
  });
  const handler = {
    handleEvent(this: unknown) {
      assert.equal(this, handler);
      log.push('object');
    },
  };
  target.addEventListener('ping', handler);
  target.addEventListener('pong', () => log.push('wrong type'));
  assert.equal(target.dispatchEvent(event), true);
  assert.deepEqual(log, ['fn', 'object']);
  assert.equal(event.eventPhase, Event.NONE);
  assert.equal(isEventDispatching(event), false);
  assert.equal(event.target, target);
});

test('duplicates are ignored, removal works, once fires once', () => {
  const target = new EventTarget();
  let count = 0;
  const listener = () => count++;
  target.addEventListener('x', listener);
  target.addEventListener('x', listener);
  target.dispatchEvent(new Event('x'));
  assert.equal(count, 1);
  target.removeEventListener('x', listener);
  target.dispatchEvent(new Event('x'));
  assert.equal(count, 1);
  target.addEventListener('x', listener, { once: true });
  target.dispatchEvent(new Event('x'));
  target.dispatchEvent(new Event('x'));
  assert.equal(count, 2);
  target.addEventListener('x', null);
  target.removeEventListener('x', null);
});

test('listeners added during dispatch wait; ones removed during dispatch are skipped', () => {
  const target = new EventTarget();
  let log = '';
  const late = () => (log += 'late');
  const removed = () => (log += 'removed');
  target.addEventListener('x', () => {
    log += 'first;';
    target.addEventListener('x', late);
    target.removeEventListener('x', removed);
  });
  target.addEventListener('x', removed);
  target.dispatchEvent(new Event('x'));
  assert.equal(log, 'first;');
});

test('stopImmediatePropagation stops later listeners; stopPropagation does not', () => {
  const target = new EventTarget();
  let log = '';
  target.addEventListener('a', (e) => { log += '1'; e.stopPropagation(); });
  target.addEventListener('a', () => (log += '2'));
  target.addEventListener('b', (e) => { log += '3'; e.stopImmediatePropagation(); });
  target.addEventListener('b', () => (log += '4'));
  target.dispatchEvent(new Event('a'));
  target.dispatchEvent(new Event('b'));
  assert.equal(log, '123');
  const pre = new Event('a');
  pre.stopImmediatePropagation();
  target.dispatchEvent(pre);
  assert.equal(log, '123');
});

test('an event can be redispatched after dispatch but not during it', () => {
  const target = new EventTarget();
  const event = new Event('x');
  let inner: unknown;
  target.addEventListener('x', () => {
    try {
      target.dispatchEvent(event);
    } catch (error) {
      inner = error;
    }
  });
  target.dispatchEvent(event);
  assert.ok(inner instanceof DOMException);
  assert.equal((inner as DOMException).name, 'InvalidStateError');
  assert.equal((inner as DOMException).message, 'The event is already being dispatched.');
  assert.equal(target.dispatchEvent(event), true);
});

test('a throwing listener does not stop the others and goes to the reporter', () => {
  const target = new EventTarget();
  const reported: unknown[] = [];
  setListenerErrorReporter((error) => reported.push(error));
  const boom = new Error('boom');
  let ran = false;
  target.addEventListener('x', () => { throw boom; });
  target.addEventListener('x', () => { ran = true; });
  assert.equal(target.dispatchEvent(new Event('x')), true);
  assert.equal(ran, true);
  assert.deepEqual(reported, [boom]);
  // Without a reporter errors are swallowed.
  setListenerErrorReporter(null);
  target.dispatchEvent(new Event('x'));
});

test('capture listeners are refused like workerd', () => {
  const target = new EventTarget();
  assert.throws(() => target.addEventListener('x', () => {}, true), { message: 'addEventListener(): useCapture must be false.' });
  assert.throws(() => target.addEventListener('x', () => {}, { capture: true }), { message: 'addEventListener(): options.capture must be false.' });
  assert.throws(() => target.removeEventListener('x', () => {}, true), { message: 'removeEventListener(): useCapture must be false.' });
  assert.throws(() => target.removeEventListener('x', () => {}, { capture: true }), { message: 'removeEventListener(): options.capture must be false.' });
  target.addEventListener('x', () => {}, { capture: false });
});

test('addEventListener argument validation', () => {
  const target = new EventTarget();
  const add = target.addEventListener.bind(target) as (...args: unknown[]) => void;
  assert.throws(() => add(), { message: "Failed to execute 'addEventListener' on 'EventTarget': parameter 1 is not of type 'string'." });
  assert.throws(() => add('x'), { message: "Failed to execute 'addEventListener' on 'EventTarget': parameter 2 is not of type 'function or HandlerObject'." });
  assert.throws(() => add('x', 5), { message: "Failed to execute 'addEventListener' on 'EventTarget': parameter 2 is not of type 'function or HandlerObject'." });
  assert.throws(() => add('x', {}), { message: "Incorrect type for the 'handleEvent' field on 'HandlerObject': the provided value is not of type 'function'." });
  assert.throws(() => add('x', () => {}, { signal: null }), { message: "Incorrect type for the 'signal' field on 'AddEventListenerOptions': the provided value is not of type 'AbortSignal'." });
  assert.throws(() => target.dispatchEvent({} as Event), { message: "Failed to execute 'dispatchEvent' on 'EventTarget': parameter 1 is not of type 'Event'." });
});

test('the signal option removes the listener on abort; an aborted signal adds nothing', () => {
  const target = new EventTarget();
  let count = 0;
  const controller = new AbortController();
  target.addEventListener('x', () => count++, { signal: controller.signal });
  target.dispatchEvent(new Event('x'));
  controller.abort();
  target.dispatchEvent(new Event('x'));
  assert.equal(count, 1);
  target.addEventListener('x', () => count++, { signal: controller.signal });
  target.dispatchEvent(new Event('x'));
  assert.equal(count, 1);
});

test('CustomEvent carries detail', () => {
  assert.equal(new CustomEvent('x', { detail: 5 }).detail, 5);
  assert.equal(new CustomEvent('x').detail, undefined);
  assert.ok(new CustomEvent('x') instanceof Event);
});

test('Event is subclassable; subclasses can see dispatch state and be trusted', () => {
  class FetchLikeEvent extends Event {
    responded = false;
    constructor() {
      super('fetch', { cancelable: true });
    }
    respondWith(): void {
      if (!isEventDispatching(this)) throw new DOMException('too late', 'InvalidStateError');
      this.responded = true;
    }
  }
  const target = new EventTarget();
  target.addEventListener('fetch', (e) => (e as FetchLikeEvent).respondWith());
  const event = new FetchLikeEvent();
  setEventTrusted(event, true);
  assert.equal(event.isTrusted, true);
  target.dispatchEvent(event);
  assert.equal(event.responded, true);
  assert.equal(event.type, 'fetch');
  assert.throws(() => event.respondWith(), { name: 'InvalidStateError' });
});

test('event handler attributes keep their first position and honour return false', () => {
  class Emitter extends EventTarget {
    declare onping: ((event: Event) => unknown) | null;
  }
  defineEventHandler(Emitter.prototype, 'ping');
  const emitter = new Emitter();
  let log = '';
  emitter.onping = () => (log += 'h');
  emitter.addEventListener('ping', () => (log += 'L'));
  emitter.onping = () => (log += 'H'); // replaces in place
  emitter.dispatchEvent(new Event('ping'));
  assert.equal(log, 'HL');
  emitter.onping = null;
  emitter.onping = () => { log += 'E'; return false; }; // re-added at the end
  assert.equal(emitter.dispatchEvent(new Event('ping', { cancelable: true })), false);
  assert.equal(log, 'HLLE');
  emitter.onping = 5 as never;
  assert.equal(emitter.onping, null);
});
