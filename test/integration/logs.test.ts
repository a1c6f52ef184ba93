// Workers Logs end to end: real `flarelet dev` processes serve workers that log and throw; the
// rows land in the SQLite store under --persist-to and are found through the telemetry query API
// and the `flarelet logs` command. Also: worker settings (head sampling 0, invocation_logs
// false), retention on restart, and a store that cannot be opened.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort, httpRequest, projectRoot, startFlarelet } from '../support/flarelet.ts';
import type { FlareletHandle } from '../support/flarelet.ts';

const WORKER = `export default {
  async fetch(request) {
    const url = new URL(request.url);
    console.log('visit ' + url.pathname);
    if (url.pathname === '/boom') throw new TypeError('kaboom from ' + url.pathname);
    if (url.pathname === '/city') {
      console.log({ city: 'Osaka', items: 3 });
      console.error(new Error('soft failure'));
    }
    return new Response('ok ' + url.pathname);
  },
};
`;

const root = mkdtempSync(join(tmpdir(), 'flarelet-logs-it-'));
after(() => rmSync(root, { recursive: true, force: true }));

function writeWorker(dir: string, config?: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'worker.js'), WORKER);
  if (config) writeFileSync(join(dir, 'wrangler.toml'), config);
  return join(dir, config ? 'wrangler.toml' : 'worker.js');
}

const QUERY_PATH = '/client/v4/accounts/any-account/workers/observability/telemetry/query';

interface Envelope {
  success: boolean;
  errors: { code: number; message: string }[];
  result: any;
}

