// The Body mixin shared by Request and Response.
//
// A body built from a string, buffer, Blob, FormData or URLSearchParams is kept as bytes: no
// ReadableStream exists until someone reads `.body`. Reading it with text()/arrayBuffer()/… or
// handing it to the host (takeBodyForTransfer) then never allocates a stream at all, which is what
// every hello-world response does. A body built from a ReadableStream keeps that stream.
//
// A body is an I/O object of the request that made it (see io-context.ts): its bytes, and the
// internal stream made of them, can be read or sent only by that request's handler. Reading a
// whole body is bounded by the buffering limit (see buffering-limit.ts).
import { ReadableStream } from 'web-streams-polyfill';
import { Blob, blobBytes, createBlob } from './blob.ts';
import { knownLengthError, readTotalError } from './buffering-limit.ts';
import { FormData, parseFormData, parseMimeType, serializeMimeType, serializeMultipart } from './form-data.ts';
import { Headers, appendHeaderUnchecked } from './headers.ts';
import { utf8Decode, utf8Encode } from './encoding.ts';
import { IoType, currentIoContext, foreignIoError, requireIoContext } from './io-context.ts';
import { foreignStreamError, internalStreamFacts, internalStreamOfBytes } from './internal-streams.ts';

export type BodyInit =
  | ReadableStream<Uint8Array>
  | string
  | ArrayBuffer
  | ArrayBufferView
  | Blob
  | FormData
  | URLSearchParams
  | AsyncIterable<Uint8Array>;

interface URLSearchParams { toString(): string }

// workerd's texts, verbatim (the trailing comma of TEE_LOCKED is workerd's own).
export const BODY_USED_MESSAGE =
  'Body has already been used. It can only be used once. Use tee() first if you need to read it twice.';
const LOCKED_MESSAGE = 'This ReadableStream is currently locked to a reader.';
const TEE_LOCKED_MESSAGE = 'This ReadableStream is currently locked to a reader,';
const DISTURBED_INIT_MESSAGE =
  'This ReadableStream is disturbed (has already been read from), and cannot be used as a body.';
const LOCKED_INIT_MESSAGE = 'This ReadableStream is locked to a reader, and cannot be used as a body.';
const NOT_BYTES_MESSAGE = 'This ReadableStream did not return bytes.';
const FORMDATA_NO_TYPE_MESSAGE = 'Parsing a Body as FormData requires a Content-Type header.';

const TEXT_TYPE = 'text/plain;charset=UTF-8';
const URLENCODED_TYPE = 'application/x-www-form-urlencoded;charset=UTF-8';
const EMPTY = new Uint8Array(0);

/** A body initializer turned into either bytes or a stream, plus its default Content-Type. */
export interface ExtractedBody {
  bytes: Uint8Array | null;
  stream: ReadableStream<Uint8Array> | null;
  /** true when nobody else holds `bytes`, so they may be handed out without a copy */
  owned: boolean;
  contentType: string | null;
}

/**
 * web-streams-polyfill keeps the spec's [[disturbed]] slot as `_disturbed` on the stream; it is
 * the only way to learn whether a stream has been read from, which bodyUsed must report.
 */
function isDisturbed(stream: ReadableStream<unknown>): boolean {
  return (stream as unknown as { _disturbed?: boolean })._disturbed === true;
}

function isURLSearchParams(v: object): boolean {
  return Object.prototype.toString.call(v) === '[object URLSearchParams]';
}

