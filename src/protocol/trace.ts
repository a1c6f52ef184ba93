// The trace event: one per invocation, carried by live tail, persisted logs and logpush.
// Types only. The property order written here is the order the event is serialised in
// (`wrangler tail --format json` prints it verbatim), so keep it when editing.

/** Every outcome Cloudflare reports for an invocation. */
export type Outcome =
  | 'unknown'
  | 'ok'
  | 'exception'
  | 'exceededCpu'
  | 'killSwitch'
  | 'daemonDown'
  | 'scriptNotFound'
  | 'canceled'
  | 'exceededMemory'
  | 'loadShed'
  | 'responseStreamDisconnected'
  | 'internalError'
  | 'exceededWallTime'
  | 'aborted';

/** The console methods that are captured; the level is the method's name. */
export type LogLevel = 'debug' | 'info' | 'log' | 'warn' | 'error';

/**
 * An Error reduced to the fields a trace keeps. `stack` has its leading `Name: message`
 * line removed and is absent when nothing is left.
 */
export interface ErrorInfo {
  name: string;
  message: string;
  stack?: string;
}

/** One captured console call. */
export interface TraceLog {
  /** The call's arguments, each reduced to a JSON-compatible value. */
  message: unknown[];
  level: LogLevel;
  /** ms since the epoch */
  timestamp: number;
  /** Present only when an argument was an Error: one slot per argument, null for the others. */
  errorInfo?: (ErrorInfo | null)[];
}

/** An uncaught exception (or rejected promise) of the invocation. */
export interface TraceException {
  stack?: string;
  name: string;
  message: string;
  /** ms since the epoch */
  timestamp: number;
}

/** The incoming request as traces show it: already redacted. */
export interface TraceRequest {
  url: string;
  method: string;
  /** Lower-case names, repeated headers joined with ", ", secrets replaced by "REDACTED". */
  headers: Record<string, string>;
  cf: Record<string, unknown>;
}

/** `event` of a fetch invocation. `response` is absent when no response was produced. */
export interface TraceFetchEventInfo {
  request: TraceRequest;
  response?: { status: number };
}

/** `event` of a cron (scheduled) invocation. */
export interface TraceScheduledEventInfo {
  cron: string;
  /** ms since the epoch */
  scheduledTime: number;
}

export type TraceEventInfo = TraceFetchEventInfo | TraceScheduledEventInfo;

export interface TraceScriptVersion {
  id: string;
}

/** The trace of one invocation. */
export interface TraceEvent {
  /** whole ms */
  wallTime: number;
  /** whole ms */
  cpuTime: number;
  truncated: boolean;
  executionModel: 'stateless';
  outcome: Outcome;
  scriptVersion?: TraceScriptVersion;
  scriptName: string | null;
  diagnosticsChannelEvents: unknown[];
  exceptions: TraceException[];
  logs: TraceLog[];
  /** ms since the epoch: when the invocation started */
  eventTimestamp: number;
  event: TraceEventInfo | null;
}

/**
 * Notices the tail itself sends between trace events (entering and leaving sampling mode). On the
 * wire a notice has the full trace-event shape (empty logs and exceptions) with this `event`,
 * because wrangler's pretty printer reads `logs` of every message.
 */
export interface TailNotice {
  event: { type: 'overload' | 'overload-stop'; message: string };
}
