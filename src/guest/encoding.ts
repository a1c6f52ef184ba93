// TextEncoder / TextDecoder (WHATWG Encoding) for the guest isolate, plus fast
// UTF-8 helpers that other guest modules use for bodies, URLs and so on.
//
// The decoders follow the WHATWG algorithms byte for byte (including where
// U+FFFD goes for malformed input and how sequences split across streamed
// chunks are carried over). Supported encodings: UTF-8, UTF-16LE, UTF-16BE
// and windows-1252 (which the Encoding standard also uses for "latin1",
// "ascii", "iso-8859-1", ...). Other labels throw the same RangeError workerd
// throws for labels it does not know.

// ---------------------------------------------------------------------------
// Strings from code units, without per-character allocation.

// String.fromCharCode.apply takes at most ~64k arguments on some engines;
// converting in chunks keeps the argument list well under that.
const CHUNK = 0x2000;

/** Decodes bytes as ISO-8859-1: each byte becomes one char (a "binary string"). */
export function bytesToBinaryString(bytes: Uint8Array, start = 0, end = bytes.length): string {
  return codeUnitsToString(bytes, start, end);
}

function codeUnitsToString(units: Uint8Array | Uint16Array, start: number, end: number): string {
  if (end - start <= CHUNK) {
    return String.fromCharCode.apply(null, units.subarray(start, end) as unknown as number[]);
  }
  let result = '';
  for (let i = start; i < end; i += CHUNK) {
    const stop = i + CHUNK < end ? i + CHUNK : end;
    result += String.fromCharCode.apply(null, units.subarray(i, stop) as unknown as number[]);
  }
  return result;
}

// ---------------------------------------------------------------------------
// Type checks that do not trust instanceof alone (prototypes can be swapped).

const typedArrayTag = Object.getOwnPropertyDescriptor(
  Object.getPrototypeOf(Uint8Array.prototype) as object,
  Symbol.toStringTag,
)!.get!;

/** True for a genuine Uint8Array (not a Uint8ClampedArray or another view). */
export function isUint8Array(value: unknown): value is Uint8Array {
  return ArrayBuffer.isView(value) && typedArrayTag.call(value) === 'Uint8Array';
}

function isArrayBuffer(value: unknown): value is ArrayBufferLike {
  if (value instanceof ArrayBuffer) return true;
  return typeof SharedArrayBuffer === 'function' && value instanceof SharedArrayBuffer;
}

// ---------------------------------------------------------------------------
// UTF-8 encoding.

/** Encodes a string as UTF-8; lone surrogates become U+FFFD (EF BF BD). */
export function utf8Encode(str: string): Uint8Array {
  const length = str.length;
  // Fast path: most strings are ASCII, so try to finish in one pass.
  const ascii = new Uint8Array(length);
  let i = 0;
  for (; i < length; i++) {
    const c = str.charCodeAt(i);
    if (c >= 0x80) break;
    ascii[i] = c;
  }
  if (i === length) return ascii;

  const out = new Uint8Array(i + utf8ByteLength(str, i));
  out.set(ascii.subarray(0, i));
  writeUtf8(str, i, out, i);
  return out;
}

/** The number of UTF-8 bytes needed for str from index `start` on. */
export function utf8ByteLength(str: string, start = 0): number {
  const length = str.length;
  let bytes = 0;
  for (let i = start; i < length; i++) {
    const c = str.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < length) {
      const next = str.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else {
        bytes += 3;
      }
    } else bytes += 3; // BMP char, or a lone surrogate written as U+FFFD
  }
  return bytes;
}

// Writes str[from..] into out[at..]; the caller sized `out` exactly.
function writeUtf8(str: string, from: number, out: Uint8Array, at: number): void {
  const length = str.length;
  let o = at;
  for (let i = from; i < length; i++) {
    let c = str.charCodeAt(i);
    if (c < 0x80) {
      out[o++] = c;
      continue;
    }
    if (c < 0x800) {
      out[o++] = 0xc0 | (c >> 6);
      out[o++] = 0x80 | (c & 0x3f);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < length ? str.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        const cp = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        out[o++] = 0xf0 | (cp >> 18);
        out[o++] = 0x80 | ((cp >> 12) & 0x3f);
        out[o++] = 0x80 | ((cp >> 6) & 0x3f);
        out[o++] = 0x80 | (cp & 0x3f);
        i++;
        continue;
      }
      c = 0xfffd;
    }
    out[o++] = 0xe0 | (c >> 12);
    out[o++] = 0x80 | ((c >> 6) & 0x3f);
    out[o++] = 0x80 | (c & 0x3f);
  }
}

