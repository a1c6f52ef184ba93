// Live tail (spec §5) against real `flarelet dev` processes: the REST API (create, list, delete,
// errors), the WebSocket (trace-v1, refusals), the 10-tail limit, every filter on real invocations,
// debug mode, sampling mode and its notices, a client that never reads (requests go on, its drops
// are counted), `flarelet tail` in both formats with Ctrl-C and reconnection, and, in-process with
// the real API server and trace bus, expiry, version filters, drop reports and unmasked frames.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { ApiServer } from '../../src/control/api-server.ts';
import { startTailApi } from '../../src/control/tail-api.ts';
import type { TailFeature } from '../../src/control/tail-api.ts';
import { TraceBus } from '../../src/observability/bus.ts';
import type { TraceEvent as Trace } from '../../src/protocol/trace.ts';
import { api, eventually, jsonBlocks, OutputWatcher, OVERLOAD, OVERLOAD_STOP, requestFrom, tailsUrl, TestTail } from '../fixtures/tail/tail-client.ts';
import { freePort, httpRequest, projectRoot, startFlarelet, waitForHttp } from '../support/flarelet.ts';
import type { FlareletHandle } from '../support/flarelet.ts';

const PROBE = 'test/fixtures/tail/tail-probe.js';
const WORKER = 'tail-probe';
const FLARELET = join(projectRoot, 'bin', 'flarelet');
const TOP_KEYS = ['wallTime', 'cpuTime', 'truncated', 'executionModel', 'outcome', 'scriptName', 'diagnosticsChannelEvents', 'exceptions', 'logs', 'eventTimestamp', 'event'];

let nextId = 1;
const testId = () => `t${nextId++}-${process.pid}`;

/** Sends a request tagged with a fresh x-test-id; returns the id. */
async function send(f: FlareletHandle, path: string, init: { method?: string; headers?: Record<string, string>; localAddress?: string } = {}): Promise<string> {
  const id = testId();
  const res = await requestFrom(`${f.url}${path}`, { ...init, headers: { ...(init.headers ?? {}), 'x-test-id': id } });
  assert.ok(res.status === 200 || res.status === 500, `${path}: ${res.status} ${res.text}`);
  return id;
}

/** What a WebSocket handshake to `url` is answered with, when it is refused. */
function refusal(url: string, protocol: string | null = 'trace-v1'): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocol === null ? [] : [protocol]);
    ws.on('open', () => { ws.terminate(); reject(new Error(`${url} was accepted`)); });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => { body += c; });
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: JSON.parse(body) }); ws.terminate(); });
    });
    ws.on('error', () => { /* reported through unexpected-response */ });
  });
}

function spawnFlarelet(args: string[]): OutputWatcher {
  return new OutputWatcher(spawn(FLARELET, args, { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } }));
}

