// A logpush job's sender against real HTTP servers on loopback: batches in order, retries on
// 5xx / no connection until delivered exactly once, final refusals dropped and reported, delivery
// resumed after a restart from the spool, configuration changes picked up.
import { after, afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { jobFromCreate } from '../../src/observability/logpush/jobs.ts';
import type { StoredJob } from '../../src/observability/logpush/jobs.ts';
import { JobRunner } from '../../src/observability/logpush/runner.ts';
import { freePort } from '../support/flarelet.ts';

const root = mkdtempSync(path.join(tmpdir(), 'flarelet-runner-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;

interface Received {
  headers: IncomingHttpHeaders;
  url: string;
  body: Buffer;
}

/** A destination on `port` that answers with `answer(nth request)` and records what it got. */
async function destination(port: number, answer: (n: number) => { status: number; headers?: Record<string, string>; body?: string } = () => ({ status: 200 })) {
  const received: Received[] = [];
  let count = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const out = answer(++count);
      if (out.status >= 200 && out.status < 300) received.push({ headers: req.headers, url: req.url ?? '', body: Buffer.concat(chunks) });
      res.writeHead(out.status, out.headers ?? {});
      res.end(out.body ?? '');
    });
  });
  await new Promise<void>((done) => server.listen(port, '127.0.0.1', done));
  const close = () => new Promise<void>((done) => { server.closeAllConnections(); server.close(() => done()); });
  cleanups.push(close);
  return {
    received,
    attempts: () => count,
    records: () => received.flatMap((r) => gunzipSync(r.body).toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))),
    close,
  };
}

function job(destinationConf: string, extra: Record<string, unknown> = {}): StoredJob {
  return { ...jobFromCreate({ destination_conf: destinationConf, dataset: 'workers_trace_events', enabled: true, ...extra }, 1), source: 'cli' };
}

/** Resources a test opened, closed after it whether it passed or not (a failure must not hang the file). */
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

function runner(j: StoredJob, dir = path.join(root, `r${dirs++}`), drops: [string, number][] = []) {
  const r = new JobRunner({
    dir, job: j, retentionMs: 86_400_000, version: 'test',
    reportDropped: (script, n) => drops.push([script, n]),
    warn: () => {},
    backoffBaseMs: 20, backoffMaxMs: 200, requestTimeoutMs: 5000,
  });
  cleanups.push(() => r.close());
  return r;
}

const event = (n: number, scriptName = 'w') => JSON.stringify({
  wallTime: 1, cpuTime: 0, truncated: false, executionModel: 'stateless', outcome: 'ok', scriptName,
  diagnosticsChannelEvents: [], exceptions: [], logs: [], eventTimestamp: 1_700_000_000_000 + n,
  event: { request: { url: `https://w.example/${n}`, method: 'GET', headers: {}, cf: {} }, response: { status: 200 } },
});

