// The metrics feature: counts every finished invocation (and every event a consumer dropped) and
// serves them on the API port, as Prometheus text at GET /metrics and as per-minute JSON series
// for charts at GET /client/v4/accounts/:account/workers/scripts/:name/metrics.
import type http from 'node:http';
import { collectorsOf } from '../observability/metrics/collectors.ts';
import { PROMETHEUS_CONTENT_TYPE, renderFamilies } from '../observability/metrics/prometheus.ts';
import type { MetricFamily } from '../observability/metrics/prometheus.ts';
import { MetricsStore, minuteStart, MINUTE_MS, RETAINED_MINUTES } from '../observability/metrics/store.ts';
import { sendEnvelope } from './api-server.ts';
import type { PlatformContext, PlatformFeature } from './platform-context.ts';

const SERIES_PATH = /^\/client\/v4\/accounts\/([^/]+)\/workers\/scripts\/([^/]+)\/metrics\/?$/;
const DEFAULT_RANGE_MS = 60 * MINUTE_MS;
/** Code of a request whose parameters are invalid (Flarelet decides; see docs/metrics.md). */
export const INVALID_PARAMETER_CODE = 1002;
export const WORKER_NOT_FOUND_CODE = 10007;
export const WORKER_NOT_FOUND_MESSAGE = 'This Worker does not exist on your account.';

class ParameterError extends Error {}

/** A time given as an ISO 8601 date-time or as whole milliseconds since the epoch. */
function parseTime(value: string, name: string): number {
  if (/^\d{1,16}$/.test(value)) return Number(value);
  const ms = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : NaN;
  if (!Number.isFinite(ms)) {
    throw new ParameterError(`${name} must be an ISO 8601 date-time (2026-01-31T12:00:00Z) or milliseconds since the epoch, got "${value}"`);
  }
  return ms;
}

/** The [since, until) range the query asks for, checked. */
export function parseRange(params: URLSearchParams, now: number): { since: number; until: number } {
  for (const key of params.keys()) {
    if (key !== 'since' && key !== 'until') throw new ParameterError(`unknown parameter "${key}"; the parameters are since and until`);
  }
  const untilRaw = params.get('until');
  const sinceRaw = params.get('since');
  const until = untilRaw === null ? now : parseTime(untilRaw, 'until');
  const since = sinceRaw === null ? until - DEFAULT_RANGE_MS : parseTime(sinceRaw, 'since');
  if (!(since < until)) throw new ParameterError(`since (${new Date(since).toISOString()}) must be before until (${new Date(until).toISOString()})`);
  const minutes = Math.ceil((until - minuteStart(since)) / MINUTE_MS);
  if (minutes > RETAINED_MINUTES) {
    throw new ParameterError(`the range covers ${minutes} minutes; at most ${RETAINED_MINUTES} (24 hours, the time per-minute data is kept) per query`);
  }
  return { since, until };
}

export async function attachMetrics(ctx: PlatformContext): Promise<PlatformFeature> {
  const store = new MetricsStore();
  const unsubscribe = ctx.bus.subscribe((event, facts) => store.record(event, facts));
  const unsubscribeDrops = ctx.bus.onDropped((scriptName, consumer, count) => store.recordDropped(scriptName, consumer, count));

  const knownWorker = (name: string) => store.has(name) || ctx.workers().some((w) => w.name === name);

  ctx.api.addRoute((req: http.IncomingMessage, res: http.ServerResponse, url: URL) => {
    if (url.pathname === '/metrics') {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
        res.end('method not allowed: /metrics answers GET\n');
        return true;
      }
      for (const worker of ctx.workers()) store.declare(worker.name);
      const families: MetricFamily[] = [...store.families()];
      for (const collect of collectorsOf(ctx.bus)) {
        try {
          families.push(...collect());
        } catch (error) {
          // One broken collector must not take the whole scrape down.
          process.emitWarning(`metrics collector failed: ${(error as Error)?.message ?? String(error)}`);
        }
      }
      const body = renderFamilies(families);
      res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
      return true;
    }
    const match = SERIES_PATH.exec(url.pathname);
    if (!match || req.method !== 'GET') return false;
    let name: string;
    try {
      name = decodeURIComponent(match[2]!);
    } catch {
      sendEnvelope(res, 400, null, [{ code: INVALID_PARAMETER_CODE, message: 'the worker name in the path is not valid percent-encoding' }]);
      return true;
    }
    if (!knownWorker(name)) {
      sendEnvelope(res, 404, null, [{ code: WORKER_NOT_FOUND_CODE, message: WORKER_NOT_FOUND_MESSAGE }]);
      return true;
    }
    try {
      const { since, until } = parseRange(url.searchParams, Date.now());
      sendEnvelope(res, 200, store.series(name, since, until));
    } catch (error) {
      if (!(error instanceof ParameterError)) throw error;
      sendEnvelope(res, 400, null, [{ code: INVALID_PARAMETER_CODE, message: error.message }]);
    }
    return true;
  });

  return {
    async close() {
      unsubscribe();
      unsubscribeDrops();
    },
  };
}
