// `flarelet tail <worker>`: streams a worker's trace events live from a running platform, the way
// `wrangler tail` does from Cloudflare: it creates a tail over the REST API (with the filters the
// flags ask for), connects to its WebSocket (subprotocol trace-v1) and prints each event. When the
// platform goes away it creates a new tail and reconnects, waiting 1, 2, 4, 8, 16, 16… seconds;
// Ctrl-C deletes the tail and exits 0.
import { isIP } from 'node:net';
import WebSocket from 'ws';
import { WORKER_NAME } from '../config/wrangler.ts';
import { connectedLine, formatPretty } from '../observability/pretty.ts';
import type { TraceEvent } from '../protocol/trace.ts';
import { parseArgs, UsageError } from './args.ts';

export const TAIL_USAGE = `Usage: flarelet tail <worker> [options]

Streams a worker's trace events live from a running flarelet (one per invocation), like wrangler tail.

Options:
  --url URL                    the platform's API address (default http://127.0.0.1:8788)
  --format json|pretty         json: each event as indented JSON (wrangler tail --format json);
                               pretty: one readable block per event (default: pretty on a terminal, else json)
  --status ok|error|canceled   only invocations with this status (repeatable; error = exception,
                               exceededCpu, exceededMemory, unknown)
  --method METHOD              only requests with this HTTP method (repeatable)
  --header NAME[:TEXT]         only requests with this header (whose value contains TEXT)
  --search TEXT                only invocations whose console output or exceptions contain TEXT
  --ip IP|self                 only requests from this client IP; self = this machine's address as
                               the platform sees it (repeatable)
  --sampling-rate R            keep this fraction of the invocations (0 < R < 1)
  --version-id ID              only invocations of this worker version
  --debug                      also print invocations the filters hold back, with the filter that did`;

const FLAGS = {
  url: { type: 'string' }, format: { type: 'string' }, status: { type: 'list' }, method: { type: 'list' },
  header: { type: 'string' }, search: { type: 'string' }, ip: { type: 'list' }, 'sampling-rate': { type: 'string' },
  'version-id': { type: 'string' }, debug: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
} as const;

/** Waits before reconnect attempt n (1-based): 1, 2, 4, 8, 16 s, then 16 s for good. */
export const RECONNECT_BACKOFF_MS = [1000, 2000, 4000, 8000, 16000];
const PING_INTERVAL_MS = 10_000;
const TRACE_PROTOCOL = 'trace-v1';
const STATUSES = ['ok', 'error', 'canceled'];

export interface TailOptions {
  worker: string;
  apiUrl: string;
  format: 'json' | 'pretty';
  filters: Record<string, unknown>[];
  debug: boolean;
}

/** The flags as wrangler translates them (`translateCLICommandToFilterMessage`), in its order. */
export function tailOptions(argv: string[], stdoutIsTty: boolean): TailOptions | null {
  const { positional, flags } = parseArgs(argv, FLAGS as never);
  if (flags.help) return null;
  if (positional.length !== 1) throw new UsageError(positional.length === 0 ? 'which worker? Give its name: flarelet tail <worker>' : `one worker at a time, got ${positional.join(' ')}`);
  const worker = positional[0];
  if (!WORKER_NAME.test(worker)) throw new UsageError(`"${worker}" is not a valid worker name`);
  const format = (flags.format as string | undefined) ?? (stdoutIsTty ? 'pretty' : 'json');
  if (format !== 'json' && format !== 'pretty') throw new UsageError(`--format must be json or pretty, got ${format}`);
  let apiUrl: URL;
  try {
    apiUrl = new URL((flags.url as string | undefined) ?? 'http://127.0.0.1:8788');
  } catch {
    throw new UsageError(`--url must be a URL like http://127.0.0.1:8788, got ${String(flags.url)}`);
  }
  if (apiUrl.protocol !== 'http:' && apiUrl.protocol !== 'https:') throw new UsageError(`--url must be an http:// or https:// URL, got ${apiUrl.href}`);

  const filters: Record<string, unknown>[] = [];
  if (flags['sampling-rate'] !== undefined) {
    const rate = Number(flags['sampling-rate']);
    if (!(rate > 0 && rate < 1)) throw new UsageError(`--sampling-rate must be a number between 0 and 1 (e.g. 0.25 keeps a quarter of the events), got ${String(flags['sampling-rate'])}`);
    filters.push({ sampling_rate: rate });
  }
  const statuses = (flags.status as string[] | undefined) ?? [];
  if (statuses.length > 0) {
    const outcomes = new Set<string>();
    for (const status of statuses) {
      if (!STATUSES.includes(status)) throw new UsageError(`--status must be ok, error or canceled, got ${status}`);
      if (status === 'error') for (const o of ['exception', 'exceededCpu', 'exceededMemory', 'unknown']) outcomes.add(o);
      else outcomes.add(status);
    }
    filters.push({ outcome: [...outcomes] });
  }
  const methods = (flags.method as string[] | undefined) ?? [];
  if (methods.length > 0) {
    for (const method of methods) if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(method)) throw new UsageError(`--method must be an HTTP method, got ${JSON.stringify(method)}`);
    filters.push({ method: methods });
  }
  if (flags.header !== undefined) {
    const header = flags.header as string;
    const colon = header.indexOf(':');
    const key = (colon === -1 ? header : header.slice(0, colon)).trim();
    if (key === '') throw new UsageError(`--header takes NAME or NAME:TEXT, got ${JSON.stringify(header)}`);
    filters.push({ header: colon === -1 ? { key } : { key, query: header.slice(colon + 1).trim() } });
  }
  const ips = (flags.ip as string[] | undefined) ?? [];
  if (ips.length > 0) {
    for (const ip of ips) if (ip !== 'self' && isIP(ip) === 0) throw new UsageError(`--ip must be an IP address or self, got ${JSON.stringify(ip)}`);
    filters.push({ client_ip: ips });
  }
  if (flags.search !== undefined) {
    if (flags.search === '') throw new UsageError('--search needs some text');
    filters.push({ query: flags.search });
  }
  if (flags['version-id'] !== undefined) {
    if (flags['version-id'] === '') throw new UsageError('--version-id needs a version id');
    filters.push({ scriptVersion: flags['version-id'] });
  }
  return { worker, apiUrl: apiUrl.href.replace(/\/+$/, ''), format, filters, debug: Boolean(flags.debug) };
}

