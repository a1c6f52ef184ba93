// A tail session's delivery logic with a fake clock and a fake connection: sampling mode and its
// notices, the bounded send queue (a client that does not read loses events, each one reported,
// and never holds up the caller), debug marks, and the hub's bookkeeping (10 tails, expiry).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTailFilters } from '../../src/observability/tail/filters.ts';
import { TailHub, TailLimitError } from '../../src/observability/tail/hub.ts';
import type { TailConnection } from '../../src/observability/tail/hub.ts';
import { OVERLOAD_MESSAGE, OVERLOAD_STOP_MESSAGE } from '../../src/observability/tail/notices.ts';
import { OverloadSampler } from '../../src/observability/tail/sampler.ts';
import type { SamplingNotice } from '../../src/observability/tail/sampler.ts';
import { TailSession } from '../../src/observability/tail/session.ts';
import type { TraceEvent } from '../../src/protocol/trace.ts';

function event(n: number, outcome: TraceEvent['outcome'] = 'ok'): TraceEvent {
  return {
    wallTime: 1, cpuTime: 0, truncated: false, executionModel: 'stateless', outcome, scriptName: 'w',
    diagnosticsChannelEvents: [], exceptions: [], logs: [{ message: [`event ${n}`], level: 'log', timestamp: n }],
    eventTimestamp: n, event: { request: { url: `https://w.example/${n}`, method: 'GET', headers: {}, cf: {} } },
  };
}
const bytes = (e: TraceEvent) => () => Buffer.from(JSON.stringify(e));

/** A connection that records what it is sent; `autoAck` false = a client that never reads. */
class FakeConnection implements TailConnection {
  sent: string[] = [];
  pending: (() => void)[] = [];
  batches = 0;
  closed: { code: number; reason: string } | null = null;
  readonly autoAck: boolean;
  constructor(autoAck = true) { this.autoAck = autoAck; }
  send(message: Buffer, done: (error?: Error) => void): void {
    this.sent.push(message.toString('utf8'));
    if (this.autoAck) done();
    else this.pending.push(() => done());
  }
  batch(sends: () => void): void { this.batches++; sends(); }
  close(code: number, reason: string): void { this.closed = { code, reason }; }
  get messages(): any[] { return this.sent.map((s) => JSON.parse(s)); }
}

/** Runs scheduled flushes by hand, so that a test decides when "the next event-loop turn" is. */
class ManualScheduler {
  queue: (() => void)[] = [];
  schedule = (fn: () => void) => { this.queue.push(fn); };
  run(): void { while (this.queue.length > 0) this.queue.shift()!(); }
}

describe('OverloadSampler', () => {
  function sampler(limit: number, random = () => 0) {
    let now = 0;
    const notices: SamplingNotice[] = [];
    const s = new OverloadSampler({ limit, now: () => now, random, onNotice: (n) => notices.push(n) });
    return { s, notices, at: (t: number) => { now = t; } };
  }

  test('under the limit: everything passes, no notice', () => {
    const { s, notices, at } = sampler(5);
    for (let second = 0; second < 3; second++) {
      at(second * 1000);
      for (let i = 0; i < 5; i++) assert.equal(s.offer(), true);
    }
    assert.deepEqual(notices, []);
    assert.equal(s.sampling, false);
  });

  test('over the limit: notice, then at most `limit` per second; a quiet second ends it', () => {
    const { s, notices, at } = sampler(5);
    let kept = 0;
    for (let i = 0; i < 20; i++) if (s.offer()) kept++;
    assert.equal(kept, 5, 'the first window keeps the limit');
    assert.deepEqual(notices, ['overload'], 'one notice when sampling starts');
    assert.equal(s.sampling, true);

    // Still busy in the next second: sampled, never more than the limit.
    at(1000);
    kept = 0;
    for (let i = 0; i < 40; i++) if (s.offer()) kept++;
    assert.equal(kept, 5);
    assert.deepEqual(notices, ['overload']);

    // A second with 3 events, then the window closes: sampling ends.
    at(2000);
    for (let i = 0; i < 3; i++) s.offer();
    at(3000);
    s.tick();
    assert.deepEqual(notices, ['overload', 'overload-stop']);
    assert.equal(s.sampling, false);
  });

  test('sampling spreads over the second: each event kept with probability limit / last second\'s count', () => {
    const draws = [0.1, 0.9, 0.2, 0.95];
    let d = 0;
    const { s, at } = sampler(10, () => draws[d++ % draws.length]);
    for (let i = 0; i < 40; i++) s.offer(); // window 0: 40 offered, sampling starts
    at(1000);
    // keep probability 10/40 = 0.25: draws 0.1 and 0.2 keep, 0.9 and 0.95 drop.
    const kept = [s.offer(), s.offer(), s.offer(), s.offer()];
    assert.deepEqual(kept, [true, false, true, false]);
  });

  test('traffic that simply stops ends sampling at the next tick', () => {
    const { s, notices, at } = sampler(2);
    for (let i = 0; i < 10; i++) s.offer();
    at(5000);
    s.tick();
    assert.deepEqual(notices, ['overload', 'overload-stop']);
  });
});

