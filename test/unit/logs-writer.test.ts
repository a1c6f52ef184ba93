// The log writer between the trace bus and the store: worker settings, head sampling, batching,
// and that every row it cannot store is reported as dropped (with one warning per episode).
// Real TraceBus, real SQLite store (called in process through the LogStore interface).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { TraceBus } from '../../src/observability/bus.ts';
import { parseQueryRequest } from '../../src/observability/logs/query.ts';
import type { LogQuery } from '../../src/observability/logs/query.ts';
import { RetentionSweeper, sweepIntervalMs } from '../../src/observability/logs/retention.ts';
import { SqliteLogStore } from '../../src/observability/logs/sqlite-store.ts';
import type { SqliteLogStoreOptions } from '../../src/observability/logs/sqlite-store.ts';
import type { LogStore, StoreWriteItem } from '../../src/observability/logs/store.ts';
import { deleteInChunks } from '../../src/observability/logs/store-thread.ts';
import { LogWriter } from '../../src/observability/logs/writer.ts';
import type { LogsWorkerConfig } from '../../src/observability/logs/writer.ts';
import type { TraceEvent } from '../../src/protocol/trace.ts';

const root = mkdtempSync(join(tmpdir(), 'flarelet-logs-writer-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;

/** The SQLite store behind the async interface, in this thread; `writes` counts batches. */
function localStore(options: SqliteLogStoreOptions = {}): LogStore & { sqlite: SqliteLogStore; writes: number; gate?: Promise<void> } {
  const sqlite = SqliteLogStore.open(join(root, `logs-${++dirs}.sqlite`), options);
  const store = {
    sqlite,
    writes: 0,
    gate: undefined as Promise<void> | undefined,
    async write(items: StoreWriteItem[]) {
      store.writes++;
      if (store.gate) await store.gate;
      return sqlite.write(items);
    },
    async query(query: LogQuery) { return sqlite.query(query); },
    async keys() { return []; },
    async values() { return []; },
    async deleteOlderThan(cutoff: number) { return deleteInChunks(sqlite, cutoff); },
    async close() { sqlite.close(); },
  };
  return store;
}

const NOW = Date.now();

function event(scriptName: string, i: number, logs = 1): TraceEvent {
  return {
    wallTime: 1, cpuTime: 1, truncated: false, executionModel: 'stateless', outcome: 'ok', scriptName,
    diagnosticsChannelEvents: [], exceptions: [],
    logs: Array.from({ length: logs }, (_, k) => ({ message: [`line ${k} of ${i}`], level: 'log' as const, timestamp: NOW + i })),
    eventTimestamp: NOW + i,
    event: { request: { url: `https://x.example/${i}`, method: 'GET', headers: { 'cf-ray': `${scriptName}-${i}` }, cf: {} }, response: { status: 200 } },
  };
}

function rows(store: { sqlite: SqliteLogStore }, filters: unknown[] = []): string[] {
  return store.sqlite.query(parseQueryRequest({ timeframe: { from: NOW - 1000, to: NOW + 1_000_000 }, limit: 10_000, parameters: { filters } })).events!.events.map((e) => `${e.$metadata.service}:${e.$metadata.type}`);
}

function setup(workers: LogsWorkerConfig[], options: Partial<ConstructorParameters<typeof LogWriter>[0]> = {}, storeOptions: SqliteLogStoreOptions = {}) {
  const bus = new TraceBus();
  const store = localStore(storeOptions);
  const dropped: [string, string, number][] = [];
  const warnings: string[] = [];
  bus.onDropped((script, consumer, count) => dropped.push([script, consumer, count]));
  const writer = new LogWriter({ store, bus, workers: () => workers, warn: (m) => warnings.push(m), ...options });
  return { bus, store, writer, dropped, warnings };
}

describe('what is stored', () => {
  test('by default every row; persist = false and enabled = false store nothing', async () => {
    const { bus, store, writer } = setup([
      { name: 'on', observability: {} },
      { name: 'persist-off', observability: { persist: false } },
      { name: 'disabled', observability: { enabled: false } },
    ]);
    for (const name of ['on', 'persist-off', 'disabled', 'unlisted']) bus.publish(event(name, 1));
    await writer.close();
    assert.deepEqual(rows(store).sort(), ['on:cf-worker-event', 'on:cf-worker-log', 'unlisted:cf-worker-event', 'unlisted:cf-worker-log']);
  });

  test('invocation_logs = false keeps the console lines, not the invocation row', async () => {
    const { bus, store, writer } = setup([{ name: 'quiet', observability: { invocationLogs: false } }]);
    bus.publish(event('quiet', 1, 2));
    await writer.close();
    assert.deepEqual(rows(store), ['quiet:cf-worker-log', 'quiet:cf-worker-log']);
  });

  test('head_sampling_rate: 0 stores nothing, 1 everything, 0.5 about half (per invocation)', async () => {
    let dice = 0;
    const { bus, store, writer, dropped } = setup(
      [{ name: 'none', observability: { headSamplingRate: 0 } }, { name: 'all', observability: { headSamplingRate: 1 } }, { name: 'half', observability: { headSamplingRate: 0.5 } }],
      { random: () => (dice++ % 4) / 4 }, // 0, .25, .5, .75, 0, …
    );
    for (let i = 0; i < 8; i++) for (const name of ['none', 'all', 'half']) bus.publish(event(name, i, 1));
    await writer.close();
    const stored = rows(store);
    assert.equal(stored.filter((r) => r.startsWith('none:')).length, 0);
    assert.equal(stored.filter((r) => r.startsWith('all:')).length, 16);
    // Sampling keeps or drops whole invocations: 4 of 8, each with both of its rows.
    assert.equal(stored.filter((r) => r.startsWith('half:cf-worker-event')).length, 4);
    assert.equal(stored.filter((r) => r.startsWith('half:cf-worker-log')).length, 4);
    assert.deepEqual(dropped, [], 'rows left out by sampling are not drops');
  });
});

describe('batching', () => {
  test('rows wait for the flush interval, then go as one batch', async () => {
    const { bus, store, writer } = setup([], { flushIntervalMs: 50, batchRows: 10_000 });
    for (let i = 0; i < 20; i++) bus.publish(event('w', i));
    assert.equal(store.writes, 0, 'the bus listener only buffers');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(store.writes, 1);
    assert.equal(rows(store).length, 40);
    await writer.close();
  });

  test('a full batch is written without waiting; one batch at a time; close writes the rest', async () => {
    const { bus, store, writer } = setup([], { flushIntervalMs: 60_000, batchRows: 10 });
    let open!: () => void;
    store.gate = new Promise((resolve) => { open = resolve; });
    for (let i = 0; i < 5; i++) bus.publish(event('w', i)); // 10 rows: a batch
    await new Promise((r) => setImmediate(r));
    assert.equal(store.writes, 1);
    for (let i = 5; i < 30; i++) bus.publish(event('w', i)); // waits behind the first batch
    await new Promise((r) => setImmediate(r));
    assert.equal(store.writes, 1, 'no second batch while one is being written');
    store.gate = undefined;
    open();
    await writer.close();
    assert.equal(rows(store).length, 60);
    assert.equal(store.writes, 2, 'what waited went as one batch');
    assert.deepEqual(writer.counts, { stored: 60, dropped: 0 });
  });
});

describe('while the store opens', () => {
  test('rows wait in the buffer and are written once it is open', async () => {
    const bus = new TraceBus();
    const store = localStore();
    let open!: (s: LogStore) => void;
    const writer = new LogWriter({ store: new Promise<LogStore | null>((resolve) => { open = resolve; }), bus, workers: () => [], warn: () => {}, flushIntervalMs: 10 });
    for (let i = 0; i < 3; i++) bus.publish(event('early', i));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(store.writes, 0);
    open(store);
    bus.publish(event('late', 9));
    await writer.close();
    assert.deepEqual(rows(store).filter((r) => r.endsWith('cf-worker-event')).map((r) => r.split(':')[0]).sort(), ['early', 'early', 'early', 'late']);
  });

  test('a store that fails to open: what waited and what comes after is reported dropped', async () => {
    const bus = new TraceBus();
    const dropped: [string, string, number][] = [];
    bus.onDropped((script, consumer, count) => dropped.push([script, consumer, count]));
    let fail!: () => void;
    const opening = new Promise<LogStore | null>((_, reject) => { fail = () => reject(new Error('unable to open database file')); });
    const writer = new LogWriter({ store: opening, bus, workers: () => [], warn: () => {} });
    bus.publish(event('a', 1, 2));
    assert.deepEqual(dropped, []);
    fail();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(dropped, [['a', 'logs', 3]]);
    bus.publish(event('b', 2, 0));
    assert.deepEqual(dropped, [['a', 'logs', 3], ['b', 'logs', 1]]);
    await writer.close();
  });
});

describe('nothing is lost silently', () => {
  test('no store (it could not be opened): every row is reported dropped', async () => {
    const bus = new TraceBus();
    const dropped: [string, string, number][] = [];
    bus.onDropped((script, consumer, count) => dropped.push([script, consumer, count]));
    const writer = new LogWriter({ store: null, bus, workers: () => [], warn: () => {} });
    bus.publish(event('a', 1, 2));
    bus.publish(event('b', 2, 0));
    await writer.close();
    assert.deepEqual(dropped, [['a', 'logs', 3], ['b', 'logs', 1]]);
  });

  test('a full disk: rows reported dropped per worker, one warning, and a note when writes work again', async () => {
    const { bus, store, writer, dropped, warnings } = setup([], { batchRows: 5 }, { maxPageCount: 40 });
    const big = (name: string, i: number): TraceEvent => ({ ...event(name, i), logs: [{ message: ['x'.repeat(4000)], level: 'log', timestamp: NOW + i }] });
    for (let i = 0; i < 200; i++) bus.publish(big(i % 2 ? 'a' : 'b', i));
    await writer.flush();
    const total = dropped.reduce((sum, [, consumer, n]) => sum + (consumer === 'logs' ? n : 0), 0);
    assert.equal(total + writer.counts.stored, 400, 'every row is either stored or reported');
    assert.ok(total > 0);
    assert.deepEqual(new Set(dropped.map(([name]) => name)), new Set(['a', 'b']));
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0], /could not store \d+ log rows \(database or disk is full\)/);
    // Free space again (retention would do this) and the store takes rows again.
    await store.deleteOlderThan(NOW + 1_000_000_000);
    bus.publish(event('a', 1000, 0));
    await writer.close();
    assert.equal(warnings.length, 2);
    assert.match(warnings[1], /accepts writes again/);
  });

  test('a store that falls behind: the buffer is bounded, overflow is dropped, reported and warned once', async () => {
    const { bus, store, writer, dropped, warnings } = setup([], { batchRows: 10, maxPendingRows: 20 });
    let open!: () => void;
    store.gate = new Promise((resolve) => { open = resolve; });
    for (let i = 0; i < 5; i++) bus.publish(event('w', i)); // 10 rows: the batch in flight
    await new Promise((r) => setImmediate(r));
    for (let i = 5; i < 25; i++) bus.publish(event('w', i)); // 40 rows: 20 fit in the buffer
    assert.deepEqual(dropped, Array.from({ length: 10 }, () => ['w', 'logs', 2]));
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /falling behind/);
    store.gate = undefined;
    open();
    await writer.close();
    assert.equal(rows(store).length, 30);
  });

  test('the bus listener returns at once, whatever the store does', async () => {
    const { bus, store, writer } = setup([], { batchRows: 1 });
    store.gate = new Promise(() => {}); // a store that never answers
    const started = performance.now();
    for (let i = 0; i < 1000; i++) bus.publish(event('w', i));
    assert.ok(performance.now() - started < 1000);
    writer.close(); // never settles with this store: not awaited
  });
});

