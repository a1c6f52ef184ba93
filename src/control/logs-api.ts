// Workers Logs on the API port: persists every finished invocation's rows (from the trace bus)
// in the log store at `<stateDir>/logs.sqlite`, enforces retention, and answers Cloudflare's
// Workers Observability telemetry endpoints:
//   POST …/accounts/:account/workers/observability/telemetry/query   events | invocations | calculations
//   GET|POST …/telemetry/keys                                        the keys rows have
//   POST …/telemetry/values                                          the values a key has
// Any account id is accepted (dev serves one account). A store that cannot be opened leaves the
// workers running: the endpoints answer 503 and every row is counted as dropped.
import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import path from 'node:path';
import { KeyError, resolveKey } from '../observability/logs/keys.ts';
import { LOGS_ERROR, parseQueryRequest, QueryError } from '../observability/logs/query.ts';
import type { LogQuery, ViewResult } from '../observability/logs/query.ts';
import { RetentionSweeper } from '../observability/logs/retention.ts';
import type { LogStore } from '../observability/logs/store.ts';
import { openThreadedLogStore } from '../observability/logs/store-thread.ts';
import { LogWriter } from '../observability/logs/writer.ts';
import { sendEnvelope } from './api-server.ts';
import { JsonBodyError, readJsonBody } from './json-body.ts';
import type { PlatformContext, PlatformFeature } from './platform-context.ts';

export const LOGS_FILE = 'logs.sqlite';
const ROUTE = /^\/client\/v4\/accounts\/([^/]+)\/workers\/observability\/telemetry\/(query|keys|values)\/?$/;

function warn(message: string): void {
  process.stderr.write(`▲ [logs] ${message}\n`);
}