async function api(handle: FlareletHandle, path: string, body?: unknown, method = 'POST'): Promise<{ status: number; envelope: Envelope }> {
  const response = await httpRequest(`http://127.0.0.1:${handle.apiPort}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, envelope: JSON.parse(response.text) as Envelope };
}

const timeframe = () => ({ from: Date.now() - 3_600_000, to: Date.now() + 60_000 });
const byWorker = (name: string) => ({ key: '$workers.scriptName', operation: 'eq', type: 'string', value: name });

async function rowsOf(handle: FlareletHandle, worker: string, filters: unknown[] = []): Promise<any[]> {
  const { status, envelope } = await api(handle, QUERY_PATH, { timeframe: timeframe(), view: 'events', limit: 100, parameters: { filters: [byWorker(worker), ...filters] } });
  assert.equal(status, 200, JSON.stringify(envelope));
  return envelope.result.events.events;
}

/** Polls until `count` rows of `worker` are stored (writes are batched every 250 ms). */
async function waitForRows(handle: FlareletHandle, worker: string, count: number, timeoutMs = 20_000): Promise<any[]> {
  const deadline = Date.now() + timeoutMs;
  let rows: any[] = [];
  while (Date.now() < deadline) {
    rows = await rowsOf(handle, worker);
    if (rows.length >= count) return rows;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`expected ${count} rows of ${worker}, got ${rows.length}:\n${JSON.stringify(rows, null, 1)}\nstderr:\n${handle.stderr()}`);
}

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(join(projectRoot, 'bin', 'flarelet'), ['logs', ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('a worker that logs and throws', () => {
  let handle: FlareletHandle;
  const rays: Record<string, string> = {};

  before(async () => {
    handle = await startFlarelet({ entries: [writeWorker(join(root, 'shop'))], args: ['--name', 'shop'] });
    for (const [path, method] of [['/a', 'GET'], ['/boom', 'GET'], ['/city', 'POST']]) {
      const response = await httpRequest(`${handle.url}${path}`, { method });
      assert.equal(response.status, path === '/boom' ? 500 : 200);
      rays[path] = String(response.headers['cf-ray']);
    }
    await handle.waitForEvents(3, 20_000);
    // /a: invocation + log; /boom: invocation + log + exception; /city: invocation + 3 logs
    await waitForRows(handle, 'shop', 9);
  });
  after(() => handle?.stop());

  test('the seed query $metadata.error EXISTS finds the exception and the logged Error', async () => {
    const rows = await rowsOf(handle, 'shop', [{ key: '$metadata.error', operation: 'EXISTS', type: 'string' }]);
    assert.deepEqual(rows.map((r) => [r.$metadata.error, r.$metadata.type, r.$metadata.level]).sort(), [
      ['kaboom from /boom', 'cf-worker-exception', 'error'],
      ['soft failure', 'cf-worker-log', 'error'],
    ]);
  });

  test('the seed query $workers.outcome = "exception" finds every row of the failed request, by its Ray ID', async () => {
    const rows = await rowsOf(handle, 'shop', [{ key: '$workers.outcome', operation: '=', type: 'string', value: 'exception' }]);
    assert.equal(rows.length, 3);
    for (const row of rows) {
      assert.equal(row.$metadata.requestId, rays['/boom']);
      assert.equal(row.$workers.requestId, rays['/boom']);
      assert.equal(row.$workers.event.response.status, 500);
      assert.equal(row.$workers.event.request.headers['cf-ray'], rays['/boom']);
    }
    assert.deepEqual(rows.map((r) => r.$metadata.message).sort(), ['GET http://127.0.0.1:' + handle.port + '/boom', 'TypeError: kaboom from /boom', 'visit /boom'].sort());
  });

  test('structured console.log fields, methods and the needle', async () => {
    const city = await rowsOf(handle, 'shop', [{ key: 'city', operation: 'eq', type: 'string', value: 'Osaka' }, { key: 'items', operation: 'gte', type: 'number', value: 3 }]);
    assert.deepEqual(city.map((r) => r.source), [{ city: 'Osaka', items: 3 }]);
    const posts = await rowsOf(handle, 'shop', [{ key: '$workers.event.request.method', operation: 'eq', type: 'string', value: 'POST' }]);
    assert.equal(posts.length, 4);
    const { envelope } = await api(handle, QUERY_PATH, { timeframe: timeframe(), parameters: { needle: { value: 'KABOOM' } } });
    assert.deepEqual(envelope.result.events.events.map((r: any) => r.$metadata.message), ['TypeError: kaboom from /boom']);
  });

  test('the invocations and calculations views, and the run and statistics of the answer', async () => {
    const { envelope: inv } = await api(handle, QUERY_PATH, { timeframe: timeframe(), view: 'invocations', parameters: { filters: [{ key: '$metadata.error', operation: 'exists' }] } });
    assert.deepEqual(Object.keys(inv.result.invocations).sort(), [rays['/boom'], rays['/city']].sort());
    assert.equal(inv.result.invocations[rays['/city']].length, 4);
    assert.equal(inv.result.run.status, 'COMPLETED');
    assert.equal(inv.result.run.accountId, 'any-account');
    assert.ok(typeof inv.result.statistics.elapsed === 'number');
    const { envelope: calc } = await api(handle, QUERY_PATH, {
      timeframe: timeframe(), view: 'calculations',
      parameters: { calculations: [{ operator: 'count' }], groupBys: [{ type: 'string', value: '$workers.outcome' }] },
    });
    assert.deepEqual(calc.result.calculations[0].aggregates.map((a: any) => [a.groups[0].value, a.count]), [['ok', 6], ['exception', 3]]);
  });

  test('keys (GET and POST)', async () => {
    const { envelope } = await api(handle, '/client/v4/accounts/x/workers/observability/telemetry/keys', undefined, 'GET');
    const keys = envelope.result.map((k: any) => k.key);
    for (const key of ['$workers.outcome', '$metadata.error', 'city', 'items', '$workers.event.request.headers.cf-ray']) assert.ok(keys.includes(key), key);
    const { envelope: some } = await api(handle, '/client/v4/accounts/x/workers/observability/telemetry/keys', { keyNeedle: { value: 'CITY' } });
    assert.deepEqual(some.result.map((k: any) => k.key), ['city']);
  });

  test('bad requests get 400 with a documented code; the process stays up', async () => {
    const cases: [unknown, number, RegExp][] = [
      ['{not json', 10026, /Could not parse request body/],
      ['', 10026, /empty/],
      [{ view: 'events' }, 10451, /timeframe/],
      [{ timeframe: timeframe(), parameters: { filters: [{ key: '$workers.outcome', operation: 'like', value: 'x' }] } }, 10452, /unknown operation "like"/],
      [{ timeframe: timeframe(), parameters: { filters: [{ key: '$metadata.nope', operation: 'eq', value: 'x' }] } }, 10453, /unknown key "\$metadata\.nope"/],
      [{ timeframe: timeframe(), parameters: { filters: [{ key: '$metadata.message', operation: 'regex', value: '(' }] } }, 10454, /invalid regular expression/],
      [{ timeframe: timeframe(), parameters: { filters: [{ key: '$workers.cpuTimeMs', operation: 'gt', value: 'fast' }] } }, 10455, /not a number/],
    ];
    for (const [body, code, message] of cases) {
      const { status, envelope } = await api(handle, QUERY_PATH, body);
      assert.equal(status, 400, JSON.stringify(envelope));
      assert.equal(envelope.success, false);
      assert.equal(envelope.errors[0].code, code);
      assert.match(envelope.errors[0].message, message);
    }
    const big = await httpRequest(`http://127.0.0.1:${handle.apiPort}${QUERY_PATH}`, { method: 'POST', body: Buffer.alloc(2 * 1024 * 1024, 32) });
    assert.equal(big.status, 413);
    assert.equal(JSON.parse(big.text).errors[0].code, 10026);
    const wrongMethod = await api(handle, QUERY_PATH, undefined, 'GET');
    assert.equal(wrongMethod.status, 405);
    assert.equal((await api(handle, QUERY_PATH, { timeframe: timeframe() })).status, 200, 'still answering');
  });

  test('flarelet logs: a seed query, human-readable', async () => {
    const { code, stdout, stderr } = await cli(['shop', '--query', '$metadata.error EXISTS', '--url', `http://127.0.0.1:${handle.apiPort}`]);
    assert.equal(code, 0, stderr);
    const lines = stdout.trim().split('\n');
    assert.equal(lines.length, 2, stdout);
    assert.match(lines[0], /^\d{4}-\d\d-\d\dT\S+Z {2}error {2}exception {2}\S+-LCL {2}TypeError: kaboom from \/boom$/);
    assert.ok(lines[0].includes(rays['/boom']));
    assert.match(lines[1], /error {2}ok +\S+ {2}Error: soft failure$/);
    assert.match(stderr, /2 of 2 rows of shop/);
  });

  test('flarelet logs: --json lines, --view invocations, --search, --limit', async () => {
    const url = `http://127.0.0.1:${handle.apiPort}`;
    const json = await cli(['shop', '-q', '$workers.outcome = "exception"', '--json', '--url', url]);
    assert.equal(json.code, 0, json.stderr);
    const rows = json.stdout.trim().split('\n').map((line) => JSON.parse(line));
    assert.equal(rows.length, 3);
    assert.ok(rows.every((r) => r.$workers.outcome === 'exception' && r.$metadata.requestId === rays['/boom']));
    const times = rows.map((r) => r.timestamp);
    assert.deepEqual(times, [...times].sort((a, b) => a - b), 'oldest first');

    const invocations = await cli(['shop', '--view', 'invocations', '--since', '10m', '-q', '$metadata.error EXISTS', '--url', url]);
    assert.equal(invocations.code, 0, invocations.stderr);
    const blocks = invocations.stdout.trimEnd().split('\n');
    assert.equal(blocks.filter((l) => l.startsWith('── ')).length, 2, invocations.stdout);
    assert.match(blocks[0], /^── GET http:\/\/127\.0\.0\.1:\d+\/boom {2}exception {2}500 {2}\S+-LCL {2}\S+Z$/);
    assert.match(blocks[1], /^ {3}\d\d:\d\d:\d\d\.\d{3}Z {2}log {4}visit \/boom$/);
    assert.match(blocks[2], /^ {3}\S+ {2}error {2}TypeError: kaboom from \/boom$/);
    assert.match(blocks[3], /^── POST http:\/\/127\.0\.0\.1:\d+\/city {2}ok {2}200/);

    const search = await cli(['shop', '--search', 'osaka', '--json', '--url', url]);
    assert.deepEqual(search.stdout.trim().split('\n').map((l) => JSON.parse(l).source), [{ city: 'Osaka', items: 3 }]);

    const limited = await cli(['shop', '--limit', '2', '--url', url]);
    assert.equal(limited.stdout.trim().split('\n').length, 2);
    assert.match(limited.stderr, /2 of 9 rows .*the newest/);
  });

  test('flarelet logs: a malformed query exits 2 and points at the column', async () => {
    const { code, stderr, stdout } = await cli(['shop', '--query', '$workers.outcome "exception"', '--url', `http://127.0.0.1:${handle.apiPort}`]);
    assert.equal(code, 2);
    assert.equal(stdout, '');
    assert.match(stderr, /expected an operator after "\$workers\.outcome" at column 18/);
    assert.match(stderr, /\n {2}\$workers\.outcome "exception"\n {19}\^/);
  });

  test('flarelet logs: unknown worker and unreachable server exit 1 with a clear message', async () => {
    const unknown = await cli(['nosuch', '--url', `http://127.0.0.1:${handle.apiPort}`]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^flarelet logs: no worker named "nosuch"/);
    const port = await freePort();
    const unreachable = await cli(['shop', '--url', `http://127.0.0.1:${port}`]);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /^flarelet logs: cannot reach flarelet at http:\/\/127\.0\.0\.1:\d+\/ \(ECONNREFUSED\)/);
    assert.doesNotMatch(unreachable.stderr, /\n\s+at /, 'no stack trace');
  });
});

