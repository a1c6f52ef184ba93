// Trace events (spec §4) as `flarelet dev --format json` prints them: exact key order and types,
// console capture and argument serialisation, redaction of the request, the 256 KiB budget, the
// canceled outcome and CPU / wall time. One flarelet process serves the fixture workers of
// test/fixtures/lifecycle/, addressed by Host `<name>.localhost:PORT`; every request carries a
// unique x-test-id header so its event can be found even when the URL is redacted.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as rawRequest } from 'node:http';
import type { OutgoingHttpHeaders } from 'node:http';
import { httpRequest, startFlarelet } from '../support/flarelet.ts';
import type { FlareletHandle, TraceEvent } from '../support/flarelet.ts';

const FIXTURES = 'test/fixtures/lifecycle';
const EVENT_TIMEOUT = 10_000;
const LOG_LIMIT_MESSAGE =
  "Log size limit exceeded: More than 256KB of data (across console.log statements, exception, request metadata and headers) was logged during a single request. Subsequent data for this request will not be recorded in logs, appear when tailing this Worker's logs, or in Tail Workers.";

const TOP_KEYS = ['wallTime', 'cpuTime', 'truncated', 'executionModel', 'outcome', 'scriptVersion', 'scriptName', 'diagnosticsChannelEvents', 'exceptions', 'logs', 'eventTimestamp', 'event'];

let nextId = 1;

/** Sends a request to worker `name`; returns the response and the id to find its trace event by. */
async function send(f: FlareletHandle, name: string, path: string, init: { method?: string; headers?: OutgoingHttpHeaders; body?: string } = {}) {
  const id = `t${nextId++}`;
  const res = await httpRequest(`${f.url}${path}`, {
    ...init,
    headers: { ...(init.headers ?? {}), host: `${name}.localhost:${f.port}`, 'x-test-id': id },
  });
  return { res, id };
}