describe('tail on flarelet dev', () => {
  let f: FlareletHandle;
  before(async () => {
    f = await startFlarelet({ entries: [PROBE], args: ['--tail-rate', '100000'] });
  });
  after(() => f?.stop());
  const url = () => tailsUrl(f.apiPort, WORKER);

  describe('REST API', () => {
    test('create → {id, url, expires_at}; list; get; delete; deleted twice is 404', async () => {
      const before = Date.now();
      const created = await api('POST', url(), { filters: [] });
      assert.equal(created.status, 200);
      assert.equal(created.success, true);
      assert.deepEqual(Object.keys(created.result), ['id', 'url', 'expires_at']);
      const { id } = created.result;
      assert.match(id, /^[0-9a-f]{32}$/);
      assert.equal(created.result.url, `ws://127.0.0.1:${f.apiPort}/tails/${id}`);
      const expires = Date.parse(created.result.expires_at);
      assert.ok(Math.abs(expires - (before + 6 * 3600_000)) < 60_000, `expires in 6 h: ${created.result.expires_at}`);

      const listed = await api('GET', url());
      assert.equal(listed.status, 200);
      const mine = listed.result.find((t: any) => t.id === id);
      assert.ok(mine, JSON.stringify(listed.result));
      assert.equal(mine.url, created.result.url);
      assert.equal(mine.expires_at, created.result.expires_at);
      assert.equal(mine.connected, false);

      const one = await api('GET', `${url()}/${id}`);
      assert.equal(one.result.id, id);
      assert.deepEqual(one.result.dropped, { sampling: 0, backpressure: 0 });

      const deleted = await api('DELETE', `${url()}/${id}`);
      assert.deepEqual([deleted.status, deleted.success, deleted.result], [200, true, null]);
      assert.equal((await api('GET', url())).result.some((t: any) => t.id === id), false);
      const again = await api('DELETE', `${url()}/${id}`);
      assert.equal(again.status, 404);
      assert.equal(again.errors[0].code, 7003);
      assert.match(again.errors[0].message, new RegExp(`Tail ${id} does not exist on ${WORKER}`));
    });

    test('an unknown worker is 10007 for every tail call', async () => {
      const unknown = tailsUrl(f.apiPort, 'no-such-worker');
      for (const [method, target] of [['POST', unknown], ['GET', unknown], ['DELETE', `${unknown}/abc`]] as const) {
        const res = await api(method, target, method === 'POST' ? { filters: [] } : undefined);
        assert.equal(res.status, 404, `${method}`);
        assert.deepEqual(res.errors, [{ code: 10007, message: 'This Worker does not exist on your account.' }]);
        assert.equal(res.success, false);
      }
    });

    test('a body that is not JSON, and malformed filters, are 400 naming the problem; nothing is created', async () => {
      const countBefore = (await api('GET', url())).result.length;
      const notJson = await api('POST', url(), '{"filters": [');
      assert.equal(notJson.status, 400);
      assert.equal(notJson.errors[0].code, 10026);
      assert.match(notJson.errors[0].message, /not valid JSON/);
      const badFilter = await api('POST', url(), { filters: [{ outcome: ['ok'] }, { method: 'GET' }] });
      assert.equal(badFilter.status, 400);
      assert.equal(badFilter.errors[0].code, 10026);
      assert.match(badFilter.errors[0].message, /Invalid tail filter: filters\[1\]: "method" must be a non-empty array of strings/);
      const unknownFilter = await api('POST', url(), { filters: [{ colo: 'LAX' }] });
      assert.match(unknownFilter.errors[0].message, /unknown filter "colo"/);
      assert.equal((await api('GET', url())).result.length, countBefore);
    });

    test('other methods are 405', async () => {
      const res = await api('PUT', url(), { filters: [] });
      assert.equal(res.status, 405);
      assert.equal(res.errors[0].code, 7001);
    });

    test('the 11th tail of a worker is refused; freeing one makes room', async () => {
      const ids: string[] = [];
      try {
        for (let i = 0; i < 10; i++) {
          const created = await api('POST', url(), { filters: [] });
          assert.equal(created.status, 200, `tail ${i + 1}: ${JSON.stringify(created.errors)}`);
          ids.push(created.result.id);
        }
        const eleventh = await api('POST', url(), { filters: [] });
        assert.equal(eleventh.status, 429);
        assert.equal(eleventh.errors[0].code, 10057);
        assert.match(eleventh.errors[0].message, /tail-probe already has 10 tail clients/);
        await api('DELETE', `${url()}/${ids.shift()}`);
        const again = await api('POST', url(), { filters: [] });
        assert.equal(again.status, 200);
        ids.push(again.result.id);
      } finally {
        for (const id of ids) await api('DELETE', `${url()}/${id}`);
      }
    });
  });

  describe('WebSocket', () => {
    test('trace-v1 is required; an unknown tail is refused; one client per tail', async () => {
      const created = (await api('POST', url(), { filters: [] })).result;
      try {
        const noProtocol = await refusal(created.url, null);
        assert.equal(noProtocol.status, 400);
        assert.match(noProtocol.body.errors[0].message, /subprotocol trace-v1/);
        const unknown = await refusal(`ws://127.0.0.1:${f.apiPort}/tails/${'0'.repeat(32)}`);
        assert.equal(unknown.status, 404);
        assert.match(unknown.body.errors[0].message, /does not exist: it ended, expired or never existed/);

        const ws = new WebSocket(created.url, 'trace-v1');
        await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
        assert.equal(ws.protocol, 'trace-v1');
        const second = await refusal(created.url);
        assert.equal(second.status, 409);
        // The tail ends with its client: its id is then refused.
        ws.close(1000);
        await eventually(async () => (await api('GET', `${url()}/${created.id}`)).status === 404, 5000, 'the tail to end with its client');
        assert.equal((await refusal(created.url)).status, 404);
      } finally {
        await api('DELETE', `${url()}/${created.id}`);
      }
    });

    test('events arrive one per message, exactly as published (same JSON as flarelet dev prints)', async () => {
      const tail = await TestTail.open(f.apiPort, WORKER);
      try {
        const id = await send(f, '/log/hello%20tail');
        const [event] = await tail.waitForEvents(1);
        const devEvent = await eventually(() => f.events.find((e) => e.event?.request?.headers?.['x-test-id'] === id), 10_000, 'the dev event');
        assert.equal(JSON.stringify(event), JSON.stringify(devEvent), 'same keys, same order, same values');
        assert.deepEqual(Object.keys(event), TOP_KEYS);
        assert.deepEqual(event.logs[0].message, ['hello tail']);
      } finally {
        await tail.close();
      }
    });

    test('a server delete closes the client with 1000', async () => {
      const tail = await TestTail.open(f.apiPort, WORKER);
      await api('DELETE', `${url()}/${tail.id}`);
      await eventually(() => tail.closed, 5000, 'the close');
      assert.deepEqual(tail.closed, { code: 1000, reason: 'Tail deleted.' });
    });
  });

  describe('filters and debug mode', () => {
    test('each filter keeps exactly its events (all filters of a tail must match)', async () => {
      const specs: [string, unknown[]][] = [
        ['reference', []],
        ['status error', [{ outcome: ['exception', 'exceededCpu', 'exceededMemory', 'unknown'] }]],
        ['status ok', [{ outcome: ['ok'] }]],
        ['method POST', [{ method: ['POST'] }]],
        ['header x-probe: yes', [{ header: { key: 'x-probe', query: 'yes' } }]],
        ['ip 127.0.0.2', [{ client_ip: ['127.0.0.2'] }]],
        ['ip self', [{ client_ip: ['self'] }]],
        ['search needle + method GET', [{ query: 'needle' }, { method: ['GET'] }]],
        ['version v1', [{ scriptVersion: 'v1' }]],
        ['sampling 0.5', [{ sampling_rate: 0.5 }]],
      ];
      const tails = new Map<string, TestTail>();
      try {
        for (const [name, filters] of specs) tails.set(name, await TestTail.open(f.apiPort, WORKER, { filters }));
        const ok = await send(f, '/log/hello');
        const error = await send(f, '/throw/needle-in-the-error');
        const post = await send(f, '/log/posted', { method: 'POST', headers: { 'x-probe': 'yes' } });
        const other = await send(f, '/log/has-a-needle', { localAddress: '127.0.0.2' });
        const probeNo = await send(f, '/', { headers: { 'x-probe': 'no' } });
        const rest: string[] = [];
        for (let i = 0; i < 40; i++) rest.push(await send(f, '/'));
        const all = [ok, error, post, other, probeNo, ...rest];

        const reference = tails.get('reference')!;
        await reference.waitForEvents(all.length, 20_000);
        assert.deepEqual(reference.testIds, all, 'the unfiltered tail gets everything, in order');
        const expected: Record<string, string[]> = {
          'status error': [error],
          'status ok': all.filter((id) => id !== error),
          'method POST': [post],
          'header x-probe: yes': [post],
          'ip 127.0.0.2': [other],
          'ip self': all.filter((id) => id !== other),
          'search needle + method GET': [error, other],
          'version v1': [],
        };
        for (const [name, ids] of Object.entries(expected)) {
          await tails.get(name)!.waitForEvents(ids.length);
        }
        await new Promise((resolve) => setTimeout(resolve, 300)); // anything extra would have arrived by now
        for (const [name, ids] of Object.entries(expected)) assert.deepEqual(tails.get(name)!.testIds, ids, name);
        const sampled = tails.get('sampling 0.5')!.testIds;
        assert.ok(sampled.length >= 8 && sampled.length <= 37, `about half of 45 kept, got ${sampled.length}`);
        assert.deepEqual(sampled, all.filter((id) => sampled.includes(id)), 'a sample keeps the order');
        for (const tail of tails.values()) assert.deepEqual(tail.notices, []);
      } finally {
        for (const tail of tails.values()) await tail.close();
      }
    });

    test('debug: events the filters hold back come too, marked with the filter (last key)', async () => {
      const tail = await TestTail.open(f.apiPort, WORKER, { filters: [{ outcome: ['ok'] }], debug: true });
      try {
        const ok = await send(f, '/log/fine');
        const error = await send(f, '/throw/debugged');
        const [passed, held] = await tail.waitForEvents(2);
        assert.equal(passed.event.request.headers['x-test-id'], ok);
        assert.equal('filteredBy' in passed, false);
        assert.equal(held.event.request.headers['x-test-id'], error);
        assert.deepEqual(held.filteredBy, { outcome: ['ok'] });
        assert.deepEqual(Object.keys(held), [...TOP_KEYS, 'filteredBy']);
        assert.equal((await api('GET', `${url()}/${tail.id}`)).result.debug, true);
      } finally {
        await tail.close();
      }
    });
  });

  test('a client that never reads: requests go on, its queue stays bounded, its drops are counted', async () => {
    const created = (await api('POST', url(), { filters: [] })).result;
    const stuck = await rawWebSocket(f.apiPort, `/tails/${created.id}`);
    stuck.pause(); // never reads again: its receive window and our send buffer fill up
    try {
      const started = Date.now();
      const statuses: number[] = [];
      let next = 0;
      const worker = async () => {
        while (next < 300) {
          next++;
          statuses.push((await requestFrom(`${f.url}/big/100000`)).status);
        }
      };
      await Promise.all(Array.from({ length: 8 }, worker));
      const elapsed = Date.now() - started;
      assert.equal(statuses.length, 300);
      assert.ok(statuses.every((s) => s === 200), 'every request answered');
      // 300 events of 100 KB are 30 MB: far more than the socket buffers, the in-flight bound and
      // the 8 MiB queue hold, so most are dropped, and each drop is counted.
      const state = await eventually(async () => {
        const r = (await api('GET', `${url()}/${created.id}`)).result;
        return r.dropped.backpressure > 0 && r;
      }, 10_000, 'drops to be counted');
      assert.equal(state.connected, true);
      assert.ok(state.queued <= 1000, `queue bounded: ${state.queued}`);
      assert.ok(state.dropped.backpressure >= 100, `dropped ${state.dropped.backpressure}`);
      assert.equal(state.dropped.sampling, 0);
      assert.ok(elapsed < 60_000, `300 requests took ${elapsed} ms`);
    } finally {
      stuck.destroy();
      await api('DELETE', `${url()}/${created.id}`);
    }
  });

  describe('flarelet tail', () => {
    test('--format json prints each event as wrangler does (JSON.stringify(event, null, 4)); Ctrl-C deletes the tail and exits 0', async () => {
      const cli = spawnFlarelet(['tail', WORKER, '--url', `http://127.0.0.1:${f.apiPort}`, '--format', 'json']);
      try {
        await cli.waitFor('stderr', /Connected to tail-probe, waiting for logs\.\.\./);
        const first = await send(f, '/log/from%20the%20cli');
        const second = await send(f, '/throw/cli-error');
        await eventually(() => jsonBlocks(cli.stdout).length >= 2, 10_000, 'two events on stdout');
        const blocks = jsonBlocks(cli.stdout);
        for (const [block, id] of [[blocks[0], first], [blocks[1], second]] as const) {
          const devEvent = f.events.find((e) => e.event?.request?.headers?.['x-test-id'] === id);
          assert.ok(devEvent, `dev event ${id}`);
          assert.equal(block.text, JSON.stringify(devEvent, null, 4));
        }
        assert.equal(cli.stdout.trim(), blocks.map((b) => b.text).join('\n'), 'nothing but events on stdout');
        const tailId = (await api('GET', url())).result[0]?.id;
        assert.ok(tailId);
        assert.equal(await cli.stop('SIGINT'), 0);
        await eventually(async () => (await api('GET', url())).result.length === 0, 5000, 'the tail to be deleted');
      } finally {
        await cli.stop('SIGKILL');
      }
    });

    test('--format pretty --status error: only failures, in wrangler\'s layout', async () => {
      const cli = spawnFlarelet(['tail', WORKER, '--url', `http://127.0.0.1:${f.apiPort}`, '--format', 'pretty', '--status', 'error']);
      try {
        await cli.waitFor('stdout', /Connected to tail-probe, waiting for logs\.\.\./);
        assert.match(cli.stdout, /^Successfully created tail, expires at \d{4}-\d\d-\d\dT/);
        await send(f, '/log/not-an-error');
        await send(f, '/throw/pretty-failure');
        await cli.waitFor('stdout', /GET http:\/\/127\.0\.0\.1:\d+\/throw\/pretty-failure - Exception Thrown @ .+\n {2}\(log\) about to throw pretty-failure\n/);
        await cli.waitFor('stderr', /✘ \[ERROR\] Error: pretty-failure\n\n {2}\s*at Object\.fetch \(tail-probe\.js:\d+:\d+\)\n/);
        assert.doesNotMatch(cli.stdout, /not-an-error/);
        assert.equal(await cli.stop('SIGINT'), 0);
        assert.match(cli.stdout, /Stopping tail\.\.\./);
      } finally {
        await cli.stop('SIGKILL');
      }
    });

    test('--debug in pretty shows held-back events with their filter; a tail deleted by the platform ends it with 0', async () => {
      const cli = spawnFlarelet(['tail', WORKER, '--url', `http://127.0.0.1:${f.apiPort}`, '--format', 'pretty', '--method', 'POST', '--debug']);
      try {
        await cli.waitFor('stdout', /Connected to tail-probe/);
        await send(f, '/log/held');
        await cli.waitFor('stdout', /GET http:\/\/127\.0\.0\.1:\d+\/log\/held - Ok @ .+\n {2}\(debug\) held back by the filter \{"method":\["POST"\]\}\n {2}\(log\) held\n/);
        // Deleted by someone else: the platform closes with 1000 and flarelet tail ends cleanly.
        const [tail] = (await api('GET', url())).result;
        await api('DELETE', `${url()}/${tail.id}`);
        assert.equal(await cli.exited, 0);
        assert.match(cli.stdout, /The tail was closed by the platform: Tail deleted\.\n/);
      } finally {
        await cli.stop('SIGKILL');
      }
    });

    test('bad flags exit 2; an unknown worker exits 1 with the API\'s message', async () => {
      const bad = spawnFlarelet(['tail', WORKER, '--status', 'broken']);
      assert.equal(await bad.exited, 2);
      assert.match(bad.stderr, /--status must be ok, error or canceled, got broken/);
      const unknown = spawnFlarelet(['tail', 'no-such-worker', '--url', `http://127.0.0.1:${f.apiPort}`]);
      assert.equal(await unknown.exited, 1);
      assert.match(unknown.stderr, /This Worker does not exist on your account\. \[code: 10007\]/);
    });
  });
});