// ---------------------------------------------------------------------------
// Decoders. Each keeps the state of a partially read sequence between calls
// (for `{stream: true}`) and flushes it as U+FFFD when told to.

const DECODE_FAILED = 'Failed to decode input.';

interface Decoder {
  decode(bytes: Uint8Array, flush: boolean): string;
  reset(): void;
}

class Utf8Decoder implements Decoder {
  fatal: boolean;
  // WHATWG "UTF-8 bytes needed/seen", "code point", "lower/upper boundary".
  needed = 0;
  seen = 0;
  codePoint = 0;
  lower = 0x80;
  upper = 0xbf;

  constructor(fatal: boolean) {
    this.fatal = fatal;
  }

  reset(): void {
    this.needed = this.seen = this.codePoint = 0;
    this.lower = 0x80;
    this.upper = 0xbf;
  }

  decode(bytes: Uint8Array, flush: boolean): string {
    const length = bytes.length;
    let i = 0;
    if (this.needed === 0) {
      while (i < length && bytes[i]! < 0x80) i++;
      if (i === length) return codeUnitsToString(bytes, 0, length);
    }
    // One output unit per input byte at most, plus one U+FFFD for a sequence
    // carried over from the previous call.
    const out = new Uint16Array(length + 2);
    out.set(bytes.subarray(0, i));
    let o = i;
    const fatal = this.fatal;
    let { needed, seen, codePoint, lower, upper } = this;

    while (i < length) {
      const byte = bytes[i]!;
      if (needed === 0) {
        i++;
        if (byte < 0x80) {
          out[o++] = byte;
        } else if (byte >= 0xc2 && byte <= 0xdf) {
          needed = 1;
          codePoint = byte & 0x1f;
        } else if (byte >= 0xe0 && byte <= 0xef) {
          if (byte === 0xe0) lower = 0xa0;
          else if (byte === 0xed) upper = 0x9f;
          needed = 2;
          codePoint = byte & 0xf;
        } else if (byte >= 0xf0 && byte <= 0xf4) {
          if (byte === 0xf0) lower = 0x90;
          else if (byte === 0xf4) upper = 0x8f;
          needed = 3;
          codePoint = byte & 0x7;
        } else {
          if (fatal) return this.fail();
          out[o++] = 0xfffd;
        }
        continue;
      }
      if (byte < lower || byte > upper) {
        // The pending sequence is invalid; the byte itself is read again as
        // the possible start of a new sequence (so `i` does not advance).
        needed = seen = codePoint = 0;
        lower = 0x80;
        upper = 0xbf;
        if (fatal) return this.fail();
        out[o++] = 0xfffd;
        continue;
      }
      i++;
      lower = 0x80;
      upper = 0xbf;
      codePoint = (codePoint << 6) | (byte & 0x3f);
      if (++seen === needed) {
        if (codePoint < 0x10000) {
          out[o++] = codePoint;
        } else {
          const offset = codePoint - 0x10000;
          out[o++] = 0xd800 + (offset >> 10);
          out[o++] = 0xdc00 + (offset & 0x3ff);
        }
        needed = seen = codePoint = 0;
      }
    }

    if (flush && needed !== 0) {
      needed = seen = codePoint = 0;
      lower = 0x80;
      upper = 0xbf;
      if (fatal) return this.fail();
      out[o++] = 0xfffd;
    }
    this.needed = needed;
    this.seen = seen;
    this.codePoint = codePoint;
    this.lower = lower;
    this.upper = upper;
    return codeUnitsToString(out, 0, o);
  }

  fail(): never {
    this.reset();
    throw new TypeError(DECODE_FAILED);
  }
}

class Utf16Decoder implements Decoder {
  fatal: boolean;
  bigEndian: boolean;
  leadByte = -1;
  leadSurrogate = -1;

  constructor(fatal: boolean, bigEndian: boolean) {
    this.fatal = fatal;
    this.bigEndian = bigEndian;
  }

  reset(): void {
    this.leadByte = this.leadSurrogate = -1;
  }

