// The byte streams the runtime itself produces ("internal" streams, as workerd calls them): the
// stream of a body made from bytes, host-fed bodies (the incoming request's, a subrequest
// response's) and the branches of their tee(). In workerd these are I/O objects of the request
// that created them and they may know their length up front; streams built by the worker from
// JavaScript (new ReadableStream, TransformStream, WritableStream) are neither, and any request
// may use them. Measured on workerd: reading, cancelling, teeing or piping another request's
// internal stream fails with the cross-request error; taking a reader or reading `locked` does
// not; a stream that is already closed or errored reads as such from anywhere.
//
// The check sits at the public methods (web-streams-polyfill's prototypes are wrapped once, when
// this module loads), so it costs one WeakMap lookup per call and nothing for the worker's own
// JavaScript streams. Work a request started itself (a pipe, a tee branch pulling its source)
// carries on wherever it is driven from, as it does in workerd.
import {
  ReadableStream, ReadableStreamBYOBReader, ReadableStreamDefaultReader,
} from 'web-streams-polyfill';
import { IoType, foreignIoError } from './io-context.ts';
import type { IoTypeName } from './io-context.ts';

export interface InternalStreamFacts {
  /** the invocation whose request the stream belongs to */
  owner: number;
  /** bytes the stream will produce when known up front (Content-Length, a buffered body) */
  length: number | null;
}

const internalStreams = new WeakMap<object, InternalStreamFacts>();
/** async iterators (values()) of internal streams → their stream */
const iteratorStreams = new WeakMap<object, object>();

export function markInternalStream(stream: ReadableStream<unknown>, owner: number, length: number | null): void {
  internalStreams.set(stream, { owner, length });
}

export function internalStreamFacts(stream: ReadableStream<unknown>): InternalStreamFacts | undefined {
  return internalStreams.get(stream);
}

/** Records the length a host-fed stream will produce (from its Content-Length). */
export function setKnownLength(stream: ReadableStream<unknown>, length: number | null): void {
  const facts = internalStreams.get(stream);
  if (facts) facts.length = length;
}

/**
 * The stream of buffered bytes (a body's, a Blob's): internal, I/O of request `owner`, of known
 * length. A byte stream's enqueue() transfers (detaches) the buffer: pass one nobody else holds.
 */
export function internalStreamOfBytes(bytes: Uint8Array, owner: number): ReadableStream<Uint8Array> {
  // Taken first: enqueue() (run by the constructor) detaches the buffer, leaving it zero-length.
  const length = bytes.byteLength;
  const stream = new ReadableStream<Uint8Array>({
    type: 'bytes',
    start(controller) {
      if (bytes.byteLength > 0) controller.enqueue(bytes);
      controller.close();
    },
  });
  internalStreams.set(stream, { owner, length });
  return stream;
}

// web-streams-polyfill 4.x keeps the spec's internal slots as plain properties: a stream's
// [[state]] as `_state`, a reader's [[stream]] as `_ownerReadableStream`. The unit tests check
// that they are still there.
interface PolyfillStream { _state?: string }
interface PolyfillReader { _ownerReadableStream?: ReadableStream<unknown> }

/** The error for using `stream` from the running request, or null when that is allowed. */
export function foreignStreamError(stream: unknown, type: IoTypeName): Error | null {
  if (typeof stream !== 'object' || stream === null) return null;
  const facts = internalStreams.get(stream);
  if (facts === undefined) return null;
  // A closed or errored stream holds no I/O any more: reading it only reports that state.
  if ((stream as PolyfillStream)._state !== 'readable') return null;
  return foreignIoError(facts.owner, type);
}

function streamOfReader(reader: unknown): unknown {
  if (typeof reader !== 'object' || reader === null) return undefined;
  return (reader as PolyfillReader)._ownerReadableStream;
}

/** A stream that is errored from the start: a pipe from it fails the way a foreign source does. */
function erroredStream(error: Error): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({ start(controller) { controller.error(error); } });
}

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

