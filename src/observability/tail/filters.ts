// Tail filters: the list a client sends when it creates a tail (wrangler's `translateCLICommandToFilterMessage`
// builds it from `--sampling-rate --status --method --header --ip --search --version-id`), checked
// once when the tail is created and then evaluated against every trace event of the worker.
// All filters must match (AND). A filter that is malformed is refused with a message that names it,
// so nothing is half-applied.
import { isIP } from 'node:net';
import type { Outcome, TraceEvent, TraceFetchEventInfo } from '../../protocol/trace.ts';

export const OUTCOMES: readonly Outcome[] = [
  'unknown', 'ok', 'exception', 'exceededCpu', 'killSwitch', 'daemonDown', 'scriptNotFound', 'canceled',
  'exceededMemory', 'loadShed', 'responseStreamDisconnected', 'internalError', 'exceededWallTime', 'aborted',
];

/** A filter as it travels in `{"filters": [...]}`: an object with exactly one of these keys. */
export type TailFilterMessage =
  | { sampling_rate: number }
  | { outcome: Outcome[] }
  | { method: string[] }
  | { header: { key: string; query?: string } }
  | { client_ip: string[] }
  | { query: string }
  | { scriptVersion: string };

export type TailFilterName = 'sampling_rate' | 'outcome' | 'method' | 'header' | 'client_ip' | 'query' | 'scriptVersion';

export const FILTER_NAMES: readonly TailFilterName[] = ['sampling_rate', 'outcome', 'method', 'header', 'client_ip', 'query', 'scriptVersion'];

/** A checked filter, ready to run. `message` is the filter as the client sent it (debug marks carry it). */
export interface TailFilter {
  name: TailFilterName;
  message: TailFilterMessage;
  matches(event: TraceEvent, random: () => number): boolean;
}

export class TailFilterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TailFilterError';
  }
}

export interface FilterContext {
  /** The address `client_ip: ["self"]` stands for: the tail client's IP as the API server saw it. */
  selfIp: string;
}

const METHOD_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Checks the body of a create-tail request (`{"filters": [...]}`; a missing list means no filter)
 * and compiles its filters. Throws TailFilterError naming the first bad filter.
 */
export function parseTailFilters(body: unknown, context: FilterContext): TailFilter[] {
  if (body === undefined || body === null) return [];
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new TailFilterError('the request body must be a JSON object like {"filters": [...]}');
  }
  const list = (body as { filters?: unknown }).filters;
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw new TailFilterError('"filters" must be an array of filter objects');
  return list.map((item, index) => compileFilter(item, index, context));
}

