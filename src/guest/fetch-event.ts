// FetchEvent (service-worker format) and ExecutionContext (module format): the objects through
// which a handler answers, extends its lifetime and opts into pass-through. Methods check their
// receiver so that a detached call fails the way it does on Cloudflare.
import { DOMException } from './dom-exception.ts';
import { Event } from './events.ts';
import { illegalInvocation } from './illegal-invocation.ts';
import type { Invocation } from './invocation.ts';

interface FetchEventState {
  inv: Invocation;
  request: unknown;
  response: Promise<unknown> | null;
  /** The dispatching listener loop has returned: respondWith() is too late from now on. */
  dispatchDone: boolean;
}

const fetchEventState = new WeakMap<object, FetchEventState>();
let constructing = false;

export class FetchEvent extends Event {
  constructor(type: string, init?: unknown) {
    if (!constructing) throw new TypeError('Illegal constructor');
    super(type, init as never);
  }

  get request(): unknown {
    const state = fetchEventState.get(this);
    if (!state) throw illegalInvocation();
    return state.request;
  }

  respondWith(response: unknown): void {
    const state = fetchEventState.get(this);
    if (!state) throw illegalInvocation();
    if (state.dispatchDone) {
      throw new DOMException('Too late to call FetchEvent.respondWith(). It must be called synchronously in the event handler.', 'InvalidStateError');
    }
    if (state.response) {
      throw new DOMException('FetchEvent.respondWith() has already been called; it can only be called once.', 'InvalidStateError');
    }
    state.response = Promise.resolve(response);
    this.stopImmediatePropagation();
  }

  waitUntil(promise: unknown): void {
    const state = fetchEventState.get(this);
    if (!state) throw illegalInvocation();
    state.inv.waitUntil(promise);
  }

  passThroughOnException(): void {
    const state = fetchEventState.get(this);
    if (!state) throw illegalInvocation();
    state.inv.passThroughOnException = true;
  }
}

export function createFetchEvent(inv: Invocation, request: unknown): FetchEvent {
  constructing = true;
  let event: FetchEvent;
  try { event = new FetchEvent('fetch'); } finally { constructing = false; }
  fetchEventState.set(event, { inv, request, response: null, dispatchDone: false });
  return event;
}

export function fetchEventResponse(event: FetchEvent): Promise<unknown> | null {
  return fetchEventState.get(event)!.response;
}

export function markDispatchDone(event: FetchEvent): void {
  fetchEventState.get(event)!.dispatchDone = true;
}

const contextInvocation = new WeakMap<object, Invocation>();

export class ExecutionContext {
  constructor() {
    throw new TypeError('Illegal constructor');
  }

  waitUntil(promise: unknown): void {
    const inv = contextInvocation.get(this);
    if (!inv) throw illegalInvocation();
    inv.waitUntil(promise);
  }

  passThroughOnException(): void {
    const inv = contextInvocation.get(this);
    if (!inv) throw illegalInvocation();
    inv.passThroughOnException = true;
  }
}

export function createExecutionContext(inv: Invocation): ExecutionContext {
  const ctx = Object.create(ExecutionContext.prototype) as ExecutionContext;
  Object.defineProperty(ctx, 'props', { value: {}, enumerable: true });
  contextInvocation.set(ctx, inv);
  return ctx;
}
