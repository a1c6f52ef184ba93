// The examples in examples/ run under `flarelet dev --format json`: exact responses, origin
// fall-through, waitUntil, host routing and the trace event of every invocation (spec §1, §4).
// The same response expectations also run on workerd, the reference runtime, so they are known right.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';
import { parse as parseToml } from 'smol-toml';
import { httpRequest, projectRoot, startFlarelet } from '../support/flarelet.ts';
import type { HttpResult, TraceEvent } from '../support/flarelet.ts';
import { startWorkerd } from '../support/workerd.ts';
import { startRecorder } from '../support/recorder.ts';
import type { Recorded } from '../support/recorder.ts';

const examples = join(projectRoot, 'examples');
const EVENT_TIMEOUT = 10_000;

// ---------------------------------------------------------------------------------------------
// helpers


const originAnswer = (r: Recorded) => ({
  status: 200,
  headers: { 'content-type': 'text/plain', 'x-origin': 'yes' },
  body: `origin saw ${r.method} ${r.url}${r.body ? ` with ${r.body}` : ''}`,
});

const TRACE_KEYS = [
  'wallTime',
  'cpuTime',
  'truncated',
  'executionModel',
  'outcome',
  'scriptVersion',
  'scriptName',
  'diagnosticsChannelEvents',
  'exceptions',
  'logs',
  'eventTimestamp',
  'event',
];

/** The trace event schema of spec §4: key order, types, one log/exception shape. */
function assertTraceShape(ev: TraceEvent): void {
  assert.deepEqual(
    Object.keys(ev),
    TRACE_KEYS.filter((k) => k !== 'scriptVersion' || 'scriptVersion' in ev),
    'trace event keys in schema order',
  );
  assert.ok(Number.isInteger(ev.wallTime) && ev.wallTime >= 0, 'wallTime is an integer');
  assert.ok(Number.isInteger(ev.cpuTime) && ev.cpuTime >= 0, 'cpuTime is an integer');
  assert.equal(typeof ev.truncated, 'boolean');
  assert.equal(ev.executionModel, 'stateless');
  assert.equal(typeof ev.outcome, 'string');
  assert.ok(ev.scriptName === null || typeof ev.scriptName === 'string');
  assert.deepEqual(ev.diagnosticsChannelEvents, []);
  assert.ok(Array.isArray(ev.exceptions) && Array.isArray(ev.logs));
  for (const log of ev.logs) {
    assert.ok(Array.isArray(log.message), 'log.message is an array');
    assert.ok(['debug', 'info', 'log', 'warn', 'error'].includes(log.level), `level ${log.level}`);
    assert.equal(typeof log.timestamp, 'number');
  }
  for (const ex of ev.exceptions) {
    assert.equal(typeof ex.name, 'string');
    assert.equal(typeof ex.message, 'string');
    assert.equal(typeof ex.timestamp, 'number');
  }
  assert.ok(Math.abs(ev.eventTimestamp - Date.now()) < 5 * 60_000, 'eventTimestamp is epoch ms');
  assert.equal(typeof ev.event?.request?.url, 'string');
  assert.equal(typeof ev.event.request.method, 'string');
  assert.equal(typeof ev.event.request.headers, 'object');
}

const messages = (ev: TraceEvent) => ev.logs.map((l: { message: unknown[] }) => l.message);
const pathOf = (ev: TraceEvent) => new URL(ev.event.request.url).pathname;

function assertResponse(res: HttpResult, want: { status: number; body: string; headers?: Record<string, string> }, what: string) {
  assert.equal(res.status, want.status, `${what}: status`);
  assert.equal(res.text, want.body, `${what}: body`);
  for (const [name, value] of Object.entries(want.headers ?? {})) {
    assert.equal(res.headers[name], value, `${what}: header ${name}`);
  }
}

async function bundle(entry: string): Promise<string> {
  const out = await build({
    entryPoints: [join(examples, entry)],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    mainFields: ['module', 'main'],
    conditions: ['workerd', 'worker', 'import'],
    absWorkingDir: projectRoot,
    write: false,
    logLevel: 'silent',
  });
  return out.outputFiles[0]!.text;
}

// ---------------------------------------------------------------------------------------------
// response expectations shared by the workerd reference run and the flarelet run

interface Req {
  method?: string;
  path: string;
  body?: string;
  headers?: Record<string, string>;
  expect: { status: number; body: string; headers?: Record<string, string> };
}

