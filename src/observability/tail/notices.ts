// The messages a tail sends besides trace events: the sampling-mode notices, and the mark a
// debug-mode session puts on an event its filters would have held back.
import type { TraceEvent } from '../../protocol/trace.ts';
import type { TailFilterMessage } from './filters.ts';
import type { SamplingNotice } from './sampler.ts';

export const OVERLOAD_MESSAGE =
  'Tail is currently in sampling mode due to the high volume of messages. To prevent messages from being dropped consider adding filters.';
export const OVERLOAD_STOP_MESSAGE = 'Tail has exited sampling mode and is no longer dropping messages.';

/**
 * A notice travels in the shape of a trace event whose `event` is `{type, message}`: wrangler's
 * printers read `logs` and `exceptions` of every message they get, so a bare `{event}` would
 * crash `wrangler tail --format pretty`.
 */
export function noticeEvent(type: SamplingNotice, scriptName: string, now: number): TraceEvent {
  return {
    wallTime: 0,
    cpuTime: 0,
    truncated: false,
    executionModel: 'stateless',
    outcome: 'ok',
    scriptName,
    diagnosticsChannelEvents: [],
    exceptions: [],
    logs: [],
    eventTimestamp: now,
    event: { type, message: type === 'overload' ? OVERLOAD_MESSAGE : OVERLOAD_STOP_MESSAGE } as unknown as TraceEvent['event'],
  };
}

/** The key a debug-mode session adds (last) to an event that a filter would have held back. */
export const FILTERED_BY_KEY = 'filteredBy';

/**
 * `json` (a serialised trace event, UTF-8) with `"filteredBy": <the blocking filter as the client
 * sent it>` appended as its last key, so the event's own keys keep their order.
 */
export function markFilteredOut(json: Buffer, filter: TailFilterMessage): Buffer {
  return Buffer.concat([json.subarray(0, json.length - 1), Buffer.from(`,"${FILTERED_BY_KEY}":${JSON.stringify(filter)}}`)]);
}
