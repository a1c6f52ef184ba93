// Metrics of a real `flarelet dev` process after real requests: GET /metrics (Prometheus text
// 0.0.4) counts requests by outcome and status, client disconnects, subrequests, dropped events,
// and its CPU / wall histograms hold exactly the times of the printed trace events; the charts
// endpoint gives the same counts per minute with percentiles, and refuses bad parameters.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as rawRequest } from 'node:http';
import { httpRequest, startFlarelet } from '../support/flarelet.ts';
import type { FlareletHandle, TraceEvent } from '../support/flarelet.ts';
import { startRecorder } from '../support/recorder.ts';

const WORKER = 'test/fixtures/observability/metrics-worker.js';
const SCRIPT = 'metrics-worker';

type Samples = Map<string, number>;

/** Parses Prometheus text 0.0.4, checking every line's grammar; keys are `name{labels}` as printed. */
function parseExposition(text: string): { samples: Samples; types: Map<string, string> } {
  const samples: Samples = new Map();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    if (/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*$/.test(line)) continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:\\\\|\\"|\\n|[^"\\\n])*",?)*\})?) (NaN|[+-]Inf|-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)$/.exec(line);
    assert.ok(sample, `not a valid exposition line: ${JSON.stringify(line)}`);
    samples.set(sample[1]!, Number(sample[2]!.replace('+Inf', 'Infinity')));
  }
  return { samples, types };
}

