// The WHATWG Headers class as workerd implements it: names are lowercased, repeated values are
// joined with ', ' except that Set-Cookie values stay separate (getSetCookie(), iteration),
// iteration is sorted by name, and every guard other than 'none' makes the object immutable
// (workerd does not implement the spec's per-header request/response guard rules).
//
// The host hands us the incoming request's headers as a flat [name, value, …] list. Many
// workers never look at them, so that list is kept as is and only turned into a Map on first use.

export type HeadersGuard = 'immutable' | 'request' | 'response' | 'none';

export type HeadersInit = Headers | Iterable<Iterable<string>> | Record<string, string>;

const IMMUTABLE_MESSAGE = "Can't modify immutable headers.";
const INVALID_NAME_MESSAGE = 'Invalid header name.';
const INVALID_VALUE_MESSAGE = 'Invalid header value.';
const BAD_INIT_MESSAGE =
  "Failed to construct 'Headers': constructor parameter 1 is not of type 'Headers or Sequence or object'.";
const BAD_PAIR_MESSAGE =
  'To initialize a Headers object from a sequence, each inner sequence must have exactly two elements.';
const NOT_SEQUENCE_MESSAGE = "Incorrect type: the provided value is not of type 'Sequence'.";
const GET_ALL_MESSAGE = 'getAll() can only be used with the header name "Set-Cookie".';

// RFC 7230 token characters, as a lookup table built once at load time.
const TOKEN_CHARS = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  TOKEN_CHARS[c.charCodeAt(0)] = 1;
}

/** Lowercases and validates a header name. workerd accepts the empty name, so do we. */
function normalizeName(name: unknown): string {
  const s = String(name);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TOKEN_CHARS[c] === 0) throw new TypeError(INVALID_NAME_MESSAGE);
  }
  return s.toLowerCase();
}

function isHttpWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/** Trims HTTP whitespace and rejects NUL, CR and LF. Non-ASCII is allowed (sent as UTF-8). */
function normalizeValue(value: unknown): string {
  let s = String(value);
  let start = 0;
  let end = s.length;
  while (start < end && isHttpWhitespace(s.charCodeAt(start))) start++;
  while (end > start && isHttpWhitespace(s.charCodeAt(end - 1))) end--;
  if (start !== 0 || end !== s.length) s = s.slice(start, end);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || c === 0x0a || c === 0x0d) throw new TypeError(INVALID_VALUE_MESSAGE);
  }
  return s;
}

/** An iterator object over a snapshot, so that mutation during iteration is harmless. */
function snapshotIterator<T>(items: T[]): IterableIterator<T> {
  return items[Symbol.iterator]();
}

let setGuardImpl: (h: Headers, guard: HeadersGuard) => void;
let getGuardImpl: (h: Headers) => HeadersGuard;
let fromListImpl: (flat: string[], guard: HeadersGuard) => Headers;
let toListImpl: (h: Headers) => string[];
let appendUncheckedImpl: (h: Headers, name: string, value: string) => void;

export class Headers {
  #guard: HeadersGuard = 'none';
  // Lowercased name → values in insertion order. Null while #pending holds the host's list.
  #map: Map<string, string[]> | null = null;
  #pending: string[] | null = null;

  constructor(init?: HeadersInit) {
    if (init === undefined) return;
    if (init instanceof Headers) {
      const src = init.#entriesMap();
      const map = new Map<string, string[]>();
      for (const [k, v] of src) map.set(k, v.slice());
      this.#map = map;
      return;
    }
    if (init === null || (typeof init !== 'object' && typeof init !== 'function')) {
      throw new TypeError(BAD_INIT_MESSAGE);
    }
    const map = new Map<string, string[]>();
    this.#map = map;
    if (typeof (init as Iterable<unknown>)[Symbol.iterator] === 'function') {
      for (const pair of init as Iterable<unknown>) {
        if (pair === null || typeof pair !== 'object' ||
            typeof (pair as Iterable<unknown>)[Symbol.iterator] !== 'function') {
          throw new TypeError(NOT_SEQUENCE_MESSAGE);
        }
        const items = Array.from(pair as Iterable<unknown>);
        if (items.length !== 2) throw new TypeError(BAD_PAIR_MESSAGE);
        this.#appendChecked(items[0], items[1]);
      }
      return;
    }
    for (const key of Object.keys(init)) {
      this.#appendChecked(key, (init as Record<string, unknown>)[key]);
    }
  }

