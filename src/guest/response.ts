// The Response class as workerd has it. statusText is '' unless given (workerd does not fill in
// reason phrases), and a Response with a WebSocket must have status 101 (no other may).
import { URL } from 'whatwg-url';
import type { ReadableStream } from 'web-streams-polyfill';
import { Body, cfFromInit, cloneBodyInto, cloneCf, extractBody, installBody, makeStreamBody } from './body.ts';
import type { BodyInit, ExtractedBody } from './body.ts';
import { Headers, cloneHeaders, headersFromList, setHeaderUnguarded } from './headers.ts';
import type { HeadersInit } from './headers.ts';
import { requireIoContext } from './io-context.ts';
import { declaredBodyLength } from './incoming-length.ts';
import { setKnownLength } from './internal-streams.ts';

export type ResponseType = 'default' | 'error';

export interface ResponseInit {
  status?: number;
  statusText?: string;
  headers?: HeadersInit;
  cf?: object;
  webSocket?: unknown;
  encodeBody?: string;
}

const STATUS_RANGE_MESSAGE =
  'Responses may only be constructed with status codes in the range 200 to 599, inclusive.';
const WEBSOCKET_STATUS_MESSAGE = 'Responses with a WebSocket must have status code 101.';
const NULL_BODY_MESSAGE = 'Response with null body status (101, 204, 205, or 304) cannot have a body.';

function isNullBodyStatus(status: number): boolean {
  return status === 101 || status === 204 || status === 205 || status === 304;
}