async function until(check: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const seqOf = (records: { Event: { Request: { URL: string } } }[]) => records.map((r) => Number(new URL(r.Event.Request.URL).pathname.slice(1)));
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

test('events go out in order, in batches of at most max_upload_records, gzipped NDJSON with the header_ headers', async () => {
  const port = await freePort();
  const dest = await destination(port);
  const r = runner(job(`http://127.0.0.1:${port}/in?header_Authorization=Bearer%20t0k&x=1`, { max_upload_records: 4 }));
  r.start();
  for (let i = 0; i < 10; i++) r.offer(event(i));
  await until(() => dest.records().length >= 10, 10_000, '10 records');
  assert.deepEqual(seqOf(dest.records()), range(0, 10));
  assert.ok(dest.received.every((b) => gunzipSync(b.body).toString().split('\n').filter(Boolean).length <= 4));
  const first = dest.received[0]!;
  assert.equal(first.url, '/in?x=1');
  assert.equal(first.headers.authorization, 'Bearer t0k');
  assert.equal(first.headers['content-encoding'], 'gzip');
  assert.equal(first.headers['content-type'], 'application/x-ndjson');
  await r.close();
  assert.equal(r.stats.deliveredEvents, 10);
  await dest.close();
});

test('503 twice, then 200: the same batch is retried and delivered exactly once', async () => {
  const port = await freePort();
  const dest = await destination(port, (n) => (n <= 2 ? { status: 503 } : { status: 200 }));
  const r = runner(job(`http://127.0.0.1:${port}/`));
  r.start();
  for (let i = 0; i < 5; i++) r.offer(event(i));
  await until(() => dest.records().length >= 5, 10_000, 'delivery after retries');
  await new Promise((res) => setTimeout(res, 200));
  assert.deepEqual(seqOf(dest.records()), range(0, 5));
  assert.equal(r.stats.failedAttempts, 2);
  assert.equal(r.stats.deliveredBatches, 1);
  await r.close();
  await dest.close();
});

test('nothing listening, then a server: events wait, then arrive once and in order', async () => {
  const port = await freePort();
  const r = runner(job(`http://127.0.0.1:${port}/`, { max_upload_records: 3 }));
  r.start();
  for (let i = 0; i < 8; i++) r.offer(event(i));
  await until(() => r.stats.failedAttempts >= 2, 10_000, 'failed attempts');
  assert.equal(r.pendingEvents, 8);
  const dest = await destination(port);
  await until(() => dest.records().length >= 8, 10_000, 'delivery');
  for (let i = 8; i < 12; i++) r.offer(event(i));
  await until(() => dest.records().length >= 12, 10_000, 'later events');
  await new Promise((res) => setTimeout(res, 200));
  assert.deepEqual(seqOf(dest.records()), range(0, 12));
  await r.close();
  await dest.close();
});

test('a 400 is final: the batch is dropped and reported per worker, and the next batch goes out', async () => {
  const port = await freePort();
  const dest = await destination(port, (n) => (n === 1 ? { status: 400, body: 'bad batch' } : { status: 200 }));
  const drops: [string, number][] = [];
  const r = runner(job(`http://127.0.0.1:${port}/`, { max_upload_records: 3 }), undefined, drops);
  r.start();
  r.offer(event(0, 'a'));
  r.offer(event(1, 'b'));
  r.offer(event(2, 'a'));
  for (let i = 3; i < 6; i++) r.offer(event(i));
  await until(() => dest.records().length >= 3, 10_000, 'second batch');
  assert.deepEqual(seqOf(dest.records()), [3, 4, 5]);
  assert.deepEqual(drops.sort(), [['a', 2], ['b', 1]]);
  assert.equal(r.stats.dropped.get('rejected'), 3);
  assert.match(r.job.error_message ?? '', /refused a batch of 3 event\(s\) for good \(HTTP 400: bad batch\)/);
  await r.close();
  await dest.close();
});

test('after a restart the spool is delivered: nothing lost, nothing twice', async () => {
  const port = await freePort();
  const dir = path.join(root, 'restart');
  const a = runner(job(`http://127.0.0.1:${port}/`), dir);
  a.start();
  for (let i = 0; i < 6; i++) a.offer(event(i));
  await until(() => a.stats.failedAttempts >= 1, 10_000, 'a failed attempt');
  await a.close();
  const dest = await destination(port);
  const b = runner(job(`http://127.0.0.1:${port}/`), dir);
  b.start();
  b.offer(event(6));
  await until(() => dest.records().length >= 7, 10_000, 'delivery after restart');
  await new Promise((res) => setTimeout(res, 200));
  assert.deepEqual(seqOf(dest.records()), range(0, 7));
  await b.close();
  await dest.close();
});

test('a changed destination is used from the next attempt on; a disabled job holds its events', async () => {
  const portA = await freePort();
  const portB = await freePort();
  const destA = await destination(portA);
  const destB = await destination(portB);
  const j = job(`http://127.0.0.1:${portA}/`);
  const r = runner(j);
  r.start();
  r.offer(event(0));
  await until(() => destA.records().length === 1, 10_000, 'first destination');
  r.update({ ...j, enabled: false });
  r.offer(event(1));
  await new Promise((res) => setTimeout(res, 1500));
  assert.equal(destA.records().length + destB.records().length, 1, 'a disabled job sends nothing');
  r.update({ ...j, enabled: true, destination_conf: `http://127.0.0.1:${portB}/` });
  await until(() => destB.records().length === 1, 10_000, 'second destination');
  assert.deepEqual(seqOf(destB.records()), [1]);
  await r.close();
  await destA.close();
  await destB.close();
});

test('close delivers what is left at once when the destination answers (no waiting for the batch delay)', async () => {
  const port = await freePort();
  const dest = await destination(port);
  const r = runner(job(`http://127.0.0.1:${port}/`, { max_upload_interval_seconds: 30 }));
  r.start();
  for (let i = 0; i < 3; i++) r.offer(event(i));
  const started = Date.now();
  await r.close();
  assert.ok(Date.now() - started < 5000);
  assert.deepEqual(seqOf(dest.records()), [0, 1, 2]);
  await dest.close();
});