  decode(bytes: Uint8Array, flush: boolean): string {
    const length = bytes.length;
    const out = new Uint16Array((length >> 1) + 3);
    let o = 0;
    let { leadByte, leadSurrogate } = this;
    for (let i = 0; i < length; i++) {
      const byte = bytes[i]!;
      if (leadByte < 0) {
        leadByte = byte;
        continue;
      }
      const unit = this.bigEndian ? (leadByte << 8) | byte : leadByte | (byte << 8);
      leadByte = -1;
      if (leadSurrogate >= 0) {
        const lead = leadSurrogate;
        leadSurrogate = -1;
        if (unit >= 0xdc00 && unit <= 0xdfff) {
          out[o++] = lead;
          out[o++] = unit;
          continue;
        }
        // Unpaired lead surrogate; `unit` is then handled on its own below.
        if (this.fatal) return this.fail();
        out[o++] = 0xfffd;
      }
      if (unit >= 0xd800 && unit <= 0xdbff) {
        leadSurrogate = unit;
      } else if (unit >= 0xdc00 && unit <= 0xdfff) {
        if (this.fatal) return this.fail();
        out[o++] = 0xfffd;
      } else {
        out[o++] = unit;
      }
    }
    if (flush && (leadByte >= 0 || leadSurrogate >= 0)) {
      leadByte = leadSurrogate = -1;
      if (this.fatal) return this.fail();
      out[o++] = 0xfffd;
    }
    this.leadByte = leadByte;
    this.leadSurrogate = leadSurrogate;
    return codeUnitsToString(out, 0, o);
  }

  fail(): never {
    this.reset();
    throw new TypeError(DECODE_FAILED);
  }
}

// windows-1252 differs from ISO-8859-1 only in 0x80..0x9F.
const WINDOWS_1252_HIGH = [
  0x20ac, 0x0081, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
  0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008d, 0x017d, 0x008f,
  0x0090, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
  0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x009d, 0x017e, 0x0178,
];

class Windows1252Decoder implements Decoder {
  reset(): void {}

  decode(bytes: Uint8Array): string {
    const length = bytes.length;
    let i = 0;
    while (i < length && (bytes[i]! < 0x80 || bytes[i]! >= 0xa0)) i++;
    if (i === length) return codeUnitsToString(bytes, 0, length);
    const out = new Uint16Array(length);
    out.set(bytes);
    for (; i < length; i++) {
      const byte = bytes[i]!;
      if (byte >= 0x80 && byte < 0xa0) out[i] = WINDOWS_1252_HIGH[byte - 0x80]!;
    }
    return codeUnitsToString(out, 0, length);
  }
}

/** Decodes UTF-8 in one go, replacing malformed sequences with U+FFFD.
 *  A leading BOM is removed (the Encoding standard's "UTF-8 decode", which
 *  is what Body.text() and friends use) unless keepBOM is true. */
