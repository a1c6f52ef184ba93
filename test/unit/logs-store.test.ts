// The SQLite log store with a real file: every filter operation (and its spellings), the two seed
// queries, JSON keys, the needle, the three views, pagination, calculations, retention, keys and
// values, a full disk, the request checks of the query API, and the store's thread.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { resolveKey } from '../../src/observability/logs/keys.ts';
import { parseQueryText } from '../../src/observability/logs/query-text.ts';
import { LOGS_ERROR, parseQueryRequest, QueryError, toWireFilters } from '../../src/observability/logs/query.ts';
import type { LogEvent, ViewResult } from '../../src/observability/logs/query.ts';
import { SqliteLogStore } from '../../src/observability/logs/sqlite-store.ts';
import { deleteInChunks, openThreadedLogStore } from '../../src/observability/logs/store-thread.ts';
import type { Outcome, TraceEvent, TraceException, TraceLog } from '../../src/protocol/trace.ts';

const T = 1_700_000_000_000;
const TIMEFRAME = { from: T - 1, to: T + 10_000 };

interface Spec {
  at: number;
  worker: string;
  method: string;
  url: string;
  outcome: Outcome;
  status?: number;
  cpu: number;
  wall: number;
  ray: string;
  ua: string;
  country: string;
  logs?: Omit<TraceLog, 'timestamp'>[];
  exceptions?: Omit<TraceException, 'timestamp'>[];
}

function trace(spec: Spec): TraceEvent {
  let tick = spec.at;
  return {
    wallTime: spec.wall,
    cpuTime: spec.cpu,
    truncated: false,
    executionModel: 'stateless',
    outcome: spec.outcome,
    scriptVersion: { id: 'v1' },
    scriptName: spec.worker,
    diagnosticsChannelEvents: [],
    logs: (spec.logs ?? []).map((log) => ({ ...log, timestamp: ++tick })),
    exceptions: (spec.exceptions ?? []).map((exception) => ({ ...exception, timestamp: ++tick })),
    eventTimestamp: spec.at,
    event: {
      request: { url: spec.url, method: spec.method, headers: { 'cf-ray': spec.ray, 'user-agent': spec.ua }, cf: { country: spec.country } },
      ...(spec.status === undefined ? {} : { response: { status: spec.status } }),
    },
  };
}

const RAY = { A: 'a000000000000001-LCL', B: 'b000000000000002-LCL', C: 'c000000000000003-LCL', D: 'd000000000000004-LCL', E: 'e000000000000005-LCL' };

const EVENTS: TraceEvent[] = [
  trace({
    at: T, worker: 'shop', method: 'GET', url: 'https://shop.example.com/', outcome: 'ok', status: 200, cpu: 2, wall: 10, ray: RAY.A, ua: 'curl/8', country: 'FR',
    logs: [{ message: ['visitor from Paris'], level: 'log' }, { message: [{ user: 'u1', items: 2 }], level: 'info' }],
  }),
  trace({
    at: T + 1000, worker: 'shop', method: 'POST', url: 'https://shop.example.com/cart', outcome: 'exception', status: 500, cpu: 5, wall: 30, ray: RAY.B, ua: 'Mozilla/5.0', country: 'DE',
    logs: [
      { message: ['adding to cart'], level: 'log' },
      { message: ['failed:', 'Error: db down'], level: 'error', errorInfo: [null, { name: 'Error', message: 'db down' }] },
    ],
    exceptions: [{ name: 'TypeError', message: 'cart is undefined', stack: '    at add (cart.js:3:9)' }],
  }),
  trace({
    at: T + 2000, worker: 'blog', method: 'GET', url: 'https://blog.example.com/search?q=Osaka', outcome: 'ok', status: 200, cpu: 1, wall: 5, ray: RAY.C, ua: 'curl/8', country: 'JP',
    logs: [{ message: ['City OSAKA searched'], level: 'debug' }, { message: [{ user: 'u2', items: 7 }], level: 'warn' }],
  }),
  trace({
    at: T + 3000, worker: 'shop', method: 'GET', url: 'https://shop.example.com/slow', outcome: 'exceededCpu', status: 503, cpu: 60, wall: 61, ray: RAY.D, ua: 'curl/8', country: 'FR',
    exceptions: [{ name: 'Error', message: 'Worker exceeded CPU time limit.' }],
  }),
  trace({
    at: T + 4000, worker: 'blog', method: 'GET', url: 'https://blog.example.com/x', outcome: 'canceled', cpu: 0, wall: 3, ray: RAY.E, ua: 'curl/8', country: 'FR',
    logs: [{ message: ['ab'], level: 'log' }],
  }),
];

