// The log store benchmark: write throughput (realistic trace events, 2 console lines each) and
// query latency over a large store, both on the SQLite store the platform uses.
//
//   bin/node24 --no-node-snapshot bench/logs.ts [--events 1000000] [--runs 15] [--keep DIR]
//
// 1. Fill: N trace events (≈95 % ok, 4 % exception with an uncaught error, 1 % other outcomes,
//    each with 2 console lines: one text, one structured object; 8 request headers, a dozen cf
//    fields) over the last 24 h, written in batches the size the platform writes (1000 rows).
//    Reported: events/s and rows/s of the whole fill and of its first 50,000 events.
// 2. Through the thread: 50,000 events written through the threaded store into a fresh store
//    (the path the platform takes: structured clone to the store's thread, one batch at a time).
// 3. Queries through the threaded store, each run `--runs` times after one warm-up: median and p95.
//    The target: `$workers.outcome = "exception"` (events, limit 50; and a count) ≤ 200 ms.
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseQueryText } from '../src/observability/logs/query-text.ts';
import { parseQueryRequest, toWireFilters } from '../src/observability/logs/query.ts';
import { SqliteLogStore } from '../src/observability/logs/sqlite-store.ts';
import { openThreadedLogStore } from '../src/observability/logs/store-thread.ts';
import type { StoreWriteItem } from '../src/observability/logs/store.ts';
import type { Outcome, TraceEvent } from '../src/protocol/trace.ts';
import { fmt, log, median, percentile, stopAll, table, tempDir } from './lib.ts';

const USAGE = `Usage: bin/node24 --no-node-snapshot bench/logs.ts [options]
  --events N     trace events stored before the queries (default 1000000; 3 rows each, 4 with an exception)
  --runs N       runs of each query (default 15, after one warm-up)
  --keep DIR     keep the store in DIR (reused when it already holds the events: no refill)`;

const BATCH_ROWS = 1000;
const DAY_MS = 86_400_000;

const PATHS = ['/', '/api/users', '/api/orders', '/api/cart', '/login', '/static/app.js', '/products/42', '/search'];
const CITIES = ['Paris', 'Berlin', 'Lagos', 'Osaka', 'Lima', 'Austin', 'Perth', 'Oslo'];
const AGENTS = ['Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0', 'curl/8.5.0', 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1) Safari/604.1'];