async function scrape(f: FlareletHandle) {
  const res = await httpRequest(`http://127.0.0.1:${f.apiPort}/metrics`);
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  return parseExposition(res.text);
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A request the client abandons after `ms`: the invocation's outcome is `canceled`. */
function abandon(url: string, ms: number): Promise<void> {
  return new Promise((done) => {
    const req = rawRequest(url, { agent: false });
    req.on('error', () => done());
    req.on('response', () => done());
    req.end();
    setTimeout(() => {
      req.destroy();
      done();
    }, ms);
  });
}

describe('metrics of flarelet dev', () => {
  let f: FlareletHandle;
  let subTarget: Awaited<ReturnType<typeof startRecorder>>;
  let rejecting: Awaited<ReturnType<typeof startRecorder>>;
  let events: TraceEvent[];

  before(async () => {
    subTarget = await startRecorder(() => ({ status: 200, headers: { 'content-type': 'text/plain' }, body: 'sub' }));
    // A logpush destination that refuses every batch for good: its events are dropped and counted.
    rejecting = await startRecorder(() => ({ status: 400, headers: {}, body: 'no thanks' }));
    f = await startFlarelet({ entries: [WORKER], args: ['--var', `SUB_URL=${subTarget.url}/x`, '--logpush', `${rejecting.url}/`] });
    const paths = ['/a', '/b', '/c', '/throw', '/throw', '/cpu', '/sleep', '/sub?n=3'];
    for (const p of paths) await httpRequest(`${f.url}${p}`);
    await abandon(`${f.url}/hold`, 300);
    events = await f.waitForEvents(paths.length + 1, 20_000);
  });
  after(async () => {
    await f?.stop();
    await subTarget?.close();
    await rejecting?.close();
  });

  test('requests by outcome, invocation status and client disconnect type', async () => {
    const { samples, types } = await scrape(f);
    const count = (outcome: string) => events.filter((e) => e.outcome === outcome).length;
    assert.equal(count('ok'), 6);
    assert.equal(count('exception'), 2);
    assert.equal(count('canceled'), 1);
    assert.equal(types.get('flarelet_worker_requests_total'), 'counter');
    assert.equal(samples.get(`flarelet_worker_requests_total{script_name="${SCRIPT}",outcome="ok"}`), 6);
    assert.equal(samples.get(`flarelet_worker_requests_total{script_name="${SCRIPT}",outcome="exception"}`), 2);
    assert.equal(samples.get(`flarelet_worker_requests_total{script_name="${SCRIPT}",outcome="canceled"}`), 1);
    assert.equal(samples.get(`flarelet_worker_requests_total{script_name="${SCRIPT}",outcome="exceededCpu"}`), 0);
    assert.equal(samples.get(`flarelet_worker_invocation_status_total{script_name="${SCRIPT}",status="success"}`), 6);
    assert.equal(samples.get(`flarelet_worker_invocation_status_total{script_name="${SCRIPT}",status="scriptThrewException"}`), 2);
    assert.equal(samples.get(`flarelet_worker_invocation_status_total{script_name="${SCRIPT}",status="clientDisconnected"}`), 1);
    assert.equal(samples.get(`flarelet_worker_invocation_status_total{script_name="${SCRIPT}",status="internalError"}`), 0);
    assert.equal(samples.get(`flarelet_worker_client_disconnects_total{script_name="${SCRIPT}",type="canceled"}`), 1);
    assert.equal(samples.get(`flarelet_worker_client_disconnects_total{script_name="${SCRIPT}",type="responseStreamDisconnected"}`), 0);
    assert.equal(samples.get(`flarelet_worker_subrequests_total{script_name="${SCRIPT}"}`), 3);
    assert.equal(subTarget.requests.length, 3);
  });

  test('CPU and wall time histograms hold exactly the times of the trace events', async () => {
    const { samples, types } = await scrape(f);
    for (const [family, field] of [['flarelet_worker_cpu_time_seconds', 'cpuTime'], ['flarelet_worker_wall_time_seconds', 'wallTime']] as const) {
      assert.equal(types.get(family), 'histogram');
      const values = events.map((e) => e[field] as number);
      const buckets = [...samples].filter(([key]) => key.startsWith(`${family}_bucket{script_name="${SCRIPT}",`));
      assert.ok(buckets.length >= 10, `${family} has buckets`);
      let previous = 0;
      for (const [key, n] of buckets) {
        const le = /le="([^"]+)"/.exec(key)![1]!;
        const bound = le === '+Inf' ? Infinity : Number(le);
        assert.equal(n, values.filter((ms) => ms / 1000 <= bound).length, `${key}`);
        assert.ok(n >= previous, 'cumulative');
        previous = n;
      }
      assert.ok(buckets.at(-1)![0].includes('le="+Inf"'));
      assert.equal(samples.get(`${family}_count{script_name="${SCRIPT}"}`), events.length);
      const sum = samples.get(`${family}_sum{script_name="${SCRIPT}"}`)!;
      assert.ok(Math.abs(sum - values.reduce((a, b) => a + b, 0) / 1000) < 1e-9, `${family}_sum ${sum}`);
    }
    const wall = events.find((e) => e.event.request.url.endsWith('/sleep') && e.outcome === 'ok')!;
    assert.ok(wall.wallTime >= 150, `the /sleep request took ${wall.wallTime} ms of wall time`);
  });

  test('events a consumer drops are counted: a logpush destination refusing every batch', async () => {
    await until(async () => (await scrape(f)).samples.get(`flarelet_dropped_events_total{script_name="${SCRIPT}",consumer="logpush"}`) === events.length, 20_000, 'dropped events to be counted');
    const { samples } = await scrape(f);
    assert.equal(samples.get('flarelet_logpush_dropped_events_total{logpush_job="1",reason="rejected"}'), events.length);
    assert.ok(rejecting.requests.length >= 1);
  });

  test('the charts endpoint: per-minute series with the same counts, percentiles and drops', async () => {
    const since = Math.min(...events.map((e) => e.eventTimestamp)) - 60_000;
    const res = await httpRequest(`http://127.0.0.1:${f.apiPort}/client/v4/accounts/abc/workers/scripts/${SCRIPT}/metrics?since=${since}&until=${Date.now() + 1}`);
    assert.equal(res.status, 200);
    const body = JSON.parse(res.text);
    assert.equal(body.success, true);
    const { totals, series } = body.result;
    assert.equal(body.result.scriptName, SCRIPT);
    assert.equal(body.result.intervalSeconds, 60);
    assert.ok(series.length >= 2);
    for (const point of series) assert.match(point.minute, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:00\.000Z$/);
    assert.equal(series.reduce((n: number, p: { requests: number }) => n + p.requests, 0), events.length);
    assert.equal(totals.requests, events.length);
    assert.deepEqual(totals.status, { success: 6, clientDisconnected: 1, scriptThrewException: 2, exceededResources: 0, internalError: 0 });
    assert.deepEqual(totals.clientDisconnects, { responseStreamDisconnected: 0, canceled: 1 });
    assert.deepEqual(totals.outcomes, { ok: 6, exception: 2, canceled: 1 });
    assert.equal(totals.subrequests, 3);
    assert.equal(totals.dropped.logpush, events.length);
    // Nearest-rank percentiles of the events' own times: exact below 50 ms, within 1% + 0.5 ms above.
    for (const [key, field] of [['cpuTimeMs', 'cpuTime'], ['wallTimeMs', 'wallTime']] as const) {
      const sorted = events.map((e) => e[field] as number).sort((a, b) => a - b);
      for (const [name, q] of [['p50', 0.5], ['p90', 0.9], ['p99', 0.99]] as const) {
        const exact = sorted[Math.ceil(q * sorted.length) - 1]!;
        const got = totals[key][name];
        assert.ok(Math.abs(got - exact) <= (exact < 50 ? 0 : 0.01 * exact + 0.5), `${key}.${name}: ${got}, exact ${exact}`);
      }
    }
  });

  test('the charts endpoint refuses unknown workers (10007) and bad parameters (400)', async () => {
    const base = `http://127.0.0.1:${f.apiPort}/client/v4/accounts/abc/workers/scripts`;
    const missing = await httpRequest(`${base}/no-such-worker/metrics`);
    assert.equal(missing.status, 404);
    assert.deepEqual(JSON.parse(missing.text).errors, [{ code: 10007, message: 'This Worker does not exist on your account.' }]);
    for (const [query, message] of [
      ['since=yesterday', /since must be an ISO 8601 date-time/],
      [`since=${Date.now()}&until=${Date.now() - 1000}`, /must be before until/],
      [`since=${Date.now() - 3 * 86_400_000}`, /at most 1440/],
      ['colour=red', /unknown parameter "colour"/],
    ] as const) {
      const res = await httpRequest(`${base}/${SCRIPT}/metrics?${query}`);
      assert.equal(res.status, 400, query);
      const body = JSON.parse(res.text);
      assert.equal(body.success, false);
      assert.match(body.errors[0].message, message);
    }
    // The default range is the last hour, one point per minute.
    const res = await httpRequest(`${base}/${SCRIPT}/metrics`);
    assert.equal(res.status, 200);
    assert.ok([60, 61].includes(JSON.parse(res.text).result.series.length));
  });

  test('/metrics answers GET only, and a worker with no traffic is exported with zeros', async () => {
    const post = await httpRequest(`http://127.0.0.1:${f.apiPort}/metrics`, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    const quiet = await startFlarelet({ entries: [WORKER] });
    try {
      const { samples } = await scrape(quiet);
      assert.equal(samples.get(`flarelet_worker_requests_total{script_name="${SCRIPT}",outcome="ok"}`), 0);
      assert.equal(samples.get(`flarelet_worker_cpu_time_seconds_count{script_name="${SCRIPT}"}`), 0);
      const series = await httpRequest(`http://127.0.0.1:${quiet.apiPort}/client/v4/accounts/a/workers/scripts/${SCRIPT}/metrics`);
      assert.equal(series.status, 200, 'a served worker is known before its first request');
    } finally {
      await quiet.stop();
    }
  });
});
