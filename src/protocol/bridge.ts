// The host⇄guest bridge: message kinds exchanged between the Node host and the code running
// inside an isolate. Numbers, not strings, because every request crosses this bridge at least
// twice and small integers are the cheapest thing isolated-vm can carry.
//
// Host → guest: the host calls the guest's `onHostEvent(kind, a, b, c, d, e, f)` once per event
// (isolated-vm `applyIgnored`, one V8 task per event, so the microtasks an event causes are
// drained before the next event starts and the guest always knows which invocation it serves).
// Guest → host: the guest calls one ignored callback `send(kind, a, b, c, d, e, f, g)`.

export const HostEvent = {
  /** invId, method, url, headers joined by '\n' (name\nvalue\n…), body stream id (0 = none), cf JSON */
  Request: 1,
  /** timerId */
  Timer: 2,
  /** opId, ok (boolean), value (structured-cloneable) */
  OpResult: 3,
  /** streamId: the host wants the next chunk of a guest-produced body */
  Pull: 4,
  /** streamId, reason: the host no longer wants a guest-produced body (client went away) */
  CancelStream: 5,
  /** invId: the client disconnected before the response was complete */
  ClientAbort: 6,
  /** ArrayBuffer of fresh random bytes for the guest's entropy pool */
  Entropy: 7,
  /** invId: waitUntil() tasks ran out of time; the guest drops them */
  WaitUntilTimeout: 8,
  /** invId: the host ended the invocation (CPU limit); the guest drops everything it left behind */
  Cancel: 9,
  /** invId: answer to HangCheckRequest, delivered as a task of its own, so after every microtask
   *  the invocation had queued: if it still has no response and nothing pending, it has hung */
  HangCheck: 10,
} as const;

export const GuestMessage = {
  /** invId, status, statusText, headers (flat string[]), bodyKind, body (bytes | streamId),
   *  outcome hint when the invocation ends with this response (else undefined; Done follows) */
  Respond: 1,
  /** invId: no response from the worker; forward the request to the origin */
  PassThrough: 2,
  /** invId, level, message (JSON-compatible array), timestamp, errorInfo | undefined, size */
  Log: 3,
  /** invId, name, message, stack | undefined, timestamp */
  Exception: 4,
  /** invId, outcome hint ('ok' | 'exception'): nothing of this invocation is left to run */
  Done: 5,
  /** timerId, delay ms, invId */
  TimerSet: 6,
  /** timerId */
  TimerClear: 7,
  /** opId, invId, op name, args (structured-cloneable array) */
  Op: 8,
  /** streamId, chunk (Uint8Array) | null at end, error message | undefined */
  Chunk: 9,
  /** the entropy pool runs low */
  EntropyLow: 10,
  /** streamId: the guest no longer wants a host-fed stream */
  CancelHostStream: 11,
  /** invId, message: the invocation failed before a response (uncaught exception) */
  Failed: 12,
  /** invId: the invocation has no response and nothing pending right now; check again after
   *  the current task (the host answers with HostEvent.HangCheck) */
  HangCheckRequest: 13,
} as const;

/**
 * Int32 slots of the SharedArrayBuffer the guest writes and the host's CPU watchdog reads while
 * the isolate runs: which invocation the running code belongs to, and a count of host events
 * started (unchanged between two samples = one task ran all along).
 */
export const ActivitySlot = { Invocation: 0, EventSeq: 1 } as const;

export const BodyKind = { None: 0, Bytes: 1, Stream: 2 } as const;

/** Names of asynchronous operations the guest asks the host to perform (GuestMessage.Op). */
export type HostOpName = 'fetch' | 'read' | 'subtle';

/** What the guest sends for a subrequest (`fetch`). */
export interface SubrequestInit {
  method: string;
  url: string;
  headers: string[];
  bodyKind: number;
  body: Uint8Array | number | null;
  redirect: string;
}

/** What the host answers a subrequest with. */
export interface SubrequestResult {
  status: number;
  statusText: string;
  headers: string[];
  bodyStream: number;
  url: string;
  redirected: boolean;
}
