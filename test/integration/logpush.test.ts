// Logpush against real `flarelet dev` processes and real local HTTP destinations:
//   - the destination is down for a while (nothing listens on its port), then up: every event is
//     delivered exactly once, in order (requests are numbered by their URL path);
//   - flarelet is stopped while the destination is down and started again on the same
//     --persist-to folder: the spooled events are delivered after the restart, with the new ones;
//   - jobs made through Cloudflare's Logpush job API: header_* headers, field_names, batch size,
//     validation errors, persistence across a restart, flag jobs read-only;
//   - --otlp: a local server receives OTLP/HTTP logs JSON.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { freePort, httpRequest, startFlarelet } from '../support/flarelet.ts';
import type { FlareletHandle } from '../support/flarelet.ts';

const WORKER = 'test/fixtures/observability/metrics-worker.js';
const DELIVERY_TIMEOUT = 30_000;

interface Batch {
  headers: IncomingHttpHeaders;
  url: string;
  body: Buffer;
}

/** A destination on `port` recording every request (answer 200), decoding gzip when asked to. */
async function destination(port: number) {
  const batches: Batch[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      batches.push({ headers: req.headers, url: req.url ?? '', body });
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    });
  });
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', done);
  });
  return {
    batches,
    records: () => batches.flatMap((b) => b.body.toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))),
    close: () => new Promise<void>((done) => { server.closeAllConnections(); server.close(() => done()); }),
  };
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string, detail: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}\n${detail()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** One sample of /metrics (the first line matching name and labels), or null. */
async function metric(f: FlareletHandle, name: string, labels: Record<string, string>): Promise<number | null> {
  const res = await httpRequest(`http://127.0.0.1:${f.apiPort}/metrics`);
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of res.text.split('\n')) {
    const match = /^([a-z_]+)(?:\{(.*)\})? (.+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = (match[2] ?? '').split(',');
    if (wanted.every((w) => have.includes(w))) return Number(match[3]);
  }
  return null;
}

/** Sends GET /n/<i> for each i, one after the other, and waits for their trace events. */
async function sendNumbered(f: FlareletHandle, from: number, to: number): Promise<void> {
  for (let i = from; i <= to; i++) {
    const res = await httpRequest(`${f.url}/n/${i}`);
    assert.equal(res.status, 200);
  }
}

/** The request numbers of the delivered records, in delivery order. */
const numbers = (records: { Event: { Request: { URL: string } } }[]) => records.map((r) => Number(/\/n\/(\d+)$/.exec(new URL(r.Event.Request.URL).pathname)?.[1]));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

const api = (f: FlareletHandle, p: string) => `http://127.0.0.1:${f.apiPort}/client/v4/accounts/acc/logpush${p}`;
async function call(f: FlareletHandle, method: string, p: string, body?: unknown) {
  const res = await httpRequest(api(f, p), {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, json: JSON.parse(res.text) };
}

describe('logpush over HTTP (NDJSON + gzip)', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  test('destination down, then up: every event delivered exactly once, in order', async () => {
    const port = await freePort();
    const f = await startFlarelet({ entries: [WORKER], args: ['--logpush', `http://127.0.0.1:${port}/ingest?header_Authorization=Bearer%20k3y`] });
    cleanups.push(() => f.stop());
    await sendNumbered(f, 1, 20);
    await f.waitForEvents(20, 20_000);
    // Nothing listens yet: the job has tried, failed, and keeps the events on disk.
    await until(async () => ((await metric(f, 'flarelet_logpush_failed_attempts_total', { logpush_job: '1' })) ?? 0) >= 1, 15_000, 'a failed attempt', f.stderr);
    assert.equal(await metric(f, 'flarelet_logpush_pending_events', { logpush_job: '1' }), 20);
    assert.equal(await metric(f, 'flarelet_logpush_delivered_events_total', { logpush_job: '1' }), 0);

    const dest = await destination(port);
    cleanups.push(() => dest.close());
    await until(() => dest.records().length >= 20, DELIVERY_TIMEOUT, '20 delivered records', () => JSON.stringify(numbers(dest.records())));
    await sendNumbered(f, 21, 25);
    await until(() => dest.records().length >= 25, DELIVERY_TIMEOUT, '25 delivered records');
    // Give a duplicate every chance to show up before counting.
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(numbers(dest.records()), range(1, 25), 'each event once, in request order');
    const first = dest.batches[0]!;
    assert.equal(first.url, '/ingest');
    assert.equal(first.headers.authorization, 'Bearer k3y');
    assert.equal(first.headers['content-encoding'], 'gzip');
    assert.equal(dest.records()[0].ScriptName, 'metrics-worker');
    assert.equal(dest.records()[0].Outcome, 'ok');
    assert.deepEqual(dest.records()[0].Logs.map((l: { Message: unknown[] }) => l.Message), [['request', '/n/1']]);
    assert.equal(await metric(f, 'flarelet_logpush_pending_events', { logpush_job: '1' }), 0);
    assert.equal(await metric(f, 'flarelet_logpush_delivered_events_total', { logpush_job: '1' }), 25);
  });

  test('stopped while the destination is down, started again: the spooled events are delivered with the new ones', async () => {
    const port = await freePort();
    const stateDir = mkdtempSync(path.join(tmpdir(), 'flarelet-logpush-restart-'));
    cleanups.push(() => rmSync(stateDir, { recursive: true, force: true }));
    const args = ['--persist-to', stateDir, '--logpush', `http://127.0.0.1:${port}/`];
    const first = await startFlarelet({ entries: [WORKER], args });
    await sendNumbered(first, 1, 10);
    await first.waitForEvents(10, 20_000);
    await until(async () => (await metric(first, 'flarelet_logpush_pending_events', { logpush_job: '1' })) === 10, 15_000, 'ten spooled events', first.stderr);
    await first.stop();

    const second = await startFlarelet({ entries: [WORKER], args });
    cleanups.push(() => second.stop());
    const dest = await destination(port);
    cleanups.push(() => dest.close());
    await sendNumbered(second, 11, 15);
    await until(() => dest.records().length >= 15, DELIVERY_TIMEOUT, '15 delivered records', () => JSON.stringify(numbers(dest.records())) + second.stderr());
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(numbers(dest.records()), range(1, 15));
  });
});

describe('logpush on a disk that cannot be written', () => {
  test('events are dropped and counted, the user is warned once, requests and the API keep working', async (t) => {
    const stateDir = mkdtempSync(path.join(tmpdir(), 'flarelet-logpush-ro-'));
    t.after(() => rmSync(stateDir, { recursive: true, force: true }));
    // A file where the logpush folder should be: every write under it fails, as on a full or read-only disk.
    writeFileSync(path.join(stateDir, 'logpush'), 'not a folder');
    const port = await freePort();
    const f = await startFlarelet({ entries: [WORKER], args: ['--persist-to', stateDir, '--logpush', `http://127.0.0.1:${port}/`] });
    t.after(() => f.stop());
    await sendNumbered(f, 1, 6);
    await f.waitForEvents(6, 20_000);
    await until(async () => (await metric(f, 'flarelet_dropped_events_total', { script_name: 'metrics-worker', consumer: 'logpush' })) === 6, 15_000, 'six dropped events', f.stderr);
    assert.equal(await metric(f, 'flarelet_logpush_dropped_events_total', { logpush_job: '1', reason: 'spool' }), 6);
    const spoolWarnings = f.stderr().split('\n').filter((l) => l.includes('logpush spool'));
    assert.equal(spoolWarnings.length, 1, f.stderr());
    const create = await call(f, 'POST', '/jobs', { destination_conf: `http://127.0.0.1:${port}/`, dataset: 'workers_trace_events' });
    assert.equal(create.status, 500);
    assert.equal(create.json.errors[0].code, 1005);
    assert.match(create.json.errors[0].message, /cannot save the job list/);
    assert.equal((await httpRequest(`${f.url}/n/7`)).status, 200, 'the worker still answers');
  });
});

describe('logpush job API', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  test('create, deliver with header_* and field_names, read, change, delete; bad input is refused', async () => {
    const port = await freePort();
    const dest = await destination(port);
    cleanups.push(() => dest.close());
    const stateDir = mkdtempSync(path.join(tmpdir(), 'flarelet-logpush-api-'));
    cleanups.push(() => rmSync(stateDir, { recursive: true, force: true }));
    let f = await startFlarelet({ entries: [WORKER], args: ['--persist-to', stateDir] });

    assert.deepEqual((await call(f, 'GET', '/jobs')).json, { success: true, errors: [], messages: [], result: [] });
    const refused = [
      [await call(f, 'POST', '/jobs', '{not json'), /not valid JSON/],
      [await call(f, 'POST', '/jobs', { destination_conf: `http://127.0.0.1:${port}/`, dataset: 'http_requests' }), /workers_trace_events dataset only/],
      [await call(f, 'POST', '/jobs', { destination_conf: 'r2://bucket', dataset: 'workers_trace_events' }), /only http:\/\/ and https:\/\//],
      [await call(f, 'POST', '/jobs', { dataset: 'workers_trace_events' }), /destination_conf is required/],
    ] as const;
    for (const [res, message] of refused) {
      assert.equal(res.status, 400);
      assert.equal(res.json.success, false);
      assert.equal(res.json.errors[0].code, 1002);
      assert.match(res.json.errors[0].message, message);
    }

    const created = await call(f, 'POST', '/jobs', {
      name: 'api-job',
      destination_conf: `http://127.0.0.1:${port}/api?header_X-Token=s3cret&source=flarelet`,
      dataset: 'workers_trace_events',
      enabled: true,
      max_upload_records: 2,
      output_options: { field_names: ['Event', 'Outcome', 'ScriptName'] },
    });
    assert.equal(created.status, 200, JSON.stringify(created.json));
    const job = created.json.result;
    assert.equal(job.id, 1);
    assert.equal(job.enabled, true);
    assert.equal(job.name, 'api-job');
    assert.deepEqual((await call(f, 'GET', '/jobs/1')).json.result, job);
    assert.deepEqual((await call(f, 'GET', '/datasets/workers_trace_events/jobs')).json.result, [job]);
    const fields = (await call(f, 'GET', '/datasets/workers_trace_events/fields')).json.result;
    assert.ok('CPUTimeMs' in fields && 'WallTimeMs' in fields && 'Outcome' in fields);

    await sendNumbered(f, 1, 5);
    await until(() => dest.records().length >= 5, DELIVERY_TIMEOUT, 'five records', f.stderr);
    assert.deepEqual(numbers(dest.records()), range(1, 5));
    assert.ok(dest.batches.every((b) => b.body.toString().split('\n').filter(Boolean).length <= 2), 'max_upload_records = 2');
    assert.equal(dest.batches[0]!.headers['x-token'], 's3cret');
    assert.equal(dest.batches[0]!.url, '/api?source=flarelet');
    assert.deepEqual(Object.keys(dest.records()[0]), ['Event', 'Outcome', 'ScriptName']);

    const disabled = await call(f, 'PUT', '/jobs/1', { enabled: false });
    assert.equal(disabled.status, 200);
    assert.equal(disabled.json.result.enabled, false);
    assert.equal(disabled.json.result.max_upload_records, 2, 'a PUT changes only what it names');
    const badPut = await call(f, 'PUT', '/jobs/1', { max_upload_records: -1 });
    assert.equal(badPut.status, 400);
    assert.match(badPut.json.errors[0].message, /max_upload_records/);
    assert.equal((await call(f, 'GET', '/jobs/999')).status, 404);
    assert.equal((await call(f, 'GET', '/jobs/999')).json.errors[0].code, 1003);
    assert.equal((await call(f, 'GET', '/jobs/abc')).status, 400);
    const second = await call(f, 'POST', '/jobs', { destination_conf: `http://127.0.0.1:${port}/second`, dataset: 'workers_trace_events' });
    assert.equal(second.json.result.id, 2);
    assert.equal(second.json.result.enabled, false, 'disabled unless asked, as on Cloudflare');

    // Jobs made through the API survive a restart.
    await f.stop();
    f = await startFlarelet({ entries: [WORKER], args: ['--persist-to', stateDir, '--logpush', `http://127.0.0.1:${port}/flag`] });
    cleanups.push(() => f.stop());
    const listed = (await call(f, 'GET', '/jobs')).json.result;
    assert.deepEqual(listed.map((j: { id: number; name: string | null }) => [j.id, j.name]), [[1, 'api-job'], [2, null], [3, 'logpush-flag']]);
    assert.equal(listed[0].enabled, false);
    assert.match(listed[0].last_complete ?? '', /^\d{4}-\d{2}-\d{2}T/, 'delivery status is kept');

    const flagPut = await call(f, 'PUT', '/jobs/3', { enabled: false });
    assert.equal(flagPut.status, 400);
    assert.equal(flagPut.json.errors[0].code, 1004);
    const deleted = await call(f, 'DELETE', '/jobs/1');
    assert.deepEqual(deleted.json.result, { id: 1 });
    assert.equal((await call(f, 'GET', '/jobs/1')).status, 404);
    assert.equal((await call(f, 'DELETE', '/jobs/1')).status, 404);
    assert.deepEqual((await call(f, 'GET', '/jobs')).json.result.map((j: { id: number }) => j.id), [2, 3]);
    // The process is still serving after all that.
    assert.equal((await httpRequest(`${f.url}/n/99`)).status, 200);
  });
});

describe('OTLP/HTTP logs export (--otlp)', () => {
  test('a local collector receives a valid ExportLogsServiceRequest in JSON', async (t) => {
    const port = await freePort();
    const dest = await destination(port);
    t.after(() => dest.close());
    const f = await startFlarelet({ entries: [WORKER], args: ['--otlp', `http://127.0.0.1:${port}/v1/logs`] });
    t.after(() => f.stop());
    assert.equal((await httpRequest(`${f.url}/hello`)).status, 200);
    assert.equal((await httpRequest(`${f.url}/throw`)).status, 500);
    await until(() => dest.batches.reduce((n, b) => n + JSON.parse(b.body.toString()).resourceLogs.flatMap((r: { scopeLogs: { logRecords: unknown[] }[] }) => r.scopeLogs[0]!.logRecords).length, 0) >= 4, DELIVERY_TIMEOUT, 'OTLP records', f.stderr);
    const batch = dest.batches[0]!;
    assert.equal(batch.url, '/v1/logs');
    assert.equal(batch.headers['content-type'], 'application/json');
    const records = dest.batches.flatMap((b) => {
      const payload = JSON.parse(b.body.toString());
      assert.deepEqual(Object.keys(payload), ['resourceLogs']);
      for (const resourceLogs of payload.resourceLogs) {
        assert.deepEqual(resourceLogs.resource.attributes[0], { key: 'service.name', value: { stringValue: 'metrics-worker' } });
        assert.equal(resourceLogs.scopeLogs[0].scope.name, 'flarelet');
      }
      return payload.resourceLogs.flatMap((r: { scopeLogs: { logRecords: unknown[] }[] }) => r.scopeLogs.flatMap((s) => s.logRecords));
    });
    for (const record of records) {
      assert.match(record.timeUnixNano, /^\d{19}$/);
      assert.ok([9, 13, 17].includes(record.severityNumber));
      assert.equal(typeof record.body.stringValue, 'string');
    }
    const bodies = records.map((r: { body: { stringValue: string } }) => r.body.stringValue);
    assert.ok(bodies.some((b: string) => /^GET http:\/\/127\.0\.0\.1:\d+\/hello$/.test(b)), bodies.join(' | '));
    assert.ok(bodies.includes('request /hello'), bodies.join(' | '));
    assert.ok(bodies.includes('Error: thrown on purpose'), bodies.join(' | '));
    const exception = records.find((r: { body: { stringValue: string } }) => r.body.stringValue === 'Error: thrown on purpose');
    assert.equal(exception.severityText, 'ERROR');
    assert.deepEqual(exception.attributes.find((a: { key: string }) => a.key === 'exception.message').value, { stringValue: 'thrown on purpose' });
  });
});