describe('sampling mode (flarelet dev --tail-rate 5)', () => {
  let f: FlareletHandle;
  before(async () => {
    f = await startFlarelet({ entries: [PROBE], args: ['--tail-rate', '5'] });
  });
  after(() => f?.stop());

  test('over 5 events/s the tail says it samples, sends some, drops the rest (counted), then says it stopped', async () => {
    const tail = await TestTail.open(f.apiPort, WORKER);
    try {
      let next = 0;
      const worker = async () => { while (next < 60) { next++; await send(f, '/'); } };
      await Promise.all(Array.from({ length: 10 }, worker));
      await eventually(() => tail.notices.length >= 2, 10_000, 'the overload and overload-stop notices');
      assert.deepEqual(tail.notices, [{ type: 'overload', message: OVERLOAD }, { type: 'overload-stop', message: OVERLOAD_STOP }]);
      const noticeAt = tail.messages.findIndex((m) => m.event?.type === 'overload');
      assert.ok(noticeAt >= 5, 'the first events of the second pass before sampling starts');
      const notice = tail.messages[noticeAt];
      assert.equal(notice.scriptName, WORKER);
      assert.deepEqual([notice.logs, notice.exceptions], [[], []], 'a notice has the arrays wrangler reads');
      const state = (await api('GET', `${tailsUrl(f.apiPort, WORKER)}/${tail.id}`)).result;
      assert.ok(tail.events.length < 60, `sampled: ${tail.events.length} of 60 sent`);
      assert.equal(tail.events.length + state.dropped.sampling, 60, 'every event is either sent or counted as dropped');
      assert.equal(state.sampling, false);
      assert.equal(state.dropped.backpressure, 0);
    } finally {
      await tail.close();
    }
  });
});