export function utf8Decode(bytes: Uint8Array, keepBOM = false): string {
  const text = new Utf8Decoder(false).decode(bytes, true);
  return !keepBOM && text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

// ---------------------------------------------------------------------------
// Labels (WHATWG Encoding, section 4.2) for the encodings we implement.

const LABELS = new Map<string, string>();
function addLabels(encoding: string, labels: string[]): void {
  for (const label of labels) LABELS.set(label, encoding);
}
addLabels('utf-8', [
  'unicode-1-1-utf-8', 'unicode11utf8', 'unicode20utf8', 'utf-8', 'utf8', 'x-unicode20utf8',
]);
addLabels('utf-16le', [
  'csunicode', 'iso-10646-ucs-2', 'ucs-2', 'unicode', 'unicodefeff', 'utf-16', 'utf-16le',
]);
addLabels('utf-16be', ['unicodefffe', 'utf-16be']);
addLabels('windows-1252', [
  'ansi_x3.4-1968', 'ascii', 'cp1252', 'cp819', 'csisolatin1', 'ibm819', 'iso-8859-1',
  'iso-ir-100', 'iso8859-1', 'iso88591', 'iso_8859-1', 'iso_8859-1:1987', 'l1', 'latin1',
  'us-ascii', 'windows-1252', 'x-cp1252',
]);

/** The canonical encoding name for a label, or undefined if unsupported. */
export function resolveEncodingLabel(label: string): string | undefined {
  const key = label
    .replace(/^[\t\n\f\r ]+|[\t\n\f\r ]+$/g, '')
    .replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
  return LABELS.get(key);
}

function createDecoder(encoding: string, fatal: boolean): Decoder {
  switch (encoding) {
    case 'utf-8':
      return new Utf8Decoder(fatal);
    case 'utf-16le':
      return new Utf16Decoder(fatal, false);
    case 'utf-16be':
      return new Utf16Decoder(fatal, true);
    default:
      return new Windows1252Decoder();
  }
}

// WebIDL dictionaries accept undefined, null and any object.
function isDictionary(value: unknown): boolean {
  return value == null || typeof value === 'object' || typeof value === 'function';
}

function toBytes(input: unknown): Uint8Array {
  if (input === undefined) return new Uint8Array(0);
  if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  if (isArrayBuffer(input)) return new Uint8Array(input);
  throw new TypeError("Failed to execute 'decode' on 'TextDecoder': parameter 1 is not of type 'Array'.");
}

export interface TextDecoderOptions {
  fatal?: boolean;
  ignoreBOM?: boolean;
}

export interface TextDecodeOptions {
  stream?: boolean;
}

export class TextDecoder {
  #encoding: string;
  #fatal: boolean;
  #ignoreBOM: boolean;
  #decoder: Decoder;
  #bomSeen = false;
  #doNotFlush = false;

  constructor(label: string = 'utf-8', options: TextDecoderOptions | null = {}) {
    if (!isDictionary(options)) {
      throw new TypeError(
        "Failed to construct 'TextDecoder': constructor parameter 2 is not of type 'ConstructorOptions'.",
      );
    }
    const labelText = String(label);
    const encoding = resolveEncodingLabel(labelText);
    if (encoding === undefined) throw new RangeError(`"${labelText}" is not a valid encoding.`);
    this.#encoding = encoding;
    this.#fatal = Boolean(options?.fatal);
    this.#ignoreBOM = Boolean(options?.ignoreBOM);
    this.#decoder = createDecoder(encoding, this.#fatal);
  }

  get encoding(): string {
    return this.#encoding;
  }

  get fatal(): boolean {
    return this.#fatal;
  }

  get ignoreBOM(): boolean {
    return this.#ignoreBOM;
  }

  decode(input?: ArrayBuffer | ArrayBufferView, options: TextDecodeOptions | null = {}): string {
    if (!isDictionary(options)) {
      throw new TypeError(
        "Failed to execute 'decode' on 'TextDecoder': parameter 2 is not of type 'DecodeOptions'.",
      );
    }
    const bytes = toBytes(input);
    const stream = Boolean(options?.stream);
    // A call after a non-streaming one starts a fresh stream.
    if (!this.#doNotFlush) {
      this.#decoder.reset();
      this.#bomSeen = false;
    }
    this.#doNotFlush = stream;

    let text = this.#decoder.decode(bytes, !stream);
    // Only the very first character of a stream can be a BOM to strip, and
    // only for the Unicode encodings.
    if (!this.#bomSeen && text.length > 0 && this.#encoding !== 'windows-1252') {
      this.#bomSeen = true;
      if (!this.#ignoreBOM && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    return text;
  }
}

export interface TextEncoderEncodeIntoResult {
  read: number;
  written: number;
}

export class TextEncoder {
  get encoding(): string {
    return 'utf-8';
  }

  encode(input: string = ''): Uint8Array {
    return utf8Encode(String(input));
  }

  encodeInto(source: string, destination: Uint8Array): TextEncoderEncodeIntoResult {
    const text = String(source);
    if (!isUint8Array(destination)) {
      throw new TypeError(
        "Failed to execute 'encodeInto' on 'TextEncoder': parameter 2 is not of type 'Uint8Array'.",
      );
    }
    return encodeUtf8Into(text, destination);
  }
}

// Writes as many whole characters as fit; `read` counts UTF-16 code units.
function encodeUtf8Into(text: string, dest: Uint8Array): TextEncoderEncodeIntoResult {
  const length = text.length;
  const capacity = dest.length;
  let read = 0;
  let written = 0;
  while (read < length) {
    let c = text.charCodeAt(read);
    if (c < 0x80) {
      if (written >= capacity) break;
      dest[written++] = c;
      read++;
      continue;
    }
    if (c < 0x800) {
      if (written + 2 > capacity) break;
      dest[written++] = 0xc0 | (c >> 6);
      dest[written++] = 0x80 | (c & 0x3f);
      read++;
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = read + 1 < length ? text.charCodeAt(read + 1) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        if (written + 4 > capacity) break;
        const cp = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        dest[written++] = 0xf0 | (cp >> 18);
        dest[written++] = 0x80 | ((cp >> 12) & 0x3f);
        dest[written++] = 0x80 | ((cp >> 6) & 0x3f);
        dest[written++] = 0x80 | (cp & 0x3f);
        read += 2;
        continue;
      }
      c = 0xfffd;
    }
    if (written + 3 > capacity) break;
    dest[written++] = 0xe0 | (c >> 12);
    dest[written++] = 0x80 | ((c >> 6) & 0x3f);
    dest[written++] = 0x80 | (c & 0x3f);
    read++;
  }
  return { read, written };
}