const helloRequests: Req[] = [
  { path: '/', expect: { status: 200, body: 'Hello worker!', headers: { 'content-type': 'text/plain' } } },
];
const moduleHelloRequests: Req[] = [
  {
    path: '/x',
    expect: {
      status: 200,
      body: 'Hello from a module worker, Flarelet!\n',
      headers: { 'content-type': 'text/plain; charset=utf-8', 'x-greeting-source': 'env' },
    },
  },
];
const honoRequests: Req[] = [
  { path: '/', expect: { status: 200, body: 'Hono home', headers: { 'content-type': 'text/plain;charset=UTF-8' } } },
  { path: '/hello/ana', expect: { status: 200, body: 'Hello, ana!', headers: { 'content-type': 'text/plain;charset=UTF-8' } } },
  {
    path: '/api/info?q=z',
    expect: {
      status: 200,
      body: '{"app":"demo","framework":"hono","method":"GET","query":"z"}',
      headers: { 'content-type': 'application/json' },
    },
  },
  { path: '/nope', expect: { status: 404, body: 'no such route', headers: { 'content-type': 'text/plain; charset=UTF-8' } } },
];
const ittyRequests: Req[] = [
  { path: '/', expect: { status: 200, body: 'itty home', headers: { 'content-type': 'text/plain' } } },
  {
    path: '/items',
    expect: {
      status: 200,
      body: '[{"id":"1","name":"kettle"},{"id":"2","name":"teapot"}]',
      headers: { 'content-type': 'application/json; charset=utf-8' },
    },
  },
  { path: '/items/2', expect: { status: 200, body: '{"id":"2","name":"teapot"}', headers: { 'content-type': 'application/json; charset=utf-8' } } },
  { path: '/items/9', expect: { status: 404, body: 'no such item', headers: { 'content-type': 'text/plain;charset=UTF-8' } } },
  {
    method: 'POST',
    path: '/echo',
    body: '{"a":[1,2]}',
    headers: { 'content-type': 'application/json' },
    expect: { status: 200, body: '{"received":{"a":[1,2]}}', headers: { 'content-type': 'application/json; charset=utf-8' } },
  },
  { path: '/nope', expect: { status: 404, body: '{"status":404,"error":"Not Found"}', headers: { 'content-type': 'application/json; charset=utf-8' } } },
];
const configuredRequests: Req[] = [
  {
    path: '/p',
    expect: {
      status: 200,
      body: '{"greeting":"hello from wrangler.toml","mode":"development","path":"/p"}',
      headers: { 'content-type': 'application/json' },
    },
  },
];
const multiListenerAnswered: Req = {
  path: '/hello',
  expect: { status: 200, body: 'second listener answered /hello\n', headers: { 'content-type': 'text/plain', 'x-listener': 'second' } },
};
const passThroughOk: Req = {
  path: '/ok',
  expect: { status: 200, body: 'worker handled /ok\n', headers: { 'content-type': 'text/plain', 'x-handled-by': 'worker' } },
};

async function runRequests(base: string, reqs: Req[], host?: string): Promise<void> {
  for (const r of reqs) {
    const headers: Record<string, string> = { ...(r.headers ?? {}) };
    if (host) headers.host = host;
    const res = await httpRequest(base + r.path, { method: r.method ?? 'GET', headers, body: r.body });
    assertResponse(res, r.expect, `${r.method ?? 'GET'} ${r.path}`);
  }
}

// ---------------------------------------------------------------------------------------------
// reference: the expectations hold on workerd

