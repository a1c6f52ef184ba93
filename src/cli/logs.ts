// `flarelet logs <worker>`: queries a worker's persisted logs on a running flarelet through the
// telemetry query API. The filter is parsed here first, so a typo is pointed at (column and what
// was expected, exit 2) before anything is sent. Unknown worker or unreachable server: exit 1.
import { ConfigError } from '../config/wrangler.ts';
import { parseQueryText, QuerySyntaxError } from '../observability/logs/query-text.ts';
import { MAX_LIMIT, toWireFilters } from '../observability/logs/query.ts';
import type { LogEvent } from '../observability/logs/query.ts';
import { parseArgs, UsageError } from './args.ts';

export const LOGS_USAGE = `Usage: flarelet logs <worker> [options]

Queries a worker's persisted logs (Workers Logs) on a running flarelet.

Options:
  -q, --query EXPR     filter, e.g. '$workers.outcome = "exception"', '$metadata.error EXISTS',
                       '$metadata.message includes "city" AND NOT $metadata.level = "debug"'
  --search TEXT        full-text search in messages
  --since WHEN         from: 45s, 30m, 1h, 2d, 1w ago, or an ISO time (default 1h)
  --until WHEN         to, same forms (default now)
  --limit N            rows, or invocations with --view invocations (default 50)
  --view V             events (one line per row, default) or invocations (rows grouped by request)
  --json               one JSON object per line (a row, or an invocation with its rows)
  --url URL            the flarelet API (default $FLARELET_API_URL or http://127.0.0.1:8788)
  --account ID         account id in the API path (default "flarelet")`;

const FLAGS = {
  query: { type: 'string', short: 'q' }, search: { type: 'string' }, since: { type: 'string' }, until: { type: 'string' },
  limit: { type: 'string' }, view: { type: 'string' }, json: { type: 'boolean' }, url: { type: 'string' },
  account: { type: 'string' }, help: { type: 'boolean', short: 'h' },
} as const;

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `30m`, `2d` (before `now`) or an ISO date-time, as ms since the epoch. */
export function parseWhen(value: string, flag: string, now: number): number {
  const relative = /^(\d+(?:\.\d+)?)\s*([smhdw])$/.exec(value.trim());
  if (relative) return now - Number(relative[1]) * UNIT_MS[relative[2]];
  if (/^\d{4}-\d{2}-\d{2}/.test(value)) {
    const ms = Date.parse(value);
    if (Number.isFinite(ms)) return ms;
  }
  throw new UsageError(`--${flag} takes a duration before now (45s, 30m, 1h, 2d, 1w) or an ISO time (2026-11-21T19:00:00Z), got ${JSON.stringify(value)}`);
}

/** An error shown as it is, with exit code 1 (the server, not the command line, is the problem). */
class LogsFailure extends Error {}

function fail(message: string): never {
  throw new LogsFailure(message);
}

interface Envelope {
  success?: boolean;
  errors?: { code: number; message: string }[];
  result?: unknown;
}

