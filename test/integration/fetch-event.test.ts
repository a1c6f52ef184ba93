// FetchEvent and module-worker lifecycle (spec §1, texts of §2), in both formats, on a real
// `flarelet dev --format json` with a real origin (node:http). The fixture workers live in
// test/fixtures/lifecycle/; one flarelet process serves them all, addressed by Host
// `<name>.localhost:PORT`. The response texts that workerd can show are also checked on workerd.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { OutgoingHttpHeaders } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { httpRequest, projectRoot, startFlarelet } from '../support/flarelet.ts';
import type { FlareletHandle, HttpResult, TraceEvent } from '../support/flarelet.ts';
import { startWorkerd } from '../support/workerd.ts';
import { startRecorder } from '../support/recorder.ts';

const FIXTURES = 'test/fixtures/lifecycle';
const EVENT_TIMEOUT = 10_000;

const RETURNED_PROMISE_WARNING =
  'An event handler returned a promise that will be ignored. Event handlers should not have a return value and should not be async functions.';
const FALL_THROUGH_WITH_ASYNC_WARNING =
  'FetchEvent handler did not call respondWith() before returning, but initiated some asynchronous task. That task will be canceled and default handling will occur -- the request will be sent unmodified to your origin.';
const CONSUMED_BODY_ERROR = "Script consumed request body but didn't call respondWith(). Can't forward request.";
const ALREADY_CALLED = 'FetchEvent.respondWith() has already been called; it can only be called once.';
const TOO_LATE = 'Too late to call FetchEvent.respondWith(). It must be called synchronously in the event handler.';
const INCORRECT_TYPE = "Incorrect type for Promise: the Promise did not resolve to 'Response'.";
const NO_FETCH_EXPORT = 'Handler does not export a fetch() function.';
const ILLEGAL_INVOCATION =
  'TypeError: Illegal invocation: function called with incorrect `this` reference. See https://developers.cloudflare.com/workers/observability/errors/#illegal-invocation-errors for details.';

// ---------------------------------------------------------------------------------------------
// helpers

/** The origin: records every request and answers 203 with an echo. */
function startOrigin() {
  return startRecorder((rec) => ({
    status: 203,
    headers: { 'content-type': 'text/plain', 'x-origin': 'yes' },
    body: `origin saw ${rec.method} ${rec.url}${rec.body ? ` with ${rec.body}` : ''}`,
  }));
}

/** A request to worker `name` of flarelet `f` (chosen by its Host header). */
function send(f: FlareletHandle, name: string, path: string, init: { method?: string; headers?: OutgoingHttpHeaders; body?: string } = {}) {
  return httpRequest(`${f.url}${path}`, { ...init, headers: { ...(init.headers ?? {}), host: `${name}.localhost:${f.port}` } });
}

const pathOf = (ev: TraceEvent) => {
  const u = new URL(ev.event.request.url);
  return u.pathname + u.search;
};
const messages = (ev: TraceEvent) => ev.logs.map((l: { message: unknown[] }) => l.message);
const logsAt = (ev: TraceEvent, level: string) => ev.logs.filter((l: { level: string }) => l.level === level).map((l: { message: unknown[] }) => l.message);