function isRedirectStatus(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

/** WebIDL `long`: truncate, NaN → 0, wrap to 32 bits (so 65736 stays 65736 and is rejected). */
function toLong(value: unknown): number {
  return Number(value) | 0;
}

function checkStatusText(text: string): void {
  for (let i = 0; i < text.length; i++) {
    // Control characters (CR and LF above all) would allow header injection.
    if (text.charCodeAt(i) < 0x20) throw new TypeError('Invalid statusText');
  }
}

const INTERNAL: unknown = Symbol('internal');

let fillIncoming: (r: Response, init: IncomingResponseInit) => void;

/**
 * Reads a Response's status and headers from its private state. The runtime uses this rather
 * than the public getters, which user code can replace on Response.prototype.
 */
export let readResponseHead: (r: Response) => { status: number; statusText: string; headers: Headers };

export class Response extends Body {
  static {
    readResponseHead = (r) => ({ status: r.#status, statusText: r.#statusText, headers: r.#headers });
  }

  #status = 200;
  #statusText = '';
  #headers!: Headers;
  #cf: object | undefined = undefined;
  #webSocket: unknown = null;
  #urlList: string[] = [];
  #type: ResponseType = 'default';
  #encodeBody: 'manual' | 'automatic' = 'automatic';

  constructor(body?: BodyInit | null, init?: ResponseInit | Response) {
    super();
    if (body === INTERNAL) return;

    let headers: Headers;
    if (init instanceof Response) {
      this.#status = init.#status;
      this.#encodeBody = init.#encodeBody;
      this.#statusText = init.#statusText;
      headers = new Headers(init.#headers);
      this.#cf = cloneCf(init.#cf);
      this.#webSocket = init.#webSocket;
    } else {
      const d = init ?? {};
      if (d.status !== undefined) this.#status = toLong(d.status);
      if (d.statusText !== undefined) this.#statusText = String(d.statusText);
      if (d.encodeBody !== undefined) {
        const v = String(d.encodeBody);
        if (v !== 'manual' && v !== 'automatic') throw new TypeError(`encodeBody: unexpected value: ${v}`);
        this.#encodeBody = v;
      }
      headers = d.headers !== undefined ? new Headers(d.headers) : new Headers();
      if (d.cf !== undefined) this.#cf = cfFromInit(d.cf, 'InitializerDict');
      if (d.webSocket !== undefined && d.webSocket !== null) this.#webSocket = d.webSocket;
    }

    const status = this.#status;
    if (this.#webSocket === null) {
      if (status < 200 || status > 599) throw new RangeError(STATUS_RANGE_MESSAGE);
    } else if (status !== 101) {
      throw new RangeError(WEBSOCKET_STATUS_MESSAGE);
    }
    checkStatusText(this.#statusText);

    let extracted: ExtractedBody | null = null;
    if (body !== undefined && body !== null) {
      extracted = extractBody(body);
      if (isNullBodyStatus(status)) {
        // workerd still tolerates a zero-length buffer here and treats it as no body.
        if (extracted.stream !== null || extracted.bytes!.byteLength > 0) {
          throw new TypeError(NULL_BODY_MESSAGE);
        }
        extracted = null;
      }
    }
    this.#headers = headers;
    installBody(this, headers, extracted);
  }

  static error(): Response {
    const r = new Response(INTERNAL as BodyInit);
    r.#status = 0;
    r.#type = 'error';
    r.#headers = new Headers();
    installBody(r, r.#headers, null);
    return r;
  }

  static redirect(url: string, status?: number): Response {
    // workerd refuses this one in the top-level scope too, although it has no body.
    requireIoContext();
    const code = status === undefined ? 302 : toLong(status);
    if (!isRedirectStatus(code)) {
      throw new RangeError(`${code} is not a redirect status code. It must be one of: 301, 302, 303, 307, or 308.`);
    }
    let href: string;
    try {
      href = new URL(String(url)).href;
    } catch {
      throw new TypeError(`Unable to parse URL: ${url}`);
    }
    const r = new Response(INTERNAL as BodyInit);
    r.#status = code;
    r.#headers = headersFromList(['location', href], 'immutable');
    installBody(r, r.#headers, null);
    return r;
  }

  static json(data: unknown, init?: ResponseInit | Response): Response {
    // workerd serialises `undefined` (and anything JSON.stringify skips) as the text "undefined".
    const text = JSON.stringify(data) ?? 'undefined';
    let dict: ResponseInit;
    let headers: Headers;
    if (init instanceof Response) {
      headers = new Headers(init.#headers);
      dict = {
        status: init.#status,
        statusText: init.#statusText === '' ? undefined : init.#statusText,
        cf: init.#cf,
        encodeBody: init.#encodeBody,
        webSocket: init.#webSocket,
      };
    } else {
      const d = init ?? {};
      headers = d.headers !== undefined ? new Headers(d.headers) : new Headers();
      dict = { status: d.status, statusText: d.statusText, cf: d.cf, webSocket: d.webSocket, encodeBody: d.encodeBody };
    }
    if (!headers.has('content-type')) setHeaderUnguarded(headers, 'content-type', 'application/json');
    dict.headers = headers;
    return new Response(text, dict);
  }

  get status(): number {
    return this.#status;
  }

  get statusText(): string {
    return this.#statusText;
  }

  get headers(): Headers {
    return this.#headers;
  }

  get ok(): boolean {
    return this.#status >= 200 && this.#status < 300;
  }

  get redirected(): boolean {
    return this.#urlList.length > 1;
  }

  get url(): string {
    const list = this.#urlList;
    return list.length > 0 ? list[list.length - 1] : '';
  }

  get webSocket(): unknown {
    return this.#webSocket;
  }

  get cf(): object | undefined {
    return this.#cf;
  }

  get type(): ResponseType {
    return this.#type;
  }

  clone(): Response {
    if (this.#webSocket !== null) throw new TypeError('Cannot clone a response to a WebSocket handshake.');
    const r = new Response(INTERNAL as BodyInit);
    r.#status = this.#status;
    r.#statusText = this.#statusText;
    r.#headers = cloneHeaders(this.#headers);
    r.#cf = cloneCf(this.#cf);
    r.#urlList = this.#urlList.slice();
    r.#type = this.#type;
    r.#encodeBody = this.#encodeBody;
    cloneBodyInto(this, r, r.#headers);
    return r;
  }

  get [Symbol.toStringTag](): string {
    return 'Response';
  }

  static {
    fillIncoming = (r, init) => {
      r.#status = init.status;
      r.#statusText = init.statusText ?? '';
      r.#headers = headersFromList(init.headersList, 'immutable');
      r.#urlList = init.urlList ?? [];
      r.#cf = init.cf;
      r.#webSocket = init.webSocket ?? null;
      const b = init.body;
      let body: ExtractedBody | null = null;
      if (b instanceof Uint8Array) body = { bytes: b, stream: null, owned: true, contentType: null };
      else if (b !== null && b !== undefined) {
        // The runtime hands over the decoded body: a Content-Length counts only when nothing was decoded.
        setKnownLength(b, declaredBodyLength(init.headersList, true));
        body = makeStreamBody(b);
      }
      installBody(r, r.#headers, body);
    };
  }
}

export interface IncomingResponseInit {
  status: number;
  statusText?: string;
  /** flat [name, value, name, value…] as received */
  headersList: string[];
  /** a host-fed stream, or the whole body (owned by us), or null */
  body: ReadableStream<Uint8Array> | Uint8Array | null;
  /** every URL the request visited, redirects included, fragments removed */
  urlList?: string[];
  cf?: object;
  webSocket?: unknown;
}

/** A subrequest's response as fetch() returns it: immutable headers, nothing re-validated. */
export function createIncomingResponse(init: IncomingResponseInit): Response {
  const r = new Response(INTERNAL as BodyInit);
  fillIncoming(r, init);
  return r;
}
