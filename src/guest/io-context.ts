// Which request the running code serves, as workerd's IoContext has it. I/O objects (bodies and
// the byte streams the runtime feeds) belong to the request whose handler created them; touching
// one from another request's handler is an error, so that one request can never read, cancel or
// answer with another request's data. Code of the top-level scope serves no request at all, and
// the operations that need one (making a body, for instance) are refused there.
//
// The texts are workerd's (src/workerd/io/io-context.c++), checked against workerd itself.
import { getCurrentInvocationId } from './host.ts';

export const CROSS_REQUEST_MESSAGE =
  'Cannot perform I/O on behalf of a different request. I/O objects (such as streams, ' +
  'request/response bodies, and others) created in the context of one request handler cannot be ' +
  "accessed from a different request's handler. This is a limitation of Cloudflare Workers which " +
  'allows us to improve overall performance.';

export const GLOBAL_SCOPE_MESSAGE =
  'Disallowed operation called within global scope. Asynchronous I/O (ex: fetch() or connect()), ' +
  'setting a timeout, and generating random values are not allowed within global scope. To fix ' +
  'this error, perform this operation within a handler. ' +
  'https://developers.cloudflare.com/workers/runtime-apis/handlers/';

/**
 * The names workerd gives the I/O object in the message's ` (I/O type: NAME)` suffix. They are
 * C++ type names as workerd prints them, the stray `>` included: the source of a byte stream for
 * reads (and for cancelling the stream itself), its canceler for what a reader does to its lock.
 */
export const IoType = {
  StreamSource: 'ReadableStreamSource>',
  Canceler: 'Canceler',
} as const;
export type IoTypeName = (typeof IoType)[keyof typeof IoType];

/** The request the running code serves (its invocation id); 0 in the top-level scope. */
export function currentIoContext(): number {
  return getCurrentInvocationId();
}

export function crossRequestError(type: IoTypeName): Error {
  return new Error(`${CROSS_REQUEST_MESSAGE} (I/O type: ${type})`);
}

/** The error for touching an I/O object of request `owner` now, or null when that is allowed. */
export function foreignIoError(owner: number, type: IoTypeName): Error | null {
  return owner === getCurrentInvocationId() ? null : crossRequestError(type);
}

export function assertSameIoContext(owner: number, type: IoTypeName): void {
  if (owner !== getCurrentInvocationId()) throw crossRequestError(type);
}

// Off until the runtime turns it on: modules loaded outside an isolate (unit tests) have no
// request contexts at all, and everything they run would count as top-level scope.
let globalScopeRule = false;

/** Refuse, from now on, the operations that need a request when none is running. */
export function enforceGlobalScopeRule(on = true): void {
  globalScopeRule = on;
}

/** Throws workerd's global-scope error when no request handler is running. */
export function requireIoContext(): void {
  if (globalScopeRule && getCurrentInvocationId() === 0) throw new Error(GLOBAL_SCOPE_MESSAGE);
}