async function callApi(base: string, path: string, init: { method: string; body?: unknown }): Promise<Envelope> {
  const url = new URL(path, base);
  let response: Response;
  try {
    response = await fetch(url, {
      method: init.method,
      headers: init.body === undefined ? {} : { 'content-type': 'application/json' },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (error as Error).message;
    fail(`cannot reach flarelet at ${base} (${why}). Is \`flarelet dev\` running? Use --url to point elsewhere.`);
  }
  const text = await response.text();
  let envelope: Envelope;
  try {
    envelope = JSON.parse(text) as Envelope;
  } catch {
    fail(`${url} answered ${response.status} with something that is not Cloudflare's JSON envelope: is --url the flarelet API port?`);
  }
  return { ...envelope, success: envelope.success && response.ok };
}

function envelopeError(envelope: Envelope): string {
  return (envelope.errors ?? []).map((e) => `${e.message} [code: ${e.code}]`).join('; ') || 'unknown error';
}

/** Whether the server knows `worker`: it serves it, or the store has rows of it. */
async function workerKnown(base: string, account: string, worker: string): Promise<boolean> {
  const listing = await callApi(base, '/', { method: 'GET' });
  const served = (listing.result as { workers?: { name: string }[] } | undefined)?.workers;
  if (Array.isArray(served) && served.some((w) => w.name === worker)) return true;
  const stored = await callApi(base, `/client/v4/accounts/${encodeURIComponent(account)}/workers/observability/telemetry/query`, {
    method: 'POST',
    body: {
      timeframe: { from: 0, to: Date.now() + UNIT_MS.d },
      view: 'events',
      limit: 1,
      parameters: { filters: [{ key: '$workers.scriptName', operation: 'eq', type: 'string', value: worker }] },
    },
  });
  return Boolean(stored.success && (stored.result as { events?: { events?: unknown[] } })?.events?.events?.length);
}

function syntaxError(query: string, error: QuerySyntaxError): ConfigError {
  // The query again with a caret under the column, as compilers do.
  const caret = `${' '.repeat(Math.max(0, error.column - 1))}^`;
  return new ConfigError('--query', `${error.message}\n  ${query}\n  ${caret}`);
}

function time(ms: number): string {
  return new Date(ms).toISOString();
}

function indent(text: string, prefix: string): string {
  return text.replace(/\n/g, `\n${prefix}`);
}

function eventLine(event: LogEvent): string {
  const m = event.$metadata;
  const outcome = String(event.$workers.outcome ?? '');
  const head = `${time(event.timestamp)}  ${String(m.level ?? '').padEnd(5)}  ${outcome.padEnd(9)}  ${String(m.requestId ?? '')}  `;
  return `${head}${indent(String(m.message ?? ''), ' '.repeat(head.length))}`;
}

function invocationBlock(requestId: string, events: LogEvent[]): string {
  const main = events.find((e) => e.$metadata.type === 'cf-worker-event') ?? events[0];
  const w = main?.$workers ?? {};
  const status = main?.$metadata.statusCode ?? (w.event as { response?: { status?: number } } | undefined)?.response?.status ?? '';
  const title = main?.$metadata.type === 'cf-worker-event' ? String(main.$metadata.message) : String(main?.$metadata.trigger ?? w.eventType ?? '');
  const lines = [`── ${title}  ${String(w.outcome ?? '')}  ${status}  ${requestId}  ${main ? time(main.timestamp) : ''}`.replace(/ {3,}/g, '  ')];
  for (const event of events) {
    if (event === main && event.$metadata.type === 'cf-worker-event') continue;
    const head = `   ${time(event.timestamp).slice(11)}  ${String(event.$metadata.level ?? '').padEnd(5)}  `;
    lines.push(`${head}${indent(String(event.$metadata.message ?? ''), ' '.repeat(head.length))}`);
  }
  return lines.join('\n');
}

export async function runLogs(argv: string[]): Promise<void> {
  const { positional, flags } = parseArgs(argv, FLAGS as never);
  if (flags.help) {
    process.stdout.write(`${LOGS_USAGE}\n`);
    return;
  }
  if (positional.length !== 1) throw new UsageError(positional.length === 0 ? 'which worker? flarelet logs <worker>' : `one worker at a time, got ${positional.join(' ')}`);
  const worker = positional[0];
  const now = Date.now();
  const from = parseWhen((flags.since as string | undefined) ?? '1h', 'since', now);
  const to = flags.until === undefined ? now : parseWhen(flags.until as string, 'until', now);
  if (from > to) throw new UsageError('--since is after --until');
  const limit = flags.limit === undefined ? 50 : Number(flags.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new UsageError(`--limit must be a whole number from 1 to ${MAX_LIMIT}`);
  const view = (flags.view as string | undefined) ?? 'events';
  if (view !== 'events' && view !== 'invocations') throw new UsageError(`--view must be events or invocations, got ${view}`);
  let base = (flags.url as string | undefined) ?? process.env.FLARELET_API_URL ?? 'http://127.0.0.1:8788';
  try {
    base = new URL(base).toString();
  } catch {
    throw new UsageError(`--url must be a URL such as http://127.0.0.1:8788, got ${base}`);
  }
  const account = (flags.account as string | undefined) ?? 'flarelet';

  const filters: unknown[] = [{ key: '$workers.scriptName', operation: 'eq', type: 'string', value: worker }];
  const text = flags.query as string | undefined;
  if (text !== undefined) {
    let parsed;
    try {
      parsed = parseQueryText(text);
    } catch (error) {
      if (error instanceof QuerySyntaxError) throw syntaxError(text, error);
      throw error;
    }
    filters.push({ kind: 'group', ...toWireFilters(parsed) });
  }
  const search = flags.search as string | undefined;
  const body = {
    timeframe: { from, to },
    view,
    limit,
    parameters: {
      filters,
      filterCombination: 'and',
      ...(search ? { needle: { value: search, isRegex: false, matchCase: false } } : {}),
    },
  };

  try {
    const envelope = await callApi(base, `/client/v4/accounts/${encodeURIComponent(account)}/workers/observability/telemetry/query`, { method: 'POST', body });
    if (!envelope.success) fail(`the query was refused: ${envelopeError(envelope)}`);
    const result = envelope.result as { events?: { events: LogEvent[]; count: number }; invocations?: Record<string, LogEvent[]> };
    const shown = view === 'events' ? (result.events?.events.length ?? 0) : Object.keys(result.invocations ?? {}).length;
    if (shown === 0 && !(await workerKnown(base, account, worker))) {
      fail(`no worker named "${worker}" on ${base}: it serves no such worker and its log store has no rows of it`);
    }
    const json = Boolean(flags.json);
    const out: string[] = [];
    if (view === 'events') {
      // Oldest first, as a log reads; the page is the newest `limit` rows.
      const events = [...(result.events?.events ?? [])].reverse();
      for (const event of events) out.push(json ? JSON.stringify(event) : eventLine(event));
      const total = result.events?.count ?? events.length;
      if (!json) {
        process.stderr.write(
          events.length === 0
            ? `No logs of ${worker} from ${time(from)} to ${time(to)}.\n`
            : `${events.length} of ${total} rows of ${worker} from ${time(from)} to ${time(to)}${total > events.length ? ' (the newest; use --limit or --since for more)' : ''}.\n`,
        );
      }
    } else {
      const entries = Object.entries(result.invocations ?? {}).reverse();
      for (const [requestId, events] of entries) out.push(json ? JSON.stringify({ requestId, events }) : invocationBlock(requestId, events));
      if (!json && entries.length === 0) process.stderr.write(`No invocations of ${worker} from ${time(from)} to ${time(to)}.\n`);
    }
    if (out.length > 0) process.stdout.write(`${out.join('\n')}\n`);
  } catch (error) {
    if (!(error instanceof LogsFailure)) throw error;
    process.stderr.write(`flarelet logs: ${error.message}\n`);
    // main.ts prints unexpected errors with their stack; this one is an answer, not a crash.
    process.exit(1);
  }
}