describe('examples on workerd (reference runtime)', () => {
  const cases: { name: string; load: () => Promise<Parameters<typeof startWorkerd>[0]>; reqs: Req[] }[] = [
    {
      name: 'hello-worker.js',
      load: async () => ({ format: 'service-worker', script: await readFile(join(examples, 'hello-worker.js'), 'utf8') }),
      reqs: helloRequests,
    },
    {
      name: 'module-hello.js',
      load: async () => ({ format: 'module', script: await readFile(join(examples, 'module-hello.js'), 'utf8'), vars: { GREETING: 'Flarelet' } }),
      reqs: moduleHelloRequests,
    },
    {
      name: 'multi-listener.js',
      load: async () => ({ format: 'service-worker', script: await readFile(join(examples, 'multi-listener.js'), 'utf8') }),
      reqs: [multiListenerAnswered],
    },
    {
      name: 'pass-through.js',
      load: async () => ({ format: 'service-worker', script: await readFile(join(examples, 'pass-through.js'), 'utf8') }),
      reqs: [passThroughOk],
    },
    {
      name: 'hono-app',
      load: async () => ({ format: 'module', script: await bundle('hono-app/index.ts'), vars: { APP_NAME: 'demo' } }),
      reqs: honoRequests,
    },
    { name: 'itty-app', load: async () => ({ format: 'module', script: await bundle('itty-app/index.js') }), reqs: ittyRequests },
    {
      name: 'configured',
      load: async () => {
        const toml = parseToml(await readFile(join(examples, 'configured', 'wrangler.toml'), 'utf8')) as {
          main: string;
          compatibility_date: string;
          vars: Record<string, string>;
        };
        return {
          format: 'module',
          script: await readFile(join(examples, 'configured', toml.main), 'utf8'),
          vars: toml.vars,
          compatibilityDate: toml.compatibility_date,
        };
      },
      reqs: configuredRequests,
    },
  ];
  for (const c of cases) {
    test(c.name, async (t) => {
      const w = await startWorkerd(await c.load());
      t.after(() => w.stop());
      await runRequests(w.url, c.reqs);
    });
  }

  test('wait-until.js posts to the log service', async (t) => {
    const logService = await startRecorder(() => ({ status: 204, headers: {}, body: '' }));
    t.after(() => logService.close());
    const w = await startWorkerd({
      format: 'service-worker',
      script: await readFile(join(examples, 'wait-until.js'), 'utf8'),
      vars: { LOG_URL: `${logService.url}/log` },
    });
    t.after(() => w.stop());
    const res = await httpRequest(`${w.url}/a`);
    assertResponse(res, { status: 200, body: 'logged in the background\n' }, 'GET /a');
    const [posted] = await logService.waitFor(1, 5000);
    assert.equal(posted!.method, 'POST');
    assert.match(posted!.body, /^GET \/a handled at \d{4}-\d\d-\d\dT/);
  });
});

// ---------------------------------------------------------------------------------------------
// flarelet dev

