// Turns one trace event into what Workers Logs stores: the invocation (its `$workers` facts,
// shared by every row it produced) and its rows: one invocation row (`cf-worker-event`), one row
// per console line (`cf-worker-log`) and one per uncaught exception (`cf-worker-exception`).
// Pure functions: no storage here, so every store (SQLite now, PostgreSQL later) stores the same.
import { randomBytes } from 'node:crypto';
import type { TraceEvent, TraceException, TraceFetchEventInfo, TraceLog, TraceScheduledEventInfo } from '../../protocol/trace.ts';

export type RowType = 'cf-worker-event' | 'cf-worker-log' | 'cf-worker-exception';

export const ROW_TYPES: readonly RowType[] = ['cf-worker-event', 'cf-worker-log', 'cf-worker-exception'];

/** The dataset every row belongs to (Cloudflare's name for Workers Logs). */
export const DATASET = 'cloudflare-workers';

/** `$workers` of every row of an invocation, in the order Flarelet prints it. */
export interface WorkersFields {
  event: Record<string, unknown> | null;
  eventType: string;
  executionModel: string;
  outcome: string;
  requestId: string;
  scriptName: string;
  scriptVersion?: { id: string };
  truncated: boolean;
  cpuTimeMs: number;
  wallTimeMs: number;
  diagnosticsChannelEvents?: unknown[];
}

export interface InvocationRecord {
  /** ms since the epoch: when the invocation started */
  timestamp: number;
  scriptName: string;
  requestId: string;
  outcome: string;
  eventType: string;
  /** `GET /path` for a request, the cron pattern for a scheduled event */
  trigger: string;
  method: string | null;
  url: string | null;
  path: string | null;
  status: number | null;
  cpuTimeMs: number;
  wallTimeMs: number;
  scriptVersionId: string | null;
  truncated: boolean;
  workers: WorkersFields;
}

export interface LogRow {
  /** ms since the epoch */
  timestamp: number;
  type: RowType;
  level: string;
  message: string;
  /** present on error rows: the exception's (or logged Error's) message */
  error: string | null;
  /** the structured content of a console line or exception; null on the invocation row */
  source: Record<string, unknown> | null;
}

/** Outcomes whose invocation row is logged at level `info`; every other outcome is an error. */
const QUIET_OUTCOMES = new Set(['ok', 'canceled', 'responseStreamDisconnected']);

function isFetch(info: TraceEvent['event']): info is TraceFetchEventInfo {
  return info !== null && typeof info === 'object' && 'request' in info;
}

function isScheduled(info: TraceEvent['event']): info is TraceScheduledEventInfo {
  return info !== null && typeof info === 'object' && 'cron' in info;
}

function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return url;
  }
}

/** A request id for an invocation the edge gave none (a scheduled event): 16 hex digits. */
export function newRequestId(): string {
  return randomBytes(8).toString('hex');
}

export function invocationOf(event: TraceEvent, makeRequestId: () => string = newRequestId): InvocationRecord {
  const info = event.event;
  const scriptName = event.scriptName ?? '';
  let eventType = 'unknown';
  let trigger = '';
  let method: string | null = null;
  let url: string | null = null;
  let path: string | null = null;
  let status: number | null = null;
  let requestId = '';
  let workersEvent: Record<string, unknown> | null = null;
  if (isFetch(info)) {
    eventType = 'fetch';
    method = info.request.method;
    url = info.request.url;
    path = pathOf(url);
    trigger = `${method} ${path}`;
    status = info.response?.status ?? null;
    requestId = info.request.headers['cf-ray'] ?? '';
    workersEvent = {
      request: { url, method, path, headers: info.request.headers, cf: info.request.cf },
      ...(info.response ? { response: { status: info.response.status } } : {}),
    };
  } else if (isScheduled(info)) {
    eventType = 'scheduled';
    trigger = info.cron;
    workersEvent = { cron: info.cron, scheduledTime: info.scheduledTime };
  }
  if (!requestId) requestId = makeRequestId();
  const workers: WorkersFields = {
    event: workersEvent,
    eventType,
    executionModel: event.executionModel,
    outcome: event.outcome,
    requestId,
    scriptName,
    ...(event.scriptVersion ? { scriptVersion: { id: event.scriptVersion.id } } : {}),
    truncated: event.truncated,
    cpuTimeMs: event.cpuTime,
    wallTimeMs: event.wallTime,
    ...(event.diagnosticsChannelEvents.length > 0 ? { diagnosticsChannelEvents: event.diagnosticsChannelEvents } : {}),
  };
  return {
    timestamp: event.eventTimestamp,
    scriptName,
    requestId,
    outcome: event.outcome,
    eventType,
    trigger,
    method,
    url,
    path,
    status,
    cpuTimeMs: event.cpuTime,
    wallTimeMs: event.wallTime,
    scriptVersionId: event.scriptVersion?.id ?? null,
    truncated: event.truncated,
    workers,
  };
}

/** A console call's arguments as one line: strings as they are, anything else as JSON. */
export function formatLogMessage(args: readonly unknown[]): string {
  return args.map((arg) => (typeof arg === 'string' ? arg : (JSON.stringify(arg) ?? String(arg)))).join(' ');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function logRow(log: TraceLog): LogRow {
  const message = formatLogMessage(log.message);
  // A single logged object is structured logging: its fields become queryable keys.
  const source = log.message.length === 1 && isPlainObject(log.message[0]) ? log.message[0] : { message };
  const loggedError = log.errorInfo?.find((info) => info !== null) ?? null;
  return { timestamp: log.timestamp, type: 'cf-worker-log', level: log.level, message, error: loggedError ? loggedError.message : null, source };
}

function exceptionRow(exception: TraceException): LogRow {
  const text = typeof exception.message === 'string' ? exception.message : String(exception.message);
  return {
    timestamp: exception.timestamp,
    type: 'cf-worker-exception',
    level: 'error',
    message: `${exception.name}: ${text}`,
    error: text,
    source: { name: exception.name, message: text, ...(exception.stack ? { stack: exception.stack } : {}) },
  };
}

/** The invocation row: its message names the request (`GET https://host/path`). */
export function invocationRow(invocation: InvocationRecord): LogRow {
  const message = invocation.eventType === 'fetch' ? `${invocation.method} ${invocation.url}` : invocation.trigger || invocation.eventType;
  return {
    timestamp: invocation.timestamp,
    type: 'cf-worker-event',
    level: QUIET_OUTCOMES.has(invocation.outcome) ? 'info' : 'error',
    message,
    error: null,
    source: null,
  };
}

/** The rows of one invocation, in time order; `withInvocationRow` false leaves out the invocation row. */
export function rowsOf(event: TraceEvent, invocation: InvocationRecord, withInvocationRow: boolean): LogRow[] {
  const rows: LogRow[] = withInvocationRow ? [invocationRow(invocation)] : [];
  for (const log of event.logs) rows.push(logRow(log));
  for (const exception of event.exceptions) rows.push(exceptionRow(exception));
  return rows;
}

/** How many rows `rowsOf` makes, without making them (to count what is dropped). */
export function rowCount(event: TraceEvent, withInvocationRow: boolean): number {
  return (withInvocationRow ? 1 : 0) + event.logs.length + event.exceptions.length;
}
