// FormData as workerd has it, plus the two body encodings it travels in: multipart/form-data
// (parse and serialize) and application/x-www-form-urlencoded (parse). The multipart parser
// follows workerd's own algorithm and error texts, and works on bytes so binary files survive.
import { URLSearchParams } from 'whatwg-url';
import { Blob, File, blobBytes, createFile } from './blob.ts';
import { utf8Decode, utf8Encode } from './encoding.ts';

export type FormDataEntryValue = string | File;

// ---------------------------------------------------------------------------------------------
// MIME types (only what body parsing needs: type/subtype, parameters, canonical serialization)

export interface MimeType {
  type: string;
  subtype: string;
  params: Map<string, string>;
}

const TOKEN = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  TOKEN[c.charCodeAt(0)] = 1;
}

function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TOKEN[c] === 0) return false;
  }
  return true;
}

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

function trimWs(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isWs(s.charCodeAt(a))) a++;
  while (b > a && isWs(s.charCodeAt(b - 1))) b--;
  return s.slice(a, b);
}

/** Parses a MIME type the WHATWG way; returns null when it is not one. */
export function parseMimeType(input: string): MimeType | null {
  const s = trimWs(input);
  const slash = s.indexOf('/');
  if (slash <= 0) return null;
  const type = s.slice(0, slash);
  let pos = s.indexOf(';', slash + 1);
  if (pos < 0) pos = s.length;
  const subtype = trimWs(s.slice(slash + 1, pos));
  if (!isToken(type) || !isToken(subtype)) return null;
  const params = new Map<string, string>();
  while (pos < s.length) {
    pos++; // skip ';'
    while (pos < s.length && isWs(s.charCodeAt(pos))) pos++;
    let nameEnd = pos;
    while (nameEnd < s.length && s[nameEnd] !== ';' && s[nameEnd] !== '=') nameEnd++;
    const name = s.slice(pos, nameEnd).toLowerCase();
    pos = nameEnd;
    if (pos >= s.length) break;
    if (s[pos] === ';') continue;
    pos++; // skip '='
    let value: string;
    if (s[pos] === '"') {
      value = '';
      pos++;
      while (pos < s.length && s[pos] !== '"') {
        if (s[pos] === '\\' && pos + 1 < s.length) pos++;
        value += s[pos++];
      }
      while (pos < s.length && s[pos] !== ';') pos++;
    } else {
      let end = s.indexOf(';', pos);
      if (end < 0) end = s.length;
      value = trimWs(s.slice(pos, end));
      pos = end;
      if (value === '') continue;
    }
    if (isToken(name) && !params.has(name)) params.set(name, value);
  }
  return { type: type.toLowerCase(), subtype: subtype.toLowerCase(), params };
}