  /** The header map, materialising the host's flat list on first use. */
  #entriesMap(): Map<string, string[]> {
    let map = this.#map;
    if (map === null) {
      map = new Map();
      const flat = this.#pending;
      if (flat !== null) {
        for (let i = 0; i + 1 < flat.length; i += 2) {
          const name = flat[i].toLowerCase();
          const existing = map.get(name);
          if (existing === undefined) map.set(name, [flat[i + 1]]);
          else existing.push(flat[i + 1]);
        }
      }
      this.#pending = null;
      this.#map = map;
    }
    return map;
  }

  #checkGuard(): void {
    if (this.#guard !== 'none') throw new TypeError(IMMUTABLE_MESSAGE);
  }

  #appendChecked(name: unknown, value: unknown): void {
    const v = normalizeValue(value);
    this.#appendNormalized(normalizeName(name), v);
  }

  #appendNormalized(key: string, value: string): void {
    const map = this.#entriesMap();
    const existing = map.get(key);
    if (existing === undefined) map.set(key, [value]);
    else existing.push(value);
  }

  /** Sorted [name, value] pairs; set-cookie values are listed one by one. */
  #displayed(): [string, string][] {
    const map = this.#entriesMap();
    const keys = Array.from(map.keys()).sort();
    const out: [string, string][] = [];
    for (const key of keys) {
      const values = map.get(key)!;
      if (key === 'set-cookie') {
        for (const v of values) out.push([key, v]);
      } else {
        out.push([key, values.length === 1 ? values[0] : values.join(', ')]);
      }
    }
    return out;
  }

  get(name: string): string | null {
    const values = this.#entriesMap().get(normalizeName(name));
    if (values === undefined) return null;
    return values.length === 1 ? values[0] : values.join(', ');
  }

  /** workerd's legacy extension; only Set-Cookie is allowed. */
  getAll(name: string): string[] {
    if (String(name).toLowerCase() !== 'set-cookie') throw new TypeError(GET_ALL_MESSAGE);
    return this.getSetCookie();
  }

  getSetCookie(): string[] {
    const values = this.#entriesMap().get('set-cookie');
    return values === undefined ? [] : values.slice();
  }

  has(name: string): boolean {
    return this.#entriesMap().has(normalizeName(name));
  }

  set(name: string, value: string): void {
    // Same check order as workerd: guard, then value, then name.
    this.#checkGuard();
    const v = normalizeValue(value);
    this.#entriesMap().set(normalizeName(name), [v]);
  }

  append(name: string, value: string): void {
    this.#checkGuard();
    this.#appendChecked(name, value);
  }

  delete(name: string): void {
    this.#checkGuard();
    this.#entriesMap().delete(normalizeName(name));
  }

  forEach(callback: (value: string, key: string, parent: Headers) => void, thisArg?: unknown): void {
    for (const [key, value] of this.#displayed()) callback.call(thisArg, value, key, this);
  }

  entries(): IterableIterator<[string, string]> {
    return snapshotIterator(this.#displayed());
  }

  keys(): IterableIterator<string> {
    return snapshotIterator(this.#displayed().map((e) => e[0]));
  }

  values(): IterableIterator<string> {
    return snapshotIterator(this.#displayed().map((e) => e[1]));
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }

  get [Symbol.toStringTag](): string {
    return 'Headers';
  }

  static {
    setGuardImpl = (h, guard) => { h.#guard = guard; };
    getGuardImpl = (h) => h.#guard;
    fromListImpl = (flat, guard) => {
      const h = new Headers();
      h.#pending = flat;
      h.#guard = guard;
      return h;
    };
    toListImpl = (h) => {
      const pending = h.#pending;
      if (pending !== null) {
        const out = new Array<string>(pending.length);
        for (let i = 0; i < pending.length; i += 2) {
          out[i] = pending[i].toLowerCase();
          out[i + 1] = pending[i + 1];
        }
        return out;
      }
      const out: string[] = [];
      const map = h.#map;
      if (map !== null) {
        for (const [key, values] of map) {
          for (const v of values) out.push(key, v);
        }
      }
      return out;
    };
    appendUncheckedImpl = (h, name, value) => h.#appendNormalized(name, value);
  }
}

/**
 * Builds Headers from the host's flat [name, value, name, value…] list without re-validating
 * (the host's HTTP parser already did). Names may be in any case.
 */
export function headersFromList(flat: string[], guard: HeadersGuard = 'none'): Headers {
  return fromListImpl(flat, guard);
}

/** Flat [name, value…] list with lowercased names; each Set-Cookie value is its own entry. */
export function headersToList(h: Headers): string[] {
  return toListImpl(h);
}

export function setHeadersGuard(h: Headers, guard: HeadersGuard): void {
  setGuardImpl(h, guard);
}

export function getHeadersGuard(h: Headers): HeadersGuard {
  return getGuardImpl(h);
}

/** A copy with the same guard, as Request/Response clone() make it. */
export function cloneHeaders(h: Headers): Headers {
  const copy = new Headers(h);
  setGuardImpl(copy, getGuardImpl(h));
  return copy;
}

/**
 * Sets a header the runtime itself derives (Content-Type of a body, Location of a redirect),
 * ignoring the guard as workerd does. `name` must already be lowercase and valid.
 */
export function setHeaderUnguarded(h: Headers, name: string, value: string): void {
  const guard = getGuardImpl(h);
  setGuardImpl(h, 'none');
  try {
    h.set(name, value);
  } finally {
    setGuardImpl(h, guard);
  }
}

/** Appends a pre-validated, lowercase name and value (used by trusted internal code). */
export function appendHeaderUnchecked(h: Headers, name: string, value: string): void {
  appendUncheckedImpl(h, name, value);
}