describe('TailSession', () => {
  function session(options: { eventsPerSecond?: number; filters?: unknown[]; buffer?: object; random?: () => number } = {}) {
    let now = 0;
    const dropped: number[] = [];
    const scheduler = new ManualScheduler();
    const s = new TailSession({
      scriptName: 'w',
      filters: parseTailFilters({ filters: options.filters ?? [] }, { selfIp: '127.0.0.1' }),
      eventsPerSecond: options.eventsPerSecond ?? 1000,
      onDropped: (n) => dropped.push(n),
      buffer: options.buffer,
      now: () => now,
      random: options.random ?? (() => 0),
      schedule: scheduler.schedule,
    });
    return { s, dropped, scheduler, at: (t: number) => { now = t; } };
  }

  test('events are sent in order, unchanged, batched per turn', () => {
    const { s, scheduler } = session();
    const conn = new FakeConnection();
    s.attach(conn);
    const events = [event(1), event(2), event(3)];
    for (const e of events) s.offer(e, bytes(e));
    assert.equal(conn.sent.length, 0, 'nothing is written inside offer(): the worker never waits for a client');
    scheduler.run();
    assert.deepEqual(conn.sent, events.map((e) => JSON.stringify(e)));
    assert.equal(conn.batches, 1, 'one batch (one corked write) for the turn');
    assert.equal(s.stats.delivered, 3);
  });

  test('no client yet: nothing is queued', () => {
    const { s } = session();
    s.offer(event(1), bytes(event(1)));
    assert.equal(s.queued, 0);
  });

  test('filtered-out events are skipped and counted, not dropped', () => {
    const { s, scheduler, dropped } = session({ filters: [{ outcome: ['exception'] }] });
    const conn = new FakeConnection();
    s.attach(conn);
    s.offer(event(1), bytes(event(1)));
    s.offer(event(2, 'exception'), bytes(event(2, 'exception')));
    scheduler.run();
    assert.deepEqual(conn.messages.map((m) => m.eventTimestamp), [2]);
    assert.equal(s.stats.filteredOut, 1);
    assert.deepEqual(dropped, []);
  });

  test('debug mode sends filtered-out events too, marked with the filter that held them back', () => {
    const { s, scheduler } = session({ filters: [{ method: ['POST'] }, { outcome: ['exception'] }] });
    const conn = new FakeConnection();
    s.attach(conn);
    s.debug = true;
    s.offer(event(1), bytes(event(1)));
    scheduler.run();
    const [marked] = conn.messages;
    assert.deepEqual(marked.filteredBy, { method: ['POST'] });
    assert.equal(Object.keys(marked).at(-1), 'filteredBy');
    assert.equal(s.stats.filteredOut, 0);
  });

  test('sampling mode: the notice comes before the events it affects; drops are reported', () => {
    const { s, scheduler, dropped, at } = session({ eventsPerSecond: 3 });
    const conn = new FakeConnection();
    s.attach(conn);
    for (let i = 1; i <= 10; i++) s.offer(event(i), bytes(event(i)));
    scheduler.run();
    const kinds = conn.messages.map((m) => m.event?.type ?? m.eventTimestamp);
    assert.deepEqual(kinds, [1, 2, 3, 'overload']);
    assert.equal(conn.messages[3].event.message, OVERLOAD_MESSAGE);
    assert.equal(s.stats.droppedSampling, 7);
    assert.equal(dropped.reduce((a, b) => a + b, 0), 7);

    at(1000);
    s.offer(event(11), bytes(event(11))); // closes the busy window: still sampling (10 > 3)
    at(2500);
    s.offer(event(12), bytes(event(12))); // the window of 1000–2000 held 1 event: sampling ends first
    scheduler.run();
    const tail = conn.messages.slice(4).map((m) => m.event?.type ?? m.eventTimestamp);
    assert.deepEqual(tail, [11, 'overload-stop', 12]);
    assert.equal(conn.messages[5].event.message, OVERLOAD_STOP_MESSAGE);
    s.detach();
  });

  test('a client that never reads: bounded in-flight and queue, every further event dropped and reported', () => {
    const { s, scheduler, dropped } = session({ buffer: { maxQueuedMessages: 5, maxInFlightBytes: 1000 } });
    const conn = new FakeConnection(false);
    s.attach(conn);
    const size = JSON.stringify(event(1)).length;
    for (let i = 1; i <= 50; i++) {
      s.offer(event(i), bytes(event(i)));
      scheduler.run();
    }
    const inFlight = conn.sent.length;
    assert.equal(inFlight, Math.ceil(1000 / size), 'writes stop once 1000 bytes are unacknowledged');
    assert.equal(s.queued, 5, 'then the queue fills up to its bound');
    assert.equal(s.stats.droppedBackpressure, 50 - inFlight - 5);
    assert.equal(dropped.reduce((a, b) => a + b, 0), 50 - inFlight - 5);

    // The client catches up: the queue drains, in order, and new events flow again.
    for (const ack of conn.pending.splice(0)) ack();
    scheduler.run();
    for (const ack of conn.pending.splice(0)) ack();
    scheduler.run();
    assert.equal(s.queued, 0);
    assert.deepEqual(conn.messages.map((m) => m.eventTimestamp), [...Array(inFlight + 5).keys()].map((i) => i + 1));
    s.offer(event(99), bytes(event(99)));
    scheduler.run();
    assert.equal(conn.messages.at(-1).eventTimestamp, 99);
  });

  test('the queue is bounded in bytes too', () => {
    const { s, scheduler } = session({ buffer: { maxQueuedBytes: 2000, maxInFlightBytes: 1 } });
    const conn = new FakeConnection(false);
    s.attach(conn);
    for (let i = 1; i <= 100; i++) s.offer(event(i), bytes(event(i)));
    scheduler.run();
    const size = JSON.stringify(event(1)).length;
    assert.equal(conn.sent.length, 1);
    assert.equal(s.queued, Math.floor(2000 / size) - 1, 'what fits in 2000 bytes, less the one in flight');
  });

  test('a client that leaves with events queued: they are reported as dropped', () => {
    const { s, scheduler, dropped } = session({ buffer: { maxInFlightBytes: 1 } });
    const conn = new FakeConnection(false);
    s.attach(conn);
    for (let i = 1; i <= 4; i++) s.offer(event(i), bytes(event(i)));
    scheduler.run();
    s.detach();
    assert.deepEqual(dropped, [3]);
    assert.equal(s.connected, false);
  });

  test('a failed send counts as a drop', () => {
    const { s, scheduler, dropped } = session();
    s.attach({ send: (_m, done) => done(new Error('socket closed')), batch: (f) => f() });
    s.offer(event(1), bytes(event(1)));
    scheduler.run();
    assert.deepEqual(dropped, [1]);
    assert.equal(s.stats.delivered, 0);
  });
});