/** Canonical form: lowercase essence, `;name=value` with quoting only where needed. */
export function serializeMimeType(m: MimeType): string {
  let out = `${m.type}/${m.subtype}`;
  for (const [name, value] of m.params) {
    out += `;${name}=`;
    out += isToken(value) ? value : `"${value.replace(/["\\]/g, '\\$&')}"`;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// FormData

const ARG_MESSAGE = (method: string) =>
  `Failed to execute '${method}' on 'FormData': parameter 2 is not of type 'File or Blob or string'.`;

/**
 * workerd's Blob→File rule: a File keeps its identity unless a filename is given; any other
 * Blob becomes a File named after the filename or, failing that, the field name.
 */
function toEntryValue(name: string, value: unknown, filename: unknown): FormDataEntryValue {
  if (value instanceof Blob) {
    if (value instanceof File && filename === undefined) return value;
    const fn = filename === undefined ? name : String(filename);
    return createFile(blobBytes(value), fn, value.type, Date.now());
  }
  return String(value);
}

let entriesOf: (fd: FormData) => [string, FormDataEntryValue][];

export class FormData {
  #entries: [string, FormDataEntryValue][] = [];

  append(name: string, value: string | Blob, filename?: string): void {
    if (arguments.length < 2) throw new TypeError(ARG_MESSAGE('append'));
    const n = String(name);
    this.#entries.push([n, toEntryValue(n, value, filename)]);
  }

  set(name: string, value: string | Blob, filename?: string): void {
    if (arguments.length < 2) throw new TypeError(ARG_MESSAGE('set'));
    const n = String(name);
    const entry: [string, FormDataEntryValue] = [n, toEntryValue(n, value, filename)];
    const i = this.#entries.findIndex((e) => e[0] === n);
    if (i < 0) {
      this.#entries.push(entry);
      return;
    }
    this.#entries[i] = entry;
    this.#entries = this.#entries.filter((e, j) => j <= i || e[0] !== n);
  }

  get(name: string): FormDataEntryValue | null {
    const n = String(name);
    for (const e of this.#entries) if (e[0] === n) return e[1];
    return null;
  }

  getAll(name: string): FormDataEntryValue[] {
    const n = String(name);
    return this.#entries.filter((e) => e[0] === n).map((e) => e[1]);
  }

  has(name: string): boolean {
    const n = String(name);
    return this.#entries.some((e) => e[0] === n);
  }

  delete(name: string): void {
    const n = String(name);
    this.#entries = this.#entries.filter((e) => e[0] !== n);
  }

  forEach(callback: (value: FormDataEntryValue, key: string, parent: FormData) => void, thisArg?: unknown): void {
    for (const [k, v] of this.entries()) callback.call(thisArg, v, k, this);
  }

  // Live iterators, as workerd's: they walk the current entry list by index.
  *entries(): IterableIterator<[string, FormDataEntryValue]> {
    for (let i = 0; i < this.#entries.length; i++) {
      const e = this.#entries[i];
      yield [e[0], e[1]];
    }
  }

  *keys(): IterableIterator<string> {
    for (let i = 0; i < this.#entries.length; i++) yield this.#entries[i][0];
  }

  *values(): IterableIterator<FormDataEntryValue> {
    for (let i = 0; i < this.#entries.length; i++) yield this.#entries[i][1];
  }

  [Symbol.iterator](): IterableIterator<[string, FormDataEntryValue]> {
    return this.entries();
  }

  get [Symbol.toStringTag](): string {
    return 'FormData';
  }

  static {
    entriesOf = (fd) => fd.#entries;
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing a body into FormData

/** Dispatches on the Content-Type as workerd's FormData::parse does. */
export function parseFormData(bytes: Uint8Array, contentType: string): FormData {
  const mime = parseMimeType(contentType);
  if (mime !== null) {
    if (mime.type === 'multipart' && mime.subtype === 'form-data') {
      return parseMultipartWithBoundary(bytes, requireBoundary(mime));
    }
    if (mime.type === 'application' && mime.subtype === 'x-www-form-urlencoded') {
      const charset = mime.params.get('charset');
      if (charset !== undefined && !/^(utf-8|utf8|unicode-1-1-utf-8)$/i.test(charset)) {
        throw new TypeError('Non-utf-8 application/x-www-form-urlencoded body.');
      }
      return parseUrlencoded(bytes);
    }
  }
  throw new TypeError(
    'Unrecognized Content-Type header value. FormData can only parse the following MIME types: ' +
    'multipart/form-data, application/x-www-form-urlencoded');
}

function requireBoundary(mime: MimeType): string {
  const boundary = mime.params.get('boundary');
  if (boundary === undefined) {
    throw new TypeError(
      'No boundary string in Content-Type header. The multipart/form-data MIME type requires a ' +
      "boundary parameter, e.g. 'Content-Type: multipart/form-data; boundary=\"abcd\"'. See RFC 7578, section 4.");
  }
  return boundary;
}

/** Parses a multipart/form-data body; the boundary comes from `contentType`. */
export function parseMultipart(bytes: Uint8Array, contentType: string): FormData {
  const mime = parseMimeType(contentType);
  if (mime === null) throw new TypeError('Unrecognized Content-Type header value.');
  return parseMultipartWithBoundary(bytes, requireBoundary(mime));
}

export function parseUrlencoded(bytes: Uint8Array): FormData {
  const fd = new FormData();
  const entries = entriesOf(fd);
  for (const [name, value] of new URLSearchParams(utf8Decode(bytes))) entries.push([name, value]);
  return fd;
}

const LF = 0x0a;
const CR = 0x0d;
const DASH = 0x2d;

/** Index of `needle` in `hay` at or after `from`, or -1. */
function indexOfBytes(hay: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0];
  const last = hay.length - needle.length;
  let i = from;
  while (i <= last) {
    i = hay.indexOf(first, i);
    if (i < 0 || i > last) return -1;
    let j = 1;
    while (j < needle.length && hay[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
    i++;
  }
  return -1;
}

/** End of the first blank line (\r?\n\r?\n) at or after `from`, or -1. */
function headerTerminationEnd(b: Uint8Array, from: number): number {
  for (let i = b.indexOf(LF, from); i >= 0; i = b.indexOf(LF, i + 1)) {
    let k = i + 1;
    if (b[k] === CR) k++;
    if (b[k] === LF) return k + 1;
  }
  return -1;
}

interface PartHeaders {
  disposition: string | undefined;
  contentType: string | undefined;
}

/** Parses a part's header block; null means it was malformed. */
function parsePartHeaders(text: string): PartHeaders | null {
  const result: PartHeaders = { disposition: undefined, contentType: undefined };
  for (const rawLine of text.split('\n')) {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0 || !isToken(line.slice(0, colon))) return null;
    const name = line.slice(0, colon).toLowerCase();
    const value = trimWs(line.slice(colon + 1));
    if (name === 'content-disposition') result.disposition = value;
    else if (name === 'content-type') result.contentType = value;
  }
  return result;
}

const IDENT = /^[A-Za-z0-9_-]+/;
// One `; name="value"` parameter, as workerd's grammar has it: the value must be quoted and
// non-empty; a backslash escapes the next character. A parameter that does not fit ends the list.
const DISPOSITION_PARAM = /^;\s*([A-Za-z0-9_-]+)\s*=\s*"((?:[^"\n\\]|\\[^\n])+)"\s*/;

function parseDisposition(value: string): { name?: string; filename?: string } {
  let rest = value.replace(/^\s+/, '');
  const ident = IDENT.exec(rest);
  if (ident === null) throw new TypeError('Invalid Content-Disposition header found in FormData part.');
  if (ident[0] !== 'form-data') {
    throw new TypeError(
      'Content-Disposition header for FormData part must have the value "form-data", possibly ' +
      `followed by parameters. Got: "${ident[0]}"`);
  }
  rest = rest.slice(ident[0].length).replace(/^\s+/, '');
  const out: { name?: string; filename?: string } = {};
  for (let m = DISPOSITION_PARAM.exec(rest); m !== null; m = DISPOSITION_PARAM.exec(rest)) {
    const v = m[2].replace(/\\(.)/g, '$1');
    if (m[1] === 'name') out.name = v;
    else if (m[1] === 'filename') out.filename = v;
    rest = rest.slice(m[0].length);
  }
  return out;
}

function parseMultipartWithBoundary(bytes: Uint8Array, boundary: string): FormData {
  const fd = new FormData();
  const entries = entriesOf(fd);
  const delimiter = utf8Encode('\n--' + boundary);
  const opening = delimiter.subarray(1);

  const first = indexOfBytes(bytes, opening, 0);
  let pos = first < 0 ? bytes.length : first + opening.length;
  if (pos >= bytes.length) {
    throw new TypeError('No initial boundary string (or you have a truncated message).');
  }

  for (;;) {
    // After a boundary: a line break starts a part, '--' ends the message.
    if (bytes[pos] === LF) pos += 1;
    else if (bytes[pos] === CR && bytes[pos + 1] === LF) pos += 2;
    else if (bytes[pos] === DASH && bytes[pos + 1] === DASH) break;
    else throw new TypeError("Boundary string was not succeeded by CRLF, LF, or '--'.");

    const headersEnd = headerTerminationEnd(bytes, pos);
    if (headersEnd < 0) throw new TypeError('No multipart message header termination found.');
    const headers = parsePartHeaders(utf8Decode(bytes.subarray(pos, headersEnd)));
    if (headers === null) throw new TypeError('FormData part had invalid headers.');
    if (headers.disposition === undefined) {
      throw new TypeError('No valid Content-Disposition header found in FormData part.');
    }
    const { name, filename } = parseDisposition(headers.disposition);
    if (name === undefined) {
      throw new TypeError('Content-Disposition header in FormData part is missing a name.');
    }

    const next = indexOfBytes(bytes, delimiter, headersEnd);
    if (next < 0 || next + delimiter.length >= bytes.length) {
      throw new TypeError('No subsequent boundary string after multipart message.');
    }
    let end = next;
    if (end > headersEnd && bytes[end - 1] === CR) end--;
    const content = bytes.subarray(headersEnd, end);
    if (filename === undefined) {
      entries.push([name, utf8Decode(content)]);
    } else {
      entries.push([name, createFile(content.slice(), filename, headers.contentType ?? '', Date.now())]);
    }
    pos = next + delimiter.length;
  }
  return fd;
}

// ---------------------------------------------------------------------------------------------
// Serializing FormData as multipart/form-data

/** workerd's escaping for quoted names: '"' → %22, LF → %0A, '\' doubled. */
function escapeQuoted(value: string): string {
  if (value.endsWith('\\')) throw new TypeError("Name or filename can't end with backslash");
  return value.replace(/["\n\\]/g, (c) => (c === '"' ? '%22' : c === '\n' ? '%0A' : '\\\\'));
}

function randomBoundary(): string {
  // A boundary only has to be unlikely to occur in the content; Math.random is enough for that
  // and is the only entropy source an ECMAScript-only context is sure to have.
  let out = '';
  for (let i = 0; i < 32; i++) out += ((Math.random() * 16) | 0).toString(16);
  return out;
}

export function serializeMultipart(fd: FormData, boundary: string = randomBoundary()):
    { bytes: Uint8Array; contentType: string } {
  if (boundary.length < 1 || boundary.length > 70) {
    throw new TypeError('Length of multipart/form-data boundary string must be in the range [1, 70].');
  }
  const chunks: Uint8Array[] = [];
  let text = '';
  for (const [name, value] of entriesOf(fd)) {
    text += `--${boundary}\r\nContent-Disposition: form-data; name="${escapeQuoted(name)}`;
    if (typeof value === 'string') {
      text += `"\r\n\r\n${value}\r\n`;
    } else {
      text += `"; filename="${escapeQuoted(value.name)}"\r\nContent-Type: ` +
        `${value.type === '' ? 'application/octet-stream' : value.type}\r\n\r\n`;
      chunks.push(utf8Encode(text), blobBytes(value));
      text = '\r\n';
    }
  }
  text += `--${boundary}--`;
  chunks.push(utf8Encode(text));

  let total = 0;
  for (const c of chunks) total += c.byteLength;
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    bytes.set(c, offset);
    offset += c.byteLength;
  }
  return { bytes, contentType: `multipart/form-data; boundary=${boundary}` };
}
