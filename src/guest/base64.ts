// atob / btoa (HTML "forgiving-base64") and byte-array base64 helpers for the
// guest isolate. Error texts are workerd's.

import { DOMException } from './dom-exception.ts';
import { bytesToBinaryString } from './encoding.ts';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const ENCODE = new Uint8Array(64);
// Maps a char code to its 6-bit value; 255 = not in the alphabet.
const DECODE = new Uint8Array(256).fill(255);
for (let i = 0; i < 64; i++) {
  ENCODE[i] = ALPHABET.charCodeAt(i);
  DECODE[ALPHABET.charCodeAt(i)] = i;
}
const EQUALS = 0x3d;

const ATOB_INVALID =
  "atob() called with invalid base64-encoded data. (Only whitespace, '+', '/', alphanumeric ASCII, " +
  "and up to two terminal '=' signs when the input data length is divisible by 4 are allowed.)";
const BTOA_NOT_LATIN1 = 'btoa() can only operate on characters in the Latin1 (ISO/IEC 8859-1) range.';

function isAsciiWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d;
}

/** Base64-encodes bytes (standard alphabet, with padding). */
export function bytesToBase64(bytes: Uint8Array): string {
  const length = bytes.length;
  const out = new Uint8Array(Math.ceil(length / 3) * 4);
  let o = 0;
  let i = 0;
  for (; i + 2 < length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out[o++] = ENCODE[n >> 18]!;
    out[o++] = ENCODE[(n >> 12) & 63]!;
    out[o++] = ENCODE[(n >> 6) & 63]!;
    out[o++] = ENCODE[n & 63]!;
  }
  const rest = length - i;
  if (rest > 0) {
    const n = (bytes[i]! << 16) | (rest === 2 ? bytes[i + 1]! << 8 : 0);
    out[o++] = ENCODE[n >> 18]!;
    out[o++] = ENCODE[(n >> 12) & 63]!;
    out[o++] = rest === 2 ? ENCODE[(n >> 6) & 63]! : EQUALS;
    out[o++] = EQUALS;
  }
  return bytesToBinaryString(out);
}

/** Forgiving-base64 decode; null when the input is not valid base64. */
export function tryBase64ToBytes(input: string): Uint8Array | null {
  // 1. Collect the 6-bit values, skipping ASCII whitespace and remembering
  //    how many '=' trail the data (they may only appear at the very end).
  const length = input.length;
  const values = new Uint8Array(length);
  let count = 0;
  let padding = 0;
  for (let i = 0; i < length; i++) {
    const c = input.charCodeAt(i);
    if (isAsciiWhitespace(c)) continue;
    if (c === EQUALS) {
      padding++;
      continue;
    }
    if (padding > 0 || c > 0xff) return null; // data after '=' or not Latin-1
    const v = DECODE[c]!;
    if (v === 255) return null;
    values[count++] = v;
  }
  // 2. Padding is only allowed to round the total up to a multiple of 4.
  if (padding > 0 && (padding > 2 || (count + padding) % 4 !== 0)) return null;
  if (count % 4 === 1) return null;

  // 3. Decode groups of four; leftover bits of a final partial group are
  //    discarded, as the spec says (so "YR" decodes like "YQ").
  const out = new Uint8Array(Math.floor((count * 3) / 4));
  let o = 0;
  let i = 0;
  for (; i + 3 < count; i += 4) {
    const n = (values[i]! << 18) | (values[i + 1]! << 12) | (values[i + 2]! << 6) | values[i + 3]!;
    out[o++] = n >> 16;
    out[o++] = (n >> 8) & 0xff;
    out[o++] = n & 0xff;
  }
  const rest = count - i;
  if (rest >= 2) {
    const n = (values[i]! << 18) | (values[i + 1]! << 12) | (rest === 3 ? values[i + 2]! << 6 : 0);
    out[o++] = n >> 16;
    if (rest === 3) out[o++] = (n >> 8) & 0xff;
  }
  return out;
}

/** Forgiving-base64 decode; throws atob's InvalidCharacterError when invalid. */
export function base64ToBytes(input: string): Uint8Array {
  const bytes = tryBase64ToBytes(input);
  if (bytes === null) throw new DOMException(ATOB_INVALID, 'InvalidCharacterError');
  return bytes;
}

export function atob(data: string): string {
  if (arguments.length === 0) {
    throw new TypeError(
      "Failed to execute 'atob' on 'ServiceWorkerGlobalScope': parameter 1 is not of type 'string'.",
    );
  }
  return bytesToBinaryString(base64ToBytes(String(data)));
}

export function btoa(data: string): string {
  if (arguments.length === 0) {
    throw new TypeError(
      "Failed to execute 'btoa' on 'ServiceWorkerGlobalScope': parameter 1 is not of type 'String'.",
    );
  }
  const text = String(data);
  const length = text.length;
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff) throw new DOMException(BTOA_NOT_LATIN1, 'InvalidCharacterError');
    bytes[i] = c;
  }
  return bytesToBase64(bytes);
}