describe('flarelet tail reconnects when the platform goes away', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'flarelet-tail-reconnect-'));
  after(() => rmSync(stateDir, { recursive: true, force: true }));

  test('lost → 1 s, 2 s… → reconnected, and streams again', async () => {
    const port = await freePort();
    let apiPort = await freePort();
    while (apiPort === port) apiPort = await freePort();
    const devArgs = ['dev', PROBE, '--port', String(port), '--api-port', String(apiPort), '--format', 'json', '--persist-to', stateDir];
    let dev = spawnFlarelet(devArgs);
    let cli: OutputWatcher | undefined;
    try {
      await waitForHttp(port, 30_000);
      cli = spawnFlarelet(['tail', WORKER, '--url', `http://127.0.0.1:${apiPort}`, '--format', 'pretty']);
      await cli.waitFor('stdout', /Connected to tail-probe, waiting for logs\.\.\./);

      // A platform with a tail connected still stops promptly (the tail is told 1001 and let go).
      const stopping = Date.now();
      assert.equal(await dev.stop('SIGTERM', 15_000), 0);
      const stopMs = Date.now() - stopping;
      assert.ok(stopMs < 5000, `flarelet dev took ${stopMs} ms to stop with a tail attached`);

      await cli.waitFor('stderr', /Tail connection lost \(Flarelet is shutting down\.\)\. Reconnecting in 1s \(attempt 1\)\.\.\./);
      await cli.waitFor('stderr', /Reconnecting in 2s \(attempt 2\)\.\.\./, 10_000);
      dev = spawnFlarelet(devArgs);
      await waitForHttp(port, 30_000);
      await cli.waitFor('stdout', /Reconnected to tail-probe\./, 20_000);
      const res = await httpRequest(`http://127.0.0.1:${port}/log/after-reconnect`);
      assert.equal(res.status, 200);
      await cli.waitFor('stdout', /GET http:\/\/127\.0\.0\.1:\d+\/log\/after-reconnect - Ok @ .+\n {2}\(log\) after-reconnect\n/);
      assert.equal(await cli.stop('SIGINT'), 0);
    } finally {
      await cli?.stop('SIGKILL');
      await dev.stop('SIGTERM');
    }
  });
});