describe('retention', () => {
  test('the sweep deletes rows past retention, on start and on each tick', async () => {
    const store = localStore();
    const day = 86_400_000;
    const old = (i: number, age: number): StoreWriteItem => ({ event: { ...event('w', i), eventTimestamp: NOW - age, logs: [] }, invocationRow: true });
    store.sqlite.write([old(1, 10 * day), old(2, 8 * day), old(3, 1 * day), old(4, 0)]);
    const count = () => store.sqlite.query(parseQueryRequest({ timeframe: { from: 0, to: NOW + day } })).events!.count;
    assert.equal(count(), 4);
    let now = NOW;
    const warnings: string[] = [];
    const sweeper = new RetentionSweeper({ store, retentionDays: 7, warn: (m) => warnings.push(m), now: () => now, intervalMs: 20 });
    sweeper.start();
    const deadline = Date.now() + 10_000;
    while (count() !== 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(count(), 2, 'the sweep on start removed the rows older than 7 days');
    now = NOW + 6.5 * day; // the 1-day-old row is now 7.5 days old
    while (count() !== 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(count(), 1, 'a later tick removed the next one');
    await sweeper.close();
    assert.deepEqual(warnings, []);
    await store.close();
  });

  test('a failing sweep warns once and keeps going', async () => {
    const warnings: string[] = [];
    let calls = 0;
    const failing = { deleteOlderThan: async () => { calls++; throw new Error('disk I/O error'); } } as unknown as LogStore;
    const sweeper = new RetentionSweeper({ store: failing, retentionDays: 1, warn: (m) => warnings.push(m), intervalMs: 10 });
    sweeper.start();
    while (calls < 3) await new Promise((r) => setTimeout(r, 10));
    await sweeper.close();
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /could not delete expired log rows: disk I\/O error/);
  });

  test('the sweep interval follows the retention (1 s to 10 min)', () => {
    assert.equal(sweepIntervalMs(7), 600_000);
    assert.equal(sweepIntervalMs(0.001), 8640);
    assert.equal(sweepIntervalMs(0.000001), 1000);
  });
});
