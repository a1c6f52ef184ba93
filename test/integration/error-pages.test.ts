// Error pages as clients meet them over real `flarelet dev` processes: every code the edge can
// produce, in every format the Accept header can ask for. To cover another code, add a row to
// CASES: the entries and flags its process needs (rows with the same ones share a process) and
// the request that provokes it.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ERROR_CODES } from '../../src/edge/error-codes.ts';
import type { ErrorCodeNumber } from '../../src/edge/error-codes.ts';
import { httpRequest, startFlarelet } from '../support/flarelet.ts';
import type { FlareletHandle, HttpResult, TraceEvent } from '../support/flarelet.ts';

const EVENT_TIMEOUT = 20_000;
const THROWER = 'test/fixtures/errors/thrower.js';
const GREETER = 'test/fixtures/errors/greeter.js';
const LIMITS = 'test/fixtures/limits/limits.js';

interface ErrorCase {
  code: ErrorCodeNumber;
  what: string;
  entries: string[];
  args?: string[];
  /** the host the request names (without port): the page's zone */
  zone: string;
  /** extra request headers that provoke the error */
  headers?: Record<string, string>;
  /** the error comes from an invocation, so a trace event carries the same cf-ray */
  traced: boolean;
  /** the invocation's outcome when traced (default exception) */
  outcome?: string;
  /** the request path (default /some/path?x=1) */
  path?: (f: FlareletHandle) => string;
  /** the zone the page names when it is not the client's (a refused subrequest names its target) */
  pageZone?: string;
  /** done once before the first request of the case */
  prepare?: (f: FlareletHandle) => Promise<void>;
}

const CASES: ErrorCase[] = [
  { code: 1022, what: 'two workers, an unknown Host', entries: [THROWER, GREETER], zone: 'nobody.localhost', traced: false },
  { code: 1019, what: 'CF-EW-Via: 0', entries: [THROWER, GREETER], zone: 'greeter.localhost', headers: { 'cf-ew-via': '0' }, traced: false },
  { code: 1101, what: 'a worker that throws', entries: [THROWER, GREETER], zone: 'thrower.localhost', traced: true },
  { code: 1101, what: 'a handler that hangs', entries: [LIMITS], zone: 'limits.localhost', traced: true, path: () => '/hang' },
  {
    code: 1102, what: 'a handler over its CPU limit', entries: [LIMITS], args: ['--cpu-ms', '20'], zone: 'limits.localhost',
    traced: true, outcome: 'exceededCpu', path: () => '/spin',
  },
  {
    code: 1102, what: 'an isolate over its memory limit', entries: [LIMITS], args: ['--memory-mb', '16', '--cpu-ms', '10000'],
    zone: 'limits.localhost', traced: true, outcome: 'exceededMemory', path: () => '/bomb',
  },
  {
    code: 1103, what: 'a worker the operator disabled', entries: [GREETER], args: ['--name', 'off'], zone: 'off.localhost', traced: false,
    prepare: async (f) => {
      const res = await httpRequest(`http://127.0.0.1:${f.apiPort}/client/v4/accounts/local/workers/scripts/off/disable`, { method: 'POST' });
      assert.equal(res.status, 200, res.text);
    },
  },
  { code: 1015, what: 'the burst limit', entries: [GREETER], args: ['--burst-limit', '0'], zone: 'greeter.localhost', traced: false },
  { code: 1027, what: 'the daily request limit', entries: [GREETER], args: ['--daily-limit', '0'], zone: 'greeter.localhost', traced: false },
  {
    code: 1021, what: 'a fetch of a cloud metadata address', entries: [LIMITS], zone: 'limits.localhost', traced: true,
    path: () => '/fetch?url=http://169.254.169.254/latest/meta-data/',
  },
  {
    code: 1024, what: "a fetch of the platform's own address", entries: [LIMITS], zone: 'limits.localhost', traced: true, outcome: 'ok',
    pageZone: '127.0.0.1', path: (f) => `/proxy?url=http://127.0.0.1:${f.apiPort}/`,
  },
  {
    code: 1042, what: 'a fetch of another worker on the zone', entries: [LIMITS, GREETER], zone: 'limits.localhost', traced: true, outcome: 'ok',
    pageZone: 'greeter.localhost', path: (f) => `/proxy?url=http://greeter.localhost:${f.port}/`,
  },
];

interface Format {
  name: string;
  accept: string | undefined;
  contentType: string;
  /** the Ray ID the body names, or null for the plain body (which names none) */
  rayIdOf(body: string, code: ErrorCodeNumber): string | null;
}

function frontMatterValue(markdown: string, key: string): string {
  const fm = /^---\n([\s\S]*?)\n---\n/.exec(markdown);
  assert.ok(fm, 'front matter');
  const line = fm[1].split('\n').find((l) => l.startsWith(`${key}: `));
  assert.ok(line, `front matter has ${key}`);
  const raw = line.slice(key.length + 2);
  return raw.startsWith('"') ? JSON.parse(raw) : raw;
}

function checkJson(body: string, code: ErrorCodeNumber): string {
  const problem = JSON.parse(body);
  assert.deepEqual(Object.keys(problem), [
    'type', 'title', 'status', 'detail', 'instance',
    'error_code', 'error_name', 'error_category', 'ray_id', 'timestamp', 'zone', 'retryable', 'owner_action_required',
  ]);
  assert.equal(problem.error_code, code);
  assert.equal(problem.status, ERROR_CODES[code].status);
  assert.equal(problem.error_name, ERROR_CODES[code].name);
  assert.equal(problem.instance, `urn:flarelet:ray:${problem.ray_id}`);
  const age = Date.now() - Date.parse(problem.timestamp);
  assert.ok(problem.timestamp.endsWith('Z') && age >= 0 && age < 60_000, `timestamp ${problem.timestamp} is now, in UTC`);
  return problem.ray_id;
}