interface CreatedTail {
  id: string;
  url: string;
  expires_at: string;
}

/** An API answer that was not a success: its envelope's messages, as wrangler prints them. */
class ApiError extends Error {}

async function callApi(method: string, url: string, body?: unknown): Promise<unknown> {
  const response = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  let envelope: { success?: boolean; errors?: { code: number; message: string }[]; result?: unknown };
  try {
    envelope = JSON.parse(text);
  } catch {
    throw new ApiError(`${method} ${url} answered ${response.status} with something other than JSON: ${text.slice(0, 200)}`);
  }
  if (!response.ok || envelope.success === false) {
    const errors = (envelope.errors ?? []).map((e) => `${e.message} [code: ${e.code}]`).join('; ');
    throw new ApiError(errors || `${method} ${url} answered ${response.status}`);
  }
  return envelope.result;
}

function describeFailure(error: unknown): string {
  const message = (error as Error)?.message ?? String(error);
  // fetch hides the network error in `cause` (an AggregateError when several addresses were tried).
  const cause = (error as { cause?: { code?: string; message?: string; errors?: { code?: string }[] } }).cause;
  const code = cause?.code ?? cause?.errors?.[0]?.code;
  if (code) return `${message} (${code})`;
  return cause?.message ? `${message} (${cause.message})` : message;
}

interface StreamEnd {
  /** the connection opened (the tail was live for a while) */
  opened: boolean;
  code: number;
  reason: string;
}

