// setTimeout/setInterval inside the isolate. The host owns the clock: the guest registers a
// timer, the host fires HostEvent.Timer when it is due. Each timer belongs to the invocation that
// created it (0 = global scope at startup), so it runs in that invocation's context and can be
// cancelled with it.
import { GuestMessage, HostEvent } from '../protocol/bridge.ts';
import { getCurrentInvocationId, notifyInvocationEvent, onEvent, sendToHost, setCurrentInvocationId } from './host.ts';

interface Timer { callback: (...args: unknown[]) => void; args: unknown[]; delay: number; repeat: boolean; invId: number }
const timers = new Map<number, Timer>();
let nextTimerId = 1;
let reportError: (error: unknown) => void = () => {};

/** The runtime records exceptions thrown by timer callbacks as uncaught exceptions. */
export function setTimerErrorReporter(fn: (error: unknown) => void): void { reportError = fn; }

function schedule(id: number, timer: Timer): void {
  sendToHost(GuestMessage.TimerSet, id, timer.delay, timer.invId);
}

function createTimer(callback: unknown, delay: unknown, args: unknown[], repeat: boolean): number {
  if (typeof callback !== 'function') {
    throw new TypeError("Failed to execute 'setTimeout': parameter 1 is not of type 'Function'.");
  }
  let ms = Number(delay);
  if (!Number.isFinite(ms) || ms < 0) ms = 0;
  const id = nextTimerId++;
  const timer: Timer = { callback: callback as Timer['callback'], args, delay: Math.floor(ms), repeat, invId: getCurrentInvocationId() };
  timers.set(id, timer);
  schedule(id, timer);
  return id;
}

function clearTimer(id: unknown): void {
  const key = typeof id === 'number' ? id : Number(id);
  if (timers.delete(key)) sendToHost(GuestMessage.TimerClear, key);
}

onEvent(HostEvent.Timer, (id) => {
  const timer = timers.get(id as number);
  if (!timer) return;
  setCurrentInvocationId(timer.invId);
  if (timer.repeat) schedule(id as number, timer);
  else timers.delete(id as number);
  try {
    timer.callback(...timer.args);
  } catch (error) {
    reportError(error);
  }
  notifyInvocationEvent(timer.invId);
});

/** Drops every timer an invocation left behind (its tasks are cancelled when it ends). */
export function cancelTimersOf(invId: number): void {
  for (const [id, timer] of timers) {
    if (timer.invId === invId) { timers.delete(id); sendToHost(GuestMessage.TimerClear, id); }
  }
}

export function pendingTimersOf(invId: number): number {
  let n = 0;
  for (const timer of timers.values()) if (timer.invId === invId) n++;
  return n;
}

export function setTimeout(callback: unknown, delay?: unknown, ...args: unknown[]): number {
  return createTimer(callback, delay, args, false);
}
export function setInterval(callback: unknown, delay?: unknown, ...args: unknown[]): number {
  return createTimer(callback, delay, args, true);
}
export function clearTimeout(id?: unknown): void { clearTimer(id); }
export function clearInterval(id?: unknown): void { clearTimer(id); }

export function queueMicrotask(callback: unknown): void {
  if (typeof callback !== 'function') {
    throw new TypeError("Failed to execute 'queueMicrotask': parameter 1 is not of type 'Function'.");
  }
  const invId = getCurrentInvocationId();
  Promise.resolve().then(() => {
    setCurrentInvocationId(invId);
    try { (callback as () => void)(); } catch (error) { reportError(error); }
  });
}