describe('worker settings', () => {
  test('head_sampling_rate = 0 stores nothing; invocation_logs = false stores the console lines only', async () => {
    const sampled = writeWorker(join(root, 'sampled'), 'name = "sampled-out"\nmain = "worker.js"\n[observability]\nenabled = true\nhead_sampling_rate = 0\n');
    const quiet = writeWorker(join(root, 'quiet'), 'name = "quiet"\nmain = "worker.js"\n[observability.logs]\ninvocation_logs = false\n');
    const control = writeWorker(join(root, 'control'), 'name = "control"\nmain = "worker.js"\n');
    const handle = await startFlarelet({ entries: [], args: ['-c', sampled, '-c', quiet, '-c', control] });
    try {
      const host = (name: string) => ({ host: `${name}.localhost:${handle.port}` });
      for (let i = 0; i < 3; i++) assert.equal((await httpRequest(`${handle.url}/s${i}`, { headers: host('sampled-out') })).status, 200);
      assert.equal((await httpRequest(`${handle.url}/q`, { headers: host('quiet') })).status, 200);
      assert.equal((await httpRequest(`${handle.url}/c`, { headers: host('control') })).status, 200);
      await handle.waitForEvents(5, 20_000);
      // Rows are written in order: once the last request's rows are stored, the earlier ones were handled.
      await waitForRows(handle, 'control', 2);
      assert.deepEqual(await rowsOf(handle, 'sampled-out'), []);
      assert.deepEqual((await rowsOf(handle, 'quiet')).map((r) => r.$metadata.type), ['cf-worker-log']);
    } finally {
      await handle.stop();
    }
  });
});