const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';

const FORMATS: Format[] = [
  {
    name: 'no Accept', accept: undefined, contentType: 'text/plain; charset=UTF-8',
    rayIdOf: (body, code) => (assert.equal(body, `error code: ${code}`), null),
  },
  {
    name: 'Accept: */*', accept: '*/*', contentType: 'text/plain; charset=UTF-8',
    rayIdOf: (body, code) => (assert.equal(body, `error code: ${code}`), null),
  },
  {
    name: 'a browser', accept: BROWSER_ACCEPT, contentType: 'text/html; charset=UTF-8',
    rayIdOf: (body, code) => {
      assert.match(body, /^<!DOCTYPE html>/);
      assert.ok(body.includes(`<h1>${ERROR_CODES[code].title}</h1>`));
      assert.match(body, /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
      const m = /Ray ID: <code>([^<]+)<\/code>/.exec(body);
      assert.ok(m, 'the page shows the Ray ID');
      return m[1];
    },
  },
  { name: 'application/json', accept: 'application/json', contentType: 'application/json', rayIdOf: checkJson },
  { name: 'application/problem+json', accept: 'application/problem+json', contentType: 'application/problem+json', rayIdOf: checkJson },
  {
    name: 'text/markdown', accept: 'text/markdown', contentType: 'text/markdown; charset=UTF-8',
    rayIdOf: (body, code) => {
      assert.equal(frontMatterValue(body, 'error_code'), String(code));
      assert.ok(body.includes('## What happened') && body.includes('## What you can do'));
      return frontMatterValue(body, 'ray_id');
    },
  },
];

// One process per distinct (entries, args), started on first use.
const processes = new Map<string, Promise<FlareletHandle>>();
function flareletFor(c: ErrorCase): Promise<FlareletHandle> {
  const key = JSON.stringify([c.entries, c.args ?? []]);
  let started = processes.get(key);
  if (!started) {
    started = startFlarelet({ entries: c.entries, args: c.args });
    processes.set(key, started);
  }
  return started;
}
after(async () => {
  for (const started of processes.values()) await (await started.catch(() => null))?.stop();
});

const prepared = new Map<ErrorCase, Promise<void>>();
async function provoke(c: ErrorCase, accept: string | undefined): Promise<{ f: FlareletHandle; res: HttpResult }> {
  const f = await flareletFor(c);
  if (c.prepare) {
    if (!prepared.has(c)) prepared.set(c, c.prepare(f));
    await prepared.get(c);
  }
  const headers: Record<string, string> = { host: `${c.zone}:${f.port}`, ...c.headers };
  if (accept !== undefined) headers.accept = accept;
  return { f, res: await httpRequest(`${f.url}${c.path ? c.path(f) : '/some/path?x=1'}`, { headers }) };
}

async function traceFor(f: FlareletHandle, rayId: string): Promise<TraceEvent> {
  const deadline = Date.now() + EVENT_TIMEOUT;
  for (;;) {
    const event = f.events.find((e) => e.event?.request?.headers?.['cf-ray'] === rayId);
    if (event) return event;
    if (Date.now() > deadline) throw new Error(`no trace event with cf-ray ${rayId}; events: ${JSON.stringify(f.events)}\nstderr:\n${f.stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

for (const c of CASES) {
  describe(`${c.code} (${c.what})`, () => {
    const seenRays = new Set<string>();
    for (const format of FORMATS) {
      test(`${format.name} → ${format.contentType}`, async () => {
        const { f, res } = await provoke(c, format.accept);
        assert.equal(res.status, ERROR_CODES[c.code].status, `status; body: ${res.text}`);
        assert.equal(res.headers['content-type'], format.contentType);
        // A page a worker fetched and returned is streamed through (no content-length).
        if (!c.path?.(f).startsWith('/proxy')) assert.equal(Number(res.headers['content-length']), res.body.length);
        const cfRay = String(res.headers['cf-ray']);
        assert.match(cfRay, /^[0-9a-f]{16}-LCL$/);
        assert.ok(!seenRays.has(cfRay), 'a fresh Ray ID per request');
        seenRays.add(cfRay);
        const rayInBody = format.rayIdOf(res.text, c.code);
        if (rayInBody !== null) assert.equal(rayInBody, cfRay, 'the body names the cf-ray of its response');
        if (format.contentType !== 'text/plain; charset=UTF-8' && format.contentType !== 'text/html; charset=UTF-8') {
          // the structured formats name the zone: the Host without its port
          const zone = format.name === 'text/markdown' ? frontMatterValue(res.text, 'zone') : JSON.parse(res.text).zone;
          assert.equal(zone, c.pageZone ?? c.zone);
        }
        if (c.traced) {
          const event = await traceFor(f, cfRay);
          assert.equal(event.event.request.headers['cf-ray'], cfRay);
          assert.equal(event.outcome, c.outcome ?? 'exception');
          assert.equal(event.event.response?.status, ERROR_CODES[c.code].status);
        }
      });
    }
  });
}

test('the host in a page comes from the client and is escaped', async () => {
  const c = CASES.find((x) => x.code === 1022)!;
  const f = await flareletFor(c);
  const res = await httpRequest(`${f.url}/`, { headers: { host: `x<img>"'.localhost:${f.port}`, accept: 'text/html' } });
  assert.equal(res.status, 404);
  assert.ok(!res.text.includes('<img>'), 'no raw tag from the Host header');
  assert.ok(res.text.includes('x&lt;img&gt;&quot;&#39;.localhost'));
});