function compileFilter(item: unknown, index: number, context: FilterContext): TailFilter {
  const where = `filters[${index}]`;
  if (typeof item !== 'object' || item === null || Array.isArray(item)) {
    throw new TailFilterError(`${where} must be an object with one of the keys ${FILTER_NAMES.join(', ')}`);
  }
  const keys = Object.keys(item);
  if (keys.length !== 1) {
    throw new TailFilterError(`${where} must have exactly one key (one of ${FILTER_NAMES.join(', ')}), got ${keys.length === 0 ? 'none' : keys.join(', ')}`);
  }
  const name = keys[0] as TailFilterName;
  const value = (item as Record<string, unknown>)[name];
  const message = item as TailFilterMessage;
  const fail = (problem: string): never => { throw new TailFilterError(`${where}: "${name}" ${problem}`); };
  switch (name) {
    case 'sampling_rate': {
      if (typeof value !== 'number' || !(value > 0 && value <= 1)) fail(`must be a number greater than 0 and at most 1, got ${JSON.stringify(value)}`);
      const rate = value as number;
      return { name, message, matches: (_event, random) => rate >= 1 || random() < rate };
    }
    case 'outcome': {
      const outcomes = stringList(value, fail);
      for (const outcome of outcomes) {
        if (!(OUTCOMES as readonly string[]).includes(outcome)) fail(`has an unknown outcome ${JSON.stringify(outcome)}; known outcomes: ${OUTCOMES.join(', ')}`);
      }
      const wanted = new Set<string>(outcomes);
      return { name, message, matches: (event) => wanted.has(event.outcome) };
    }
    case 'method': {
      const methods = stringList(value, fail);
      for (const method of methods) if (!METHOD_TOKEN.test(method)) fail(`has an invalid HTTP method ${JSON.stringify(method)}`);
      // Methods are compared without regard to case: `--method get` finds GET requests.
      const wanted = new Set(methods.map((m) => m.toUpperCase()));
      return { name, message, matches: (event) => { const r = requestOf(event); return r !== null && wanted.has(r.method.toUpperCase()); } };
    }
    case 'header': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('must be an object {"key": NAME, "query"?: TEXT}');
      const { key, query, ...rest } = value as { key?: unknown; query?: unknown };
      if (Object.keys(rest).length > 0) fail(`has unknown fields: ${Object.keys(rest).join(', ')}`);
      if (typeof key !== 'string' || key.trim() === '') fail('needs a non-empty "key" (the header name)');
      if (query !== undefined && typeof query !== 'string') fail('"query" must be a string');
      const headerName = (key as string).trim().toLowerCase();
      const text = query as string | undefined;
      // Headers in a trace are already redacted: a secret header's value reads "REDACTED".
      return {
        name,
        message,
        matches: (event) => {
          const value = requestOf(event)?.headers[headerName];
          return value !== undefined && (text === undefined || value.includes(text));
        },
      };
    }
    case 'client_ip': {
      const ips = stringList(value, fail);
      const wanted = new Set<string>();
      for (const ip of ips) {
        if (ip === 'self') { wanted.add(normalizeIp(context.selfIp)); continue; }
        if (isIP(normalizeIp(ip)) === 0) fail(`has ${JSON.stringify(ip)}, which is neither an IP address nor "self"`);
        wanted.add(normalizeIp(ip));
      }
      return {
        name,
        message,
        matches: (event) => {
          const ip = requestOf(event)?.headers['cf-connecting-ip'];
          return ip !== undefined && wanted.has(normalizeIp(ip));
        },
      };
    }
    case 'query': {
      if (typeof value !== 'string' || value === '') fail(`must be a non-empty string, got ${JSON.stringify(value)}`);
      const text = value as string;
      return { name, message, matches: (event) => eventMentions(event, text) };
    }
    case 'scriptVersion': {
      if (typeof value !== 'string' || value === '') fail(`must be a non-empty version id, got ${JSON.stringify(value)}`);
      return { name, message, matches: (event) => event.scriptVersion?.id === value };
    }
    default:
      throw new TailFilterError(`${where}: unknown filter "${name}"; known filters: ${FILTER_NAMES.join(', ')}`);
  }
}

/** The first filter `event` does not pass, or null when it passes them all. */
export function blockingFilter(filters: readonly TailFilter[], event: TraceEvent, random: () => number = Math.random): TailFilter | null {
  for (const filter of filters) if (!filter.matches(event, random)) return filter;
  return null;
}

/** `::ffff:1.2.3.4` (an IPv4 client on a dual-stack socket) is 1.2.3.4; IPv6 compared in lower case. */
export function normalizeIp(ip: string): string {
  const lower = ip.trim().toLowerCase();
  return lower.startsWith('::ffff:') && isIP(lower.slice(7)) === 4 ? lower.slice(7) : lower;
}

function stringList(value: unknown, fail: (problem: string) => never): string[] {
  if (!Array.isArray(value) || value.length === 0) fail(`must be a non-empty array of strings, got ${JSON.stringify(value)}`);
  for (const entry of value as unknown[]) if (typeof entry !== 'string') fail(`must hold strings only, got ${JSON.stringify(entry)}`);
  return value as string[];
}

function requestOf(event: TraceEvent): TraceFetchEventInfo['request'] | null {
  const info = event.event as Partial<TraceFetchEventInfo> | null;
  return info?.request ?? null;
}

/** Whether `text` occurs in a console message or an exception's name or message (case-sensitive). */
function eventMentions(event: TraceEvent, text: string): boolean {
  for (const log of event.logs) {
    for (const part of log.message) {
      const rendered = typeof part === 'string' ? part : JSON.stringify(part);
      if (rendered !== undefined && rendered.includes(text)) return true;
    }
  }
  for (const exception of event.exceptions) {
    if (exception.name.includes(text) || String(exception.message).includes(text)) return true;
  }
  return false;
}