/** The trace event of worker `name` for `path` (path + query); waits for it to be printed. */
async function eventFor(f: FlareletHandle, name: string, path: string, timeoutMs = EVENT_TIMEOUT): Promise<TraceEvent> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = f.events.filter((e) => e.scriptName === name && pathOf(e) === path);
    if (found.length > 1) assert.fail(`${found.length} trace events for ${name} ${path}; use a unique path per request`);
    if (found.length === 1) return found[0]!;
    if (Date.now() > deadline) {
      assert.fail(`no trace event for ${name} ${path} within ${timeoutMs} ms; got:\n${JSON.stringify(f.events, null, 2)}\nstderr:\n${f.stderr()}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

function assert1101(res: HttpResult, what: string): void {
  assert.equal(res.status, 500, `${what}: status`);
  assert.equal(res.text, 'error code: 1101', `${what}: body`);
  assert.match(String(res.headers['content-type']), /^text\/plain/, `${what}: content-type`);
}

/** One exception in the trace, with the name and message given and a stack without its first line. */
function assertOneException(ev: TraceEvent, name: string, message: string): void {
  assert.equal(ev.outcome, 'exception');
  assert.equal(ev.exceptions.length, 1, `one exception: ${JSON.stringify(ev.exceptions)}`);
  const ex = ev.exceptions[0];
  assert.equal(ex.name, name);
  assert.equal(ex.message, message);
  assert.equal(typeof ex.timestamp, 'number');
  assert.equal(typeof ex.stack, 'string', 'a thrown Error has a stack');
  assert.ok(!ex.stack.startsWith(`${name}: `), `stack loses its "Name: message" line: ${ex.stack}`);
  assert.match(ex.stack, /^\s+at /, `stack starts at its first frame: ${ex.stack}`);
  assert.deepEqual(Object.keys(ex), ['stack', 'name', 'message', 'timestamp']);
}

// ---------------------------------------------------------------------------------------------
// flarelet dev

const WORKERS = [
  'sw-listeners.js',
  'sw-return.js',
  'sw-respond.js',
  'sw-fallthrough.js',
  'sw-passthrough.js',
  'sw-illegal.js',
  'sw-waituntil.js',
  'sw-bindings.js',
  'mod-passthrough.js',
  'mod-errors.js',
  'mod-nofetch.js',
  'mod-illegal.js',
  'mod-waituntil.js',
  'mod-bindings.js',
  'mod-cf.js',
].map((file) => `${FIXTURES}/${file}`);

describe('FetchEvent lifecycle on flarelet dev', () => {
  let origin: Awaited<ReturnType<typeof startOrigin>>;
  let f: FlareletHandle;
  /** the same workers, but no --origin */
  let bare: FlareletHandle;

  before(async () => {
    origin = await startOrigin();
    // One after the other: each picks free ports, and a port is only taken once its process listens.
    f = await startFlarelet({ entries: WORKERS, args: ['--origin', origin.url, '--var', 'GREETING=hello'] });
    bare = await startFlarelet({ entries: [`${FIXTURES}/sw-fallthrough.js`, `${FIXTURES}/sw-passthrough.js`] });
  });
  after(async () => {
    await Promise.all([f?.stop(), bare?.stop()]);
    await origin?.close();
  });

  describe('listeners', () => {
    test('run in registration order, onfetch property first; the last one answers', async () => {
      const res = await send(f, 'sw-listeners', '/');
      assert.equal(res.status, 200);
      assert.equal(res.text, 'third answered');
      const ev = await eventFor(f, 'sw-listeners', '/');
      assert.equal(ev.outcome, 'ok');
      assert.deepEqual(ev.exceptions, []);
      assert.deepEqual(messages(ev), [['onfetch'], ['first'], ['second'], ['third']]);
      assert.ok(ev.logs.every((l: { level: string }) => l.level === 'log'));
    });

    test('respondWith() stops propagation: later listeners do not run', async () => {
      const res = await send(f, 'sw-listeners', '/respond');
      assert.equal(res.status, 200);
      assert.equal(res.text, 'second answered');
      const ev = await eventFor(f, 'sw-listeners', '/respond');
      assert.equal(ev.outcome, 'ok');
      assert.deepEqual(messages(ev), [['onfetch'], ['first'], ['second']]);
    });

    test('a throwing listener ends the loop: 1101, the exception is in the trace', async () => {
      const res = await send(f, 'sw-listeners', '/throw');
      assert1101(res, 'GET /throw');
      const ev = await eventFor(f, 'sw-listeners', '/throw');
      assertOneException(ev, 'TypeError', 'listener failed');
      assert.deepEqual(messages(ev), [['onfetch'], ['first'], ['second']], 'the third listener never ran');
    });

    test('a listener returning a value or a promise: one warning with the exact text', async () => {
      const res = await send(f, 'sw-return', '/');
      assert.equal(res.status, 200);
      assert.equal(res.text, 'answered');
      const ev = await eventFor(f, 'sw-return', '/');
      assert.equal(ev.outcome, 'ok');
      assert.deepEqual(logsAt(ev, 'warn'), [[RETURNED_PROMISE_WARNING]], 'warned once although three listeners returned something');
      assert.deepEqual(logsAt(ev, 'log'), [['async listener ran']]);
    });
  });

  describe('respondWith()', () => {
    test('a second call throws DOMException InvalidStateError', async () => {
      const res = await send(f, 'sw-respond', '/twice');
      assert.equal(res.status, 200);
      assert.equal(res.text, `InvalidStateError: ${ALREADY_CALLED} (DOMException: true)`);
      const ev = await eventFor(f, 'sw-respond', '/twice');
      assert.equal(ev.outcome, 'ok');
      assert.deepEqual(ev.exceptions, []);
    });

    test('a promise of something else than a Response: TypeError, 1101', async () => {
      const res = await send(f, 'sw-respond', '/not-response');
      assert1101(res, 'GET /not-response');
      const ev = await eventFor(f, 'sw-respond', '/not-response');
      assert.equal(ev.outcome, 'exception');
      assert.equal(ev.exceptions.length, 1);
      assert.equal(ev.exceptions[0].name, 'TypeError');
      assert.equal(ev.exceptions[0].message, INCORRECT_TYPE);
    });

    test('a call after the handler returned is too late', async () => {
      const res = await send(f, 'sw-respond', '/late');
      assert.equal(res.status, 200);
      assert.equal(res.text, `InvalidStateError: ${TOO_LATE} (DOMException: true)`);
      const ev = await eventFor(f, 'sw-respond', '/late');
      assert.equal(ev.outcome, 'ok');
    });
  });

  describe('no respondWith(): default handling', () => {
    test('the request reaches the origin unchanged: method, path, query, headers, body', async () => {
      const before = origin.requests.length;
      const res = await send(f, 'sw-fallthrough', '/plain/page?q=1&r=two%20words', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-extra': 'carried', 'x-multi': ['a', 'b'] },
        body: 'a=1&b=2',
      });
      assert.equal(res.status, 203, 'the origin status reaches the client');
      assert.equal(res.headers['x-origin'], 'yes');
      assert.equal(res.text, 'origin saw POST /plain/page?q=1&r=two%20words with a=1&b=2');
      assert.equal(origin.requests.length, before + 1);
      const seen = origin.requests.at(-1)!;
      assert.equal(seen.method, 'POST');
      assert.equal(seen.url, '/plain/page?q=1&r=two%20words');
      assert.equal(seen.body, 'a=1&b=2');
      assert.equal(seen.headers['content-type'], 'application/x-www-form-urlencoded');
      assert.equal(seen.headers['x-extra'], 'carried');
      assert.equal(seen.headers['x-multi'], 'a, b');

      const ev = await eventFor(f, 'sw-fallthrough', '/plain/page?q=1&r=two%20words');
      assert.equal(ev.outcome, 'ok');
      assert.deepEqual(ev.exceptions, []);
      assert.deepEqual(ev.logs.map((l: { level: string; message: unknown[] }) => [l.level, l.message]), [['log', ['saw', 'POST', '/plain/page']]]);
      assert.equal(ev.event.response?.status, 203);
    });

    test('async work started without respondWith(): the warning, then the origin', async () => {
      const res = await send(f, 'sw-fallthrough', '/async');
      assert.equal(res.status, 203);
      assert.equal(res.text, 'origin saw GET /async');
      const ev = await eventFor(f, 'sw-fallthrough', '/async');
      assert.equal(ev.outcome, 'ok');
      assert.deepEqual(logsAt(ev, 'warn'), [[FALL_THROUGH_WITH_ASYNC_WARNING]]);
      assert.ok(!messages(ev).some((m: unknown[]) => m[0] === 'timer fired'), 'the task was canceled');
    });

    test('request body consumed without respondWith(): the error log and 500, the origin is not asked', async () => {
      const before = origin.requests.length;
      const res = await send(f, 'sw-fallthrough', '/consumed', { method: 'POST', body: 'read me' });
      assert.equal(res.status, 500);
      assert.equal(origin.requests.length, before, 'nothing forwarded');
      const ev = await eventFor(f, 'sw-fallthrough', '/consumed');
      assert.deepEqual(logsAt(ev, 'error'), [[CONSUMED_BODY_ERROR]]);
    });

    test('no origin configured: an exception (1101)', async () => {
      const res = await send(bare, 'sw-fallthrough', '/nowhere');
      assert1101(res, 'GET /nowhere without origin');
      const ev = await eventFor(bare, 'sw-fallthrough', '/nowhere');
      assert.equal(ev.outcome, 'exception');
      assert.equal(ev.exceptions.length, 1, `one exception: ${JSON.stringify(ev.exceptions)}`);
      assert.equal(typeof ev.exceptions[0].message, 'string');
      assert.deepEqual(messages(ev), [['saw', 'GET', '/nowhere']]);
    });
  });

  describe('module workers', () => {
    for (const path of ['/string', '/object', '/async-string']) {
      test(`fetch() resolving to a non-Response (${path}): TypeError, 1101`, async () => {
        const res = await send(f, 'mod-errors', path);
        assert1101(res, path);
        const ev = await eventFor(f, 'mod-errors', path);
        assert.equal(ev.outcome, 'exception');
        assert.equal(ev.exceptions.length, 1);
        assert.equal(ev.exceptions[0].name, 'TypeError');
        assert.equal(ev.exceptions[0].message, INCORRECT_TYPE);
      });
    }

    test('a rejected fetch() promise: 1101 and the rejection in the trace', async () => {
      const res = await send(f, 'mod-errors', '/reject');
      assert1101(res, '/reject');
      assertOneException(await eventFor(f, 'mod-errors', '/reject'), 'RangeError', 'rejected on purpose');
    });

    test('a synchronous throw from fetch(): 1101 and the exception in the trace', async () => {
      const res = await send(f, 'mod-errors', '/throw');
      assert1101(res, '/throw');
      assertOneException(await eventFor(f, 'mod-errors', '/throw'), 'SyntaxError', 'thrown on purpose');
    });

    test('a Response is answered as is', async () => {
      const res = await send(f, 'mod-errors', '/fine');
      assert.equal(res.status, 200);
      assert.equal(res.text, 'fine');
      assert.equal((await eventFor(f, 'mod-errors', '/fine')).outcome, 'ok');
    });

    test('no fetch export: 1101 and "Handler does not export a fetch() function."', async () => {
      const res = await send(f, 'mod-nofetch', '/');
      assert1101(res, 'mod-nofetch');
      const ev = await eventFor(f, 'mod-nofetch', '/');
      assert.equal(ev.outcome, 'exception');
      assert.equal(ev.exceptions.length, 1);
      assert.equal(ev.exceptions[0].name, 'Error');
      assert.equal(ev.exceptions[0].message, NO_FETCH_EXPORT);
    });
  });

  describe('Illegal invocation', () => {
    test('detached ctx.waitUntil / ctx.passThroughOnException throw; .call(ctx, …) works', async () => {
      const res = await send(f, 'mod-illegal', '/');
      assert.equal(res.status, 200);
      assert.equal(res.text, [ILLEGAL_INVOCATION, ILLEGAL_INVOCATION, ILLEGAL_INVOCATION, 'ok', 'ok'].join('\n'));
      assert.equal((await eventFor(f, 'mod-illegal', '/')).outcome, 'ok');
    });

    test('detached event.respondWith / waitUntil / passThroughOnException throw; .call(event, …) works', async () => {
      const res = await send(f, 'sw-illegal', '/');
      assert.equal(res.status, 200);
      assert.equal(res.text, [ILLEGAL_INVOCATION, ILLEGAL_INVOCATION, ILLEGAL_INVOCATION, 'ok', 'ok'].join('\n'));
      assert.equal((await eventFor(f, 'sw-illegal', '/')).outcome, 'ok');
    });
  });

  describe('waitUntil()', () => {
    for (const name of ['sw-waituntil', 'mod-waituntil']) {
      test(`${name}: the response is not delayed; later work and its logs are in the same trace event`, async () => {
        const t0 = Date.now();
        const res = await send(f, name, '/after');
        const answeredAfter = Date.now() - t0;
        assert.equal(res.status, 200);
        assert.equal(res.text, 'responded');
        assert.ok(answeredAfter < 250, `answered after ${answeredAfter} ms, before the 300 ms task ended`);
        const ev = await eventFor(f, name, '/after');
        assert.ok(Date.now() - t0 >= 290, 'the event waits for the task');
        assert.equal(ev.outcome, 'ok');
        assert.deepEqual(messages(ev), [['handler', '/after'], ['background done']]);
        assert.equal(ev.event.response?.status, 200);
        assert.equal(f.events.filter((e) => e.scriptName === name && pathOf(e) === '/after').length, 1, 'one event');
      });

      test(`${name}: a rejected task is an exception of the invocation; its siblings still finish`, async () => {
        const res = await send(f, name, '/reject');
        assert.equal(res.status, 200, 'the client got its response');
        assert.equal(res.text, 'responded');
        const ev = await eventFor(f, name, '/reject');
        const [errorName, message] = name === 'sw-waituntil' ? ['Error', 'background failed'] : ['TypeError', 'module background failed'];
        assertOneException(ev, errorName, message);
        assert.deepEqual(messages(ev), [['handler', '/reject'], ['sibling finished']]);
        assert.equal(ev.event.response?.status, 200);
      });
    }
  });

  describe('passThroughOnException()', () => {
    for (const [path, name, message] of [
      ['/sync', 'Error', 'sync failure'],
      ['/async', 'RangeError', 'async failure'],
    ] as const) {
      test(`service worker ${path}: the origin answers, the exception is still traced`, async () => {
        const before = origin.requests.length;
        const res = await send(f, 'sw-passthrough', path, { headers: { 'x-extra': 'carried' } });
        assert.equal(res.status, 203);
        assert.equal(res.headers['x-origin'], 'yes');
        assert.equal(res.text, `origin saw GET ${path}`);
        assert.equal(origin.requests.length, before + 1);
        assert.equal(origin.requests.at(-1)!.headers['x-extra'], 'carried');
        assertOneException(await eventFor(f, 'sw-passthrough', path), name, message);
      });
    }

    test('module ctx.passThroughOnException(): the origin answers, the exception is still traced', async () => {
      const res = await send(f, 'mod-passthrough', '/boom', { method: 'POST', body: 'kept body' });
      assert.equal(res.status, 203);
      assert.equal(res.text, 'origin saw POST /boom with kept body');
      assertOneException(await eventFor(f, 'mod-passthrough', '/boom'), 'Error', 'module boom');
      const ok = await send(f, 'mod-passthrough', '/fine');
      assert.equal(ok.text, 'module answered');
    });

    test('request body already consumed: it cannot be resent, 1101', async () => {
      const before = origin.requests.length;
      const res = await send(f, 'sw-passthrough', '/consumed', { method: 'POST', body: 'data' });
      assert1101(res, 'POST /consumed');
      assert.equal(origin.requests.length, before, 'nothing forwarded');
      assertOneException(await eventFor(f, 'sw-passthrough', '/consumed'), 'Error', 'failed after reading data');
    });

    test('no exception: the worker answers, the origin is not asked', async () => {
      const before = origin.requests.length;
      const res = await send(f, 'sw-passthrough', '/ok');
      assert.equal(res.status, 200);
      assert.equal(res.text, 'worker answered');
      assert.equal(origin.requests.length, before);
    });
  });

  describe('bindings and globals', () => {
    test('service worker: --var values are globals', async () => {
      const res = await send(f, 'sw-bindings', '/');
      assert.equal(res.text, '{"GREETING":"hello","onGlobalThis":"hello"}');
    });

    test('module worker: --var values are in env only', async () => {
      const res = await send(f, 'mod-bindings', '/');
      assert.equal(res.text, '{"env":"hello","onGlobalThis":null,"inGlobalThis":false,"bareIdentifier":null}');
    });

    test('request.cf for a loopback client: colo and httpProtocol, no geo; navigator.userAgent', async () => {
      const res = await send(f, 'mod-cf', '/');
      assert.equal(res.status, 200);
      const body = JSON.parse(res.text) as { cf: Record<string, unknown>; userAgent: string };
      assert.equal(body.userAgent, 'Cloudflare-Workers');
      assert.equal(typeof body.cf, 'object');
      assert.equal(body.cf.colo, 'LCL');
      assert.equal(body.cf.httpProtocol, 'HTTP/1.1');
      for (const key of ['country', 'city', 'region', 'latitude', 'longitude', 'timezone']) {
        assert.ok(!(key in body.cf), `no ${key} for a loopback client`);
      }
      const ev = await eventFor(f, 'mod-cf', '/');
      assert.equal(ev.event.request.cf.colo, 'LCL');
      assert.equal(ev.event.request.cf.httpProtocol, 'HTTP/1.1');
    });
  });

  test('stdout carried nothing but trace events', () => {
    assert.deepEqual(f.strayStdout, []);
    assert.deepEqual(bare.strayStdout, []);
  });
});

// ---------------------------------------------------------------------------------------------
// reference: the same fixtures on workerd give the same response texts

describe('FetchEvent lifecycle on workerd (reference runtime)', () => {
  const run = async (file: string, format: 'module' | 'service-worker', checks: [string, number, string][]) => {
    const w = await startWorkerd({ format, script: await readFile(join(projectRoot, FIXTURES, file), 'utf8'), vars: { GREETING: 'hello' } });
    try {
      for (const [path, status, text] of checks) {
        const res = await httpRequest(`${w.url}${path}`);
        assert.equal(res.status, status, `${file} ${path}: status`);
        if (text !== '*') assert.equal(res.text, text, `${file} ${path}: body`);
      }
    } finally {
      await w.stop();
    }
  };

  test('sw-listeners.js', () =>
    run('sw-listeners.js', 'service-worker', [
      ['/', 200, 'third answered'],
      ['/respond', 200, 'second answered'],
      ['/throw', 500, '*'],
    ]));
  test('sw-respond.js', () =>
    run('sw-respond.js', 'service-worker', [
      ['/twice', 200, `InvalidStateError: ${ALREADY_CALLED} (DOMException: true)`],
      ['/late', 200, `InvalidStateError: ${TOO_LATE} (DOMException: true)`],
      ['/not-response', 500, '*'],
    ]));
  test('mod-illegal.js', () => run('mod-illegal.js', 'module', [['/', 200, [ILLEGAL_INVOCATION, ILLEGAL_INVOCATION, ILLEGAL_INVOCATION, 'ok', 'ok'].join('\n')]]));
  test('sw-illegal.js', () =>
    run('sw-illegal.js', 'service-worker', [['/', 200, [ILLEGAL_INVOCATION, ILLEGAL_INVOCATION, ILLEGAL_INVOCATION, 'ok', 'ok'].join('\n')]]));
  test('sw-bindings.js', () => run('sw-bindings.js', 'service-worker', [['/', 200, '{"GREETING":"hello","onGlobalThis":"hello"}']]));
  test('mod-bindings.js', () =>
    run('mod-bindings.js', 'module', [['/', 200, '{"env":"hello","onGlobalThis":null,"inGlobalThis":false,"bareIdentifier":null}']]));
  test('mod-errors.js', () =>
    run('mod-errors.js', 'module', [
      ['/async-string', 500, '*'],
      ['/reject', 500, '*'],
      ['/fine', 200, 'fine'],
    ]));
});
