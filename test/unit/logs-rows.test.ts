// Trace event → Workers Logs rows: the invocation row, one row per console line, one per
// exception, and the `$workers` facts every row of the invocation shares.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatLogMessage, invocationOf, rowCount, rowsOf } from '../../src/observability/logs/rows.ts';
import type { TraceEvent } from '../../src/protocol/trace.ts';

function fetchEvent(overrides: Partial<TraceEvent> = {}): TraceEvent {
  return {
    wallTime: 12,
    cpuTime: 3,
    truncated: false,
    executionModel: 'stateless',
    outcome: 'ok',
    scriptVersion: { id: 'v1' },
    scriptName: 'shop',
    diagnosticsChannelEvents: [],
    exceptions: [],
    logs: [],
    eventTimestamp: 1_700_000_000_000,
    event: {
      request: {
        url: 'https://shop.example.com/cart?id=3',
        method: 'POST',
        headers: { 'cf-ray': '0123456789abcdef-LCL', 'cf-connecting-ip': '203.0.113.9', 'user-agent': 'curl/8' },
        cf: { colo: 'LCL', country: 'FR' },
      },
      response: { status: 201 },
    },
    ...overrides,
  };
}

describe('the invocation', () => {
  test('takes its request id from cf-ray and its facts from the trace', () => {
    const inv = invocationOf(fetchEvent());
    assert.equal(inv.requestId, '0123456789abcdef-LCL');
    assert.equal(inv.scriptName, 'shop');
    assert.equal(inv.eventType, 'fetch');
    assert.equal(inv.trigger, 'POST /cart');
    assert.equal(inv.method, 'POST');
    assert.equal(inv.path, '/cart');
    assert.equal(inv.status, 201);
    assert.equal(inv.scriptVersionId, 'v1');
    assert.deepEqual(inv.workers, {
      event: {
        request: {
          url: 'https://shop.example.com/cart?id=3',
          method: 'POST',
          path: '/cart',
          headers: { 'cf-ray': '0123456789abcdef-LCL', 'cf-connecting-ip': '203.0.113.9', 'user-agent': 'curl/8' },
          cf: { colo: 'LCL', country: 'FR' },
        },
        response: { status: 201 },
      },
      eventType: 'fetch',
      executionModel: 'stateless',
      outcome: 'ok',
      requestId: '0123456789abcdef-LCL',
      scriptName: 'shop',
      scriptVersion: { id: 'v1' },
      truncated: false,
      cpuTimeMs: 3,
      wallTimeMs: 12,
    });
  });

  test('without a response (canceled) has no status', () => {
    const base = fetchEvent();
    const event = fetchEvent({ outcome: 'canceled', event: { request: (base.event as { request: never }).request } });
    const inv = invocationOf(event);
    assert.equal(inv.status, null);
    assert.equal('response' in (inv.workers.event as object), false);
  });

  test('a scheduled event gets a generated request id and its cron as trigger', () => {
    const inv = invocationOf(fetchEvent({ event: { cron: '*/5 * * * *', scheduledTime: 1 } }), () => 'generated');
    assert.equal(inv.requestId, 'generated');
    assert.equal(inv.eventType, 'scheduled');
    assert.equal(inv.trigger, '*/5 * * * *');
    assert.equal(inv.method, null);
  });
});

describe('rows', () => {
  const event = fetchEvent({
    outcome: 'exception',
    logs: [
      { message: ['city', 'Paris', 3, { a: 1 }, null], level: 'log', timestamp: 1_700_000_000_001 },
      { message: [{ user: 'u1', items: 4 }], level: 'info', timestamp: 1_700_000_000_002 },
      { message: ['failed:', 'Error: boom'], level: 'error', timestamp: 1_700_000_000_003, errorInfo: [null, { name: 'Error', message: 'boom', stack: '  at x' }] },
    ],
    exceptions: [{ name: 'TypeError', message: 'x is not a function', stack: '    at f (w.js:1:1)', timestamp: 1_700_000_000_004 }],
  });
  const rows = rowsOf(event, invocationOf(event), true);

  test('one invocation row, one per console line, one per exception, in time order', () => {
    assert.deepEqual(rows.map((r) => r.type), ['cf-worker-event', 'cf-worker-log', 'cf-worker-log', 'cf-worker-log', 'cf-worker-exception']);
    assert.deepEqual(rows.map((r) => r.timestamp), [1_700_000_000_000, 1_700_000_000_001, 1_700_000_000_002, 1_700_000_000_003, 1_700_000_000_004]);
    assert.equal(rowCount(event, true), 5);
    assert.equal(rowCount(event, false), 4);
  });

  test('the invocation row names the request; its level follows the outcome', () => {
    assert.equal(rows[0].message, 'POST https://shop.example.com/cart?id=3');
    assert.equal(rows[0].level, 'error');
    assert.equal(rows[0].error, null);
    assert.equal(rowsOf(fetchEvent(), invocationOf(fetchEvent()), true)[0].level, 'info');
  });

  test('console lines: level = method, text of the arguments, structured source', () => {
    assert.equal(rows[1].level, 'log');
    assert.equal(rows[1].message, 'city Paris 3 {"a":1} null');
    assert.deepEqual(rows[1].source, { message: 'city Paris 3 {"a":1} null' });
    // A single logged object is structured logging: its fields are the row's source.
    assert.deepEqual(rows[2].source, { user: 'u1', items: 4 });
    assert.equal(rows[2].error, null);
  });

  test('a logged Error makes an error row', () => {
    assert.equal(rows[3].level, 'error');
    assert.equal(rows[3].error, 'boom');
  });

  test('an exception row: level error, $metadata.error = the message, stack in source', () => {
    assert.equal(rows[4].level, 'error');
    assert.equal(rows[4].error, 'x is not a function');
    assert.equal(rows[4].message, 'TypeError: x is not a function');
    assert.deepEqual(rows[4].source, { name: 'TypeError', message: 'x is not a function', stack: '    at f (w.js:1:1)' });
  });

  test('invocation_logs = false leaves the invocation row out', () => {
    assert.deepEqual(rowsOf(event, invocationOf(event), false).map((r) => r.type), ['cf-worker-log', 'cf-worker-log', 'cf-worker-log', 'cf-worker-exception']);
  });

  test('formatLogMessage: strings as they are, the rest as JSON', () => {
    assert.equal(formatLogMessage(['a', 1, true, [1, 'b'], { x: null }]), 'a 1 true [1,"b"] {"x":null}');
  });
});