describe('the store across restarts', () => {
  test('rows persist in <persist-to>/logs.sqlite; retention deletes them on the next start', async () => {
    const state = join(root, 'state');
    mkdirSync(state);
    const entry = writeWorker(join(root, 'kept'));
    const first = await startFlarelet({ entries: [entry], args: ['--name', 'kept', '--persist-to', state] });
    try {
      assert.equal((await httpRequest(`${first.url}/x`)).status, 200);
      // Stopped at once: the rows still buffered are written on the way out.
      await first.waitForEvents(1, 20_000);
    } finally {
      await first.stop();
    }
    assert.ok(existsSync(join(state, 'logs.sqlite')));

    const second = await startFlarelet({ entries: [entry], args: ['--name', 'kept', '--persist-to', state] });
    try {
      assert.deepEqual((await rowsOf(second, 'kept')).map((r) => r.$metadata.message), ['visit /x', `GET http://127.0.0.1:${first.port}/x`], 'written at shutdown, there after a restart');
    } finally {
      await second.stop();
    }

    // 0.00001 days = 0.864 s: the rows written above are past it.
    const third = await startFlarelet({ entries: [entry], args: ['--name', 'kept', '--persist-to', state, '--log-retention-days', '0.00001'] });
    try {
      const deadline = Date.now() + 20_000;
      let rows = await rowsOf(third, 'kept');
      while (rows.length > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        rows = await rowsOf(third, 'kept');
      }
      assert.deepEqual(rows, []);
    } finally {
      await third.stop();
    }
  });

  test('a store that cannot be opened: one warning, workers keep serving, the API answers 503', async () => {
    const state = join(root, 'blocked');
    mkdirSync(join(state, 'logs.sqlite'), { recursive: true }); // a folder where the file should be
    const handle = await startFlarelet({ entries: [writeWorker(join(root, 'blocked-worker'))], args: ['--name', 'blocked', '--persist-to', state] });
    try {
      assert.equal((await httpRequest(`${handle.url}/x`)).status, 200);
      await handle.waitForEvents(1, 20_000);
      assert.match(handle.stderr(), /\[logs\] cannot open .*logs\.sqlite/);
      assert.equal(handle.stderr().match(/\[logs\]/g)?.length, 1);
      const { status, envelope } = await api(handle, QUERY_PATH, { timeframe: timeframe() });
      assert.equal(status, 503);
      assert.equal(envelope.errors[0].code, 10456);
      assert.equal((await httpRequest(`${handle.url}/y`)).status, 200);
    } finally {
      await handle.stop();
    }
  });
});