/** Turns a Request/Response body initializer into bytes or a stream, as workerd's extractBody. */
export function extractBody(init: unknown): ExtractedBody {
  if (init instanceof ReadableStream) return makeStreamBody(init);
  // Every other initializer becomes runtime-held bytes, which only a request handler may make.
  requireIoContext();
  if (typeof init === 'string') {
    return { bytes: utf8Encode(init), stream: null, owned: true, contentType: TEXT_TYPE };
  }
  if (typeof init === 'object' && init !== null) {
    if (init instanceof ArrayBuffer) {
      return { bytes: new Uint8Array(init.slice(0)), stream: null, owned: true, contentType: null };
    }
    if (ArrayBuffer.isView(init)) {
      const copy = new Uint8Array(init.byteLength);
      copy.set(new Uint8Array(init.buffer, init.byteOffset, init.byteLength));
      return { bytes: copy, stream: null, owned: true, contentType: null };
    }
    if (init instanceof Blob) {
      // A Blob's bytes never change, so they are shared rather than copied.
      return { bytes: blobBytes(init), stream: null, owned: false, contentType: init.type === '' ? null : init.type };
    }
    if (init instanceof FormData) {
      const { bytes, contentType } = serializeMultipart(init);
      return { bytes, stream: null, owned: true, contentType };
    }
    if (isURLSearchParams(init)) {
      return { bytes: utf8Encode(String(init)), stream: null, owned: true, contentType: URLENCODED_TYPE };
    }
    if (typeof (init as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') {
      return makeStreamBody(ReadableStream.from(init as AsyncIterable<Uint8Array>));
    }
  }
  return { bytes: utf8Encode(String(init)), stream: null, owned: true, contentType: TEXT_TYPE };
}

/** A body backed by `stream` (for example one the host feeds). The stream must be fresh. */
export function makeStreamBody(stream: ReadableStream<Uint8Array>): ExtractedBody {
  if (isDisturbed(stream)) throw new TypeError(DISTURBED_INIT_MESSAGE);
  if (stream.locked) throw new TypeError(LOCKED_INIT_MESSAGE);
  return { bytes: null, stream, owned: false, contentType: null };
}

function chunkBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  throw new TypeError(NOT_BYTES_MESSAGE);
}

// Bodies at least this long whose length is known are read straight into one buffer.
const PREALLOCATE_FROM = 1024 * 1024;

/**
 * Reads a whole stream within the buffering limit (counted the way `internal` streams count);
 * the result is a buffer of its own unless a single chunk already was. `expected`: the length
 * the stream announced. A large body of known length goes straight into one buffer of that
 * size, half the memory of collecting chunks and joining them; it matters because the bytes
 * live in the isolate's own heap.
 */
async function readAll(stream: ReadableStream<Uint8Array>, internal: boolean, expected: number | null): Promise<Uint8Array> {
  const reader = stream.getReader();
  let into = expected !== null && expected >= PREALLOCATE_FROM ? new Uint8Array(expected) : null;
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const chunk = chunkBytes(value);
      if (chunk.byteLength === 0) continue;
      const offset = total;
      total += chunk.byteLength;
      const tooMuch = readTotalError(total, internal);
      if (tooMuch) throw tooMuch;
      if (into !== null) {
        if (total <= into.byteLength) {
          into.set(chunk, offset);
          continue;
        }
        // The stream sends more than it announced: collect the rest as chunks.
        chunks.push(into.subarray(0, offset));
        into = null;
      }
      chunks.push(chunk);
    }
  } catch (err) {
    reader.cancel(err).catch(() => {});
    throw err;
  }
  if (into !== null) return total === into.byteLength ? into : into.subarray(0, total);
  if (chunks.length === 1) {
    const only = chunks[0];
    if (only.byteOffset === 0 && only.byteLength === only.buffer.byteLength) return only;
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

/** The stream `.body` shows once a buffered body was consumed: closed, disturbed and locked. */
function consumedStream(): ReadableStream<Uint8Array> {
  const s = new ReadableStream<Uint8Array>();
  s.cancel().catch(() => {});
  s.getReader();
  return s;
}

function ownBuffer(bytes: Uint8Array): ArrayBuffer {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) {
    return bytes.buffer as ArrayBuffer;
  }
  return bytes.slice().buffer;
}

export type TransferredBody =
  | { kind: 'none' }
  | { kind: 'bytes'; bytes: Uint8Array; owned: boolean }
  | { kind: 'stream'; stream: ReadableStream<Uint8Array> };

const NO_BODY: TransferredBody = Object.freeze({ kind: 'none' });

let installImpl: (target: Body, headers: Headers, body: ExtractedBody | null) => void;
let cloneImpl: (source: Body, target: Body, headers: Headers) => void;
let moveImpl: (source: Body, target: Body) => void;
let takeImpl: (source: Body) => TransferredBody;
let hasBodyImpl: (b: Body) => boolean;

export class Body {
  // Consulted for Content-Type by formData() and blob().
  #headers: Headers | null = null;
  // A buffered body not yet turned into a stream; EMPTY once consumed.
  #bytes: Uint8Array | null = null;
  #owned = false;
  #stream: ReadableStream<Uint8Array> | null = null;
  // Set when a buffered body was consumed or any body was handed to the host or another Request.
  #used = false;
  // The invocation whose request made this body: its bytes are that request's I/O.
  #owner = 0;

