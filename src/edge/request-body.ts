// The incoming request body, handed to the worker lazily. The edge must know whether the worker
// started reading it: an untouched body can still be forwarded to the origin, a read one cannot.
import type { IncomingMessage } from 'node:http';

export interface TrackedBody {
  iterable: AsyncIterable<Uint8Array>;
  started(): boolean;
}

export function hasBody(req: IncomingMessage): boolean {
  if (req.method === 'GET' || req.method === 'HEAD') return false;
  if (req.headers['transfer-encoding']) return true;
  const length = req.headers['content-length'];
  return length !== undefined;
}

export function trackBody(req: IncomingMessage): TrackedBody {
  let started = false;
  let inner: AsyncIterator<Uint8Array> | undefined;
  const iterator: AsyncIterator<Uint8Array> = {
    next() {
      started = true;
      inner ??= (req as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
      return inner.next();
    },
    return() {
      inner?.return?.();
      req.resume();
      return Promise.resolve({ done: true, value: undefined });
    },
  };
  return { iterable: { [Symbol.asyncIterator]: () => iterator }, started: () => started };
}