/** The body as JSON; an empty body is `emptyIs`, or an error when that is undefined. */
async function readJson(req: http.IncomingMessage, emptyIs: unknown): Promise<unknown> {
  let body: unknown;
  try {
    body = await readJsonBody(req);
  } catch (error) {
    if (!(error instanceof JsonBodyError)) throw error;
    throw new QueryError(LOGS_ERROR.unparseable, `Could not parse request body: ${error.message.replace(/^the request body is /, '')}`, error.tooLarge ? 413 : 400);
  }
  if (body !== undefined) return body;
  if (emptyIs !== undefined) return emptyIs;
  throw new QueryError(LOGS_ERROR.unparseable, 'Could not parse request body: it is empty; send a JSON query');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Cloudflare's `run` object: this query, run once and not saved. */
function runOf(query: LogQuery, accountId: string, result: ViewResult): Record<string, unknown> {
  const now = new Date().toISOString();
  return {
    id: randomUUID(),
    accountId,
    dry: true,
    granularity: query.granularity,
    query: {
      id: query.queryId ?? 'adhoc',
      adhoc: true,
      created: now,
      createdBy: 'flarelet',
      description: null,
      name: 'adhoc',
      parameters: query.parameters,
      updated: now,
      updatedBy: 'flarelet',
    },
    status: 'COMPLETED',
    timeframe: { from: query.from, to: query.to },
    userId: 'flarelet',
    created: now,
    updated: now,
    statistics: result.statistics,
  };
}

function limitOf(value: unknown, fallback: number, max: number): number {
  if (value === undefined || value === null || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new QueryError(LOGS_ERROR.invalidQuery, `limit must be a whole number from 1 to ${max}`);
  return n;
}

function needleText(value: unknown): string | undefined {
  const raw = isRecord(value) ? value.value : value;
  return raw === undefined || raw === null || raw === '' ? undefined : String(raw);
}

async function answerQuery(store: LogStore, req: http.IncomingMessage, res: http.ServerResponse, accountId: string): Promise<void> {
  const query = parseQueryRequest(await readJson(req, undefined));
  const result = await store.query(query);
  sendEnvelope(res, 200, { run: runOf(query, accountId, result), ...result });
}

async function answerKeys(store: LogStore, req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
  const body = req.method === 'POST' ? await readJson(req, {}) : {};
  if (!isRecord(body)) throw new QueryError(LOGS_ERROR.invalidQuery, 'the body must be a JSON object {keyNeedle?, limit?}');
  const needle = needleText(body.keyNeedle) ?? url.searchParams.get('needle') ?? undefined;
  const limit = limitOf(body.limit ?? url.searchParams.get('limit'), 1000, 10_000);
  sendEnvelope(res, 200, await store.keys({ needle, limit }));
}

async function answerValues(store: LogStore, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const body = await readJson(req, undefined);
  if (!isRecord(body)) throw new QueryError(LOGS_ERROR.invalidQuery, 'the body must be a JSON object {key, type, timeframe, needle?, limit?}');
  let key;
  try {
    key = resolveKey(body.key as string);
  } catch (error) {
    if (error instanceof KeyError) throw new QueryError(LOGS_ERROR.badKey, error.message);
    throw error;
  }
  const timeframe = body.timeframe;
  if (!isRecord(timeframe) || typeof timeframe.from !== 'number' || typeof timeframe.to !== 'number') {
    throw new QueryError(LOGS_ERROR.invalidQuery, '"timeframe" must be {from, to}, both in ms since the epoch');
  }
  const declared = body.type === 'number' || body.type === 'boolean' ? body.type : 'string';
  sendEnvelope(res, 200, await store.values({
    key,
    type: key.kind === 'field' ? key.type : declared,
    from: timeframe.from,
    to: timeframe.to,
    needle: needleText(body.needle),
    limit: limitOf(body.limit, 50, 1000),
  }));
}

function accountIdOf(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment; // a stray % is not worth refusing the query for
  }
}

export async function attachLogs(ctx: PlatformContext): Promise<PlatformFeature> {
  const file = path.join(ctx.stateDir, LOGS_FILE);
  let unavailable = '';
  const retention: { sweeper: RetentionSweeper | null } = { sweeper: null };
  // The store's thread takes ~0.1 s to start: it opens while the workers load, not before;
  // rows that arrive meanwhile wait in the writer's buffer.
  const opening: Promise<LogStore | null> = openThreadedLogStore(file).then(
    (store) => {
      retention.sweeper = new RetentionSweeper({ store, retentionDays: ctx.settings.logRetentionDays, warn });
      retention.sweeper.start();
      return store;
    },
    (error: Error) => {
      unavailable = `cannot open ${file}: ${error.message}`;
      warn(`${unavailable}. Workers keep running; their log rows are not stored (counted as dropped) and the logs API answers 503.`);
      return null;
    },
  );
  const writer = new LogWriter({ store: opening, bus: ctx.bus, workers: () => ctx.workers(), warn });

  ctx.api.addRoute(async (req, res, url) => {
    const match = ROUTE.exec(url.pathname);
    if (!match) return false;
    const [, accountId, endpoint] = match;
    const allowed = endpoint === 'keys' ? ['GET', 'POST'] : ['POST'];
    if (!allowed.includes(req.method ?? '')) {
      res.setHeader('allow', allowed.join(', '));
      sendEnvelope(res, 405, null, [{ code: 10000, message: `${req.method} is not allowed here; use ${allowed.join(' or ')}` }]);
      return true;
    }
    try {
      const store = await opening;
      if (!store) throw new QueryError(LOGS_ERROR.unavailable, `the log store is unavailable: ${unavailable}`, 503);
      if (endpoint === 'query') await answerQuery(store, req, res, accountIdOf(accountId));
      else if (endpoint === 'keys') await answerKeys(store, req, res, url);
      else await answerValues(store, req, res);
    } catch (error) {
      if (!(error instanceof QueryError)) throw error;
      if (res.headersSent) { res.destroy(); return true; }
      sendEnvelope(res, error.status, null, [{ code: error.code, message: error.message }]);
    }
    return true;
  });

  return {
    async close() {
      const store = await opening;
      await retention.sweeper?.close();
      await writer.close();
      await store?.close();
    },
  };
}
