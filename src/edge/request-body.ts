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

/**
 * The body as an async iterable read one chunk per pull (the stream stays paused in between, so a
 * slow worker applies backpressure). Giving up early drains the rest instead of destroying the
 * request: the connection stays usable for the next keep-alive request.
 */
export function trackBody(req: IncomingMessage): TrackedBody {
  let started = false;
  let abandoned = false;
  const chunks: Uint8Array[] = [];
  let ended = false;
  let failure: Error | null = null;
  let waiting: { resolve(r: IteratorResult<Uint8Array>): void; reject(e: Error): void } | null = null;

  const settle = () => {
    if (!waiting) return;
    const w = waiting;
    if (chunks.length) { waiting = null; w.resolve({ done: false, value: chunks.shift()! }); req.pause(); return; }
    if (failure) { waiting = null; w.reject(failure); return; }
    if (ended) { waiting = null; w.resolve({ done: true, value: undefined }); }
  };
  const attach = () => {
    req.on('data', (chunk: Buffer) => {
      if (abandoned) return;
      chunks.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      req.pause();
      settle();
    });
    req.on('end', () => { ended = true; settle(); });
    req.on('error', (error) => { failure = error; settle(); });
    req.on('aborted', () => { failure ??= new Error('request aborted'); settle(); });
  };

  const iterator: AsyncIterator<Uint8Array> = {
    next() {
      if (!started) { started = true; attach(); }
      if (abandoned) return Promise.resolve({ done: true, value: undefined });
      return new Promise((resolve, reject) => {
        waiting = { resolve, reject };
        if (chunks.length || ended || failure) settle();
        else req.resume();
      });
    },
    return() {
      abandoned = true;
      chunks.length = 0;
      if (!started) { started = true; req.on('data', () => {}); }
      req.resume();
      return Promise.resolve({ done: true, value: undefined });
    },
  };
  return { iterable: { [Symbol.asyncIterator]: () => iterator }, started: () => started };
}