/** A small, fast, seeded generator so every run stores the same data. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function traceEvent(i: number, at: number, random: () => number): TraceEvent {
  const roll = random();
  const outcome: Outcome = roll < 0.95 ? 'ok' : roll < 0.99 ? 'exception' : roll < 0.995 ? 'canceled' : 'exceededCpu';
  const path = PATHS[i % PATHS.length];
  const method = i % 5 === 0 ? 'POST' : 'GET';
  const city = CITIES[Math.floor(random() * CITIES.length)];
  const ray = `${(i * 2654435761 >>> 0).toString(16).padStart(8, '0')}${(i >>> 0).toString(16).padStart(8, '0')}-LCL`;
  const wall = Math.floor(random() * 120);
  return {
    wallTime: wall,
    cpuTime: Math.min(wall, Math.floor(random() * 12)),
    truncated: false,
    executionModel: 'stateless',
    outcome,
    scriptVersion: { id: '4b1c1c5e-7a4b-4c39-9f0b-5d2c8f0e6a11' },
    scriptName: `bench-${i % 4}`,
    diagnosticsChannelEvents: [],
    exceptions: outcome === 'exception'
      ? [{ stack: '    at handle (index.js:42:11)\n    at fetch (index.js:12:5)', name: 'TypeError', message: `Cannot read properties of undefined (reading 'id') on ${path}`, timestamp: at + 2 }]
      : [],
    logs: [
      { message: [`handling ${method} ${path} for a visitor from ${city}`], level: 'log', timestamp: at + 1 },
      { message: [{ route: path, user: `u${i % 1000}`, items: i % 7, cache: i % 3 === 0 ? 'hit' : 'miss' }], level: i % 50 === 0 ? 'warn' : 'info', timestamp: at + 1 },
    ],
    eventTimestamp: at,
    event: {
      request: {
        url: `https://shop.example.com${path}?page=${i % 10}`,
        method,
        headers: {
          accept: 'text/html,application/json;q=0.9',
          'accept-encoding': 'gzip, br',
          'accept-language': 'en-US,en;q=0.8',
          'cf-connecting-ip': `203.0.113.${i % 250}`,
          'cf-ray': ray,
          host: 'shop.example.com',
          'user-agent': AGENTS[i % AGENTS.length],
          'x-forwarded-proto': 'https',
        },
        cf: {
          colo: 'CDG', country: 'FR', city, continent: 'EU', asn: 3215, asOrganization: 'Orange', timezone: 'Europe/Paris',
          latitude: '48.85', longitude: '2.35', postalCode: '75001', region: 'Île-de-France', httpProtocol: 'HTTP/2', tlsVersion: 'TLSv1.3',
        },
      },
      response: outcome === 'canceled' ? undefined : { status: outcome === 'ok' ? 200 : 500 },
    },
  } as TraceEvent;
}

function rowsOfEvent(event: TraceEvent): number {
  return 1 + event.logs.length + event.exceptions.length;
}

/** Events spread evenly over the day before `now`, oldest first. */
function* generate(count: number, now: number, seed: number): Generator<StoreWriteItem> {
  const random = rng(seed);
  const step = DAY_MS / count;
  for (let i = 0; i < count; i++) yield { event: traceEvent(i, Math.floor(now - DAY_MS + i * step), random), invocationRow: true };
}

interface FillResult {
  events: number;
  rows: number;
  seconds: number;
  firstEvents: number;
  firstSeconds: number;
  firstRows: number;
}

function fill(store: SqliteLogStore, count: number, now: number): FillResult {
  const started = performance.now();
  let batch: StoreWriteItem[] = [];
  let batchRows = 0;
  let events = 0;
  let rows = 0;
  const first = { events: 0, rows: 0, seconds: 0 };
  const firstTarget = Math.min(50_000, count);
  const flush = () => {
    const outcome = store.write(batch);
    if (outcome.error) throw new Error(`the store refused a batch: ${outcome.error}`);
    rows += outcome.stored;
    events += batch.length;
    batch = [];
    batchRows = 0;
    if (first.events === 0 && events >= firstTarget) Object.assign(first, { events, rows, seconds: (performance.now() - started) / 1000 });
    if (events % 100_000 < 400) log(`  … ${events.toLocaleString('en-US')} events, ${fmt(events / ((performance.now() - started) / 1000), 0)} events/s`);
  };
  for (const item of generate(count, now, 1)) {
    batch.push(item);
    batchRows += rowsOfEvent(item.event);
    if (batchRows >= BATCH_ROWS) flush();
  }
  if (batch.length) flush();
  return { events, rows, seconds: (performance.now() - started) / 1000, firstEvents: first.events, firstSeconds: first.seconds, firstRows: first.rows };
}