describe('examples on flarelet dev', () => {
  test('hello-worker.js: response, console.log of request.cf, trace event and redaction', async (t) => {
    const f = await startFlarelet({ entries: ['examples/hello-worker.js'] });
    t.after(() => f.stop());
    await runRequests(f.url, helloRequests);
    const res = await httpRequest(`${f.url}/account?token=0123456789abcdef0123456789abcdef`, {
      headers: { authorization: 'Bearer sekrit', 'x-api-key': 'k-123', 'x-custom': 'kept', cookie: 'a=b' },
    });
    assert.equal(res.status, 200);

    const events = await f.waitForEvents(2, EVENT_TIMEOUT);
    const first = events.find((e) => pathOf(e) === '/');
    const second = events.find((e) => pathOf(e) !== '/');
    assert.ok(first && second, 'one event per request');
    for (const ev of [first, second]) {
      assertTraceShape(ev);
      assert.equal(ev.outcome, 'ok');
      assert.deepEqual(ev.exceptions, []);
      assert.equal(ev.truncated, false);
      assert.equal(ev.scriptName, 'hello-worker');
      assert.equal(ev.event.request.method, 'GET');
      assert.equal(ev.event.response?.status, 200);
      assert.equal(ev.logs.length, 1);
      assert.equal(ev.logs[0].level, 'log');
      assert.equal(ev.logs[0].message.length, 1);
      assert.match(ev.logs[0].message[0], /^Request came from city: .+ in country: .+$/);
    }
    assert.equal(typeof first.event.request.cf, 'object');

    const h = second.event.request.headers;
    assert.equal(h.authorization, 'REDACTED');
    assert.equal(h['x-api-key'], 'REDACTED');
    assert.equal(h.cookie, 'REDACTED');
    assert.equal(h['x-custom'], 'kept');
    assert.ok(!second.event.request.url.includes('0123456789abcdef0123456789abcdef'), 'hex token redacted from the URL');
    assert.match(second.event.request.url, /\/account\?token=REDACTED$/);
    assert.deepEqual(f.strayStdout, [], 'stdout carries nothing but trace events');
  });

  test('module-hello.js: env var from --var, console.log in the trace', async (t) => {
    const f = await startFlarelet({ entries: ['examples/module-hello.js'], args: ['--var', 'GREETING=Flarelet'] });
    t.after(() => f.stop());
    await runRequests(f.url, moduleHelloRequests);
    // with a single worker, a name.localhost host reaches it as well
    await runRequests(f.url, moduleHelloRequests, `module-hello.localhost:${f.port}`);
    const events = await f.waitForEvents(2, EVENT_TIMEOUT);
    for (const ev of events) {
      assertTraceShape(ev);
      assert.equal(ev.outcome, 'ok');
      assert.equal(ev.scriptName, 'module-hello');
      assert.deepEqual(messages(ev), [['module-hello', 'GET', '/x']]);
      assert.equal(ev.logs[0].level, 'log');
      assert.equal(ev.event.response?.status, 200);
    }
    assert.deepEqual(f.strayStdout, []);
  });

  test('wait-until.js: the log request completes after the response; its logs join the trace', async (t) => {
    const logService = await startRecorder(() => ({ status: 202, headers: { 'content-type': 'text/plain' }, body: 'noted' }));
    t.after(() => logService.close());
    const f = await startFlarelet({ entries: ['examples/wait-until.js'], args: ['--var', `LOG_URL=${logService.url}/log`] });
    t.after(() => f.stop());

    const res = await httpRequest(`${f.url}/a`);
    assertResponse(res, { status: 200, body: 'logged in the background\n', headers: { 'content-type': 'text/plain' } }, 'GET /a');
    const [posted] = await logService.waitFor(1, 5000);
    assert.equal(posted!.method, 'POST');
    assert.equal(posted!.url, '/log');
    assert.equal(posted!.headers['content-type'], 'text/plain');
    assert.match(posted!.body, /^GET \/a handled at \d{4}-\d\d-\d\dT[\d:.]+Z$/);

    const [ev] = await f.waitForEvents(1, EVENT_TIMEOUT);
    assertTraceShape(ev!);
    assert.equal(ev!.outcome, 'ok');
    assert.deepEqual(messages(ev!), [['queued log line'], ['log service answered', 202]]);
    assert.deepEqual(ev!.exceptions, []);
  });

  test('pass-through.js: /boom goes to the origin, the exception is still traced', async (t) => {
    const origin = await startRecorder(originAnswer);
    t.after(() => origin.close());
    const f = await startFlarelet({ entries: ['examples/pass-through.js'], args: ['--origin', origin.url] });
    t.after(() => f.stop());

    await runRequests(f.url, [passThroughOk]);
    assert.equal(origin.requests.length, 0, 'a worker response does not touch the origin');

    const boom = await httpRequest(`${f.url}/boom`);
    assertResponse(boom, { status: 200, body: 'origin saw GET /boom', headers: { 'content-type': 'text/plain', 'x-origin': 'yes' } }, 'GET /boom');
    assert.equal(origin.requests.length, 1);
    assert.equal(origin.requests[0]!.method, 'GET');
    assert.equal(origin.requests[0]!.url, '/boom');

    const events = await f.waitForEvents(2, EVENT_TIMEOUT);
    events.forEach(assertTraceShape);
    const ok = events.find((e) => pathOf(e) === '/ok')!;
    const thrown = events.find((e) => pathOf(e) === '/boom')!;
    assert.equal(ok.outcome, 'ok');
    assert.deepEqual(ok.exceptions, []);
    assert.equal(thrown.outcome, 'exception');
    assert.equal(thrown.exceptions.length, 1);
    assert.equal(thrown.exceptions[0].name, 'Error');
    assert.equal(thrown.exceptions[0].message, 'boom');
    if ('stack' in thrown.exceptions[0]) {
      assert.ok(!thrown.exceptions[0].stack.startsWith('Error: boom'), 'stack has no "Name: message" first line');
    }
  });

  test('multi-listener.js: listener order, propagation stops at respondWith, /ignore/ reaches the origin unchanged', async (t) => {
    const origin = await startRecorder(originAnswer);
    t.after(() => origin.close());
    const f = await startFlarelet({ entries: ['examples/multi-listener.js'], args: ['--origin', origin.url] });
    t.after(() => f.stop());

    await runRequests(f.url, [multiListenerAnswered]);
    const ignored = await httpRequest(`${f.url}/ignore/page?x=1`);
    assertResponse(ignored, { status: 200, body: 'origin saw GET /ignore/page?x=1', headers: { 'x-origin': 'yes' } }, 'GET /ignore/page');
    const posted = await httpRequest(`${f.url}/ignore/form`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-extra': 'carried' },
      body: 'a=1&b=2',
    });
    assertResponse(posted, { status: 200, body: 'origin saw POST /ignore/form with a=1&b=2' }, 'POST /ignore/form');
    assert.equal(origin.requests.length, 2);
    assert.equal(origin.requests[1]!.headers['x-extra'], 'carried');
    assert.equal(origin.requests[1]!.headers['content-type'], 'application/x-www-form-urlencoded');

    const events = await f.waitForEvents(3, EVENT_TIMEOUT);
    events.forEach(assertTraceShape);
    for (const ev of events) {
      assert.equal(ev.outcome, 'ok');
      assert.deepEqual(ev.exceptions, []);
    }
    const byPath = (p: string) => events.find((e) => pathOf(e) === p)!;
    assert.deepEqual(messages(byPath('/hello')), [['first listener saw', '/hello']]);
    assert.deepEqual(messages(byPath('/ignore/page')), [
      ['first listener saw', '/ignore/page'],
      ['third listener saw', '/ignore/page'],
    ]);
    assert.deepEqual(messages(byPath('/ignore/form')), [
      ['first listener saw', '/ignore/form'],
      ['third listener saw', '/ignore/form'],
    ]);
  });

  test('hono-app/index.ts: TypeScript entry importing hono', async (t) => {
    const f = await startFlarelet({ entries: ['examples/hono-app/index.ts'], args: ['--var', 'APP_NAME=demo'] });
    t.after(() => f.stop());
    await runRequests(f.url, honoRequests);
    const events = await f.waitForEvents(honoRequests.length, EVENT_TIMEOUT);
    events.forEach(assertTraceShape);
    // events may be emitted slightly out of request order: compare as sorted sets
    assert.deepEqual(
      events.map((e) => [pathOf(e), e.outcome, e.event.response?.status]).sort(),
      [
        ['/', 'ok', 200],
        ['/api/info', 'ok', 200],
        ['/hello/ana', 'ok', 200],
        ['/nope', 'ok', 404],
      ],
    );
    assert.deepEqual(messages(events.find((e) => pathOf(e) === '/hello/ana')!), [['greeting', 'ana']]);
    assert.deepEqual(messages(events.find((e) => pathOf(e) === '/')!), []);
  });

  test('itty-app/index.js: itty-router AutoRouter', async (t) => {
    const f = await startFlarelet({ entries: ['examples/itty-app/index.js'] });
    t.after(() => f.stop());
    await runRequests(f.url, ittyRequests);
    const events = await f.waitForEvents(ittyRequests.length, EVENT_TIMEOUT);
    events.forEach(assertTraceShape);
    assert.deepEqual(
      events.map((e) => [e.event.request.method, pathOf(e), e.outcome, e.event.response?.status]).sort(),
      ittyRequests.map((r) => [r.method ?? 'GET', r.path.split('?')[0], 'ok', r.expect.status]).sort(),
    );
  });

  test('configured/: name, main and vars come from wrangler.toml', async (t) => {
    const f = await startFlarelet({ entries: [], cwd: join(examples, 'configured') });
    t.after(() => f.stop());
    await runRequests(f.url, configuredRequests, `configured-worker.localhost:${f.port}`);
    const [ev] = await f.waitForEvents(1, EVENT_TIMEOUT);
    assertTraceShape(ev!);
    assert.equal(ev!.scriptName, 'configured-worker');
    assert.equal(ev!.outcome, 'ok');
    assert.deepEqual(messages(ev!), [['configured worker', 'development']]);
  });

  test('several entries: the Host header picks the worker; an unknown name is 1022', async (t) => {
    const f = await startFlarelet({
      entries: ['examples/module-hello.js', 'examples/hello-worker.js'],
      args: ['--var', 'GREETING=Flarelet'],
    });
    t.after(() => f.stop());
    await runRequests(f.url, moduleHelloRequests, `module-hello.localhost:${f.port}`);
    await runRequests(f.url, helloRequests, `hello-worker.localhost:${f.port}`);
    const unknown = await httpRequest(`${f.url}/`, { headers: { host: `nobody.localhost:${f.port}` } });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.text, 'error code: 1022');
    assert.match(String(unknown.headers['content-type']), /^text\/plain/);

    const events = await f.waitForEvents(2, EVENT_TIMEOUT);
    events.forEach(assertTraceShape);
    assert.deepEqual(
      events.map((e) => e.scriptName).sort(),
      ['hello-worker', 'module-hello'],
    );
  });
});
