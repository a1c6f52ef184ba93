// Event, EventTarget and CustomEvent for the guest isolate.
//
// There is no DOM tree here, so dispatch only ever reaches the target itself
// (eventPhase AT_TARGET) and, as in workerd, capturing listeners are refused.
// Deliberate differences from workerd, and why:
// - An exception thrown by a listener does not abort dispatch (workerd
//   rethrows it and skips the remaining listeners). It goes to the reporter
//   set with setListenerErrorReporter, as the DOM standard's "report an
//   exception" would, and the runtime records it as an uncaught exception.
// - Listeners are called with `this` = the current target, per the DOM.
// Matching workerd: target/currentTarget read undefined before dispatch,
// currentTarget is kept after dispatch, timeStamp is 0 (workers get no
// high-resolution clock), and event-handler attributes (onabort, ...)
// accept functions only.

import { DOMException } from './dom-exception.ts';

export interface EventInit {
  bubbles?: boolean;
  cancelable?: boolean;
  composed?: boolean;
}

export interface CustomEventInit<T = unknown> extends EventInit {
  detail?: T;
}

export interface EventListenerObject {
  handleEvent(event: Event): unknown;
}
export type EventListener = (event: Event) => unknown;
export type EventListenerOrEventListenerObject = EventListener | EventListenerObject;

export interface EventListenerOptions {
  capture?: boolean;
}

// The signal option is typed structurally so this module does not depend on
// abort.ts (which builds AbortSignal on top of EventTarget).
export interface AbortSignalLike extends EventTarget {
  readonly aborted: boolean;
}

export interface AddEventListenerOptions extends EventListenerOptions {
  once?: boolean;
  passive?: boolean;
  signal?: AbortSignalLike;
}

// ---------------------------------------------------------------------------
// Listener error reporting.

let reportListenerError: (error: unknown, event: Event) => void = () => {};

/** Sets the function that receives errors thrown by event listeners (and
 *  handler attributes); pass null to go back to ignoring them. */
export function setListenerErrorReporter(reporter: ((error: unknown, event: Event) => void) | null): void {
  reportListenerError = reporter ?? (() => {});
}

// ---------------------------------------------------------------------------
// Event.

function isDictionary(value: unknown): boolean {
  return value == null || typeof value === 'object' || typeof value === 'function';
}

// Filled in by Event's static block: privileged access for this module and for
// subclasses defined in other guest modules (FetchEvent, MessageEvent, ...).
let beginDispatch: (event: Event, target: EventTarget) => void;
let endDispatch: (event: Event) => void;
let stoppedImmediately: (event: Event) => boolean;
let setPassive: (event: Event, passive: boolean) => void;
let isDispatchingImpl: (event: Event) => boolean;
let setTrustedImpl: (event: Event, trusted: boolean) => void;

export class Event {
  #type: string;
  #bubbles: boolean;
  #cancelable: boolean;
  #composed: boolean;
  #canceled = false;
  #dispatching = false;
  #stopPropagation = false;
  #stopImmediate = false;
  #inPassiveListener = false;
  #trusted = false;
  #target: EventTarget | undefined = undefined;
  #currentTarget: EventTarget | undefined = undefined;

  declare static readonly NONE: 0;
  declare static readonly CAPTURING_PHASE: 1;
  declare static readonly AT_TARGET: 2;
  declare static readonly BUBBLING_PHASE: 3;
  declare readonly NONE: 0;
  declare readonly CAPTURING_PHASE: 1;
  declare readonly AT_TARGET: 2;
  declare readonly BUBBLING_PHASE: 3;

  constructor(type: string, eventInitDict: EventInit | null = {}) {
    if (arguments.length === 0) {
      throw new TypeError("Failed to construct 'Event': constructor parameter 1 is not of type 'string'.");
    }
    if (!isDictionary(eventInitDict)) {
      throw new TypeError("Failed to construct 'Event': constructor parameter 2 is not of type 'Init'.");
    }
    this.#type = String(type);
    this.#bubbles = Boolean(eventInitDict?.bubbles);
    this.#cancelable = Boolean(eventInitDict?.cancelable);
    this.#composed = Boolean(eventInitDict?.composed);
  }

  static {
    beginDispatch = (event, target) => {
      event.#dispatching = true;
      event.#target = target;
      event.#currentTarget = target;
    };
    endDispatch = (event) => {
      event.#dispatching = false;
      event.#stopPropagation = false;
      event.#stopImmediate = false;
    };
    stoppedImmediately = (event) => event.#stopImmediate;
    setPassive = (event, passive) => {
      event.#inPassiveListener = passive;
    };
    isDispatchingImpl = (event) => event.#dispatching;
    setTrustedImpl = (event, trusted) => {
      event.#trusted = trusted;
    };
  }

  get type(): string {
    return this.#type;
  }

  get eventPhase(): number {
    return this.#dispatching ? 2 : 0;
  }

