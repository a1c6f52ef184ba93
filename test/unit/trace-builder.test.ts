import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  LOG_LIMIT_MESSAGE,
  TRACE_BUDGET_BYTES,
  TraceBuilder,
  normaliseError,
} from '../../src/observability/trace-builder.ts';
import type { TraceBuilderOptions } from '../../src/observability/trace-builder.ts';

const EXACT_LIMIT_TEXT =
  "Log size limit exceeded: More than 256KB of data (across console.log statements, exception, request metadata and headers) was logged during a single request. Subsequent data for this request will not be recorded in logs, appear when tailing this Worker's logs, or in Tail Workers.";

function options(overrides: Partial<TraceBuilderOptions> = {}): TraceBuilderOptions {
  return {
    scriptName: 'my-worker',
    eventTimestamp: 1_763_751_615_000,
    request: {
      url: 'https://my-worker.example.com/path',
      method: 'GET',
      headers: [['Host', 'my-worker.example.com'], ['Cookie', 'a=b']],
      cf: { colo: 'LHR' },
    },
    ...overrides,
  };
}

test('the event has Cloudflare key order, with redacted request and response last', () => {
  const builder = new TraceBuilder(options({ scriptVersion: { id: 'v-1' } }));
  builder.addLog('log', ['hello', 1], 1_763_751_615_001, undefined, 12);
  builder.addException({ name: 'TypeError', message: 'x', stack: 'TypeError: x\n    at f (w.js:1:1)' }, 1_763_751_615_002);
  const event = builder.finish({ outcome: 'exception', status: 500, cpuTime: 3.9, wallTime: 12.2 });

  const expected = {
    wallTime: 12,
    cpuTime: 3,
    truncated: false,
    executionModel: 'stateless',
    outcome: 'exception',
    scriptVersion: { id: 'v-1' },
    scriptName: 'my-worker',
    diagnosticsChannelEvents: [],
    exceptions: [{ stack: '    at f (w.js:1:1)', name: 'TypeError', message: 'x', timestamp: 1_763_751_615_002 }],
    logs: [{ message: ['hello', 1], level: 'log', timestamp: 1_763_751_615_001 }],
    eventTimestamp: 1_763_751_615_000,
    event: {
      request: {
        url: 'https://my-worker.example.com/path',
        method: 'GET',
        headers: { cookie: 'REDACTED', host: 'my-worker.example.com' },
        cf: { colo: 'LHR' },
      },
      response: { status: 500 },
    },
  };
  // JSON text equality checks key order at every level, not just values.
  assert.equal(JSON.stringify(event, null, 4), JSON.stringify(expected, null, 4));
});

test('scriptVersion and response are left out when unknown', () => {
  const event = new TraceBuilder(options()).finish({ outcome: 'canceled', cpuTime: 0, wallTime: 1 });
  assert.deepStrictEqual(Object.keys(event), [
    'wallTime', 'cpuTime', 'truncated', 'executionModel', 'outcome', 'scriptName',
    'diagnosticsChannelEvents', 'exceptions', 'logs', 'eventTimestamp', 'event',
  ]);
  assert.deepStrictEqual(Object.keys(event.event!), ['request']);
  assert.deepStrictEqual(Object.keys((event.event as { request: object }).request), ['url', 'method', 'headers', 'cf']);
});

test('the request URL is redacted', () => {
  const event = new TraceBuilder(options({
    request: { url: 'https://w.example/u/0123456789abcdef0123456789abcdef?card=4111111111111111', method: 'POST', headers: [], cf: {} },
  })).finish({ outcome: 'ok', status: 200, cpuTime: 1, wallTime: 1 });
  assert.equal((event.event as { request: { url: string } }).request.url, 'https://w.example/u/REDACTED?card=REDACTED');
});

test('errorInfo is kept on the log entry, after the timestamp', () => {
  const builder = new TraceBuilder(options());
  builder.addLog('error', ['Error: x'], 5, [{ name: 'Error', message: 'x' }], 12);
  const [log] = builder.finish({ outcome: 'ok', cpuTime: 0, wallTime: 0 }).logs;
  assert.deepStrictEqual(Object.keys(log!), ['message', 'level', 'timestamp', 'errorInfo']);
  assert.deepStrictEqual(log!.errorInfo, [{ name: 'Error', message: 'x' }]);
});