describe('TailHub', () => {
  const flushDropReports = () => new Promise((resolve) => setImmediate(resolve));

  test('at most 10 tails per worker; the 11th is refused; others are not affected', () => {
    const hub = new TailHub({ eventsPerSecond: 100, onDropped: () => {} });
    for (let i = 0; i < 10; i++) hub.create('a', [], (id) => `ws://x/${id}`);
    assert.throws(() => hub.create('a', [], (id) => id), (error: unknown) => error instanceof TailLimitError && /already has 10 tail clients/.test(error.message));
    hub.create('b', [], (id) => id);
    const first = hub.list('a')[0];
    assert.equal(hub.delete('a', first.id), true);
    hub.create('a', [], (id) => id);
    assert.equal(hub.list('a').length, 10);
    hub.closeAll(1001, 'bye');
    assert.equal(hub.size, 0);
  });

  test('ids are unguessable and urls come from the caller', () => {
    const hub = new TailHub({ eventsPerSecond: 100, onDropped: () => {} });
    const a = hub.create('a', [], (id) => `ws://h/tails/${id}`);
    const b = hub.create('a', [], (id) => `ws://h/tails/${id}`);
    assert.match(a.id, /^[0-9a-f]{32}$/);
    assert.notEqual(a.id, b.id);
    assert.equal(a.url, `ws://h/tails/${a.id}`);
    hub.closeAll(1001, 'bye');
  });

  test('one client per tail; events reach the tails of their worker only; the tail ends with its client', () => {
    const hub = new TailHub({ eventsPerSecond: 100, onDropped: () => {} });
    const tail = hub.create('w', [], (id) => id);
    const other = hub.create('other', [], (id) => id);
    const conn = new FakeConnection();
    const otherConn = new FakeConnection();
    assert.equal(hub.connect(tail.id, conn), 'connected');
    assert.equal(hub.connect(tail.id, new FakeConnection()), 'busy');
    assert.equal(hub.connect('nope', new FakeConnection()), 'unknown');
    hub.connect(other.id, otherConn);
    hub.publish(event(1));
    return new Promise<void>((resolve) => setImmediate(() => {
      assert.equal(conn.sent.length, 1);
      assert.equal(otherConn.sent.length, 0);
      hub.disconnected(tail.id, conn);
      assert.equal(hub.get(tail.id), undefined);
      assert.equal(conn.closed, null, 'a client that left is not sent a close');
      hub.closeAll(1001, 'bye');
      assert.deepEqual(otherConn.closed, { code: 1001, reason: 'bye' });
      resolve();
    }));
  });

  test('deleting a tail closes its client with 1000', () => {
    const hub = new TailHub({ eventsPerSecond: 100, onDropped: () => {} });
    const tail = hub.create('w', [], (id) => id);
    const conn = new FakeConnection();
    hub.connect(tail.id, conn);
    assert.equal(hub.delete('other-worker', tail.id), false, 'a tail is deleted through its own worker');
    assert.equal(hub.delete('w', tail.id), true);
    assert.deepEqual(conn.closed, { code: 1000, reason: 'Tail deleted.' });
    assert.equal(hub.delete('w', tail.id), false);
  });

  test('a tail expires: its client is closed and its id is gone; an unconnected tail is removed after the grace time', async () => {
    const hub = new TailHub({ eventsPerSecond: 100, onDropped: () => {}, lifetimeMs: 80, connectGraceMs: 40 });
    const connected = hub.create('w', [], (id) => id);
    const idle = hub.create('w', [], (id) => id);
    const conn = new FakeConnection();
    hub.connect(connected.id, conn);
    assert.equal(connected.expiresAt - connected.createdAt, 80);
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(hub.get(idle.id), undefined, 'nobody connected within the grace time');
    assert.ok(hub.get(connected.id));
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(hub.get(connected.id), undefined);
    assert.equal(conn.closed?.code, 1000);
    assert.match(conn.closed!.reason, /expired/);
  });

  test('drops are reported per worker, summed once per turn', async () => {
    const reports: [string, number][] = [];
    const hub = new TailHub({ eventsPerSecond: 2, onDropped: (name, n) => reports.push([name, n]) });
    for (let i = 0; i < 3; i++) hub.connect(hub.create('w', [], (id) => id).id, new FakeConnection());
    for (let i = 0; i < 10; i++) hub.publish(event(i));
    assert.deepEqual(reports, [], 'not inside publish');
    await flushDropReports();
    assert.deepEqual(reports, [['w', 3 * 8]]);
    hub.closeAll(1001, 'bye');
  });
});
