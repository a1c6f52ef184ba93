// Trace events as OpenTelemetry log records (OTLP/HTTP, JSON encoding: ExportLogsServiceRequest).
// One resource per worker (service.name = the worker's name). Each invocation gives one record
// that summarises it (the request line, outcome, CPU and wall time), one record per console call
// and one per uncaught exception (with the semantic-convention exception.* attributes). Every
// record of an invocation carries cloudflare.ray_id so a backend can group them.
// JSON mapping rules that matter: 64-bit integers (timeUnixNano, intValue) are decimal strings,
// enums (severityNumber) are numbers, attribute values are AnyValue objects.
import type { LogLevel, TraceEvent } from '../../protocol/trace.ts';
import { eventTypeOf, rayIdOf } from './dataset.ts';

export type AnyValue =
  | { stringValue: string }
  | { boolValue: boolean }
  | { intValue: string }
  | { doubleValue: number }
  | { arrayValue: { values: AnyValue[] } }
  | { kvlistValue: { values: KeyValue[] } };

export interface KeyValue {
  key: string;
  value: AnyValue;
}

export interface OtlpLogRecord {
  timeUnixNano: string;
  observedTimeUnixNano: string;
  severityNumber: number;
  severityText: string;
  body: AnyValue;
  attributes: KeyValue[];
}

/** OpenTelemetry SeverityNumber values (logs data model). */
export const SEVERITY = { DEBUG: 5, INFO: 9, WARN: 13, ERROR: 17 } as const;

const LEVEL_SEVERITY: Record<LogLevel, keyof typeof SEVERITY> = { debug: 'DEBUG', info: 'INFO', log: 'INFO', warn: 'WARN', error: 'ERROR' };

const OK_OUTCOMES = new Set(['ok']);
const WARN_OUTCOMES = new Set(['canceled', 'responseStreamDisconnected']);

export function nanos(ms: number): string {
  return (BigInt(Math.trunc(Number.isFinite(ms) ? ms : 0)) * 1_000_000n).toString();
}

const str = (key: string, value: string): KeyValue => ({ key, value: { stringValue: value } });
const int = (key: string, value: number): KeyValue => ({ key, value: { intValue: String(Math.trunc(value)) } });

/** A console argument as text, the way a log line reads: strings as they are, the rest as JSON. */
function argumentText(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function severity(name: keyof typeof SEVERITY): { severityNumber: number; severityText: string } {
  return { severityNumber: SEVERITY[name], severityText: name };
}

export function otlpLogRecords(event: TraceEvent): OtlpLogRecord[] {
  const ray = rayIdOf(event);
  const common: KeyValue[] = ray ? [str('cloudflare.ray_id', ray)] : [];
  const observed = nanos(event.eventTimestamp + (event.wallTime ?? 0));
  const info = event.event;
  const invocation: KeyValue[] = [
    ...common,
    str('cloudflare.outcome', event.outcome),
    str('cloudflare.event_type', eventTypeOf(event)),
    int('cloudflare.cpu_time_ms', event.cpuTime),
    int('cloudflare.wall_time_ms', event.wallTime),
  ];
  if (event.truncated) invocation.push({ key: 'cloudflare.truncated', value: { boolValue: true } });
  if (event.scriptVersion?.id) invocation.push(str('cloudflare.script_version.id', event.scriptVersion.id));
  let summary: string = event.outcome;
  if (info && 'request' in info) {
    invocation.push(str('http.request.method', info.request.method), str('url.full', info.request.url));
    if (info.response) invocation.push(int('http.response.status_code', info.response.status));
    summary = `${info.request.method} ${info.request.url}`;
  } else if (info && 'cron' in info) {
    invocation.push(str('cloudflare.cron', info.cron));
    summary = `scheduled ${info.cron}`;
  }
  const level = OK_OUTCOMES.has(event.outcome) ? 'INFO' : WARN_OUTCOMES.has(event.outcome) ? 'WARN' : 'ERROR';
  const records: OtlpLogRecord[] = [{
    timeUnixNano: nanos(event.eventTimestamp),
    observedTimeUnixNano: observed,
    ...severity(level),
    body: { stringValue: summary },
    attributes: invocation,
  }];
  for (const log of event.logs ?? []) {
    records.push({
      timeUnixNano: nanos(log.timestamp),
      observedTimeUnixNano: observed,
      ...severity(LEVEL_SEVERITY[log.level] ?? 'INFO'),
      body: { stringValue: (log.message ?? []).map(argumentText).join(' ') },
      attributes: [...common, str('cloudflare.log_level', log.level)],
    });
  }
  for (const exception of event.exceptions ?? []) {
    const attributes = [...common, str('exception.type', exception.name), str('exception.message', exception.message)];
    if (exception.stack) attributes.push(str('exception.stacktrace', exception.stack));
    records.push({
      timeUnixNano: nanos(exception.timestamp),
      observedTimeUnixNano: observed,
      ...severity('ERROR'),
      body: { stringValue: `${exception.name}: ${exception.message}` },
      attributes,
    });
  }
  return records;
}

export function otlpPayload(groups: { scriptName: string; records: OtlpLogRecord[] }[], version: string) {
  return {
    resourceLogs: groups.map((group) => ({
      resource: {
        attributes: [
          str('service.name', group.scriptName || 'unknown_service'),
          str('faas.name', group.scriptName),
          str('cloud.provider', 'flarelet'),
        ],
      },
      scopeLogs: [{ scope: { name: 'flarelet', version }, logRecords: group.records }],
    })),
  };
}
