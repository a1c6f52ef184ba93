// The set of logpush jobs of a process: flag jobs keep their id and spool across runs, a flag left
// out waits (with a warning) until it comes back, API jobs are saved and reloaded, an unreadable
// job list is moved aside, and the per-job metric families.
import { after, afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { renderFamilies } from '../../src/observability/metrics/prometheus.ts';
import { LogpushService } from '../../src/observability/logpush/service.ts';
import type { TraceEvent } from '../../src/protocol/trace.ts';
import { freePort } from '../support/flarelet.ts';

const root = mkdtempSync(path.join(tmpdir(), 'flarelet-service-'));
after(() => rmSync(root, { recursive: true, force: true }));
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

function service(stateDir: string) {
  const warnings: string[] = [];
  const drops: [string, string, number][] = [];
  const s = new LogpushService({
    stateDir,
    retentionDays: 7,
    reportDropped: (script, consumer, n) => drops.push([script, consumer, n]),
    warn: (m) => warnings.push(m),
    runner: { backoffBaseMs: 20, backoffMaxMs: 100 },
  });
  cleanups.push(() => s.close());
  return { s, warnings, drops };
}

async function destination(port: number) {
  const lines: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      lines.push(...gunzipSync(Buffer.concat(chunks)).toString().split('\n').filter(Boolean));
      res.end('ok');
    });
  });
  await new Promise<void>((done) => server.listen(port, '127.0.0.1', done));
  const close = () => new Promise<void>((done) => { server.closeAllConnections(); server.close(() => done()); });
  cleanups.push(close);
  return { paths: () => lines.map((l) => new URL(JSON.parse(l).Event.Request.URL).pathname), close };
}

const event = (p: string): TraceEvent => ({
  wallTime: 1, cpuTime: 0, truncated: false, executionModel: 'stateless', outcome: 'ok', scriptName: 'w',
  diagnosticsChannelEvents: [], exceptions: [], logs: [], eventTimestamp: Date.now(),
  event: { request: { url: `https://w.example${p}`, method: 'GET', headers: {}, cf: {} }, response: { status: 200 } },
});

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('a flag left out of a run keeps its undelivered events (and says so); given again, they are delivered', async () => {
  const stateDir = path.join(root, 'dormant');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;

  const first = service(stateDir);
  await first.s.start({ ndjson: [url], otlp: [] });
  assert.deepEqual(first.s.list().map((j) => [j.id, j.name, j.enabled]), [[1, 'logpush-flag', true]]);
  first.s.publish(event('/1'));
  first.s.publish(event('/2'));
  await first.s.close();

  const second = service(stateDir);
  await second.s.start({ ndjson: [], otlp: [] });
  assert.deepEqual(second.s.list(), [], 'a dormant flag job is not listed');
  assert.equal(second.warnings.length, 1);
  assert.match(second.warnings[0]!, /2 undelivered event\(s\) wait for --logpush http:\/\/127\.0\.0\.1:\d+\/ \(job 1\)/);
  await second.s.close();

  const dest = await destination(port);
  const third = service(stateDir);
  await third.s.start({ ndjson: [url], otlp: [] });
  assert.deepEqual(third.s.list().map((j) => j.id), [1], 'the same job again');
  third.s.publish(event('/3'));
  await until(() => dest.paths().length >= 3, 'three records');
  assert.deepEqual(dest.paths(), ['/1', '/2', '/3']);
  await third.s.close();

  // Everything delivered: a run without the flag now forgets the job and its folder.
  const fourth = service(stateDir);
  await fourth.s.start({ ndjson: [], otlp: [] });
  assert.deepEqual(fourth.warnings, []);
  assert.equal(existsSync(path.join(stateDir, 'logpush', '1')), false);
  await fourth.s.close();
});

test('API jobs are saved and come back; disabled jobs spool nothing; per-job metric families', async () => {
  const stateDir = path.join(root, 'api');
  const port = await freePort();
  const a = service(stateDir);
  await a.s.start({ ndjson: [], otlp: [`http://127.0.0.1:${port}/v1/logs`] });
  const created = await a.s.create({ destination_conf: `http://127.0.0.1:${port}/x`, dataset: 'workers_trace_events', name: 'kept' });
  assert.equal(created.id, 2);
  assert.equal(created.enabled, false);
  a.s.publish(event('/ignored'));
  const text = renderFamilies(a.s.families());
  assert.match(text, /^flarelet_logpush_pending_events\{logpush_job="2"\} 0$/m);
  assert.match(text, /^# TYPE flarelet_logpush_delivered_events_total counter$/m);
  assert.match(text, /^flarelet_logpush_last_success_timestamp_seconds\{logpush_job="1"\} 0$/m);
  await assert.rejects(a.s.create({ dataset: 'workers_trace_events' }), /destination_conf is required/);
  assert.equal(a.s.isFlagJob(1), true);
  assert.equal(a.s.isFlagJob(2), false);
  await a.s.close();

  const b = service(stateDir);
  await b.s.start({ ndjson: [], otlp: [] });
  assert.deepEqual(b.s.list().map((j) => [j.id, j.name]), [[2, 'kept']]);
  assert.equal((await b.s.create({ destination_conf: `http://127.0.0.1:${port}/y`, dataset: 'workers_trace_events' })).id, 3, 'ids are never reused');
  assert.equal(await b.s.remove(2), true);
  assert.equal(await b.s.remove(2), false);
  assert.equal(await b.s.update(2, { enabled: true }), null);
  assert.ok(!readdirSync(path.join(stateDir, 'logpush')).includes('2'), 'a deleted job\'s spool is gone');
});

test('an unreadable job list is moved aside and reported; the service starts empty', async () => {
  const stateDir = path.join(root, 'corrupt');
  mkdirSync(path.join(stateDir, 'logpush'), { recursive: true });
  writeFileSync(path.join(stateDir, 'logpush', 'jobs.json'), '{"nextId": 2, "jobs": [tru');
  const { s, warnings } = service(stateDir);
  await s.start({ ndjson: [], otlp: [] });
  assert.deepEqual(s.list(), []);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /not a valid job list .* moved it to .*jobs\.json\.unreadable-\d+/);
  assert.ok(readdirSync(path.join(stateDir, 'logpush')).some((f) => f.startsWith('jobs.json.unreadable-')));
});

test('a flag URL that is no HTTP destination is reported and skipped, not fatal', async () => {
  const { s, warnings } = service(path.join(root, 'bad-flag'));
  await s.start({ ndjson: ['ftp://example.com/logs'], otlp: [] });
  assert.deepEqual(s.list(), []);
  assert.match(warnings[0]!, /--logpush .*only http:\/\/ and https:\/\//);
});
