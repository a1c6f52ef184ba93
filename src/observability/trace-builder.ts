// Collects what one invocation produces (request, console output, exceptions) and builds its
// trace event. Owns the two rules every consumer of traces relies on: the request is redacted
// before anything sees it, and an invocation records at most 256 KiB of data.

import type {
  ErrorInfo,
  LogLevel,
  Outcome,
  TraceEvent,
  TraceException,
  TraceLog,
  TraceRequest,
} from '../protocol/trace.ts';
import { redactHeaders, redactUrl } from './redact.ts';

/** The per-invocation budget across logs, exceptions and request data (workerd's MAX_TRACE_BYTES). */
export const TRACE_BUDGET_BYTES = 256 * 1024;

/** The warning recorded, once, when an invocation goes over the budget. Cloudflare's exact text. */
export const LOG_LIMIT_MESSAGE =
  "Log size limit exceeded: More than 256KB of data (across console.log statements, exception, request metadata and headers) was logged during a single request. Subsequent data for this request will not be recorded in logs, appear when tailing this Worker's logs, or in Tail Workers.";

export interface TraceRequestInput {
  url: string;
  method: string;
  /** `[name, value]` pairs or a flat `[name, value, ...]` list, unredacted. */
  headers: readonly (readonly [string, string])[] | readonly string[];
  cf: Record<string, unknown>;
}

export interface TraceBuilderOptions {
  scriptName: string | null;
  scriptVersion?: { id: string };
  /** ms since the epoch: when the invocation started */
  eventTimestamp: number;
  request: TraceRequestInput;
}

export interface ThrownError {
  name?: string;
  message: string;
  stack?: string;
}

export interface TraceFinish {
  outcome: Outcome;
  /** the response status, when a response was produced */
  status?: number;
  /** ms; truncated to whole ms in the event */
  cpuTime: number;
  /** ms; truncated to whole ms in the event */
  wallTime: number;
}

export class TraceBuilder {
  readonly #scriptName: string | null;
  readonly #scriptVersion: { id: string } | undefined;
  readonly #eventTimestamp: number;
  readonly #request: TraceRequest;
  readonly #logs: TraceLog[] = [];
  readonly #exceptions: TraceException[] = [];
  #bytesUsed = 0;
  #truncated = false;

  constructor(options: TraceBuilderOptions) {
    this.#scriptName = options.scriptName;
    this.#scriptVersion = options.scriptVersion;
    this.#eventTimestamp = options.eventTimestamp;
    const { url, method, headers, cf } = options.request;
    const redacted: TraceRequest = { url: redactUrl(url), method, headers: redactHeaders(headers), cf };
    const size = requestSize(redacted);
    if (size > TRACE_BUDGET_BYTES) {
      // Too big to keep: the method survives (it costs nothing and names the invocation),
      // the rest is dropped and the budget is spent.
      this.#request = { url: '', method, headers: {}, cf: {} };
      this.#overBudget(options.eventTimestamp);
    } else {
      this.#request = redacted;
      this.#bytesUsed = size;
    }
  }

  /** True once the budget is exhausted: further logs and exceptions are dropped. */
  get truncated(): boolean {
    return this.#truncated;
  }

  /**
   * Records one console call. `size` is the byte length of its serialised message (as measured
   * in the isolate); the errorInfo strings are counted on top, as workerd does.
   */
  addLog(level: LogLevel, message: unknown[], timestamp: number, errorInfo: (ErrorInfo | null)[] | undefined, size: number): void {
    if (this.#truncated) return;
    if (!this.#spend(size + errorInfoSize(errorInfo), timestamp)) return;
    const log: TraceLog = { message, level, timestamp };
    if (errorInfo !== undefined) log.errorInfo = errorInfo;
    this.#logs.push(log);
  }

  /** Records an uncaught exception, normalised the way workerd reports it. */
  addException(error: ThrownError, timestamp: number): void {
    if (this.#truncated) return;
    const { name, message, stack } = normaliseError(error);
    if (!this.#spend(byteLength(name) + byteLength(message) + byteLength(stack ?? ''), timestamp)) return;
    this.#exceptions.push(stack === undefined ? { name, message, timestamp } : { stack, name, message, timestamp });
  }

  /** The finished event. Key order is the order Cloudflare serialises it in. */
  finish(result: TraceFinish): TraceEvent {
    const event: TraceEvent = {
      // Whole ms, truncated like workerd's Duration / MILLISECONDS.
      wallTime: Math.floor(result.wallTime),
      cpuTime: Math.floor(result.cpuTime),
      truncated: this.#truncated,
      executionModel: 'stateless',
      outcome: result.outcome,
      ...(this.#scriptVersion === undefined ? {} : { scriptVersion: { id: this.#scriptVersion.id } }),
      scriptName: this.#scriptName,
      diagnosticsChannelEvents: [],
      exceptions: this.#exceptions.slice(),
      logs: this.#logs.slice(),
      eventTimestamp: this.#eventTimestamp,
      event: {
        request: { ...this.#request },
        ...(result.status === undefined ? {} : { response: { status: result.status } }),
      },
    };
    return event;
  }

  /** Charges `bytes` to the budget; on overflow records the one warning and stops recording. */
  #spend(bytes: number, timestamp: number): boolean {
    if (this.#bytesUsed + bytes > TRACE_BUDGET_BYTES) {
      this.#overBudget(timestamp);
      return false;
    }
    this.#bytesUsed += bytes;
    return true;
  }

  #overBudget(timestamp: number): void {
    this.#truncated = true;
    this.#logs.push({ message: [LOG_LIMIT_MESSAGE], level: 'warn', timestamp });
  }
}

/**
 * name defaults to "Error"; the stack loses its leading `Name: message` (name and message are
 * fields of their own) and is dropped when nothing is left. Same rule as workerd's
 * getErrorInfoForTrace, which guest/console-format.ts applies to errorInfo inside the isolate.
 */
export function normaliseError(error: ThrownError): ErrorInfo {
  const name = error.name ?? 'Error';
  const message = error.message;
  if (error.stack === undefined) return { name, message };
  let stack = error.stack;
  if (stack.startsWith(name)) {
    stack = stack.slice(name.length);
    if (stack.startsWith(': ')) stack = stack.slice(2);
  }
  if (stack.startsWith(message)) {
    stack = stack.slice(message.length);
    if (stack.startsWith('\n')) stack = stack.slice(1);
  }
  return stack.length > 0 ? { name, message, stack } : { name, message };
}

function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

function errorInfoSize(errorInfo: (ErrorInfo | null)[] | undefined): number {
  let size = 0;
  for (const info of errorInfo ?? []) {
    if (info !== null) size += byteLength(info.name) + byteLength(info.message) + byteLength(info.stack ?? '');
  }
  return size;
}

/** Bytes of request data as workerd counts them: URL, header names and values, cf as JSON. */
function requestSize(request: TraceRequest): number {
  let size = byteLength(request.url);
  for (const [name, value] of Object.entries(request.headers)) size += byteLength(name) + byteLength(value);
  return size + byteLength(JSON.stringify(request.cf) ?? '');
}
