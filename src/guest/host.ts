// The guest's only line to the host. The host installs its callbacks before this bundle runs;
// `captureHost` takes them into this module's closure and deletes the globals so that user code
// can never reach an isolated-vm handle.
import { ActivitySlot, GuestMessage, HostEvent } from '../protocol/bridge.ts';

type Send = (kind: number, a?: unknown, b?: unknown, c?: unknown, d?: unknown, e?: unknown, f?: unknown, g?: unknown) => void;
type RandomSync = (n: number) => ArrayBuffer;

let send: Send = () => { throw new Error('host bridge not installed'); };
let randomSync: RandomSync = () => { throw new Error('host bridge not installed'); };
// Shared with the host (see ActivitySlot); a private array until the host provides its buffer.
let activity: Int32Array<ArrayBufferLike> = new Int32Array(2);

export function captureHost(globalName: string): void {
  const g = globalThis as Record<string, unknown>;
  const rawSend = g[`${globalName}Send`] as Send | undefined;
  const rawRandom = g[`${globalName}Random`] as RandomSync | undefined;
  const activityBuffer = g[`${globalName}Activity`] as SharedArrayBuffer | undefined;
  if (!rawSend || !rawRandom) throw new Error('flarelet guest: host handles missing');
  delete g[`${globalName}Send`];
  delete g[`${globalName}Random`];
  delete g[`${globalName}Activity`];
  if (activityBuffer) activity = new Int32Array(activityBuffer);
  // ivm.Callback functions are plain functions in the guest; only these closures keep them.
  send = (kind, a, b, c, d, e, f, g) => rawSend(kind, a, b, c, d, e, f, g);
  randomSync = (n) => rawRandom(n);
}

export function sendToHost(kind: number, a?: unknown, b?: unknown, c?: unknown, d?: unknown, e?: unknown, f?: unknown, g?: unknown): void {
  send(kind, a, b, c, d, e, f, g);
}

export function hostRandomSync(n: number): ArrayBuffer {
  return randomSync(n);
}

// ---- asynchronous host operations ------------------------------------------------------------

interface PendingOp { resolve(v: unknown): void; reject(e: unknown): void; invId: number }
const pendingOps = new Map<number, PendingOp>();
let nextOpId = 1;

/** Asks the host to do something asynchronous (fetch, read a body chunk, webcrypto…). */
export function hostOp<T>(name: string, args: unknown[], invId: number): Promise<T> {
  const id = nextOpId++;
  return new Promise<T>((resolve, reject) => {
    pendingOps.set(id, { resolve: resolve as (v: unknown) => void, reject, invId });
    send(GuestMessage.Op, id, invId, name, args);
  });
}

/** Forgets the outstanding operations of a cancelled invocation: their results are dropped. */
export function dropOpsOf(invId: number): void {
  for (const [id, op] of pendingOps) if (op.invId === invId) pendingOps.delete(id);
}

/** Number of host operations still outstanding for an invocation. */
export function pendingOpsOf(invId: number): number {
  let n = 0;
  for (const op of pendingOps.values()) if (op.invId === invId) n++;
  return n;
}

/** The error classes a host failure may be rebuilt as inside the isolate. */
const errorTypes: Record<string, ErrorConstructor> = {
  TypeError, RangeError, SyntaxError, Error,
};
let domExceptionCtor: (new (message: string, name: string) => Error) | undefined;
export function setDOMExceptionClass(ctor: new (message: string, name: string) => Error): void {
  domExceptionCtor = ctor;
}

export function rebuildHostError(value: unknown): Error {
  const v = (value ?? {}) as { name?: string; message?: string; domException?: boolean };
  const message = typeof v.message === 'string' ? v.message : String(value);
  const name = typeof v.name === 'string' ? v.name : 'Error';
  if (v.domException && domExceptionCtor) return new domExceptionCtor(message, name);
  const Ctor = errorTypes[name] ?? Error;
  return new Ctor(message);
}

// ---- host events -----------------------------------------------------------------------------

type Handler = (a: unknown, b: unknown, c: unknown, d: unknown, e: unknown, f: unknown) => void;
const handlers = new Map<number, Handler>();

export function onEvent(kind: number, handler: Handler): void {
  handlers.set(kind, handler);
}

// Told after a host event ran code of an invocation (an operation's result, a timer), so that
// the hang detector can look at it again.
let invocationEventListener: (invId: number) => void = () => {};
export function onInvocationEvent(listener: (invId: number) => void): void { invocationEventListener = listener; }
export function notifyInvocationEvent(invId: number): void { invocationEventListener(invId); }

onEvent(HostEvent.OpResult, (opId, ok, value) => {
  const op = pendingOps.get(opId as number);
  if (!op) return;
  pendingOps.delete(opId as number);
  setCurrentInvocationId(op.invId);
  if (ok) op.resolve(value);
  else op.reject(rebuildHostError(value));
  notifyInvocationEvent(op.invId);
});

/** The single entry point the host calls for every event. */
export function onHostEvent(kind: number, a: unknown, b: unknown, c: unknown, d: unknown, e: unknown, f: unknown): void {
  activity[ActivitySlot.EventSeq]++;
  const handler = handlers.get(kind);
  if (handler) handler(a, b, c, d, e, f);
}

// ---- which invocation the running code belongs to ---------------------------------------------
// Each host event is its own V8 task and isolated-vm drains microtasks after each task, so the
// invocation an event belongs to stays current for all continuations it triggers.
let currentInvocationId = 0;
export function setCurrentInvocationId(id: number): void {
  currentInvocationId = id;
  activity[ActivitySlot.Invocation] = id;
}
export function getCurrentInvocationId(): number { return currentInvocationId; }