/** Replaces proto[key] by wrap(original), keeping the property's attributes, name and length. */
function wrapMethod(proto: object, key: string | symbol, wrap: (original: AnyFunction) => AnyFunction): AnyFunction {
  const descriptor = Object.getOwnPropertyDescriptor(proto, key);
  if (!descriptor || typeof descriptor.value !== 'function') {
    throw new Error(`flarelet guest: stream method ${String(key)} not found`);
  }
  const original = descriptor.value as AnyFunction;
  const replacement = wrap(original);
  Object.defineProperty(replacement, 'name', { value: original.name, configurable: true });
  Object.defineProperty(replacement, 'length', { value: original.length, configurable: true });
  Object.defineProperty(proto, key, { ...descriptor, value: replacement });
  return replacement;
}

/** A method that rejects (returns a rejected promise) when used on another request's stream. */
function rejectingGuard(locate: (self: unknown) => unknown, type: IoTypeName) {
  return (original: AnyFunction): AnyFunction => function (this: unknown, ...args: unknown[]) {
    const error = foreignStreamError(locate(this), type);
    return error ? Promise.reject(error) : original.apply(this, args);
  };
}

/** A method that throws when used on another request's stream. */
function throwingGuard(locate: (self: unknown) => unknown, type: IoTypeName) {
  return (original: AnyFunction): AnyFunction => function (this: unknown, ...args: unknown[]) {
    const error = foreignStreamError(locate(this), type);
    if (error) throw error;
    return original.apply(this, args);
  };
}

const self = (value: unknown) => value;

function installGuards(): void {
  const streamProto = ReadableStream.prototype;
  const originalValues = streamProto.values as unknown as AnyFunction;
  // The prototype every async iterator of a stream shares (the polyfill does not export it).
  const iteratorProto = Object.getPrototypeOf(originalValues.call(new ReadableStream())) as object;

  wrapMethod(streamProto, 'cancel', rejectingGuard(self, IoType.StreamSource));
  wrapMethod(streamProto, 'tee', (original) => function (this: unknown) {
    const error = foreignStreamError(this, IoType.StreamSource);
    if (error) throw error;
    const branches = original.call(this) as ReadableStream<unknown>[];
    // Branches of an internal stream are internal too, and belong to the same request.
    const facts = internalStreams.get(this as object);
    if (facts) for (const branch of branches) internalStreams.set(branch, { owner: facts.owner, length: facts.length });
    return branches;
  });
  wrapMethod(streamProto, 'pipeTo', (original) => function (this: unknown, ...args: unknown[]) {
    const error = foreignStreamError(this, IoType.StreamSource);
    return original.apply(error ? erroredStream(error) : this, args);
  });
  wrapMethod(streamProto, 'pipeThrough', (original) => function (this: unknown, ...args: unknown[]) {
    const error = foreignStreamError(this, IoType.StreamSource);
    return original.apply(error ? erroredStream(error) : this, args);
  });
  const values = wrapMethod(streamProto, 'values', (original) => function (this: unknown, ...args: unknown[]) {
    const iterator = original.apply(this, args) as object;
    if (internalStreams.has(this as object)) iteratorStreams.set(iterator, this as object);
    return iterator;
  });
  Object.defineProperty(streamProto, Symbol.asyncIterator, {
    ...Object.getOwnPropertyDescriptor(streamProto, Symbol.asyncIterator), value: values,
  });
  const iteratorStream = (iterator: unknown) =>
    typeof iterator === 'object' && iterator !== null ? iteratorStreams.get(iterator) : undefined;
  wrapMethod(iteratorProto, 'next', rejectingGuard(iteratorStream, IoType.StreamSource));
  wrapMethod(iteratorProto, 'return', rejectingGuard(iteratorStream, IoType.Canceler));

  for (const readerProto of [ReadableStreamDefaultReader.prototype, ReadableStreamBYOBReader.prototype]) {
    wrapMethod(readerProto, 'read', rejectingGuard(streamOfReader, IoType.StreamSource));
    wrapMethod(readerProto, 'cancel', rejectingGuard(streamOfReader, IoType.Canceler));
    wrapMethod(readerProto, 'releaseLock', throwingGuard(streamOfReader, IoType.Canceler));
  }
}

installGuards();