const ROWS_OF: Record<string, string[]> = {
  A: ['GET https://shop.example.com/', 'visitor from Paris', '{"user":"u1","items":2}'],
  B: ['POST https://shop.example.com/cart', 'adding to cart', 'failed: Error: db down', 'TypeError: cart is undefined'],
  C: ['GET https://blog.example.com/search?q=Osaka', 'City OSAKA searched', '{"user":"u2","items":7}'],
  D: ['GET https://shop.example.com/slow', 'Error: Worker exceeded CPU time limit.'],
  E: ['GET https://blog.example.com/x', 'ab'],
};
const ALL = Object.values(ROWS_OF).flat();
const of = (...invocations: string[]) => invocations.flatMap((name) => ROWS_OF[name]).sort();

let dir: string;
let store: SqliteLogStore;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'flarelet-logs-store-'));
  store = SqliteLogStore.open(join(dir, 'logs.sqlite'));
  const outcome = store.write(EVENTS.map((event) => ({ event, invocationRow: true })));
  assert.deepEqual(outcome, { stored: 14, failed: {} });
});

after(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

function run(body: Record<string, unknown>): ViewResult {
  return store.query(parseQueryRequest({ timeframe: TIMEFRAME, limit: 100, ...body }));
}

function events(parameters: Record<string, unknown>, body: Record<string, unknown> = {}): LogEvent[] {
  return run({ view: 'events', parameters, ...body }).events!.events;
}

/** The messages of the rows a filter list selects, sorted. */
function messages(filters: unknown[], filterCombination = 'and'): string[] {
  return events({ filters, filterCombination }).map((e) => e.$metadata.message as string).sort();
}

const f = (key: string, operation: string, value?: unknown, type?: string) => ({ key, operation, ...(type ? { type } : {}), ...(value === undefined ? {} : { value }) });

/** The messages selected by a query in the text language. */
function text(query: string): string[] {
  return events(toWireFilters(parseQueryText(query))).map((e) => e.$metadata.message as string).sort();
}

describe('the seed queries', () => {
  test('$metadata.error EXISTS finds the error rows (exceptions and logged Errors)', () => {
    assert.deepEqual(text('$metadata.error EXISTS'), ['Error: Worker exceeded CPU time limit.', 'TypeError: cart is undefined', 'failed: Error: db down']);
  });
  test('$workers.outcome = "exception" finds every row of the invocations that threw', () => {
    assert.deepEqual(text('$workers.outcome = "exception"'), of('B'));
  });
});

describe('every operation', () => {
  test('eq (and =, ==, EQ)', () => {
    for (const op of ['eq', '=', '==', 'EQ']) assert.deepEqual(messages([f('$workers.outcome', op, 'exception')]), of('B'), op);
  });
  test('neq (and !=): rows without the key count as different', () => {
    assert.deepEqual(messages([f('$workers.outcome', 'neq', 'ok')]), of('B', 'D', 'E'));
    assert.deepEqual(messages([f('$workers.outcome', '!=', 'ok')]), of('B', 'D', 'E'));
    assert.deepEqual(messages([f('$metadata.error', 'neq', 'db down')]), ALL.filter((m) => m !== 'failed: Error: db down').sort());
  });
  test('gt gte lt lte (and > >= < <=) on numbers', () => {
    assert.deepEqual(messages([f('$workers.cpuTimeMs', 'gt', 2)]), of('B', 'D'));
    assert.deepEqual(messages([f('$workers.cpuTimeMs', '>', 2)]), of('B', 'D'));
    assert.deepEqual(messages([f('$workers.cpuTimeMs', 'gte', 2)]), of('A', 'B', 'D'));
    assert.deepEqual(messages([f('$workers.cpuTimeMs', '>=', 2)]), of('A', 'B', 'D'));
    assert.deepEqual(messages([f('$workers.cpuTimeMs', 'lt', 2)]), of('C', 'E'));
    assert.deepEqual(messages([f('$workers.cpuTimeMs', '<', 2)]), of('C', 'E'));
    assert.deepEqual(messages([f('$workers.cpuTimeMs', 'lte', 2)]), of('A', 'C', 'E'));
    assert.deepEqual(messages([f('$workers.cpuTimeMs', '<=', 2)]), of('A', 'C', 'E'));
  });
  test('a number sent as text is compared as a number on a numeric key', () => {
    assert.deepEqual(messages([f('$workers.cpuTimeMs', 'eq', '5', 'string')]), of('B'));
  });
  test('includes / INCLUDES (case-sensitive)', () => {
    assert.deepEqual(messages([f('$metadata.message', 'includes', 'cart')]), ['POST https://shop.example.com/cart', 'TypeError: cart is undefined', 'adding to cart']);
    assert.deepEqual(messages([f('$metadata.message', 'INCLUDES', 'Cart')]), []);
  });
  test('not_includes / NOT_INCLUDES / DOES_NOT_INCLUDE', () => {
    const expected = ALL.filter((m) => !m.includes('shop')).sort();
    for (const op of ['not_includes', 'NOT_INCLUDES', 'DOES_NOT_INCLUDE', 'doesNotInclude']) assert.deepEqual(messages([f('$metadata.message', op, 'shop')]), expected, op);
  });
  test('starts_with / STARTS_WITH and ends_with / ENDS_WITH', () => {
    assert.deepEqual(messages([f('$metadata.message', 'starts_with', 'GET ')]), [...ROWS_OF.A.slice(0, 1), ...ROWS_OF.C.slice(0, 1), ...ROWS_OF.D.slice(0, 1), ...ROWS_OF.E.slice(0, 1)].sort());
    assert.deepEqual(messages([f('$metadata.message', 'STARTS_WITH', 'GET ')]).length, 4);
    assert.deepEqual(messages([f('$metadata.message', 'ends_with', 'Paris')]), ['visitor from Paris']);
    assert.deepEqual(messages([f('$metadata.message', 'ENDS_WITH', 'limit.')]), ['Error: Worker exceeded CPU time limit.']);
  });
  test('regex / REGEX / MATCH_REGEX', () => {
    assert.deepEqual(messages([f('$metadata.message', 'regex', '^[A-Z][a-z]+Error: ')]), ['TypeError: cart is undefined']);
    assert.deepEqual(messages([f('$metadata.message', 'MATCH_REGEX', 'q=Os(aka)?$')]), ['GET https://blog.example.com/search?q=Osaka']);
    assert.deepEqual(messages([f('$workers.event.response.status', 'REGEX', '^5\\d\\d$')]), of('B', 'D'));
  });
  test('exists / EXISTS and is_null / IS_NULL / DOES_NOT_EXIST', () => {
    assert.deepEqual(messages([f('$metadata.error', 'EXISTS')]).length, 3);
    for (const op of ['is_null', 'IS_NULL', 'DOES_NOT_EXIST']) assert.deepEqual(messages([f('$metadata.error', op)]).length, 11, op);
  });
  test('in / IN and not_in / NOT_IN (a list, or text separated by commas)', () => {
    assert.deepEqual(messages([f('$workers.outcome', 'in', ['exception', 'canceled'])]), of('B', 'E'));
    assert.deepEqual(messages([f('$workers.outcome', 'IN', 'exception, canceled')]), of('B', 'E'));
    assert.deepEqual(messages([f('$workers.event.response.status', 'in', [500, 503])]), of('B', 'D'));
    assert.deepEqual(messages([f('$workers.scriptName', 'not_in', ['shop'])]), of('C', 'E'));
    assert.deepEqual(messages([f('$workers.scriptName', 'NOT_IN', 'shop')]), of('C', 'E'));
  });
});

describe('keys', () => {
  test('$metadata fields', () => {
    assert.deepEqual(messages([f('$metadata.service', 'eq', 'blog')]), of('C', 'E'));
    assert.deepEqual(messages([f('$metadata.level', 'eq', 'error')]).length, 5);
    assert.deepEqual(messages([f('$metadata.type', 'eq', 'cf-worker-exception')]), ['Error: Worker exceeded CPU time limit.', 'TypeError: cart is undefined']);
    assert.deepEqual(messages([f('$metadata.statusCode', 'eq', 500)]), ['POST https://shop.example.com/cart']);
    assert.deepEqual(messages([f('$metadata.url', 'exists')]).length, 5);
    assert.deepEqual(messages([f('$metadata.trigger', 'eq', 'POST /cart')]), of('B'));
    assert.deepEqual(messages([f('$metadata.origin', 'eq', 'fetch')]).length, 14);
  });
  test('$workers fields, typed and inside the event', () => {
    assert.deepEqual(messages([f('$workers.event.response.status', 'eq', 500)]), of('B'));
    assert.deepEqual(messages([f('$workers.event.request.method', 'eq', 'POST')]), of('B'));
    assert.deepEqual(messages([f('$workers.event.request.path', 'eq', '/slow')]), of('D'));
    assert.deepEqual(messages([f('$workers.event.request.headers.user-agent', 'includes', 'Mozilla')]), of('B'));
    assert.deepEqual(messages([f('$workers.event.request.cf.country', 'eq', 'JP')]), of('C'));
    assert.deepEqual(messages([f('$workers.truncated', 'eq', false)]).length, 14);
    assert.deepEqual(messages([f('$workers.scriptVersion.id', 'eq', 'v1')]).length, 14);
    assert.deepEqual(messages([f('$workers.wallTimeMs', 'gt', 60)]), of('D'));
  });
  test('request ids (found through the invocations) and $metadata.id', () => {
    assert.deepEqual(messages([f('$metadata.requestId', 'eq', RAY.B)]), of('B'));
    assert.deepEqual(messages([f('$workers.requestId', 'in', [RAY.A, RAY.C])]), of('A', 'C'));
    assert.deepEqual(messages([f('$metadata.requestId', 'starts_with', 'b0')]), of('B'));
    const one = events({})[3];
    assert.deepEqual(events({ filters: [f('$metadata.id', 'eq', one.$metadata.id)] }).map((e) => e.$metadata.id), [one.$metadata.id]);
  });
  test('fields of a structured console.log', () => {
    assert.deepEqual(messages([f('user', 'eq', 'u2')]), ['{"user":"u2","items":7}']);
    assert.deepEqual(messages([f('items', 'gt', 3, 'number')]), ['{"user":"u2","items":7}']);
    assert.deepEqual(messages([f('items', 'gt', 1, 'number')]), ['{"user":"u1","items":2}', '{"user":"u2","items":7}']);
    assert.deepEqual(text('items >= 2 AND user = "u1"'), ['{"user":"u1","items":2}']);
  });
});

describe('combinations', () => {
  test('or', () => {
    assert.deepEqual(messages([f('$workers.outcome', 'eq', 'exception'), f('$workers.scriptName', 'eq', 'blog')], 'or'), of('B', 'C', 'E'));
    assert.deepEqual(messages([f('$workers.outcome', 'eq', 'exception'), f('$workers.scriptName', 'eq', 'blog')], 'OR'), of('B', 'C', 'E'));
  });
  test('nested groups', () => {
    const filters = [f('$workers.scriptName', 'eq', 'shop'), { kind: 'group', filterCombination: 'or', filters: [f('$workers.outcome', 'eq', 'exception'), f('$workers.cpuTimeMs', 'gt', 50)] }];
    assert.deepEqual(messages(filters), of('B', 'D'));
  });
  test('a negated group (NOT in the text form)', () => {
    assert.deepEqual(text('NOT $metadata.message starts_with "GET"'), ALL.filter((m) => !m.startsWith('GET')).sort());
    assert.deepEqual(text('NOT ($workers.scriptName = "shop" OR $workers.outcome = "canceled")'), of('C'));
  });
  test('the text form with AND and OR', () => {
    assert.deepEqual(text('$workers.outcome = "exception" AND $workers.event.request.method = "POST" OR $metadata.message includes "OSAKA"'), [...of('B'), 'City OSAKA searched'].sort());
  });
});

describe('the needle (full-text search of messages)', () => {
  const needle = (value: string, isRegex = false, matchCase = false) => events({ needle: { value, isRegex, matchCase } }).map((e) => e.$metadata.message).sort();
  test('a substring, case-insensitive', () => {
    assert.deepEqual(needle('osaka'), ['City OSAKA searched', 'GET https://blog.example.com/search?q=Osaka']);
    assert.deepEqual(needle('xample.co').length, 5);
  });
  test('matchCase', () => {
    assert.deepEqual(needle('OSAKA', false, true), ['City OSAKA searched']);
  });
  test('needles shorter than the index (under 3 characters)', () => {
    assert.deepEqual(needle('ab'), ['ab']);
    assert.deepEqual(needle('AB', false, true), []);
  });
  test('a regex', () => {
    assert.deepEqual(needle('os?aka$', true), ['GET https://blog.example.com/search?q=Osaka']);
    assert.deepEqual(needle('OSAKA\\s', true, true), ['City OSAKA searched']);
  });
  test('with filters', () => {
    assert.deepEqual(events({ needle: { value: 'osaka' }, filters: [f('$metadata.type', 'eq', 'cf-worker-log')] }).map((e) => e.$metadata.message), ['City OSAKA searched']);
  });
});

describe('the events view', () => {
  test('newest first, with the total count and the shape of Cloudflare events', () => {
    const result = run({ view: 'events', limit: 3 });
    assert.equal(result.events!.count, 14);
    assert.deepEqual(result.events!.events.map((e) => e.$metadata.message), ['ab', 'GET https://blog.example.com/x', 'Error: Worker exceeded CPU time limit.']);
    const event = result.events!.events[2];
    assert.deepEqual(Object.keys(event), ['$metadata', '$workers', 'dataset', 'source', 'timestamp']);
    assert.equal(event.dataset, 'cloudflare-workers');
    assert.equal(event.timestamp, T + 3001);
    assert.match(event.$metadata.id as string, /^[0-9a-f]{24}$/);
    assert.deepEqual({ ...event.$metadata, id: 'x' }, {
      id: 'x', requestId: RAY.D, trigger: 'GET /slow', service: 'shop', level: 'error', error: 'Worker exceeded CPU time limit.',
      message: 'Error: Worker exceeded CPU time limit.', type: 'cf-worker-exception', origin: 'fetch',
    });
    assert.equal(event.$workers.outcome, 'exceededCpu');
    assert.deepEqual(event.source, { name: 'Error', message: 'Worker exceeded CPU time limit.' });
    assert.ok(result.events!.fields.some((field) => field.key === '$workers.event.request.headers.user-agent' && field.type === 'string'));
    assert.equal(result.statistics.rows_read, 14);
    assert.ok(result.statistics.elapsed >= 0 && result.statistics.bytes_read > 0);
  });
  test('the invocation row carries url and statusCode', () => {
    const row = events({ filters: [f('$metadata.type', 'eq', 'cf-worker-event'), f('$metadata.requestId', 'eq', RAY.B)] })[0];
    assert.equal(row.$metadata.url, 'https://shop.example.com/cart');
    assert.equal(row.$metadata.statusCode, 500);
    assert.equal(row.$metadata.level, 'error');
    assert.deepEqual(row.source, {});
  });
  test('offset pages through every row once, newest first', () => {
    const seen: LogEvent[] = [];
    let offset: string | undefined;
    for (let page = 0; page < 10; page++) {
      const batch = run({ view: 'events', limit: 4, ...(offset ? { offset } : {}) }).events!.events;
      if (batch.length === 0) break;
      seen.push(...batch);
      offset = batch[batch.length - 1].$metadata.id as string;
    }
    assert.equal(seen.length, 14);
    assert.equal(new Set(seen.map((e) => e.$metadata.id)).size, 14);
    const times = seen.map((e) => e.timestamp);
    assert.deepEqual(times, [...times].sort((a, b) => b - a));
  });
  test('orderBy a key, and ascending time', () => {
    assert.equal(events({ orderBy: { value: '$workers.cpuTimeMs', order: 'asc' } })[0].$workers.cpuTimeMs, 0);
    assert.equal(events({ orderBy: { value: '$workers.cpuTimeMs', order: 'desc' } })[0].$workers.cpuTimeMs, 60);
    assert.equal(events({ orderBy: { value: 'timestamp', order: 'asc' } })[0].$metadata.message, 'GET https://shop.example.com/');
  });
  test('the timeframe bounds the rows (both ends included)', () => {
    const rows = run({ view: 'events', timeframe: { from: T + 1000, to: T + 2000 } }).events!.events.map((e) => e.$metadata.message).sort();
    assert.deepEqual(rows, [...of('B'), 'GET https://blog.example.com/search?q=Osaka'].sort());
  });
});

describe('the invocations view', () => {
  test('matching invocations, newest first, each with all its rows in time order', () => {
    const result = run({ view: 'invocations', parameters: { filters: [f('$metadata.error', 'exists')] } });
    assert.deepEqual(Object.keys(result.invocations!), [RAY.D, RAY.B]);
    assert.deepEqual(result.invocations![RAY.B].map((e) => e.$metadata.message), ROWS_OF.B);
    assert.deepEqual(result.invocations![RAY.D].map((e) => e.$metadata.message), ROWS_OF.D);
  });
  test('limit counts invocations', () => {
    const result = run({ view: 'invocations', limit: 2 });
    assert.deepEqual(Object.keys(result.invocations!), [RAY.E, RAY.D]);
  });
});

describe('the calculations view', () => {
  const invocationRows = [f('$metadata.type', 'eq', 'cf-worker-event')];
  const calc = (operator: string, key?: string) => run({
    view: 'calculations', ignoreSeries: true,
    parameters: { filters: invocationRows, calculations: [{ operator, ...(key ? { key } : {}) }] },
  }).calculations![0].aggregates[0].value;

  test('count, grouped by a key, largest first, with Cloudflare\'s fields', () => {
    const result = run({ view: 'calculations', ignoreSeries: true, parameters: { calculations: [{ operator: 'count', alias: 'rows' }], groupBys: [{ type: 'string', value: '$workers.outcome' }] } });
    const [count] = result.calculations!;
    assert.equal(count.calculation, 'count');
    assert.equal(count.alias, 'rows');
    const groups = count.aggregates.map((a) => [a.groups![0].value, a.value, a.count]);
    assert.deepEqual(groups.slice(0, 2), [['ok', 6, 6], ['exception', 4, 4]]);
    assert.deepEqual(groups.slice(2).sort(), [['canceled', 2, 2], ['exceededCpu', 2, 2]]);
    assert.deepEqual(count.aggregates[0].groups, [{ key: '$workers.outcome', value: 'ok' }]);
    assert.equal(count.aggregates[0].sampleInterval, 1);
    assert.equal(result.statistics.rows_read, 14);
  });
  test('avg min max sum uniq median p99 stddev variance', () => {
    assert.equal(calc('count'), 5);
    assert.equal(calc('avg', '$workers.cpuTimeMs'), 13.6);
    assert.equal(calc('min', '$workers.cpuTimeMs'), 0);
    assert.equal(calc('max', '$workers.cpuTimeMs'), 60);
    assert.equal(calc('sum', '$workers.cpuTimeMs'), 68);
    assert.equal(calc('uniq', '$workers.scriptName'), 2);
    assert.equal(calc('COUNT_DISTINCT', '$workers.scriptName'), 2);
    assert.equal(calc('median', '$workers.wallTimeMs'), 10);
    assert.ok(Math.abs(calc('p99', '$workers.wallTimeMs')! - 59.76) < 1e-9);
    assert.ok(Math.abs(calc('variance', '$workers.cpuTimeMs')! - 541.04) < 1e-9);
    assert.ok(Math.abs(calc('stddev', '$workers.cpuTimeMs')! - Math.sqrt(541.04)) < 1e-9);
    assert.equal(calc('count', '$metadata.error'), 0);
  });
  test('havings, orderBy and limit choose the groups', () => {
    const base = { calculations: [{ operator: 'count' }], groupBys: [{ type: 'string', value: '$workers.outcome' }] };
    const having = run({ view: 'calculations', ignoreSeries: true, parameters: { ...base, havings: [{ key: 'count', operation: 'gt', value: 3 }] } });
    assert.deepEqual(having.calculations![0].aggregates.map((a) => a.groups![0].value), ['ok', 'exception']);
    const ascending = run({ view: 'calculations', ignoreSeries: true, limit: 1, parameters: { ...base, orderBy: { value: 'count', order: 'asc' } } });
    assert.equal(ascending.calculations![0].aggregates.length, 1);
    assert.equal(ascending.calculations![0].aggregates[0].value, 2);
  });
  test('series: one point per non-empty time bucket, adding up to the aggregate', () => {
    const result = run({ view: 'calculations', granularity: 10, timeframe: { from: T, to: T + 9999 }, parameters: { calculations: [{ operator: 'count' }] } });
    const [count] = result.calculations!;
    assert.equal(count.aggregates[0].value, 14);
    assert.deepEqual(count.series.map((s) => s.time), [0, 1, 2, 3, 4].map((i) => new Date(T + i * 1000).toISOString()));
    assert.equal(count.series.reduce((sum, s) => sum + s.data[0].count, 0), 14);
    assert.equal(count.series[1].data[0].interval, 1);
    assert.equal(count.series[1].data[0].firstSeen, new Date(T + 1000).toISOString());
  });
});

describe('keys and values', () => {
  test('keys: the fixed ones and those seen in rows', () => {
    const keys = store.keys({ limit: 1000 }).map((k) => k.key);
    for (const key of ['$metadata.error', '$workers.outcome', '$workers.event.request.headers.user-agent', '$workers.event.request.cf.country', 'user', 'items', 'stack']) {
      assert.ok(keys.includes(key), `${key} in ${keys.join(' ')}`);
    }
    assert.deepEqual(store.keys({ needle: 'USER', limit: 10 }).map((k) => k.key), ['$workers.event.request.headers.user-agent', 'user']);
    assert.equal(store.keys({ needle: 'items', limit: 10 })[0].type, 'number');
  });
  test('values of a key, most frequent first', () => {
    const values = store.values({ key: resolveKey('$workers.outcome'), type: 'string', from: TIMEFRAME.from, to: TIMEFRAME.to, limit: 10 });
    assert.deepEqual(values[0], { dataset: 'cloudflare-workers', key: '$workers.outcome', type: 'string', value: 'ok' });
    assert.deepEqual(values.map((v) => v.value).sort(), ['canceled', 'exceededCpu', 'exception', 'ok']);
  });
});

describe('the request checks of the query API', () => {
  const code = (body: unknown): number => {
    try {
      parseQueryRequest(body);
    } catch (error) {
      assert.ok(error instanceof QueryError);
      return error.code;
    }
    return 0;
  };
  const withFilter = (filter: unknown) => ({ timeframe: TIMEFRAME, parameters: { filters: [filter] } });
  test('codes', () => {
    assert.equal(code([]), LOGS_ERROR.invalidQuery);
    assert.equal(code({}), LOGS_ERROR.invalidQuery);
    assert.equal(code({ timeframe: { from: 2, to: 1 } }), LOGS_ERROR.invalidQuery);
    assert.equal(code({ timeframe: TIMEFRAME, view: 'traces' }), LOGS_ERROR.invalidQuery);
    assert.equal(code({ timeframe: TIMEFRAME, limit: 0 }), LOGS_ERROR.invalidQuery);
    assert.equal(code({ timeframe: TIMEFRAME, offset: 'nope' }), LOGS_ERROR.invalidQuery);
    assert.equal(code(withFilter(f('$workers.outcome', 'like', 'x'))), LOGS_ERROR.unknownOperation);
    assert.equal(code(withFilter(f('$metadata.nope', 'eq', 'x'))), LOGS_ERROR.badKey);
    assert.equal(code(withFilter(f('$bad', 'exists'))), LOGS_ERROR.badKey);
    assert.equal(code(withFilter(f('a..b', 'exists'))), LOGS_ERROR.badKey);
    assert.equal(code(withFilter(f('$metadata.message', 'regex', '(unclosed'))), LOGS_ERROR.badRegex);
    assert.equal(code({ timeframe: TIMEFRAME, parameters: { needle: { value: '[', isRegex: true } } }), LOGS_ERROR.badRegex);
    assert.equal(code(withFilter(f('$workers.cpuTimeMs', 'gt', 'fast'))), LOGS_ERROR.badValue);
    assert.equal(code(withFilter(f('$workers.outcome', 'eq'))), LOGS_ERROR.badValue);
    assert.equal(code(withFilter(f('$workers.outcome', 'in', []))), LOGS_ERROR.badValue);
    assert.equal(code(withFilter(f('$workers.outcome', 'eq', { a: 1 }))), LOGS_ERROR.badValue);
    assert.equal(code({ timeframe: TIMEFRAME, view: 'calculations', parameters: { calculations: [{ operator: 'avg', key: '$metadata.message' }] } }), LOGS_ERROR.badKey);
    assert.equal(code({ timeframe: TIMEFRAME, view: 'calculations', parameters: { calculations: [{ operator: 'mode' }] } }), LOGS_ERROR.invalidQuery);
    assert.equal(code({ timeframe: TIMEFRAME, parameters: { orderBy: { value: '$nope' } } }), LOGS_ERROR.badKey);
    assert.equal(code(withFilter(f('$workers.outcome', 'eq', 'ok'))), 0);
  });
  test('messages say where', () => {
    assert.throws(() => parseQueryRequest(withFilter(f('$workers.outcome', 'like', 'x'))), /^QueryError: parameters\.filters\[0\]: unknown operation "like"/);
    assert.throws(() => parseQueryRequest(withFilter({ kind: 'group', filters: [f('$metadata.nope', 'eq', 1)] })), /parameters\.filters\[0\]\.filters\[0\]: unknown key "\$metadata\.nope"/);
  });
});

describe('retention', () => {
  test('deletes rows older than the cutoff, their index entries too, and spent invocations', async () => {
    const scratchDir = join(dir, 'retention');
    mkdirSync(scratchDir);
    const scratch = SqliteLogStore.open(join(scratchDir, 'logs.sqlite'));
    try {
      scratch.write(EVENTS.map((event) => ({ event, invocationRow: true })));
      const count = () => scratch.query(parseQueryRequest({ timeframe: TIMEFRAME, limit: 100 })).events!.count;
      const found = (needle: string) => scratch.query(parseQueryRequest({ timeframe: TIMEFRAME, parameters: { needle: { value: needle } } })).events!.count;
      assert.equal(scratch.deleteChunk(T + 2000, 2), 2, 'a chunk is at most the chunk size');
      assert.equal(count(), 12);
      assert.equal(await deleteInChunks(scratch, T + 2000), 5);
      assert.equal(count(), 7);
      assert.equal(found('cart'), 0, 'the full-text index forgot the deleted rows');
      assert.equal(found('osaka'), 2);
      // Invocations outlive their rows by an hour, then go too.
      assert.equal(await deleteInChunks(scratch, T + 10_000), 7);
      assert.equal(count(), 0);
      assert.equal(await deleteInChunks(scratch, T + 2 * 3_600_000), 5);
    } finally {
      scratch.close();
    }
  });
});

describe('failures', () => {
  test('a full disk: the batch is refused whole, its rows counted by worker; the store keeps answering', () => {
    const fullDir = join(dir, 'full');
    mkdirSync(fullDir);
    const full = SqliteLogStore.open(join(fullDir, 'logs.sqlite'), { maxPageCount: 40 });
    try {
      const big: TraceEvent[] = [];
      for (let i = 0; i < 300; i++) big.push({ ...EVENTS[i % EVENTS.length], logs: [{ message: ['x'.repeat(2000)], level: 'log', timestamp: T + i }] });
      const outcome = full.write(big.map((event) => ({ event, invocationRow: true })));
      assert.equal(outcome.stored, 0);
      assert.match(outcome.error ?? '', /full/);
      assert.deepEqual(outcome.failed, { shop: 480, blog: 240 });
      assert.equal(full.query(parseQueryRequest({ timeframe: TIMEFRAME })).events!.count, 0);
      assert.deepEqual(full.write(EVENTS.slice(0, 1).map((event) => ({ event, invocationRow: true }))), { stored: 3, failed: {} });
    } finally {
      full.close();
    }
  });
  test('a file that cannot be opened throws at open', () => {
    const blocked = join(dir, 'blocked');
    mkdirSync(join(blocked, 'logs.sqlite'), { recursive: true });
    assert.throws(() => SqliteLogStore.open(join(blocked, 'logs.sqlite')));
  });
});

describe('the store thread', () => {
  test('writes, answers queries and keys, revives query errors, deletes, closes', async () => {
    const threadDir = join(dir, 'thread');
    mkdirSync(threadDir);
    const threaded = await openThreadedLogStore(join(threadDir, 'logs.sqlite'));
    try {
      assert.deepEqual(await threaded.write(EVENTS.map((event) => ({ event, invocationRow: true }))), { stored: 14, failed: {} });
      const result = await threaded.query(parseQueryRequest({ timeframe: TIMEFRAME, parameters: toWireFilters(parseQueryText('$metadata.error EXISTS')) }));
      assert.equal(result.events!.count, 3);
      assert.ok((await threaded.keys({ limit: 1000 })).some((k) => k.key === 'user'));
      await assert.rejects(
        threaded.query({ ...parseQueryRequest({ timeframe: TIMEFRAME, offset: '0'.repeat(24) }), orderBy: { value: '$workers.outcome', order: 'asc' } }),
        (error: unknown) => error instanceof QueryError && error.code === LOGS_ERROR.invalidQuery,
      );
      assert.equal(await threaded.deleteOlderThan(T + 2 * 3_600_000), 19);
    } finally {
      await threaded.close();
    }
    await assert.rejects(threaded.query(parseQueryRequest({ timeframe: TIMEFRAME })), /stopped|closed/);
  });
  test('an unopenable file rejects at open with the reason', async () => {
    const blocked = join(dir, 'blocked-thread');
    mkdirSync(join(blocked, 'logs.sqlite'), { recursive: true });
    await assert.rejects(openThreadedLogStore(join(blocked, 'logs.sqlite')), /unable to open/);
  });
});
