// AbortController and AbortSignal for the guest isolate, per the DOM standard
// with workerd's error texts.
//
// This module has no timers of its own: the installer hands it the guest's
// setTimeout through setAbortTimerFunction, which AbortSignal.timeout uses.
// Other guest modules use the internal helpers below (createAbortSignal,
// signalAbort, addAbortAlgorithm) to tie fetch, streams and the request's
// signal to aborts without going through events.

import { DOMException } from './dom-exception.ts';
import { Event, EventTarget, defineEventHandler } from './events.ts';

type TimerFunction = (callback: () => void, ms: number) => unknown;

let startTimer: TimerFunction | null = null;

/** Gives AbortSignal.timeout a way to schedule its abort. */
export function setAbortTimerFunction(fn: TimerFunction | null): void {
  startTimer = fn;
}

export type AbortAlgorithm = () => void;

// Guards the constructor: only this module may create signals.
const INTERNAL = Symbol('AbortSignal.internal');

let readState: (signal: AbortSignal) => SignalState;

interface SignalState {
  aborted: boolean;
  reason: unknown;
  algorithms: Set<AbortAlgorithm>;
  // For AbortSignal.any: a dependent signal follows its source signals.
  dependent: boolean;
  sources: Set<AbortSignal>;
  dependents: Set<AbortSignal>;
}

export class AbortSignal extends EventTarget {
  #state: SignalState = {
    aborted: false,
    reason: undefined,
    algorithms: new Set(),
    dependent: false,
    sources: new Set(),
    dependents: new Set(),
  };

  declare onabort: ((this: AbortSignal, event: Event) => unknown) | null;

  constructor(key?: unknown) {
    if (key !== INTERNAL) throw new TypeError('Illegal constructor');
    super();
  }

  static {
    readState = (signal) => signal.#state;
  }

  get aborted(): boolean {
    return this.#state.aborted;
  }

  get reason(): unknown {
    return this.#state.reason;
  }

  throwIfAborted(): void {
    if (this.#state.aborted) throw this.#state.reason;
  }

  static abort(reason?: unknown): AbortSignal {
    const signal = createAbortSignal();
    const state = readState(signal);
    state.aborted = true;
    state.reason = reason === undefined ? defaultAbortReason() : reason;
    return signal;
  }

  static timeout(milliseconds: number): AbortSignal {
    // workerd converts leniently (no RangeError for negative or NaN input).
    const ms = Math.max(0, Math.trunc(Number(milliseconds)) || 0);
    if (startTimer === null) throw new Error('AbortSignal.timeout() is unavailable: no timer function installed');
    const signal = createAbortSignal();
    startTimer(() => {
      signalAbort(signal, new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
    }, ms);
    return signal;
  }

  static any(signals: Iterable<AbortSignal>): AbortSignal {
    if (signals == null || typeof signals !== 'object' || typeof signals[Symbol.iterator] !== 'function') {
      throw new TypeError("Failed to execute 'any' on 'AbortSignal': parameter 1 is not of type 'Array'.");
    }
    const list = Array.from(signals);
    list.forEach((signal, index) => {
      if (!(signal instanceof AbortSignal)) {
        throw new TypeError(
          `Incorrect type for array element ${index}: the provided value is not of type 'AbortSignal'.`,
        );
      }
    });
    return createDependentSignal(list);
  }
}

// Shared by AbortSignal.prototype.onabort and other `on*` attributes: keeps
// the handler in the listener list at the place it was first set.
defineEventHandler(AbortSignal.prototype, 'abort');

/** workerd's reason for abort() without one. */
export function defaultAbortReason(): DOMException {
  return new DOMException('The operation was aborted', 'AbortError');
}

/** Creates a fresh, not yet aborted signal (for internal owners such as the
 *  request signal). */
export function createAbortSignal(): AbortSignal {
  return new AbortSignal(INTERNAL);
}

// DOM "create a dependent abort signal".
function createDependentSignal(signals: AbortSignal[]): AbortSignal {
  const result = createAbortSignal();
  const state = readState(result);
  for (const signal of signals) {
    const source = readState(signal);
    if (source.aborted) {
      state.aborted = true;
      state.reason = source.reason;
      return result;
    }
  }
  state.dependent = true;
  for (const signal of signals) {
    const source = readState(signal);
    // A dependent signal's own sources are never dependent, so chains of
    // any() flatten to the original controllers' signals.
    const roots = source.dependent ? source.sources : [signal];
    for (const root of roots) {
      state.sources.add(root);
      readState(root).dependents.add(result);
    }
  }
  return result;
}

/** DOM "signal abort": marks the signal (and signals depending on it) as
 *  aborted, then runs abort algorithms and fires `abort` events. */
export function signalAbort(signal: AbortSignal, reason?: unknown): void {
  const state = readState(signal);
  if (state.aborted) return;
  state.aborted = true;
  state.reason = reason === undefined ? defaultAbortReason() : reason;

  const toNotify: AbortSignal[] = [];
  for (const dependent of state.dependents) {
    const dependentState = readState(dependent);
    if (dependentState.aborted) continue;
    dependentState.aborted = true;
    dependentState.reason = state.reason;
    toNotify.push(dependent);
  }
  // Aborted signals never fire again; drop the links so they can be freed.
  state.dependents.clear();
  runAbortSteps(signal);
  for (const dependent of toNotify) {
    for (const source of readState(dependent).sources) readState(source).dependents.delete(dependent);
    readState(dependent).sources.clear();
    runAbortSteps(dependent);
  }
}

function runAbortSteps(signal: AbortSignal): void {
  const state = readState(signal);
  const algorithms = [...state.algorithms];
  state.algorithms.clear();
  for (const algorithm of algorithms) algorithm();
  signal.dispatchEvent(new Event('abort'));
}

/** Runs `algorithm` when the signal aborts (not if it already has). Returns a
 *  function that unregisters it. */
export function addAbortAlgorithm(signal: AbortSignal, algorithm: AbortAlgorithm): () => void {
  const state = readState(signal);
  if (state.aborted) return () => {};
  state.algorithms.add(algorithm);
  return () => {
    state.algorithms.delete(algorithm);
  };
}

export class AbortController {
  #signal = createAbortSignal();

  get signal(): AbortSignal {
    return this.#signal;
  }

  abort(reason?: unknown): void {
    signalAbort(this.#signal, reason);
  }
}