/** The one trace event of the request tagged `id`. */
async function eventFor(f: FlareletHandle, id: string, timeoutMs = EVENT_TIMEOUT): Promise<TraceEvent> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = f.events.filter((e) => e.event?.request?.headers?.['x-test-id'] === id);
    assert.ok(found.length <= 1, `one event per request (${id})`);
    if (found.length === 1) return found[0]!;
    if (Date.now() > deadline) {
      assert.fail(`no trace event for request ${id} within ${timeoutMs} ms; got:\n${JSON.stringify(f.events, null, 2)}\nstderr:\n${f.stderr()}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

const messages = (ev: TraceEvent) => ev.logs.map((l: { message: unknown[] }) => l.message);

describe('trace events of flarelet dev --format json', () => {
  let f: FlareletHandle;
  before(async () => {
    f = await startFlarelet({
      entries: ['trace-shape.js', 'trace-console.js', 'trace-budget.js', 'trace-timing.js'].map((n) => `${FIXTURES}/${n}`),
      // /cpu burns some 50 ms on purpose: it measures cpuTime, not the limit (limits.test.ts does).
      args: ['--cpu-ms', '5000'],
    });
  });
  after(() => f?.stop());

  describe('schema', () => {
    test('key order at every level, types, executionModel, scriptName, request and response', async () => {
      const t0 = Date.now();
      const { res, id } = await send(f, 'trace-shape', '/created?x=1', { method: 'PUT', headers: { 'x-custom': 'kept' }, body: 'b' });
      const t1 = Date.now();
      assert.equal(res.status, 201);
      assert.equal(res.text, 'created');
      const ev = await eventFor(f, id);

      assert.deepEqual(Object.keys(ev), TOP_KEYS.filter((k) => k !== 'scriptVersion' || 'scriptVersion' in ev));
      if ('scriptVersion' in ev) assert.deepEqual(Object.keys(ev.scriptVersion), ['id']);
      assert.ok(Number.isInteger(ev.wallTime) && ev.wallTime >= 0, `wallTime ${ev.wallTime}`);
      assert.ok(Number.isInteger(ev.cpuTime) && ev.cpuTime >= 0, `cpuTime ${ev.cpuTime}`);
      assert.equal(ev.truncated, false);
      assert.equal(ev.executionModel, 'stateless');
      assert.equal(ev.outcome, 'ok');
      assert.equal(ev.scriptName, 'trace-shape');
      assert.deepEqual(ev.diagnosticsChannelEvents, []);
      assert.deepEqual(ev.exceptions, []);
      assert.ok(Number.isInteger(ev.eventTimestamp), 'eventTimestamp is whole ms');
      assert.ok(ev.eventTimestamp >= t0 - 2 && ev.eventTimestamp <= t1 + 2, `eventTimestamp ${ev.eventTimestamp} within [${t0}, ${t1}] (epoch ms)`);

      assert.equal(ev.logs.length, 1);
      const [log] = ev.logs;
      assert.deepEqual(Object.keys(log), ['message', 'level', 'timestamp']);
      assert.deepEqual(log.message, ['shape', 'PUT']);
      assert.equal(log.level, 'log');
      assert.ok(Number.isInteger(log.timestamp) && log.timestamp >= ev.eventTimestamp && log.timestamp <= t1 + 2, 'log timestamp in epoch ms');

      assert.deepEqual(Object.keys(ev.event), ['request', 'response']);
      assert.deepEqual(Object.keys(ev.event.request), ['url', 'method', 'headers', 'cf']);
      assert.equal(ev.event.request.url, `http://trace-shape.localhost:${f.port}/created?x=1`);
      assert.equal(ev.event.request.method, 'PUT');
      assert.equal(ev.event.request.headers['x-custom'], 'kept');
      assert.equal(ev.event.request.headers.host, `trace-shape.localhost:${f.port}`);
      assert.equal(ev.event.request.headers['content-length'], '1');
      assert.equal(typeof ev.event.request.cf, 'object');
      assert.equal(ev.event.request.cf.colo, 'LCL');
      assert.deepEqual(Object.keys(ev.event.response), ['status']);
      assert.equal(ev.event.response.status, 201);
      assert.deepEqual(f.strayStdout, [], 'stdout carries nothing but trace events');
    });

    test('an exception: outcome, exception keys (stack, name, message, timestamp), stack without its first line', async () => {
      const { res, id } = await send(f, 'trace-shape', '/throw');
      const t1 = Date.now();
      assert.equal(res.status, 500);
      assert.equal(res.text, 'error code: 1101');
      const ev = await eventFor(f, id);
      assert.equal(ev.outcome, 'exception');
      assert.equal(ev.exceptions.length, 1);
      const [ex] = ev.exceptions;
      assert.deepEqual(Object.keys(ex), ['stack', 'name', 'message', 'timestamp']);
      assert.equal(ex.name, 'Error');
      assert.equal(ex.message, 'shape failure');
      assert.ok(!ex.stack.startsWith('Error: shape failure'), ex.stack);
      assert.match(ex.stack, /^\s+at /);
      assert.ok(Number.isInteger(ex.timestamp) && ex.timestamp >= ev.eventTimestamp && ex.timestamp <= t1 + 2);
      assert.deepEqual(ev.logs.map((l: { level: string; message: unknown[] }) => [l.level, l.message]), [['warn', ['about to throw']]]);
    });
  });

  test('a thrown non-Error: name defaults to Error, no stack', async () => {
    const { res, id } = await send(f, 'trace-shape', '/throw-string');
    assert.equal(res.status, 500);
    assert.equal(res.text, 'error code: 1101');
    const ev = await eventFor(f, id);
    assert.equal(ev.outcome, 'exception');
    assert.equal(ev.exceptions.length, 1);
    assert.deepEqual(Object.keys(ev.exceptions[0]), ['name', 'message', 'timestamp']);
    assert.equal(ev.exceptions[0].name, 'Error');
    assert.equal(ev.exceptions[0].message, 'plain string');
  });

  describe('console capture', () => {
    test('the five levels, level = method name, in call order', async () => {
      const { id } = await send(f, 'trace-console', '/levels');
      const ev = await eventFor(f, id);
      assert.deepEqual(
        ev.logs.map((l: { level: string; message: unknown[] }) => [l.level, l.message]),
        [
          ['debug', ['d']],
          ['info', ['i']],
          ['log', ['l']],
          ['warn', ['w']],
          ['error', ['e']],
        ],
      );
      for (let i = 1; i < ev.logs.length; i++) assert.ok(ev.logs[i].timestamp >= ev.logs[i - 1].timestamp);
    });

    test('argument serialisation: JSON values, undefined → null, other objects as strings, cycles and symbols → {}', async () => {
      const { res, id } = await send(f, 'trace-console', '/values');
      assert.equal(res.text, 'logged');
      const ev = await eventFor(f, id);
      assert.deepEqual(messages(ev), [
        ['text', 42, 1.5, true, null, null],
        [[1, 'two', null, null], { a: { b: [2] } }],
        ['[object Map]', '[object Set]', '[object Object]', { bare: 1 }],
        ['1970-01-01T00:00:00.000Z', 'custom json', [null]],
        [{}, {}, 'after both'],
        [],
      ]);
      for (const log of ev.logs) assert.deepEqual(Object.keys(log), ['message', 'level', 'timestamp'], 'no errorInfo without an Error');
    });

    test('Errors: "Name: message" in message, errorInfo with one slot per argument', async () => {
      const { id } = await send(f, 'trace-console', '/errors');
      const ev = await eventFor(f, id);
      assert.equal(ev.logs.length, 2);
      const [first, second] = ev.logs;

      assert.deepEqual(Object.keys(first).slice(0, 3), ['message', 'level', 'timestamp']);
      assert.ok('errorInfo' in first);
      assert.equal(first.level, 'error');
      assert.deepEqual(first.message, ['Error: x']);
      assert.equal(first.errorInfo.length, 1);
      assert.deepEqual(Object.keys(first.errorInfo[0]), ['name', 'message', 'stack']);
      assert.equal(first.errorInfo[0].name, 'Error');
      assert.equal(first.errorInfo[0].message, 'x');
      assert.match(first.errorInfo[0].stack, /^\s+at /, 'stack without its "Error: x" line');

      assert.equal(second.level, 'log');
      assert.deepEqual(second.message, ['with', 'TypeError: bad type', 7]);
      assert.equal(second.errorInfo.length, 3);
      assert.equal(second.errorInfo[0], null);
      assert.equal(second.errorInfo[2], null);
      assert.equal(second.errorInfo[1].name, 'TypeError');
      assert.equal(second.errorInfo[1].message, 'bad type');
      assert.match(second.errorInfo[1].stack, /^\s+at /);
    });

    test('console.table, dir, trace, assert, count, time, group… are not captured', async () => {
      const { res, id } = await send(f, 'trace-console', '/uncaptured');
      assert.equal(res.status, 200);
      assert.equal(res.text, 'logged');
      const ev = await eventFor(f, id);
      assert.equal(ev.outcome, 'ok');
      assert.deepEqual(ev.logs.map((l: { level: string; message: unknown[] }) => [l.level, l.message]), [['log', ['only this']]]);
    });
  });

  describe('redaction of event.request', () => {
    test('secret headers, header names lower-cased, repeats joined; secret-looking URL spans', async () => {
      const path =
        '/r/0123456789abcdef0123456789ABCDEF/01234567-89ab-cdef-0123-456789abcdef/short-abc123' +
        '?a=AbCdEfGh12345678901234&card=4111111111111111&bad=4111111111111112&plain=hello-world&lower=abcdefghijklmnopqrstuvwxyz12';
      const { res, id } = await send(f, 'trace-shape', path, {
        headers: {
          Authorization: 'Bearer sekrit',
          Cookie: 'session=1',
          'Set-Cookie': 'a=b',
          'X-Api-Key': 'k-123',
          'X-Client-Secret': 's',
          'X-JWT-Assertion': 'j',
          'X-Access-Token': 't',
          'X-Auth-User': 'u',
          'X-Custom': 'Kept Value',
          'X-Multi': ['one', 'two'],
        },
      });
      assert.equal(res.status, 201);
      const ev = await eventFor(f, id);
      const h = ev.event.request.headers;
      for (const name of ['authorization', 'cookie', 'set-cookie', 'x-api-key', 'x-client-secret', 'x-jwt-assertion', 'x-access-token', 'x-auth-user']) {
        assert.equal(h[name], 'REDACTED', name);
      }
      assert.equal(h['x-custom'], 'Kept Value');
      assert.equal(h['x-multi'], 'one, two');
      for (const name of Object.keys(h)) assert.equal(name, name.toLowerCase(), 'header names are lower-case');
      assert.ok(!JSON.stringify(ev).includes('sekrit'), 'the secret appears nowhere');

      assert.equal(
        ev.event.request.url,
        `http://trace-shape.localhost:${f.port}/r/REDACTED/REDACTED/short-abc123` +
          '?a=REDACTED&card=REDACTED&bad=4111111111111112&plain=hello-world&lower=abcdefghijklmnopqrstuvwxyz12',
      );
    });
  });

  describe('256 KiB budget', () => {
    test('logging more than 256 KiB: truncated, one warning with the exact text, later logs dropped', async () => {
      const { res, id } = await send(f, 'trace-budget', '/big');
      assert.equal(res.status, 200);
      const ev = await eventFor(f, id);
      assert.equal(ev.truncated, true);
      assert.equal(ev.outcome, 'ok');
      const last = ev.logs.at(-1);
      assert.equal(last.level, 'warn');
      assert.deepEqual(last.message, [LOG_LIMIT_MESSAGE]);
      const kept = ev.logs.slice(0, -1);
      assert.ok(kept.length > 200 && kept.length < 262, `${kept.length} lines of 1000 bytes fit in 256 KiB with the request`);
      for (const log of kept) assert.deepEqual(log.message, ['x'.repeat(1000)]);
      assert.ok(!messages(ev).some((m: unknown[]) => m[0] === 'after the limit'), 'logs after the limit are dropped');
      assert.equal(ev.logs.filter((l: { message: unknown[] }) => l.message[0] === LOG_LIMIT_MESSAGE).length, 1, 'warned once');
    });

    test('an exception after the limit is not recorded; the outcome still is exception', async () => {
      const { res, id } = await send(f, 'trace-budget', '/big-throw');
      assert.equal(res.status, 500);
      assert.equal(res.text, 'error code: 1101');
      const ev = await eventFor(f, id);
      assert.equal(ev.truncated, true);
      assert.equal(ev.outcome, 'exception');
      assert.deepEqual(ev.exceptions, []);
      assert.deepEqual(ev.logs.at(-1).message, [LOG_LIMIT_MESSAGE]);
    });

    test('below the limit: not truncated', async () => {
      const { id } = await send(f, 'trace-budget', '/small');
      const ev = await eventFor(f, id);
      assert.equal(ev.truncated, false);
      assert.deepEqual(messages(ev), [['small']]);
    });
  });

  describe('outcome and timing', () => {
    test('client disconnects before the response: outcome canceled', async () => {
      const id = `t${nextId++}`;
      const req = rawRequest(`${f.url}/slow`, { agent: false, headers: { host: `trace-timing.localhost:${f.port}`, 'x-test-id': id } });
      let answered = false;
      req.on('response', () => (answered = true));
      req.on('error', () => {});
      req.end();
      await new Promise((r) => setTimeout(r, 200));
      req.destroy();
      const ev = await eventFor(f, id, 5000);
      assert.equal(answered, false, 'no response before the abort');
      assert.equal(ev.outcome, 'canceled');
      assert.deepEqual(ev.exceptions, []);
    });

    test('CPU-bound handler: cpuTime ≥ 20 ms', async () => {
      const { res, id } = await send(f, 'trace-timing', '/cpu');
      assert.equal(res.text, 'cpu true');
      const ev = await eventFor(f, id);
      assert.equal(ev.outcome, 'ok');
      assert.ok(ev.cpuTime >= 20, `cpuTime ${ev.cpuTime}`);
      assert.ok(ev.wallTime >= ev.cpuTime, `wallTime ${ev.wallTime} ≥ cpuTime ${ev.cpuTime}`);
    });

    test('a handler awaiting a 100 ms timer: wallTime ≥ 100, small cpuTime', async () => {
      const { res, id } = await send(f, 'trace-timing', '/sleep');
      assert.equal(res.text, 'slept');
      const ev = await eventFor(f, id);
      assert.equal(ev.outcome, 'ok');
      assert.ok(ev.wallTime >= 100, `wallTime ${ev.wallTime}`);
      assert.ok(ev.cpuTime < 50, `cpuTime ${ev.cpuTime}`);
    });
  });
});