interface Timing {
  name: string;
  medianMs: number;
  p95Ms: number;
  result: string;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { events: { type: 'string' }, runs: { type: 'string' }, keep: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) { process.stdout.write(`${USAGE}\n`); return; }
  const count = Number(values.events ?? 1_000_000);
  const runs = Number(values.runs ?? 15);
  if (!Number.isInteger(count) || count < 1000) throw new Error('--events must be a whole number ≥ 1000');
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive whole number');
  const dir = values.keep ?? (await tempDir('flarelet-bench-logs-')).path;
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'logs.sqlite');
  const now = Date.now();

  // 1. Fill (or reuse a kept store that already has the events)
  const direct = SqliteLogStore.open(file);
  const existing = direct.query(parseQueryRequest({ timeframe: { from: 0, to: now + DAY_MS }, view: 'calculations', parameters: { calculations: [{ operator: 'count' }] }, ignoreSeries: true }))
    .calculations![0].aggregates[0]?.count ?? 0;
  let filled: FillResult | null = null;
  if (existing === 0) {
    log(`▶ writing ${count.toLocaleString('en-US')} trace events to ${file}`);
    filled = fill(direct, count, now);
  } else {
    log(`▶ reusing ${existing.toLocaleString('en-US')} rows in ${file}`);
  }
  // The queries cover the time the stored rows span (a kept store may be from an earlier day).
  const span = direct.query(parseQueryRequest({
    timeframe: { from: 0, to: now + DAY_MS }, view: 'calculations', ignoreSeries: true,
    parameters: { calculations: [{ operator: 'min', key: 'timestamp' }, { operator: 'max', key: 'timestamp' }] },
  })).calculations!.map((c) => c.aggregates[0].value!);
  direct.close();

  // 2. Through the thread, as the platform writes: a fresh store, to compare with the first
  //    50,000 events written directly.
  const extra = 50_000;
  log(`▶ writing ${extra.toLocaleString('en-US')} events through the store's thread (a fresh store)`);
  const threadDir = join(dir, 'through-thread');
  rmSync(threadDir, { recursive: true, force: true });
  mkdirSync(threadDir);
  const fresh = await openThreadedLogStore(join(threadDir, 'logs.sqlite'));
  const threadStarted = performance.now();
  let threadRows = 0;
  let batch: StoreWriteItem[] = [];
  let batchRows = 0;
  let inFlight: Promise<unknown> = Promise.resolve();
  const send = async (items: StoreWriteItem[]) => {
    // One batch at a time, as the platform's writer does; the next one is built meanwhile.
    await inFlight;
    inFlight = fresh.write(items).then((outcome) => {
      if (outcome.error) throw new Error(`the store refused a batch: ${outcome.error}`);
    });
  };
  for (const item of generate(extra, now, 2)) {
    batch.push(item);
    batchRows += rowsOfEvent(item.event);
    threadRows += rowsOfEvent(item.event);
    if (batchRows >= BATCH_ROWS) {
      await send(batch);
      batch = [];
      batchRows = 0;
    }
  }
  if (batch.length) await send(batch);
  await inFlight;
  const threadSeconds = (performance.now() - threadStarted) / 1000;
  await fresh.close();
  rmSync(threadDir, { recursive: true, force: true });

  // 3. Queries through the thread
  const store = await openThreadedLogStore(file);
  const timeframe = { from: span[0], to: span[1] };
  const filters = (text: string) => toWireFilters(parseQueryText(text));
  const queries: { name: string; body: Record<string, unknown>; describe: (r: any) => string }[] = [
    { name: 'events: $workers.outcome = "exception" (limit 50)', body: { timeframe, view: 'events', limit: 50, parameters: filters('$workers.outcome = "exception"') }, describe: (r) => `${r.events.events.length} rows of ${r.events.count}` },
    { name: 'count: $workers.outcome = "exception"', body: { timeframe, view: 'calculations', ignoreSeries: true, parameters: { ...filters('$workers.outcome = "exception"'), calculations: [{ operator: 'count' }] } }, describe: (r) => `count ${r.calculations[0].aggregates[0].value}` },
    { name: 'count + 60-bucket series: same filter', body: { timeframe, view: 'calculations', parameters: { ...filters('$workers.outcome = "exception"'), calculations: [{ operator: 'count' }] } }, describe: (r) => `${r.calculations[0].series.length} buckets` },
    { name: 'events: $metadata.error EXISTS (limit 50)', body: { timeframe, view: 'events', limit: 50, parameters: filters('$metadata.error EXISTS') }, describe: (r) => `${r.events.events.length} rows of ${r.events.count}` },
    { name: 'events: one worker AND outcome (what `flarelet logs` sends)', body: { timeframe, view: 'events', limit: 50, parameters: filters('$workers.scriptName = "bench-1" AND $workers.outcome = "exception"') }, describe: (r) => `${r.events.events.length} rows of ${r.events.count}` },
    { name: 'invocations: $workers.outcome = "exception" (limit 50)', body: { timeframe, view: 'invocations', limit: 50, parameters: filters('$workers.outcome = "exception"') }, describe: (r) => `${Object.keys(r.invocations).length} invocations` },
    { name: 'needle "u417" (full-text, a rare term, limit 50)', body: { timeframe, view: 'events', limit: 50, parameters: { needle: { value: 'u417' } } }, describe: (r) => `${r.events.events.length} rows of ${r.events.count}` },
    { name: 'needle "Osaka" (full-text, a common term, limit 50)', body: { timeframe, view: 'events', limit: 50, parameters: { needle: { value: 'Osaka' } } }, describe: (r) => `${r.events.events.length} rows of ${r.events.count}` },
    { name: 'p99 wall time by outcome (calculations)', body: { timeframe, view: 'calculations', ignoreSeries: true, parameters: { calculations: [{ operator: 'p99', key: '$workers.wallTimeMs' }], groupBys: [{ type: 'string', value: '$workers.outcome' }], filters: [{ key: '$metadata.type', operation: 'eq', type: 'string', value: 'cf-worker-event' }] } }, describe: (r) => `${r.calculations[0].aggregates.length} groups` },
  ];
  const timings: Timing[] = [];
  for (const q of queries) {
    log(`▶ ${q.name}`);
    const query = parseQueryRequest(q.body);
    const result = await store.query(query); // warm-up
    const samples: number[] = [];
    for (let i = 0; i < runs; i++) {
      const started = performance.now();
      await store.query(query);
      samples.push(performance.now() - started);
    }
    timings.push({ name: q.name, medianMs: median(samples), p95Ms: percentile(samples, 95), result: q.describe(result) });
  }
  await store.close();
  const totalRows = filled?.rows ?? existing;
  const sizeMb = (statSync(file).size + (() => { try { return statSync(`${file}-wal`).size; } catch { return 0; } })()) / 2 ** 20;

  const lines: string[] = [];
  lines.push(`Log store benchmark — ${new Date().toISOString()} — node ${process.version}`);
  lines.push(`Store: ${totalRows.toLocaleString('en-US')} rows (${fmt(sizeMb, 0)} MB) in ${file}${values.keep ? '' : ' (temporary)'}`);
  lines.push('');
  const writeRows: string[][] = [['write', 'events', 'rows', 'events/s', 'rows/s']];
  if (filled) {
    writeRows.push(['first 50,000 events (direct)', fmt(filled.firstEvents, 0), fmt(filled.firstRows, 0), fmt(filled.firstEvents / filled.firstSeconds, 0), fmt(filled.firstRows / filled.firstSeconds, 0)]);
    writeRows.push(['whole fill (direct)', fmt(filled.events, 0), fmt(filled.rows, 0), fmt(filled.events / filled.seconds, 0), fmt(filled.rows / filled.seconds, 0)]);
  }
  writeRows.push(['through the store thread (fresh store)', fmt(extra, 0), fmt(threadRows, 0), fmt(extra / threadSeconds, 0), fmt(threadRows / threadSeconds, 0)]);
  lines.push(table(writeRows));
  lines.push('');
  lines.push(table([['query (via the store thread)', 'median ms', 'p95 ms', 'result'], ...timings.map((t) => [t.name, fmt(t.medianMs, 1), fmt(t.p95Ms, 1), t.result])]));
  lines.push('');
  lines.push(`${runs} runs per query after one warm-up; target for the outcome query (events and count): ≤ 200 ms.`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

try {
  await main();
} catch (error) {
  process.stderr.write(`bench/logs: ${(error as Error)?.stack ?? String(error)}\n\n${USAGE}\n`);
  process.exitCode = 1;
} finally {
  await stopAll();
}
