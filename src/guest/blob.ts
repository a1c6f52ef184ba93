// Blob and File as workerd has them. A Blob's bytes never change after construction, so slices
// and Blob→File conversions share one buffer instead of copying; every way out to user code
// (arrayBuffer, bytes, stream) hands over a fresh copy.
import { ReadableStream } from 'web-streams-polyfill';
import { utf8Decode, utf8Encode } from './encoding.ts';
import { currentIoContext, requireIoContext } from './io-context.ts';
import { internalStreamOfBytes } from './internal-streams.ts';

export type BlobPart = string | ArrayBuffer | ArrayBufferView | Blob;

export interface BlobPropertyBag {
  type?: string;
  endings?: string;
}

export interface FilePropertyBag extends BlobPropertyBag {
  lastModified?: number;
}

const EMPTY = new Uint8Array(0);

/**
 * workerd's rule: lowercase ASCII letters; any control character or non-ASCII character makes
 * the whole type the empty string.
 */
function normalizeType(type: unknown): string {
  if (type === undefined) return '';
  const s = String(type);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7f) return '';
  }
  return s.toLowerCase();
}

function partBytes(part: unknown): Uint8Array {
  if (part instanceof Blob) return blobBytes(part);
  if (part instanceof ArrayBuffer) return new Uint8Array(part);
  if (ArrayBuffer.isView(part)) return new Uint8Array(part.buffer, part.byteOffset, part.byteLength);
  return utf8Encode(String(part));
}

/** Concatenates parts into one new buffer; a single Blob part is shared, not copied. */
function concatParts(parts: unknown): Uint8Array {
  if (parts === undefined) return EMPTY;
  if (parts === null || typeof parts !== 'object' ||
      typeof (parts as Iterable<unknown>)[Symbol.iterator] !== 'function') {
    throw new TypeError("Failed to construct 'Blob': constructor parameter 1 is not of type 'Array'.");
  }
  const list = Array.from(parts as Iterable<unknown>);
  if (list.length === 1 && list[0] instanceof Blob) return blobBytes(list[0]);
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (const part of list) {
    const bytes = partBytes(part);
    chunks.push(bytes);
    total += bytes.byteLength;
  }
  if (total === 0) return EMPTY;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

function checkEndings(options: BlobPropertyBag | undefined): void {
  if (options !== undefined && options !== null && options.endings !== undefined) {
    throw new Error("The 'endings' field on 'Options' is not implemented.");
  }
}

/** WebIDL-style integer conversion for slice() arguments. */
function toInt(value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Math.trunc(Number(value));
  return Number.isFinite(n) ? n : 0;
}

// Lets internal code build a Blob/File around existing bytes without the public constructor.
const INTERNAL: unknown = Symbol('internal');

let bytesOf: (b: Blob) => Uint8Array;
let setBlobState: (b: Blob, bytes: Uint8Array, type: string) => void;

export class Blob {
  #bytes: Uint8Array = EMPTY;
  #type = '';

  constructor(parts?: Iterable<BlobPart>, options?: BlobPropertyBag) {
    if ((parts as unknown) === INTERNAL) return;
    checkEndings(options);
    this.#type = normalizeType(options?.type);
    this.#bytes = concatParts(parts);
  }

  get size(): number {
    return this.#bytes.byteLength;
  }

  get type(): string {
    return this.#type;
  }

  slice(start?: number, end?: number, contentType?: string): Blob {
    const size = this.#bytes.byteLength;
    let from = toInt(start, 0);
    let to = toInt(end, size);
    if (from < 0) from += size;
    if (to < 0) to += size;
    from = Math.max(0, Math.min(from, size));
    to = Math.max(from, Math.min(to, size));
    return createBlobRaw(to > from ? this.#bytes.subarray(from, to) : EMPTY, normalizeType(contentType));
  }

  async text(): Promise<string> {
    return utf8Decode(this.#bytes);
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    return this.#bytes.slice().buffer;
  }

  async bytes(): Promise<Uint8Array> {
    return this.#bytes.slice();
  }

  stream(): ReadableStream<Uint8Array> {
    // A Blob's stream is request I/O, as in workerd: bound to its request, refused at top level.
    requireIoContext();
    return internalStreamOfBytes(this.#bytes.slice(), currentIoContext());
  }

  get [Symbol.toStringTag](): string {
    return 'Blob';
  }

  static {
    bytesOf = (b) => b.#bytes;
    setBlobState = (b, bytes, type) => {
      b.#bytes = bytes;
      b.#type = type;
    };
  }
}

function createBlobRaw(bytes: Uint8Array, type: string): Blob {
  const b = new Blob(INTERNAL as Iterable<BlobPart>);
  setBlobState(b, bytes, type);
  return b;
}

let makeFile: (bytes: Uint8Array, name: string, type: string, lastModified: number) => File;

export class File extends Blob {
  #name = '';
  #lastModified = 0;

  constructor(parts: Iterable<BlobPart>, name: string, options?: FilePropertyBag) {
    if ((parts as unknown) === INTERNAL) {
      super(INTERNAL as Iterable<BlobPart>);
      return;
    }
    if (arguments.length < 2) {
      throw new TypeError("Failed to construct 'File': constructor parameter 2 is not of type 'string'.");
    }
    super(parts, options);
    this.#name = String(name);
    const lm = options?.lastModified;
    if (lm === undefined) {
      this.#lastModified = Date.now();
    } else {
      const n = Number(lm);
      this.#lastModified = Number.isNaN(n) ? 0 : n;
    }
  }

  get name(): string {
    return this.#name;
  }

  get lastModified(): number {
    return this.#lastModified;
  }

  get [Symbol.toStringTag](): string {
    return 'File';
  }

  static {
    makeFile = (bytes, name, type, lastModified) => {
      const f = new File(INTERNAL as Iterable<BlobPart>, '');
      setBlobState(f, bytes, type);
      f.#name = name;
      f.#lastModified = lastModified;
      return f;
    };
  }
}

/** The Blob's bytes, shared (not copied). Callers must not mutate them. */
export function blobBytes(b: Blob): Uint8Array {
  return bytesOf(b);
}

// The two factories below take `type` as is: workerd does not normalise the type of a Blob made
// from a body (already a canonical MIME type, whose parameter values keep their case) nor of a
// File parsed out of a multipart body.

/** A Blob wrapping `bytes` without copying; the caller gives up ownership of them. */
export function createBlob(bytes: Uint8Array, type: string): Blob {
  return createBlobRaw(bytes, type);
}

/** A File wrapping `bytes` without copying; the caller gives up ownership of them. */
export function createFile(bytes: Uint8Array, name: string, type: string, lastModified = Date.now()): File {
  return makeFile(bytes, name, type, lastModified);
}

/**
 * A one-chunk byte stream over `bytes`. It takes ownership of bytes' whole ArrayBuffer: a byte
 * stream's enqueue() transfers (detaches) it, so pass a buffer nobody else holds.
 */
export function streamOfBytes(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    type: 'bytes',
    start(controller) {
      if (bytes.byteLength > 0) controller.enqueue(bytes);
      controller.close();
    },
  });
}
