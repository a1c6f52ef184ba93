// Enforced limits over real `flarelet dev` processes: CPU (sync and across async turns), memory,
// hang detection, subrequests, blocked and platform hosts, the loop limit and the startup limit.
// Every failure must keep the process up, answer promptly and leave a trace event with the
// right outcome and exception. (error-pages.test.ts checks the page formats of each code.)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { freePort, httpRequest, startFlarelet } from '../support/flarelet.ts';
import type { FlareletHandle, TraceEvent } from '../support/flarelet.ts';
import { measureLatency } from '../support/latency.ts';

const LIMITS = 'test/fixtures/limits/limits.js';
const CPU_MS = 50;
const CPU_TEXT = 'Worker exceeded CPU time limit.';
const MEMORY_TEXT = 'Worker has exceeded memory limit.';
const HANG_TEXT =
  "The Workers runtime canceled this request because it detected that your Worker's code had hung and would never generate a response. Refer to: https://developers.cloudflare.com/workers/observability/errors/";

async function traceOf(f: FlareletHandle, rayId: string): Promise<TraceEvent> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const event = f.events.find((e) => e.event?.request?.headers?.['cf-ray'] === rayId);
    if (event) return event;
    if (Date.now() > deadline) throw new Error(`no trace for ${rayId}\nstderr:\n${f.stderr()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function get(f: FlareletHandle, path: string, host = `limits.localhost:${f.port}`) {
  const started = performance.now();
  const res = await httpRequest(`${f.url}${path}`, { headers: { host } });
  return { ...res, ms: performance.now() - started, ray: String(res.headers['cf-ray']) };
}

describe('CPU limit (default 50 ms)', () => {
  let f: FlareletHandle;
  before(async () => { f = await startFlarelet({ entries: [LIMITS], args: ['--burst-limit', 'off'] }); });
  after(() => f?.stop());

  for (const [path, what] of [['/spin', 'a synchronous endless loop'], ['/spin-after-await', 'an endless loop after an await'], ['/burn-async', '10 ms per timer turn, 400 ms in all']]) {
    test(`${what}: 1102 within the limit plus a margin, outcome exceededCpu`, async () => {
      const res = await get(f, path);
      assert.equal(res.status, 503);
      assert.equal(res.text, 'error code: 1102');
      // The limit plus 50 ms, with room for a loaded 2-core machine.
      assert.ok(res.ms < CPU_MS + 50 + 200, `answered after ${res.ms.toFixed(0)} ms`);
      const event = await traceOf(f, res.ray);
      assert.equal(event.outcome, 'exceededCpu');
      assert.deepEqual(event.exceptions.map((e: { name: string; message: string }) => [e.name, e.message]), [['Error', CPU_TEXT]]);
      assert.ok(event.cpuTime >= CPU_MS - 5, `cpuTime ${event.cpuTime}`);
      assert.equal(event.event.response.status, 503);
    });
  }

  test('work under the limit is untouched: 20 ms of CPU answers 200', async () => {
    const res = await get(f, '/burn?ms=20');
    assert.equal(res.status, 200);
    assert.equal((await traceOf(f, res.ray)).outcome, 'ok');
  });

  test('the same worker keeps serving other requests while one spins', async () => {
    const spinning = get(f, '/spin');
    await new Promise((r) => setTimeout(r, 5));
    const ok = await get(f, '/ok');
    assert.equal(ok.status, 200);
    assert.equal((await spinning).status, 503);
    assert.equal((await traceOf(f, ok.ray)).outcome, 'ok', 'the neighbour is not billed for the spinner');
  });

  test('a waiting handler uses no CPU budget: 200 ms on a timer is fine', async () => {
    const res = await get(f, '/slow');
    assert.equal(res.status, 200);
    assert.equal(res.text, 'slow but fine');
  });
});

describe('--cpu-ms and the spinner next door', () => {
  let f: FlareletHandle;
  before(async () => {
    f = await startFlarelet({ entries: [LIMITS, 'test/fixtures/limits/healthy.js'], args: ['--cpu-ms', '30', '--burst-limit', 'off'] });
  });
  after(() => f?.stop());

  test('--cpu-ms sets the limit: 40 ms of CPU is over 30', async () => {
    const res = await get(f, '/burn?ms=40');
    assert.equal(res.status, 503);
    assert.equal((await traceOf(f, res.ray)).outcome, 'exceededCpu');
  });

  test('a worker spinning at its limit in a loop barely slows another worker (1,000 requests)', async () => {
    const host = `healthy.localhost:${f.port}`;
    await measureLatency(`${f.url}/`, host, 100); // warm-up
    const idle = await measureLatency(`${f.url}/`, host, 1000);
    let spinning = true;
    let spins = 0;
    const spinner = (async () => {
      while (spinning) {
        await get(f, '/spin');
        spins++;
      }
    })();
    let busy;
    try {
      busy = await measureLatency(`${f.url}/`, host, 1000);
    } finally {
      spinning = false;
      await spinner;
    }
    console.log(`healthy worker, 1,000 requests: idle p50 ${idle.p50.toFixed(2)} ms p99 ${idle.p99.toFixed(2)} ms; ` +
      `with a spinner (${spins} spins) p50 ${busy.p50.toFixed(2)} ms p99 ${busy.p99.toFixed(2)} ms`);
    assert.equal(busy.failures, 0);
    assert.ok(spins >= 5, `the spinner ran (${spins})`);
    // If the spinner could block the healthy worker, its requests would wait out whole 30 ms spins.
    assert.ok(busy.p99 < 30, `p99 with a spinner ${busy.p99.toFixed(2)} ms`);
  });
});

describe('memory limit', () => {
  let f: FlareletHandle;
  before(async () => { f = await startFlarelet({ entries: [LIMITS], args: ['--memory-mb', '24', '--cpu-ms', '10000'] }); });
  after(() => f?.stop());

  test('a memory bomb gets 1102 and exceededMemory; a fresh isolate serves the next request', async () => {
    const bomb = await get(f, '/bomb');
    assert.equal(bomb.status, 503);
    assert.equal(bomb.text, 'error code: 1102');
    const event = await traceOf(f, bomb.ray);
    assert.equal(event.outcome, 'exceededMemory');
    assert.deepEqual(event.exceptions.map((e: { message: string }) => e.message), [MEMORY_TEXT]);
    const next = await get(f, '/ok');
    assert.equal(next.status, 200);
    assert.equal(next.text, 'ok');
    assert.match(f.stderr(), /Worker has exceeded memory limit\. A fresh isolate serves the next request\./);
  });

  test('requests in flight on the dying isolate get 1102 too', async () => {
    const waiting = get(f, '/slow');
    await new Promise((r) => setTimeout(r, 20));
    const bomb = await get(f, '/bomb');
    const slow = await waiting;
    assert.equal(bomb.status, 503);
    assert.equal(slow.status, 503);
    assert.equal((await traceOf(f, slow.ray)).outcome, 'exceededMemory');
    assert.equal((await get(f, '/ok')).status, 200);
  });
});

describe('hang detection and subrequests', () => {
  let f: FlareletHandle;
  let upstream: ReturnType<typeof createServer>;
  let upstreamUrl: string;
  before(async () => {
    upstream = createServer((_req, res) => res.end('up'));
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/`;
    f = await startFlarelet({ entries: [LIMITS], args: ['--burst-limit', 'off', '--cpu-ms', '2000'] });
  });
  after(async () => { await f?.stop(); upstream?.close(); });

  test('a promise nothing can settle: cancelled at once with the hang text, 1101', async () => {
    const res = await get(f, '/hang');
    assert.equal(res.status, 500);
    assert.equal(res.text, 'error code: 1101');
    assert.ok(res.ms < 1000, `answered after ${res.ms.toFixed(0)} ms`);
    const event = await traceOf(f, res.ray);
    assert.equal(event.outcome, 'exception');
    assert.deepEqual(event.exceptions.map((e: { name: string; message: string }) => [e.name, e.message]), [['Error', HANG_TEXT]]);
  });

  test('50 subrequests are allowed; the 51st throws the exact text', async () => {
    const fifty = await get(f, `/subrequests?n=50&target=${encodeURIComponent(upstreamUrl)}`);
    assert.equal(fifty.status, 200);
    assert.equal(fifty.text.split(',').length, 50);
    const more = await get(f, `/subrequests?n=51&target=${encodeURIComponent(upstreamUrl)}`);
    assert.equal(more.status, 500);
    assert.equal(more.text, '50: Too many subrequests by single Worker invocation.');
  });

  test('a refused connection: Network connection lost.', async () => {
    const dead = `http://127.0.0.1:${await freePort()}/`;
    const res = await get(f, `/fetch-caught?url=${encodeURIComponent(dead)}`);
    assert.equal(res.text, 'Error: Network connection lost.');
  });

  test('a blocked host throws; caught, the worker answers; uncaught, 1021', async () => {
    const caught = await get(f, '/fetch-caught?url=http://169.254.169.254/latest/meta-data/');
    assert.equal(caught.status, 200);
    assert.equal(caught.text, 'Error: Worker tried to fetch 169.254.169.254, a host it is not allowed to access.');
    const uncaught = await get(f, '/fetch?url=http://metadata.google.internal/computeMetadata/v1/');
    assert.equal(uncaught.status, 403);
    assert.equal(uncaught.text, 'error code: 1021');
    assert.equal((await traceOf(f, uncaught.ray)).outcome, 'exception');
  });

  test("the platform's own address: the fetch resolves with a 1024 page", async () => {
    const res = await get(f, `/fetch?url=${encodeURIComponent(`http://127.0.0.1:${f.apiPort}/`)}`);
    assert.equal(res.status, 403);
    assert.equal(res.text, 'error code: 1024');
  });

  test('the process is still up and serving', async () => {
    assert.equal((await get(f, '/ok')).status, 200);
  });
});

