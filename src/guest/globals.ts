// Puts the Web APIs on the isolate's global scope, as a Workers global scope has them:
// non-enumerable, writable and configurable, like a browser's.
import { ReadableStream, WritableStream, TransformStream, ByteLengthQueuingStrategy, CountQueuingStrategy, ReadableStreamDefaultReader, ReadableStreamBYOBReader, WritableStreamDefaultWriter } from 'web-streams-polyfill';
import { URL, URLSearchParams } from 'whatwg-url';
import { AbortController, AbortSignal, setAbortTimerFunction } from './abort.ts';
import { atob, btoa } from './base64.ts';
import { Blob, File } from './blob.ts';
import { Cache, CacheStorage } from './cache.ts';
import { createConsole } from './console.ts';
import { Crypto, CryptoKey, SubtleCrypto } from './crypto.ts';
import { addFetchListener, getOnfetch, removeFetchListener, setOnfetch } from './dispatch.ts';
import { DOMException } from './dom-exception.ts';
import { TextDecoder, TextEncoder } from './encoding.ts';
import { CustomEvent, Event, EventTarget, setListenerErrorReporter } from './events.ts';
import { ExecutionContext, FetchEvent } from './fetch-event.ts';
import { fetch } from './fetch.ts';
import { FormData } from './form-data.ts';
import { Headers } from './headers.ts';
import { getCurrentInvocationId, setDOMExceptionClass } from './host.ts';
import { invocations } from './invocation.ts';
import { Request } from './request.ts';
import { Response } from './response.ts';
import { registerCloneable, registerUncloneable, structuredClone } from './structured-clone.ts';
import { clearInterval, clearTimeout, queueMicrotask, setInterval, setTimeout, setTimerErrorReporter } from './timers.ts';
import { emitLog } from './console.ts';

function define(name: string, value: unknown): void {
  Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
}

/** An exception no handler caught (timer callback, event listener): recorded on the invocation. */
function reportUncaught(error: unknown): void {
  const inv = invocations.get(getCurrentInvocationId());
  if (inv) inv.reportException(error);
  else emitLog(getCurrentInvocationId(), 'error', ['Uncaught', error]);
}

export function installGlobals(): void {
  setDOMExceptionClass(DOMException as never);
  setAbortTimerFunction((cb, ms) => setTimeout(cb, ms));
  setTimerErrorReporter(reportUncaught);
  setListenerErrorReporter(reportUncaught);
  // Platform objects that structuredClone must refuse, with workerd's texts.
  registerUncloneable(Event, 'Event');
  registerCloneable(AbortSignal, () => { throw new DOMException('AbortSignal serialization is not enabled.', 'DataCloneError'); });

  const classes: Record<string, unknown> = {
    ReadableStream, WritableStream, TransformStream, ByteLengthQueuingStrategy, CountQueuingStrategy,
    ReadableStreamDefaultReader, ReadableStreamBYOBReader, WritableStreamDefaultWriter,
    URL, URLSearchParams, AbortController, AbortSignal, Blob, File, Crypto, CryptoKey, SubtleCrypto,
    DOMException, TextEncoder, TextDecoder, Event, EventTarget, CustomEvent, FetchEvent, ExecutionContext,
    FormData, Headers, Request, Response, Cache, CacheStorage,
  };
  for (const [name, value] of Object.entries(classes)) define(name, value);

  const functions: Record<string, unknown> = {
    fetch, atob, btoa, structuredClone, setTimeout, setInterval, clearTimeout, clearInterval, queueMicrotask,
  };
  for (const [name, value] of Object.entries(functions)) define(name, value);

  define('crypto', new Crypto());
  define('caches', new CacheStorage());
  define('console', createConsole());
  define('navigator', Object.freeze({ userAgent: 'Cloudflare-Workers', hardwareConcurrency: 1, language: 'en' }));
  define('self', globalThis);

  // The global scope is the service worker's event target; 'fetch' listeners are dispatched by
  // the runtime itself (dispatch.ts), other types by an ordinary EventTarget.
  const otherEvents = new EventTarget();
  define('addEventListener', function addEventListener(type: string, listener: unknown, options?: unknown) {
    if (String(type) === 'fetch') { if (listener) addFetchListener(listener as never); return; }
    otherEvents.addEventListener(type, listener as never, options as never);
  });
  define('removeEventListener', function removeEventListener(type: string, listener: unknown, options?: unknown) {
    if (String(type) === 'fetch') { removeFetchListener(listener as never); return; }
    otherEvents.removeEventListener(type, listener as never, options as never);
  });
  define('dispatchEvent', function dispatchEvent(event: Event) { return otherEvents.dispatchEvent(event); });
  Object.defineProperty(globalThis, 'onfetch', {
    get: getOnfetch,
    set: (v: unknown) => setOnfetch(typeof v === 'function' ? (v as never) : null),
    configurable: true,
    enumerable: true,
  });
}