export async function runTail(argv: string[]): Promise<void> {
  const options = tailOptions(argv, Boolean(process.stdout.isTTY));
  if (options === null) {
    process.stdout.write(`${TAIL_USAGE}\n`);
    return;
  }
  const { worker, apiUrl, format, filters, debug } = options;
  const pretty = format === 'pretty';
  const color = pretty && Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
  // A reader that goes away (`flarelet tail … | head`) ends the tail like Ctrl-C does.
  let stdoutGone = false;
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    stdoutGone = true;
    stop();
  });
  const out = (line: string) => { if (!stdoutGone) process.stdout.write(`${line}\n`); };
  const err = (line: string) => process.stderr.write(`${line}\n`);
  // In json mode stdout carries events only; what a person reads goes to stderr.
  const say = pretty ? out : err;
  const tailsUrl = `${apiUrl}/client/v4/accounts/local/workers/scripts/${encodeURIComponent(worker)}/tails`;

  let stopping = false;
  let current: { ws: WebSocket; id: string } | null = null;
  let wake: (() => void) | null = null;
  const sleep = (ms: number) => new Promise<void>((resolve) => {
    const timer = setTimeout(() => { wake = null; resolve(); }, ms);
    wake = () => { clearTimeout(timer); wake = null; resolve(); };
  });

  let stopped!: () => void;
  const whenStopped = new Promise<void>((resolve) => { stopped = resolve; });
  const stop = () => {
    if (stopping) return;
    stopping = true;
    if (pretty) out('\nStopping tail...');
    wake?.();
    const tail = current;
    current = null;
    if (tail === null) { stopped(); return; }
    tail.ws.close(1000, 'client stopped');
    callApi('DELETE', `${tailsUrl}/${tail.id}`).catch(() => { /* it ended with its connection anyway */ }).finally(stopped);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  const printEvent = (text: string) => {
    let message: TraceEvent & { filteredBy?: unknown };
    try {
      message = JSON.parse(text);
    } catch {
      err(`(a message that is not JSON: ${text.slice(0, 200)})`);
      return;
    }
    const notice = message.event as { type?: unknown; message?: unknown } | null;
    const isNotice = notice !== null && typeof notice === 'object' && 'type' in notice && 'message' in notice;
    if (!pretty) {
      out(JSON.stringify(message, null, 4));
      if (isNotice) err(`⚠ ${String(notice.message)}`);
      return;
    }
    const { stdout, stderr } = formatPretty(message, { color });
    if (message.filteredBy !== undefined && stdout.length > 0) {
      stdout.splice(1, 0, `  (debug) held back by the filter ${JSON.stringify(message.filteredBy)}`);
    }
    for (const line of stdout) out(line);
    for (const line of stderr) err(line);
  };

  /** Opens the WebSocket of a created tail and streams until it closes. */
  const stream = (tail: CreatedTail, reconnected: boolean) => new Promise<StreamEnd>((resolve) => {
    const ws = new WebSocket(tail.url, TRACE_PROTOCOL, { perMessageDeflate: false, handshakeTimeout: 10_000 });
    current = { ws, id: tail.id };
    let opened = false;
    let failure = '';
    let ping: NodeJS.Timeout | undefined;
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => { body += chunk; });
      res.on('end', () => {
        try { failure = (JSON.parse(body) as { errors: { message: string }[] }).errors[0].message; } catch { failure = `HTTP ${res.statusCode}`; }
        ws.terminate();
      });
    });
    ws.on('open', () => {
      opened = true;
      ws.send(JSON.stringify({ debug }));
      if (reconnected) say(`Reconnected to ${worker}.`);
      else say(connectedLine(worker));
      // Keep-alive as wrangler does: a ping every 10 s; no pong by the next one = connection lost.
      let waiting = false;
      ping = setInterval(() => {
        if (waiting) {
          failure = `no answer to a keep-alive ping within ${PING_INTERVAL_MS / 1000} s`;
          ws.terminate();
          return;
        }
        waiting = true;
        ws.ping();
      }, PING_INTERVAL_MS);
      ws.on('pong', () => { waiting = false; });
    });
    ws.on('message', (data) => printEvent(data.toString()));
    ws.on('error', (error) => { failure ||= describeFailure(error); });
    ws.on('close', (code, reason) => {
      clearInterval(ping);
      if (current?.ws === ws) current = null;
      resolve({ opened, code, reason: reason.toString() || failure });
    });
  });

  let attempt = 0;
  let created = false;
  let opened = false;
  const backOff = async (reason: string) => {
    attempt++;
    const delay = RECONNECT_BACKOFF_MS[Math.min(attempt, RECONNECT_BACKOFF_MS.length) - 1];
    err(`Tail connection lost (${reason}). Reconnecting in ${delay / 1000}s (attempt ${attempt})...`);
    await sleep(delay);
  };
  while (!stopping) {
    let tail: CreatedTail;
    try {
      tail = (await callApi('POST', tailsUrl, { filters })) as CreatedTail;
    } catch (error) {
      const reason = describeFailure(error);
      if (!created) {
        // At start a failure is a mistake to report (wrong --url, unknown worker), not an outage.
        err(`flarelet: cannot create a tail of ${worker} at ${apiUrl}: ${reason}`);
        if (/ECONNREFUSED|ECONNRESET|EHOSTUNREACH|fetch failed/.test(reason)) err('Is flarelet running there? (--url sets the address of its API port)');
        process.exit(1);
      }
      await backOff(reason);
      continue;
    }
    if (stopping) {
      await callApi('DELETE', `${tailsUrl}/${tail.id}`).catch(() => {});
      break;
    }
    if (!created && pretty) out(`Successfully created tail, expires at ${tail.expires_at}`);
    created = true;
    const end = await stream(tail, opened);
    if (stopping) break;
    if (end.opened) {
      opened = true;
      attempt = 0;
    }
    if (end.code === 1000) {
      if (/expired/i.test(end.reason)) {
        say('The tail expired; creating a new one.');
        continue;
      }
      say(`The tail was closed by the platform${end.reason ? `: ${end.reason}` : '.'}`);
      break;
    }
    await backOff(end.reason || `code ${end.code}`);
  }
  if (stopping) await whenStopped;
  process.removeListener('SIGINT', stop);
  process.removeListener('SIGTERM', stop);
}