  get composed(): boolean {
    return this.#composed;
  }

  get bubbles(): boolean {
    return this.#bubbles;
  }

  get cancelable(): boolean {
    return this.#cancelable;
  }

  get defaultPrevented(): boolean {
    return this.#canceled;
  }

  get returnValue(): boolean {
    return !this.#canceled;
  }

  get currentTarget(): EventTarget | undefined {
    return this.#currentTarget;
  }

  get target(): EventTarget | undefined {
    return this.#target;
  }

  get srcElement(): EventTarget | undefined {
    return this.#target;
  }

  get timeStamp(): number {
    return 0;
  }

  get isTrusted(): boolean {
    return this.#trusted;
  }

  get cancelBubble(): boolean {
    return this.#stopPropagation;
  }

  set cancelBubble(value: boolean) {
    if (value) this.#stopPropagation = true;
  }

  stopImmediatePropagation(): void {
    this.#stopPropagation = true;
    this.#stopImmediate = true;
  }

  preventDefault(): void {
    if (this.#cancelable && !this.#inPassiveListener) this.#canceled = true;
  }

  stopPropagation(): void {
    this.#stopPropagation = true;
  }

  composedPath(): EventTarget[] {
    return this.#dispatching && this.#currentTarget ? [this.#currentTarget] : [];
  }
}

const PHASES = [['NONE', 0], ['CAPTURING_PHASE', 1], ['AT_TARGET', 2], ['BUBBLING_PHASE', 3]] as const;
for (const [name, value] of PHASES) {
  const descriptor = { value, writable: false, enumerable: true, configurable: false };
  Object.defineProperty(Event, name, descriptor);
  Object.defineProperty(Event.prototype, name, descriptor);
}

/** True while the event is being dispatched (for FetchEvent.respondWith and
 *  similar methods that are only valid during dispatch). */
export function isEventDispatching(event: Event): boolean {
  return isDispatchingImpl(event);
}

/** Marks an event the runtime itself created and dispatched as trusted. */
export function setEventTrusted(event: Event, trusted: boolean): void {
  setTrustedImpl(event, trusted);
}

export class CustomEvent<T = unknown> extends Event {
  #detail: T | undefined;

  constructor(type: string, eventInitDict: CustomEventInit<T> | null = {}) {
    if (arguments.length === 0) {
      throw new TypeError("Failed to construct 'CustomEvent': constructor parameter 1 is not of type 'string'.");
    }
    super(type, eventInitDict);
    this.#detail = eventInitDict?.detail;
  }

  get detail(): T | undefined {
    return this.#detail;
  }
}

// ---------------------------------------------------------------------------
// EventTarget.

interface Listener {
  callback: EventListenerOrEventListenerObject;
  once: boolean;
  passive: boolean;
  removed: boolean;
}

interface HandlerSlot {
  value: ((event: Event) => unknown) | null;
  // The listener that calls `value`; present while a handler is set, so the
  // handler keeps the position in the listener list where it was first set.
  listener: Listener | null;
}

let listenersOf: (target: EventTarget) => Map<string, Listener[]>;
let handlersOf: (target: EventTarget) => Map<string, HandlerSlot>;

function checkCapture(options: unknown, method: string): void {
  if (typeof options === 'boolean' || options == null || typeof options !== 'object') {
    if (options) throw new TypeError(`${method}(): useCapture must be false.`);
    return;
  }
  if ((options as EventListenerOptions).capture) {
    throw new TypeError(`${method}(): options.capture must be false.`);
  }
}

function removeListener(target: EventTarget, type: string, listener: Listener): void {
  listener.removed = true;
  const list = listenersOf(target).get(type);
  if (!list) return;
  const index = list.indexOf(listener);
  if (index >= 0) list.splice(index, 1);
}

export class EventTarget {
  #listeners = new Map<string, Listener[]>();
  #handlers = new Map<string, HandlerSlot>();

  static {
    listenersOf = (target) => target.#listeners;
    handlersOf = (target) => target.#handlers;
  }

