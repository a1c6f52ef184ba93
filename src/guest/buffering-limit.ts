// The most bytes a worker may buffer by reading a whole body (text(), arrayBuffer(), json(),
// formData(), blob(), bytes()). Past it the read fails with a TypeError rather than letting the
// isolate run out of memory; streaming a body has no such limit.
//
// workerd asks its limit enforcer (getBufferingLimit()); the open-source server answers "no
// limit" and Cloudflare's own value is not published; its docs tie the error to the 128 MB memory
// limit of an isolate. Flarelet decides: 128 MiB unless the runtime sets another value.
//
// workerd's rules (src/workerd/api/streams/internal.c++ and standard.c++), followed here:
// - A body whose length is known up front (a buffered body, a Content-Length) fails before
//   anything is read when that length is not below the limit: "would be exceeded".
// - Otherwise the bytes are counted as they arrive: a runtime-fed (internal) stream fails once
//   the count reaches the limit, a stream of the worker's own JavaScript once it goes past it.

export const DEFAULT_BUFFERING_LIMIT = 128 * 1024 * 1024;
export const WOULD_EXCEED_MESSAGE = 'Memory limit would be exceeded before EOF.';
export const EXCEEDED_MESSAGE = 'Memory limit exceeded before EOF.';

let limit = DEFAULT_BUFFERING_LIMIT;

/** Sets the buffering limit in bytes: a positive integer, or Infinity for none. */
export function setBufferingLimit(bytes: number): void {
  if (!(bytes === Infinity || (Number.isSafeInteger(bytes) && bytes > 0))) {
    throw new RangeError(`buffering limit must be a positive whole number of bytes, got ${String(bytes)}`);
  }
  limit = bytes;
}

export function bufferingLimit(): number {
  return limit;
}

/** The error for a body of `length` bytes known up front, or null when it fits. */
export function knownLengthError(length: number | null): TypeError | null {
  return length !== null && length >= limit ? new TypeError(WOULD_EXCEED_MESSAGE) : null;
}

/** The error once `total` bytes have been read, or null while they fit. */
export function readTotalError(total: number, internal: boolean): TypeError | null {
  return (internal ? total >= limit : total > limit) ? new TypeError(EXCEEDED_MESSAGE) : null;
}
