// The record Logpush delivers for one trace event: Cloudflare's `workers_trace_events` dataset.
// Field names, nesting and key spelling follow what Cloudflare's Logpush sends (its published
// field list, and records captured from a real HTTP destination): top-level fields in
// alphabetical order, `Event` as {RayID, Request: {URL, Method}, Response: {Status}}, logs as
// {Level, Message, TimestampMs}, exceptions as {Name, Message, TimestampMs}.
import type { TraceEvent } from '../../protocol/trace.ts';

export const DATASET = 'workers_trace_events';

/** Every field of the dataset, in the order records carry them. */
export const DATASET_FIELDS = [
  'CPUTimeMs', 'DispatchNamespace', 'Entrypoint', 'Event', 'EventTimestampMs', 'EventType',
  'Exceptions', 'Logs', 'Outcome', 'ScriptName', 'ScriptTags', 'ScriptVersion', 'WallTimeMs',
] as const;

export type DatasetField = (typeof DATASET_FIELDS)[number];

export const FIELD_DESCRIPTIONS: Record<DatasetField, string> = {
  CPUTimeMs: 'The amount of CPU time used by the Worker script, in milliseconds.',
  DispatchNamespace: 'The Cloudflare Worker dispatch namespace (always empty in Flarelet).',
  Entrypoint: 'The name of the entrypoint class in which the Worker began execution (empty for the default export).',
  Event: 'Details about the source event: RayID, Request {URL, Method}, Response {Status} for fetch; Cron and ScheduledTimeMs for scheduled.',
  EventTimestampMs: 'The timestamp of when the event was received, in milliseconds.',
  EventType: 'The event type that triggered the invocation: fetch or scheduled.',
  Exceptions: 'List of uncaught exceptions during the invocation: {Name, Message, TimestampMs}.',
  Logs: 'List of console messages emitted during the invocation: {Level, Message, TimestampMs}.',
  Outcome: 'The outcome of the Worker script invocation (ok, exception, exceededCpu, canceled, …).',
  ScriptName: 'The Worker script name.',
  ScriptTags: 'A list of user-defined tags used to categorize the Worker (always empty in Flarelet).',
  ScriptVersion: 'The version of the script that was invoked: {ID, Message, Tag}.',
  WallTimeMs: 'The elapsed time in milliseconds between the start of a Worker invocation and when the runtime determined that no more JavaScript needs to run.',
};

export function isDatasetField(name: string): name is DatasetField {
  return (DATASET_FIELDS as readonly string[]).includes(name);
}

/** The Ray ID without its `-COLO` suffix, as the dataset carries it. */
export function rayIdOf(event: TraceEvent): string {
  const info = event.event;
  const ray = info && 'request' in info ? info.request.headers['cf-ray'] : undefined;
  return typeof ray === 'string' ? ray.replace(/-[A-Za-z0-9]+$/, '') : '';
}

export function eventTypeOf(event: TraceEvent): string {
  const info = event.event;
  if (info && 'request' in info) return 'fetch';
  if (info && 'cron' in info) return 'scheduled';
  return '';
}

function eventDetails(event: TraceEvent): Record<string, unknown> {
  const info = event.event;
  if (info && 'request' in info) {
    const details: Record<string, unknown> = {
      RayID: rayIdOf(event),
      Request: { URL: info.request.url, Method: info.request.method },
    };
    if (info.response) details.Response = { Status: info.response.status };
    return details;
  }
  if (info && 'cron' in info) return { Cron: info.cron, ScheduledTimeMs: info.scheduledTime };
  return {};
}

/** The whole dataset record of a trace event (every field). */
export function datasetRecord(event: TraceEvent): Record<DatasetField, unknown> {
  return {
    CPUTimeMs: event.cpuTime,
    DispatchNamespace: '',
    Entrypoint: '',
    Event: eventDetails(event),
    EventTimestampMs: event.eventTimestamp,
    EventType: eventTypeOf(event),
    Exceptions: (event.exceptions ?? []).map((e) => ({ Name: e.name, Message: e.message, TimestampMs: e.timestamp })),
    Logs: (event.logs ?? []).map((l) => ({ Level: l.level, Message: l.message, TimestampMs: l.timestamp })),
    Outcome: event.outcome,
    ScriptName: event.scriptName ?? '',
    ScriptTags: [],
    ScriptVersion: { ID: event.scriptVersion?.id ?? '', Message: '', Tag: '' },
    WallTimeMs: event.wallTime,
  };
}

/** The record restricted to `fields` (all fields when null), keys in dataset order. */
export function selectFields(record: Record<DatasetField, unknown>, fields: readonly string[] | null): Record<string, unknown> {
  if (!fields) return record;
  const wanted = new Set(fields);
  const out: Record<string, unknown> = {};
  for (const name of DATASET_FIELDS) if (wanted.has(name)) out[name] = record[name];
  return out;
}