  addEventListener(
    type: string,
    callback: EventListenerOrEventListenerObject | null,
    options?: AddEventListenerOptions | boolean,
  ): void {
    if (arguments.length < 2) {
      throw new TypeError(
        `Failed to execute 'addEventListener' on 'EventTarget': parameter ${arguments.length + 1} is not of type '${
          arguments.length === 0 ? 'string' : 'function or HandlerObject'
        }'.`,
      );
    }
    const typeText = String(type);
    checkCapture(options, 'addEventListener');
    if (callback == null) return;
    if (typeof callback !== 'function') {
      if (typeof callback !== 'object') {
        throw new TypeError(
          "Failed to execute 'addEventListener' on 'EventTarget': parameter 2 is not of type 'function or HandlerObject'.",
        );
      }
      if (typeof callback.handleEvent !== 'function') {
        throw new TypeError(
          "Incorrect type for the 'handleEvent' field on 'HandlerObject': the provided value is not of type 'function'.",
        );
      }
    }
    const opts = typeof options === 'object' && options !== null ? options : {};
    const signal = opts.signal;
    if (signal !== undefined && !isAbortSignalLike(signal)) {
      throw new TypeError(
        "Incorrect type for the 'signal' field on 'AddEventListenerOptions': the provided value is not of type 'AbortSignal'.",
      );
    }
    if (signal?.aborted) return;

    let list = this.#listeners.get(typeText);
    if (!list) this.#listeners.set(typeText, (list = []));
    if (list.some((l) => l.callback === callback)) return;
    const listener: Listener = {
      callback,
      once: Boolean(opts.once),
      passive: Boolean(opts.passive),
      removed: false,
    };
    list.push(listener);
    signal?.addEventListener('abort', () => removeListener(this, typeText, listener), { once: true });
  }

  removeEventListener(
    type: string,
    callback: EventListenerOrEventListenerObject | null,
    options?: EventListenerOptions | boolean,
  ): void {
    checkCapture(options, 'removeEventListener');
    const typeText = String(type);
    const listener = this.#listeners.get(typeText)?.find((l) => l.callback === callback);
    if (listener) removeListener(this, typeText, listener);
  }

  dispatchEvent(event: Event): boolean {
    if (!(event instanceof Event)) {
      throw new TypeError("Failed to execute 'dispatchEvent' on 'EventTarget': parameter 1 is not of type 'Event'.");
    }
    if (isDispatchingImpl(event)) {
      throw new DOMException('The event is already being dispatched.', 'InvalidStateError');
    }
    beginDispatch(event, this);
    try {
      const list = this.#listeners.get(event.type);
      if (list && list.length > 0) invokeListeners(this, event, list.slice());
    } finally {
      endDispatch(event);
    }
    return !event.defaultPrevented;
  }
}

function isAbortSignalLike(value: unknown): value is AbortSignalLike {
  return value instanceof EventTarget && 'aborted' in value;
}

// Runs a snapshot of the listeners: ones added during dispatch wait for the
// next dispatch, ones removed during dispatch are skipped.
function invokeListeners(target: EventTarget, event: Event, listeners: Listener[]): void {
  for (const listener of listeners) {
    if (listener.removed) continue;
    if (stoppedImmediately(event)) break;
    if (listener.once) removeListener(target, event.type, listener);
    setPassive(event, listener.passive);
    try {
      const callback = listener.callback;
      if (typeof callback === 'function') {
        callback.call(target, event);
      } else {
        // Looked up on every call, as the DOM says, so it can be replaced.
        const handleEvent = callback.handleEvent;
        if (typeof handleEvent !== 'function') {
          throw new TypeError(
            "Incorrect type for the 'handleEvent' field on 'HandlerObject': the provided value is not of type 'function'.",
          );
        }
        handleEvent.call(callback, event);
      }
    } catch (error) {
      reportListenerError(error, event);
    } finally {
      setPassive(event, false);
    }
  }
}

// ---------------------------------------------------------------------------
// Event handler attributes (onabort, onmessage, ...), for subclasses.

/** Reads an `on<type>` handler attribute. */
export function getEventHandler(target: EventTarget, type: string): ((event: Event) => unknown) | null {
  return handlersOf(target).get(type)?.value ?? null;
}

/** Sets an `on<type>` handler attribute. Non-functions clear it (as workerd
 *  does). A handler returning false cancels the event, per HTML. */
export function setEventHandler(target: EventTarget, type: string, value: unknown): void {
  const handlers = handlersOf(target);
  let slot = handlers.get(type);
  if (!slot) handlers.set(type, (slot = { value: null, listener: null }));
  const handler = typeof value === 'function' ? (value as (event: Event) => unknown) : null;
  slot.value = handler;
  if (handler === null) {
    if (slot.listener) removeListener(target, type, slot.listener);
    slot.listener = null;
    return;
  }
  if (slot.listener) return;
  const current = slot;
  const callback = function (this: EventTarget, event: Event): void {
    const result = current.value?.call(this, event);
    if (result === false) event.preventDefault();
  };
  const listener: Listener = { callback, once: false, passive: false, removed: false };
  let list = listenersOf(target).get(type);
  if (!list) listenersOf(target).set(type, (list = []));
  list.push(listener);
  slot.listener = listener;
}

/** Defines `on<type>` accessors on a prototype, e.g. defineEventHandler(
 *  AbortSignal.prototype, 'abort') for `onabort`. */
export function defineEventHandler(prototype: EventTarget, type: string): void {
  Object.defineProperty(prototype, `on${type}`, {
    get(this: EventTarget) {
      return getEventHandler(this, type);
    },
    set(this: EventTarget, value: unknown) {
      setEventHandler(this, type, value);
    },
    enumerable: true,
    configurable: true,
  });
}