test('exceptions: name defaults to Error, the Name: message line leaves the stack, empty stacks vanish', () => {
  assert.deepStrictEqual(normaliseError({ message: 'boom', stack: 'Error: boom\n    at a\n    at b' }), {
    name: 'Error', message: 'boom', stack: '    at a\n    at b',
  });
  assert.deepStrictEqual(normaliseError({ name: 'RangeError', message: 'r', stack: 'RangeError: r' }), { name: 'RangeError', message: 'r' });
  assert.deepStrictEqual(normaliseError({ name: 'E', message: 'm' }), { name: 'E', message: 'm' });
  // A stack that does not start with the name and message is kept whole.
  assert.deepStrictEqual(normaliseError({ name: 'E', message: 'm', stack: '    at x' }), { name: 'E', message: 'm', stack: '    at x' });
  // Multi-line messages are stripped whole.
  assert.deepStrictEqual(normaliseError({ name: 'E', message: 'a\nb', stack: 'E: a\nb\n    at y' }), { name: 'E', message: 'a\nb', stack: '    at y' });

  const builder = new TraceBuilder(options());
  builder.addException({ message: 'thrown string' }, 7);
  const [exception] = builder.finish({ outcome: 'exception', cpuTime: 0, wallTime: 0 }).exceptions;
  assert.deepStrictEqual(exception, { name: 'Error', message: 'thrown string', timestamp: 7 });
  assert.deepStrictEqual(Object.keys(exception!), ['name', 'message', 'timestamp']);
});

test('the budget: one warning with the exact text, then nothing more, truncated: true', () => {
  assert.equal(LOG_LIMIT_MESSAGE, EXACT_LIMIT_TEXT);
  assert.equal(TRACE_BUDGET_BYTES, 262_144);
  const builder = new TraceBuilder(options());
  const big = 'x'.repeat(100_000);
  builder.addLog('log', [big], 1, undefined, 100_004);
  builder.addLog('log', [big], 2, undefined, 100_004);
  assert.equal(builder.truncated, false);
  builder.addLog('info', [big], 3, undefined, 100_004); // over 256 KiB
  assert.equal(builder.truncated, true);
  builder.addLog('log', ['small'], 4, undefined, 9);
  builder.addException({ name: 'Error', message: 'late' }, 5);
  const event = builder.finish({ outcome: 'exception', cpuTime: 0, wallTime: 0 });
  assert.equal(event.truncated, true);
  assert.equal(event.logs.length, 3);
  assert.deepStrictEqual(event.logs[2], { message: [EXACT_LIMIT_TEXT], level: 'warn', timestamp: 3 });
  assert.deepStrictEqual(event.exceptions, []);
});

test('the budget counts request data and exceptions too', () => {
  const headers: [string, string][] = [['X-Big', 'v'.repeat(200_000)]];
  const builder = new TraceBuilder(options({ request: { url: 'https://w/', method: 'GET', headers, cf: {} } }));
  // 200 KiB of request data leaves room for about 60 KB
  builder.addException({ name: 'Error', message: 'm'.repeat(50_000) }, 1);
  builder.addException({ name: 'Error', message: 'm'.repeat(50_000) }, 2);
  const event = builder.finish({ outcome: 'exception', cpuTime: 0, wallTime: 0 });
  assert.equal(event.exceptions.length, 1);
  assert.equal(event.truncated, true);
  assert.deepStrictEqual(event.logs, [{ message: [EXACT_LIMIT_TEXT], level: 'warn', timestamp: 2 }]);
});

test('exactly 256 KiB fits; a byte more does not', () => {
  const request = { url: '', method: 'GET', headers: [] as [string, string][], cf: {} };
  // cf {} costs 2 bytes of JSON
  const fits = new TraceBuilder(options({ request }));
  fits.addLog('log', ['x'], 1, undefined, TRACE_BUDGET_BYTES - 2);
  assert.equal(fits.truncated, false);
  const over = new TraceBuilder(options({ request }));
  over.addLog('log', ['x'], 1, [{ name: 'E', message: '' }], TRACE_BUDGET_BYTES - 2); // errorInfo adds 1 byte
  assert.equal(over.truncated, true);
});

test('a request too big for the budget keeps only its method', () => {
  const builder = new TraceBuilder(options({
    request: { url: 'https://w/' + 'p'.repeat(300_000), method: 'PUT', headers: [['a', 'b']], cf: { colo: 'X' } },
  }));
  builder.addLog('log', ['dropped'], 9, undefined, 11);
  const event = builder.finish({ outcome: 'ok', status: 204, cpuTime: 0, wallTime: 0 });
  assert.equal(event.truncated, true);
  assert.deepStrictEqual(event.event, { request: { url: '', method: 'PUT', headers: {}, cf: {} }, response: { status: 204 } });
  assert.deepStrictEqual(event.logs, [{ message: [EXACT_LIMIT_TEXT], level: 'warn', timestamp: 1_763_751_615_000 }]);
});

test('finish returns a snapshot: later calls do not change an event already handed out', () => {
  const builder = new TraceBuilder(options());
  const first = builder.finish({ outcome: 'ok', cpuTime: 0, wallTime: 0 });
  builder.addLog('log', ['later'], 1, undefined, 9);
  assert.equal(first.logs.length, 0);
});