  get body(): ReadableStream<Uint8Array> | null {
    if (this.#stream !== null) return this.#stream;
    const bytes = this.#bytes;
    if (bytes === null) return null;
    this.#bytes = null;
    if (this.#used) {
      this.#stream = consumedStream();
    } else {
      // The stream's enqueue() detaches the buffer it is given, so give it one nobody else has.
      const mine = this.#owned && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
      this.#stream = internalStreamOfBytes(mine ? bytes : bytes.slice(), this.#owner);
    }
    return this.#stream;
  }

  get bodyUsed(): boolean {
    if (this.#used) return true;
    return this.#stream !== null && isDisturbed(this.#stream);
  }

  /**
   * Takes the whole body. Bytes come back shared unless `mustOwn`; throws (so the caller's
   * promise rejects) if the body was used or its stream is locked.
   */
  #read(mustOwn: boolean): Uint8Array | Promise<Uint8Array> {
    const stream = this.#stream;
    if (stream !== null) {
      if (this.#used || isDisturbed(stream)) throw new TypeError(BODY_USED_MESSAGE);
      if (stream.locked) throw new TypeError(LOCKED_MESSAGE);
      const facts = internalStreamFacts(stream);
      if (facts === undefined) return readAll(stream, false, null);
      const foreign = foreignStreamError(stream, IoType.StreamSource);
      const refused = foreign ?? knownLengthError(facts.length);
      if (refused) {
        // As in workerd, the body was taken before the check failed: it stays used and locked.
        this.#used = true;
        const reader = stream.getReader();
        // Our own stream is cancelled so that the host lets go of it; another request's stream
        // is not ours to touch.
        if (!foreign) reader.cancel(refused).catch(() => {});
        throw refused;
      }
      return readAll(stream, true, facts.length);
    }
    const bytes = this.#bytes;
    if (bytes === null) return new Uint8Array(0);
    if (this.#used) throw new TypeError(BODY_USED_MESSAGE);
    this.#used = true;
    this.#bytes = EMPTY;
    const refused = foreignIoError(this.#owner, IoType.StreamSource) ?? knownLengthError(bytes.byteLength);
    if (refused) throw refused;
    return mustOwn && !this.#owned ? bytes.slice() : bytes;
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    return ownBuffer(await this.#read(true));
  }

  async bytes(): Promise<Uint8Array> {
    return this.#read(true);
  }

  async text(): Promise<string> {
    return utf8Decode(await this.#read(false));
  }

  async json(): Promise<unknown> {
    return JSON.parse(utf8Decode(await this.#read(false)));
  }

  async formData(): Promise<FormData> {
    if (this.bodyUsed) throw new TypeError(BODY_USED_MESSAGE);
    const contentType = this.#headers?.get('content-type') ?? null;
    if (contentType === null) throw new TypeError(FORMDATA_NO_TYPE_MESSAGE);
    return parseFormData(await this.#read(false), contentType);
  }

  async blob(): Promise<Blob> {
    const bytes = await this.#read(true);
    const contentType = this.#headers?.get('content-type') ?? null;
    const mime = contentType === null ? null : parseMimeType(contentType);
    return createBlob(bytes, mime === null ? '' : serializeMimeType(mime));
  }

  static {
    installImpl = (target, headers, body) => {
      target.#headers = headers;
      target.#owner = currentIoContext();
      if (body === null) return;
      target.#bytes = body.bytes;
      target.#owned = body.owned;
      target.#stream = body.stream;
      if (body.contentType !== null && !headers.has('content-type')) {
        appendHeaderUnchecked(headers, 'content-type', body.contentType);
      }
    };
    cloneImpl = (source, target, headers) => {
      target.#headers = headers;
      target.#owner = source.#owner;
      if (source.#used) throw new TypeError(TEE_LOCKED_MESSAGE);
      const stream = source.#stream;
      if (stream !== null) {
        if (stream.locked) throw new TypeError(TEE_LOCKED_MESSAGE);
        // tee() refuses another request's internal stream and makes internal branches of ours.
        const [a, b] = stream.tee();
        source.#stream = a;
        target.#stream = b;
      } else if (source.#bytes !== null) {
        const foreign = foreignIoError(source.#owner, IoType.StreamSource);
        if (foreign) throw foreign;
        // Both sides now share the bytes, so neither may hand them out uncopied.
        target.#bytes = source.#bytes;
        source.#owned = false;
        target.#owned = false;
      }
    };
    moveImpl = (source, target) => {
      // The new object takes the body over; the old one reads as used from now on. A stream is
      // passed on as the same object rather than proxied through a TransformStream (cheaper for
      // the common `new Request(request, { headers })` proxy pattern).
      const foreign = source.#stream !== null
        ? foreignStreamError(source.#stream, IoType.StreamSource)
        : source.#bytes !== null ? foreignIoError(source.#owner, IoType.StreamSource) : null;
      if (foreign) throw foreign;
      target.#owner = source.#owner;
      if (source.#stream !== null) {
        target.#stream = source.#stream;
        source.#used = true;
      } else if (source.#bytes !== null) {
        target.#bytes = source.#bytes;
        target.#owned = source.#owned;
        source.#bytes = EMPTY;
        source.#used = true;
      }
    };
    takeImpl = (source) => {
      // Refused before anything changes: another request's body stays intact for its owner.
      const stream = source.#stream;
      if (stream !== null) {
        if (source.#used || isDisturbed(stream)) throw new TypeError(BODY_USED_MESSAGE);
        if (stream.locked) throw new TypeError(LOCKED_MESSAGE);
        const foreign = foreignStreamError(stream, IoType.StreamSource);
        if (foreign) throw foreign;
        source.#used = true;
        return { kind: 'stream', stream };
      }
      const bytes = source.#bytes;
      if (bytes === null) return NO_BODY;
      if (source.#used) throw new TypeError(BODY_USED_MESSAGE);
      const foreign = foreignIoError(source.#owner, IoType.StreamSource);
      if (foreign) throw foreign;
      source.#used = true;
      source.#bytes = EMPTY;
      return { kind: 'bytes', bytes, owned: source.#owned };
    };
    hasBodyImpl = (b) => b.#stream !== null || b.#bytes !== null;
  }
}

/** Gives `target` its headers and (optionally) a body, setting a default Content-Type. */
export function installBody(target: Body, headers: Headers, body: ExtractedBody | null): void {
  installImpl(target, headers, body);
}

/** clone(): tees a stream body, shares a buffered one. Throws workerd's text when used/locked. */
export function cloneBodyInto(source: Body, target: Body, headers: Headers): void {
  cloneImpl(source, target, headers);
}

/** `new Request(oldRequest)`: the new request takes the old one's body. */
export function moveBody(source: Body, target: Body): void {
  moveImpl(source, target);
}

export function hasBody(b: Body): boolean {
  return hasBodyImpl(b);
}

/**
 * Hands a Request's or Response's body to the runtime and marks it used. Small bodies come back
 * as bytes without a stream ever having been created. `owned: false` means the bytes are shared
 * (with a Blob or a clone): copy them, never transfer or detach their buffer. Another request's
 * body is refused with the cross-request error and left as it was.
 */
export function takeBodyForTransfer(obj: Body): TransferredBody {
  return takeImpl(obj);
}

// ---------------------------------------------------------------------------------------------
// The `cf` property, which Request and Response both carry and both deep-copy (as workerd does)
// so that the caller's object and the stored one never alias.

export function cloneCf<T>(value: T): T {
  return deepClone(value, new Map()) as T;
}

function deepClone(value: unknown, seen: Map<object, unknown>): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const known = seen.get(value);
  if (known !== undefined) return known;
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    seen.set(value, out);
    for (const item of value) out.push(deepClone(item, seen));
    return out;
  }
  if (value instanceof Date) return new Date(value.getTime());
  const out: Record<string, unknown> = {};
  seen.set(value, out);
  for (const key of Object.keys(value)) out[key] = deepClone((value as Record<string, unknown>)[key], seen);
  return out;
}

/** Validates an init dictionary's `cf` member with workerd's text for the given dictionary. */
export function cfFromInit(cf: unknown, dictName: string): object {
  if (typeof cf !== 'object' || cf === null) {
    throw new TypeError(
      `Incorrect type for the 'cf' field on '${dictName}': the provided value is not of type 'Object'.`);
  }
  return cloneCf(cf);
}
