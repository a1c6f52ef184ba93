// The Request class as workerd has it (compatibility date 2024-10-14 or later: WHATWG URL
// parsing, every known method upper-cased). The request a worker receives is built by
// createIncomingRequest(), which skips all parsing and validation: the host already did it.
import { URL } from 'whatwg-url';
import type { ReadableStream } from 'web-streams-polyfill';
import { AbortController } from './abort.ts';
import type { AbortSignal } from './abort.ts';
import {
  Body, cfFromInit, cloneBodyInto, cloneCf, extractBody, hasBody, installBody, makeStreamBody, moveBody,
} from './body.ts';
import type { BodyInit, ExtractedBody } from './body.ts';
import { Headers, cloneHeaders, headersFromList } from './headers.ts';
import type { HeadersInit } from './headers.ts';
import { declaredBodyLength } from './incoming-length.ts';
import { setKnownLength } from './internal-streams.ts';

export type RequestRedirect = 'follow' | 'manual';

export interface RequestInit {
  method?: string;
  headers?: HeadersInit;
  body?: BodyInit | null;
  redirect?: string;
  signal?: AbortSignal | null;
  cf?: object;
  fetcher?: unknown;
  integrity?: string;
  cache?: string;
  encodeResponseBody?: string;
}

export type RequestInfo = Request | string | { toString(): string };

// kj's HTTP methods (CONNECT is deliberately absent, as in workerd).
const METHODS = new Set([
  'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'PURGE', 'OPTIONS', 'TRACE', 'COPY', 'LOCK',
  'MKCOL', 'MOVE', 'PROPFIND', 'PROPPATCH', 'SEARCH', 'UNLOCK', 'ACL', 'REPORT', 'MKACTIVITY',
  'CHECKOUT', 'MERGE', 'MSEARCH', 'NOTIFY', 'SUBSCRIBE', 'UNSUBSCRIBE',
]);

const GET_HEAD_BODY_MESSAGE = 'Request with a GET or HEAD method cannot have a body.';
const REDIRECT_MESSAGE =
  'Invalid redirect value, must be one of "follow" or "manual" ("error" won\'t be implemented since ' +
  'it does not make sense at the edge; use "manual" and check the response status code).';
const INTEGRITY_MESSAGE =
  'Subrequest integrity checking is not implemented. The integrity option must be either undefined or an empty string.';

function normalizeMethod(method: unknown): string {
  const s = String(method);
  if (METHODS.has(s)) return s;
  const upper = s.toUpperCase();
  if (METHODS.has(upper)) return upper;
  throw new TypeError(`Invalid HTTP method string: ${s}`);
}

function parseUrl(input: unknown): string {
  const s = String(input);
  try {
    return new URL(s).href;
  } catch {
    throw new TypeError(`Invalid URL: ${s}`);
  }
}

function isGetOrHead(method: string): boolean {
  return method === 'GET' || method === 'HEAD';
}

// Marks the internal construction path; never reachable from guest code.
const INTERNAL: unknown = Symbol('internal');

let fillIncoming: (r: Request, init: IncomingRequestInit) => void;
let encodeOf: (r: Request) => 'manual' | 'automatic';

export class Request extends Body {
  #method = 'GET';
  #url = '';
  #headers!: Headers;
  #redirect: RequestRedirect = 'follow';
  #signal: AbortSignal | null = null;
  // The never-aborting signal `signal` returns when none was given, made on first use.
  #ownSignal: AbortSignal | null = null;
  #cf: object | undefined = undefined;
  #fetcher: unknown = null;
  #cache: string | undefined = undefined;
  #encodeResponseBody: 'manual' | 'automatic' = 'automatic';