describe('tail API in-process (real API server and trace bus)', () => {
  let apiServer: ApiServer;
  let bus: TraceBus;
  let feature: TailFeature;
  let port: number;
  const drops: [string, string, number][] = [];
  before(async () => {
    apiServer = new ApiServer();
    bus = new TraceBus();
    bus.onDropped((scriptName, consumer, count) => drops.push([scriptName, consumer, count]));
    feature = startTailApi(
      {
        api: apiServer,
        bus,
        workers: () => [{ name: 'w', observability: {} }],
        stateDir: tmpdir(),
        settings: { logRetentionDays: 7, tailEventsPerSecond: 3, logpushUrls: [], otlpUrls: [] },
      },
      { lifetimeMs: 1500, connectGraceMs: 1000 },
    );
    port = await apiServer.listen(0, '127.0.0.1');
  });
  after(async () => {
    await feature?.close();
    await apiServer?.close();
  });

  function trace(n: number, version?: string): Trace {
    return {
      wallTime: 1, cpuTime: 0, truncated: false, executionModel: 'stateless', outcome: 'ok',
      ...(version === undefined ? {} : { scriptVersion: { id: version } }),
      scriptName: 'w', diagnosticsChannelEvents: [], exceptions: [], logs: [], eventTimestamp: n,
      event: { request: { url: `https://w.example/${n}`, method: 'GET', headers: { 'cf-connecting-ip': '127.0.0.1' }, cf: {} } },
    };
  }

  test('scriptVersion keeps that version\'s events; sampling drops reach the bus as "tail" drops', async () => {
    const tail = await TestTail.open(port, 'w', { filters: [{ scriptVersion: 'v2' }] });
    try {
      drops.length = 0;
      for (let i = 1; i <= 4; i++) bus.publish(trace(i, i % 2 === 0 ? 'v2' : 'v1'));
      await tail.waitForEvents(2);
      assert.deepEqual(tail.events.map((e) => e.eventTimestamp), [2, 4]);
      assert.deepEqual(tail.events[0].scriptVersion, { id: 'v2' });
      for (let i = 0; i < 10; i++) bus.publish(trace(10 + i, 'v2'));
      await eventually(() => drops.length > 0, 5000, 'a drop report');
      assert.deepEqual(drops, [['w', 'tail', 9]], '2 passed earlier, 1 more fits the limit of 3/s, 9 dropped');
    } finally {
      await tail.close();
    }
  });

  test('a tail expires: its client is closed with 1000 and its WebSocket address is refused after', async () => {
    const tail = await TestTail.open(port, 'w');
    await eventually(() => tail.closed, 5000, 'the expiry');
    assert.equal(tail.closed!.code, 1000);
    assert.match(tail.closed!.reason, /Tail expired/);
    assert.equal((await refusal(tail.url)).status, 404);
  });

  test('a tail nobody connects to is removed after the grace time', async () => {
    const created = (await api('POST', tailsUrl(port, 'w'), {})).result;
    await eventually(async () => (await api('GET', `${tailsUrl(port, 'w')}/${created.id}`)).status === 404, 5000, 'the removal');
    assert.equal((await refusal(created.url)).status, 404);
  });

  test('an unmasked first frame (as the real wrangler sends it) is read', async () => {
    const created = (await api('POST', tailsUrl(port, 'w'), { filters: [] })).result;
    const socket = await rawWebSocket(port, `/tails/${created.id}`);
    try {
      const payload = Buffer.from('{"debug":true}');
      socket.write(Buffer.concat([Buffer.from([0x81, payload.length]), payload])); // FIN+text, no MASK bit
      await eventually(async () => (await api('GET', `${tailsUrl(port, 'w')}/${created.id}`)).result?.debug === true, 5000, 'debug mode');
    } finally {
      socket.destroy();
    }
  });

  test('a frame that is not {"debug": bool} closes the connection with 1007', async () => {
    const tail = await TestTail.open(port, 'w');
    tail.ws.send('hello');
    await eventually(() => tail.closed, 5000, 'the close');
    assert.equal(tail.closed!.code, 1007);
    assert.match(tail.closed!.reason, /Expected a JSON text frame/);
  });
});

/** A WebSocket handshake done by hand (trace-v1); resolves with the socket once the 101 arrived. */
function rawWebSocket(port: number, path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const key = randomBytes(16).toString('base64');
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: trace-v1\r\n\r\n`);
    });
    let head = '';
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.off('data', onData);
      const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      if (!head.startsWith('HTTP/1.1 101') || !head.includes(accept)) { reject(new Error(`handshake refused: ${head}`)); return; }
      resolve(socket);
    };
    socket.on('data', onData);
    socket.on('error', reject);
  });
}
