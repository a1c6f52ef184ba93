// The text `wrangler tail --format pretty` prints for a trace event, reproduced so that
// `flarelet dev` and `flarelet tail` read like wrangler (workers-sdk, wrangler/src/tail/printing.ts):
//   - one header line naming the event, its outcome and its local date-time;
//   - one stdout line per console call: `  (level)` and the arguments through util.format;
//   - each exception on stderr, framed the way wrangler's logger.error frames errors (esbuild's
//     message format: `✘ [ERROR] Name: message`, then the stack lines indented by two spaces).
// Each string in `stdout` / `stderr` is one console.log / console.error call, without the newline
// the console adds.

import { format, inspect } from 'node:util';
import type { Outcome, TailNotice, TraceEvent } from '../protocol/trace.ts';

export interface PrettyOutput {
  stdout: string[];
  stderr: string[];
}

export interface PrettyOptions {
  /**
   * ANSI colours. Default true: wrangler always asks esbuild for coloured error blocks, whatever
   * the terminal. Terminal-width wrapping (only done on a TTY) is not reproduced.
   */
  color?: boolean;
}

/** The line wrangler prints once the tail is open. */
export function connectedLine(name: string): string {
  return `Connected to ${name}, waiting for logs...`;
}

export function formatPretty(message: TraceEvent | TailNotice, options: PrettyOptions = {}): PrettyOutput {
  const color = options.color ?? true;
  const stdout: string[] = [];
  const stderr: string[] = [];

  const header = headerLine(message, color);
  if (header !== undefined) stdout.push(header);

  const trace = message as Partial<TraceEvent>;
  for (const { level, message: args } of trace.logs ?? []) {
    stdout.push(escapeControls(format(`  (${level})`, ...args)));
  }
  for (const { name, message: text, stack } of trace.exceptions ?? []) {
    const errorLine = `${name}: ${typeof text === 'string' ? text : inspect(text)}`;
    stderr.push(errorBlock(escapeControls(`${errorLine}${stack ? `\n${stack}` : ''}`), color));
  }
  return { stdout, stderr };
}

/**
 * Worker text must not drive the terminal: control characters (other than tab and newline) are
 * shown as `\uXXXX`, as wrangler does, so a log line cannot inject escape sequences.
 */
export function escapeControls(text: string): string {
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** wrangler's names for outcomes; everything it does not know is "Unknown". */
export function prettifyOutcome(outcome: Outcome | undefined): string {
  switch (outcome) {
    case 'ok':
      return 'Ok';
    case 'canceled':
      return 'Canceled';
    case 'exceededCpu':
      return 'Exceeded CPU Limit';
    case 'exceededMemory':
      return 'Exceeded Memory Limit';
    case 'exception':
      return 'Exception Thrown';
    default:
      return 'Unknown';
  }
}

/** The first line for an event, chosen by which fields `event` has, in wrangler's order. */
function headerLine(message: TraceEvent | TailNotice, color: boolean): string | undefined {
  const trace = message as Partial<TraceEvent>;
  const info = (message.event ?? undefined) as Record<string, unknown> | undefined;
  const outcome = prettifyOutcome(trace.outcome);
  const at = (ms: unknown): string => new Date(ms as number).toLocaleString();
  const has = (key: string): boolean => info !== undefined && key in info;

  if (has('cron')) {
    return `"${info!.cron}" @ ${at(info!.scheduledTime)} - ${outcome}`;
  }
  if (has('request')) {
    const request = info!.request as { method: string; url?: string };
    const datetime = at(trace.eventTimestamp);
    return request.url
      ? `${request.method.toUpperCase()} ${request.url} - ${outcome} @ ${datetime}`
      : `[missing request] - ${outcome} @ ${datetime}`;
  }
  if (has('mailFrom')) {
    return `Email from:${info!.mailFrom} to:${info!.rcptTo} size:${info!.rawSize} @ ${at(trace.eventTimestamp)} - ${outcome}`;
  }
  if (has('scheduledTime')) {
    return `Alarm @ ${at(info!.scheduledTime)} - ${outcome}`;
  }
  if (has('consumedEvents')) {
    const consumed = info!.consumedEvents as { scriptName?: string }[];
    const scripts = new Set(consumed.map((e) => e.scriptName).filter((name) => !!name));
    return `Tailing ${[...scripts].join(',')} - ${outcome} @ ${at(trace.eventTimestamp)}`;
  }
  if (has('message') && has('type')) {
    // Tail notices: wrangler prints these two and silently skips any other kind.
    if (info!.type === 'overload') return style(String(info!.message), RED_BOLD, color);
    if (info!.type === 'overload-stop') return style(String(info!.message), YELLOW_BOLD, color);
    return undefined;
  }
  if (has('queue')) {
    const batchSize = info!.batchSize as number;
    const messages = `${batchSize} message${batchSize !== 1 ? 's' : ''}`;
    return `Queue ${info!.queue} (${messages}) - ${outcome} @ ${at(trace.eventTimestamp)}`;
  }
  if (has('rpcMethod')) {
    const entrypoint = (message as { entrypoint?: string }).entrypoint;
    return `${entrypoint}.${info!.rpcMethod} - ${outcome} @ ${at(trace.eventTimestamp)}`;
  }
  return `Unknown Event - ${outcome} @ ${at(trace.eventTimestamp)}`;
}

// chalk's red.bold and yellow.bold: colour opened first, closed last.
const RED_BOLD = ['\x1b[31m\x1b[1m', '\x1b[22m\x1b[39m'] as const;
const YELLOW_BOLD = ['\x1b[33m\x1b[1m', '\x1b[22m\x1b[39m'] as const;

function style(text: string, [open, close]: readonly [string, string], color: boolean): string {
  return color ? `${open}${text}${close}` : text;
}

/**
 * An error as esbuild's formatMessagesSync renders it with kind "error", which is what wrangler's
 * logger.error prints: the first line after the `✘ [ERROR]` badge, a blank line, the remaining
 * lines as notes indented by two spaces, and a closing blank line.
 */
function errorBlock(text: string, color: boolean): string {
  const [first, ...notes] = text.split('\n');
  const badge = color
    ? `\x1b[31m✘ \x1b[41;31m[\x1b[41;97mERROR\x1b[41;31m]\x1b[0m \x1b[1m${first}\x1b[0m`
    : `✘ [ERROR] ${first}`;
  const body = notes.length > 0 ? notes.map((note) => `  ${note}\n`).join('') + '\n' : '';
  return `${badge}\n\n${body}`;
}