  constructor(input: RequestInfo, init?: RequestInit | Request) {
    super();
    if (input === INTERNAL) return;

    let headers: Headers | null = null;
    let body: ExtractedBody | null = null;
    // A Request whose body moves to this one, once every check has passed.
    let bodySource: Request | null = null;

    if (input instanceof Request) {
      const initGivesBody = init instanceof Request ||
        (typeof init === 'object' && init !== null && (init as RequestInit).body !== undefined);
      this.#url = input.#url;
      this.#method = input.#method;
      headers = new Headers(input.#headers);
      this.#cf = cloneCf(input.#cf);
      if (!initGivesBody) {
        if (input.bodyUsed) throw new TypeError('Cannot reconstruct a Request with a used body.');
        if (hasBody(input)) bodySource = input;
      }
      this.#cache = input.#cache;
      this.#redirect = input.#redirect;
      this.#fetcher = input.#fetcher;
      this.#signal = input.#signal;
    } else {
      this.#url = parseUrl(input);
    }

    if (init instanceof Request) {
      this.#method = init.#method;
      this.#redirect = init.#redirect;
      this.#cache = init.#cache;
      this.#encodeResponseBody = init.#encodeResponseBody;
      this.#fetcher = init.#fetcher;
      this.#signal = init.#signal;
      headers = new Headers(init.#headers);
      this.#cf = cloneCf(init.#cf);
      // Per workerd, the other request is read like a dictionary: its body is shared, not taken.
      const stream = init.body;
      if (stream !== null) body = makeStreamBody(stream);
    } else if (init !== undefined && init !== null) {
      if (init.integrity !== undefined && String(init.integrity) !== '') {
        throw new TypeError(INTEGRITY_MESSAGE);
      }
      if (init.method !== undefined) this.#method = normalizeMethod(init.method);
      if (init.headers !== undefined) headers = new Headers(init.headers);
      if (init.fetcher !== undefined) this.#fetcher = init.fetcher;
      // An explicit `signal: null` drops the signal inherited from an input Request.
      if (init.signal !== undefined) this.#signal = init.signal;
      if (init.cf !== undefined) this.#cf = cfFromInit(init.cf, 'RequestInitializerDict');
      if (init.body !== undefined && init.body !== null) {
        body = extractBody(init.body);
        if (isGetOrHead(this.#method)) throw new TypeError(GET_HEAD_BODY_MESSAGE);
      }
      if (init.redirect !== undefined) {
        const r = String(init.redirect);
        if (r !== 'follow' && r !== 'manual') throw new TypeError(REDIRECT_MESSAGE);
        this.#redirect = r;
      }
      if (init.cache !== undefined) {
        const c = String(init.cache);
        if (c !== 'no-store') throw new TypeError(`Unsupported cache mode: ${c}`);
        this.#cache = c;
      }
      if (init.encodeResponseBody !== undefined) {
        const e = String(init.encodeResponseBody);
        if (e !== 'manual' && e !== 'automatic') {
          throw new TypeError(`encodeResponseBody: unexpected value: ${e}`);
        }
        this.#encodeResponseBody = e;
      }
      // Rewriting the method or the body re-applies the GET/HEAD rule to the body carried over
      // from an input Request; leaving both alone lets such a request be proxied unchanged.
      if ((init.method !== undefined || init.body !== undefined) && isGetOrHead(this.#method) &&
          (body !== null || bodySource !== null)) {
        throw new TypeError(GET_HEAD_BODY_MESSAGE);
      }
    }

    this.#headers = headers ?? new Headers();
    installBody(this, this.#headers, body);
    if (bodySource !== null) moveBody(bodySource, this);
  }

  get method(): string {
    return this.#method;
  }

  get url(): string {
    return this.#url;
  }

  get headers(): Headers {
    return this.#headers;
  }

  get redirect(): RequestRedirect {
    return this.#redirect;
  }

  get fetcher(): unknown {
    return this.#fetcher;
  }

  get signal(): AbortSignal {
    if (this.#signal !== null) return this.#signal;
    this.#ownSignal ??= new AbortController().signal;
    return this.#ownSignal;
  }

  get cf(): object | undefined {
    return this.#cf;
  }

  get integrity(): string {
    return '';
  }

  get keepalive(): boolean {
    return false;
  }

  get cache(): string | undefined {
    return this.#cache;
  }

  clone(): Request {
    const r = new Request(INTERNAL as RequestInfo);
    r.#method = this.#method;
    r.#url = this.#url;
    r.#headers = cloneHeaders(this.#headers);
    r.#redirect = this.#redirect;
    r.#signal = this.#signal;
    r.#cf = cloneCf(this.#cf);
    r.#fetcher = this.#fetcher;
    r.#cache = this.#cache;
    r.#encodeResponseBody = this.#encodeResponseBody;
    cloneBodyInto(this, r, r.#headers);
    return r;
  }

  get [Symbol.toStringTag](): string {
    return 'Request';
  }

  static {
    encodeOf = (r) => r.#encodeResponseBody;
    fillIncoming = (r, init) => {
      r.#url = init.url;
      r.#method = init.method;
      r.#headers = headersFromList(init.headersList, 'immutable');
      // workerd hands the worker its request with redirect 'manual'.
      r.#redirect = 'manual';
      r.#cf = init.cf;
      r.#signal = init.signal ?? null;
      const b = init.body;
      let body: ExtractedBody | null = null;
      if (b instanceof Uint8Array) body = { bytes: b, stream: null, owned: true, contentType: null };
      else if (b !== null && b !== undefined) {
        // An incoming body reaches the worker as sent (never decoded): its Content-Length holds.
        setKnownLength(b, declaredBodyLength(init.headersList, false));
        body = makeStreamBody(b);
      }
      installBody(r, r.#headers, body);
    };
  }
}

/** For fetch(): 'manual' means the response's Content-Encoding is to be left alone. */
export function requestEncodeResponseBody(r: Request): 'manual' | 'automatic' {
  return encodeOf(r);
}

export interface IncomingRequestInit {
  url: string;
  method: string;
  /** flat [name, value, name, value…] as received; names in any case */
  headersList: string[];
  /** a host-fed stream, or the whole body when the host already has it (owned by us), or null */
  body: ReadableStream<Uint8Array> | Uint8Array | null;
  cf?: object;
  signal?: AbortSignal | null;
}

/**
 * The request a worker receives: immutable headers as in workerd, no URL re-parsing, no method
 * normalisation, no header validation.
 */
export function createIncomingRequest(init: IncomingRequestInit): Request {
  const r = new Request(INTERNAL as RequestInfo);
  fillIncoming(r, init);
  return r;
}
