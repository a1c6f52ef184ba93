// Turns a HostEvent.Request into a call of the worker's handler, in either format, and applies
// the FetchEvent rules of spec §1 (listener order, respondWith, fall-through, return values).
import { HostEvent } from '../protocol/bridge.ts';
import { AbortController } from './abort.ts';
import { DOMException } from './dom-exception.ts';
import { createExecutionContext, createFetchEvent, fetchEventResponse, markDispatchDone } from './fetch-event.ts';
import { onEvent, pendingOpsOf, setCurrentInvocationId } from './host.ts';
import { Invocation, WAIT_UNTIL_TIMEOUT_WARNING, invocations } from './invocation.ts';
import { watchForHang } from './hang.ts';
import { createIncomingRequest } from './request.ts';
import { hostFedStream } from './stream-bridge.ts';
import { pendingTimersOf } from './timers.ts';

export const RETURNED_PROMISE_WARNING =
  'An event handler returned a promise that will be ignored. Event handlers should not have a return value and should not be async functions.';
export const FALL_THROUGH_WITH_ASYNC_WARNING =
  'FetchEvent handler did not call respondWith() before returning, but initiated some asynchronous task. That task will be canceled and default handling will occur -- the request will be sent unmodified to your origin.';
export const CONSUMED_BODY_ERROR = "Script consumed request body but didn't call respondWith(). Can't forward request.";
export const NO_FETCH_EXPORT = 'Handler does not export a fetch() function.';
export const NO_HANDLERS = 'No event handlers were registered. This script does nothing.';

type Listener = ((event: unknown) => unknown) | { handleEvent(event: unknown): unknown };

interface WorkerShape {
  format: 'service-worker' | 'module';
  env: Record<string, unknown>;
  moduleExports: Record<string, unknown> | null;
}

const worker: WorkerShape = { format: 'service-worker', env: {}, moduleExports: null };
const fetchListeners: Listener[] = [];
let onfetch: Listener | null = null;

export function configureWorker(format: WorkerShape['format'], env: Record<string, unknown>): void {
  worker.format = format;
  worker.env = env;
}

export function setModuleExports(ns: Record<string, unknown>): void {
  worker.moduleExports = ns;
}

export function addFetchListener(listener: Listener): void {
  if (!fetchListeners.includes(listener)) fetchListeners.push(listener);
}
export function removeFetchListener(listener: Listener): void {
  const i = fetchListeners.indexOf(listener);
  if (i >= 0) fetchListeners.splice(i, 1);
}
export function setOnfetch(listener: Listener | null): void { onfetch = listener; }
export function getOnfetch(): Listener | null { return onfetch; }

/** What the loaded script can handle, checked once after it ran (null = fine). */
export function handlerProblem(): string | null {
  if (worker.format === 'module') {
    const handler = worker.moduleExports?.default as Record<string, unknown> | undefined;
    return handler && typeof handler.fetch === 'function' ? null : NO_FETCH_EXPORT;
  }
  return fetchListeners.length > 0 || onfetch ? null : NO_HANDLERS;
}

onEvent(HostEvent.Request, (invId, method, url, headersJoined, bodyStreamId, cfJson) => {
  const id = invId as number;
  setCurrentInvocationId(id);
  const inv = new Invocation(id);
  invocations.set(id, inv);
  try {
    const controller = new AbortController();
    inv.abort = (reason) => controller.abort(reason);
    const request = createIncomingRequest({
      url: url as string,
      method: method as string,
      headersList: headersJoined ? (headersJoined as string).split('\n') : [],
      body: bodyStreamId ? hostFedStream(bodyStreamId as number, id) : null,
      cf: cfJson ? JSON.parse(cfJson as string) : {},
      signal: controller.signal,
    });
    inv.requestBodyUsed = () => (request as { bodyUsed: boolean }).bodyUsed;
    if (worker.format === 'module') dispatchModule(inv, request);
    else dispatchServiceWorker(inv, request);
  } catch (error) {
    inv.fail(error);
  }
});

onEvent(HostEvent.ClientAbort, (invId) => {
  const inv = invocations.get(invId as number);
  if (!inv) return;
  setCurrentInvocationId(inv.id);
  inv.abort(new DOMException('The client has disconnected', 'AbortError'));
});

onEvent(HostEvent.Cancel, (invId) => {
  invocations.get(invId as number)?.cancel();
});

onEvent(HostEvent.WaitUntilTimeout, (invId) => {
  const inv = invocations.get(invId as number);
  if (!inv) return;
  inv.warn(WAIT_UNTIL_TIMEOUT_WARNING);
  inv.finish();
});

function dispatchModule(inv: Invocation, request: unknown): void {
  const handler = worker.moduleExports?.default as { fetch?: unknown } | undefined;
  if (!handler || typeof handler.fetch !== 'function') {
    inv.fail(new Error(NO_FETCH_EXPORT));
    return;
  }
  const ctx = createExecutionContext(inv);
  let result: unknown;
  try {
    result = (handler.fetch as (r: unknown, e: unknown, c: unknown) => unknown).call(handler, request, worker.env, ctx);
  } catch (error) {
    inv.fail(error);
    return;
  }
  if (result !== null && typeof result === 'object' && typeof (result as Promise<unknown>).then === 'function') {
    Promise.resolve(result).then((value) => inv.respond(value), (error) => inv.fail(error));
    watchForHang(inv);
  } else {
    inv.respond(result);
  }
}

function callListener(listener: Listener, event: unknown): unknown {
  if (typeof listener === 'function') return listener.call(globalThis, event);
  if (listener && typeof listener.handleEvent === 'function') return listener.handleEvent(event);
  return undefined;
}

function dispatchServiceWorker(inv: Invocation, request: unknown): void {
  const event = createFetchEvent(inv, request);
  const listeners = onfetch ? [onfetch, ...fetchListeners] : fetchListeners.slice();
  let warned = false;
  for (const listener of listeners) {
    let returned: unknown;
    try {
      returned = callListener(listener, event);
    } catch (error) {
      markDispatchDone(event);
      inv.fail(error);
      return;
    }
    if (returned !== undefined && !warned) {
      warned = true;
      inv.warn(RETURNED_PROMISE_WARNING);
    }
    if (fetchEventResponse(event)) break;
  }
  markDispatchDone(event);
  const response = fetchEventResponse(event);
  if (response) {
    response.then((value) => inv.respond(value), (error) => inv.fail(error));
    watchForHang(inv);
    return;
  }
  if (inv.requestBodyUsed()) {
    inv.reportConsumedBody(CONSUMED_BODY_ERROR);
    return;
  }
  if (pendingOpsOf(inv.id) > 0 || pendingTimersOf(inv.id) > 0) inv.warn(FALL_THROUGH_WITH_ASYNC_WARNING);
  inv.fallThrough();
}