describe('worker-to-worker fetches and the loop limit', () => {
  test('same zone without global_fetch_strictly_public: 1042', async () => {
    const f = await startFlarelet({ entries: ['test/fixtures/limits/ping.js', 'test/fixtures/limits/pong.js'] });
    try {
      const res = await get(f, '/', `ping.localhost:${f.port}`);
      assert.equal(res.status, 500);
      assert.equal(res.text, 'error code: 1042');
    } finally {
      await f.stop();
    }
  });

  test('with the flag, a ping-pong loop runs 16 invocations and then gets 1019', async () => {
    const f = await startFlarelet({
      entries: ['test/fixtures/limits/ping.js', 'test/fixtures/limits/pong.js'],
      args: ['--compatibility-flag', 'global_fetch_strictly_public'],
    });
    try {
      const res = await get(f, '/', `ping.localhost:${f.port}`);
      assert.equal(res.status, 508);
      assert.equal(res.text, 'error code: 1019');
      const events = await f.waitForEvents(16, 20_000);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(f.events.length, 16, 'exactly 16 invocations');
      assert.deepEqual([...new Set(events.map((e) => e.scriptName))].sort(), ['ping', 'pong']);
    } finally {
      await f.stop();
    }
  });
});

describe('startup limit', () => {
  test('a top-level scope over 400 ms of CPU: the load fails with the exact text, requests get 1101, the process stays up', async () => {
    const f = await startFlarelet({ entries: ['test/fixtures/limits/startup-spin.js'] });
    try {
      assert.match(f.stderr(), /Script startup exceeded CPU time limit\./);
      const res = await get(f, '/', `startup-spin.localhost:${f.port}`);
      assert.equal(res.status, 500);
      assert.equal(res.text, 'error code: 1101');
    } finally {
      await f.stop();
    }
  });
});
