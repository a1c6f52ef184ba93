import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_REQUEST_LIMITS, FREE_PLAN_DAILY_REQUESTS, parseLimit, PLAN_REQUEST_LIMITS, RequestLimits,
} from '../../src/edge/request-limits.ts';
import type { RequestLimitSettings } from '../../src/edge/request-limits.ts';

const MINUTE = 60_000;
/** A clock the test moves by hand, starting at a minute boundary of a UTC day. */
function manualClock(start = Date.UTC(2026, 10, 21, 12, 0, 0)) {
  let now = start;
  return { now: () => now, set: (t: number) => (now = t), advance: (ms: number) => (now += ms) };
}

const burst = (n: number): RequestLimitSettings => ({ burstPerMinute: n, dailyRequests: null });
const daily = (n: number): RequestLimitSettings => ({ burstPerMinute: null, dailyRequests: n });

/** Asks `times` times; returns how many were admitted and the refusal codes seen. */
function ask(limits: RequestLimits, worker: string, settings: RequestLimitSettings, times: number) {
  let admitted = 0;
  const refused = new Set<number>();
  for (let i = 0; i < times; i++) {
    const verdict = limits.admit(worker, settings);
    if (verdict === null) admitted++;
    else refused.add(verdict);
  }
  return { admitted, refused: [...refused] };
}

test('defaults and presets: burst 1,000/min, daily off; free adds 100,000/day; paid lifts both', () => {
  assert.deepEqual(DEFAULT_REQUEST_LIMITS, { burstPerMinute: 1000, dailyRequests: null });
  assert.deepEqual(PLAN_REQUEST_LIMITS.free, { burstPerMinute: 1000, dailyRequests: FREE_PLAN_DAILY_REQUESTS });
  assert.equal(FREE_PLAN_DAILY_REQUESTS, 100_000);
  assert.deepEqual(PLAN_REQUEST_LIMITS.paid, { burstPerMinute: null, dailyRequests: null });
});

test('no limits: everything is admitted', () => {
  const limits = new RequestLimits(manualClock().now);
  assert.deepEqual(ask(limits, 'w', { burstPerMinute: null, dailyRequests: null }, 5000), { admitted: 5000, refused: [] });
});

test('burst: the limit within a minute, then 1015; refused requests do not count', () => {
  const clock = manualClock();
  const limits = new RequestLimits(clock.now);
  assert.deepEqual(ask(limits, 'w', burst(1000), 1000), { admitted: 1000, refused: [] });
  assert.deepEqual(ask(limits, 'w', burst(1000), 500), { admitted: 0, refused: [1015] });
  // Half a minute later, nothing frees up: all 1,000 came in this same minute.
  clock.advance(30_000);
  assert.equal(limits.admit('w', burst(1000)), 1015);
  // One minute after the burst, the previous minute weighs (60-1)/60 of 1,000 → 983 (floored):
  // 17 more fit. Had the 500 refused requests counted, none would.
  clock.advance(31_000);
  assert.deepEqual(ask(limits, 'w', burst(1000), 100), { admitted: 17, refused: [1015] });
});

test('burst: the window slides, the previous minute fading out linearly', () => {
  const clock = manualClock();
  const limits = new RequestLimits(clock.now);
  // 600 requests in minute 0, spread evenly
  for (let i = 0; i < 600; i++) {
    assert.equal(limits.admit('w', burst(1000)), null);
    clock.advance(100);
  }
  // now exactly at the start of minute 1: the previous minute still weighs 600
  assert.equal(ask(limits, 'w', burst(1000), 1000).admitted, 400);
  // 15 s into minute 1: 600 · 0.75 = 450 + 400 = 850 → 150 more
  clock.advance(15_000);
  assert.equal(ask(limits, 'w', burst(1000), 1000).admitted, 150);
  // 45 s into minute 1: 600 · 0.25 = 150 + 550 = 700 → 300 more
  clock.advance(30_000);
  assert.equal(ask(limits, 'w', burst(1000), 1000).admitted, 300);
  // minute 2 starts: minute 1 (850 requests) becomes the previous one
  clock.advance(15_000);
  assert.equal(ask(limits, 'w', burst(1000), 1000).admitted, 150);
  // two idle minutes later, nothing is remembered
  clock.advance(2 * MINUTE);
  assert.equal(ask(limits, 'w', burst(1000), 2000).admitted, 1000);
});

test('burst: never more than the limit within one clock minute, at most twice it in any 60 s', () => {
  const clock = manualClock();
  const limits = new RequestLimits(clock.now);
  const admittedAt: number[] = [];
  // hammer for five minutes, one attempt every 10 ms
  for (let t = 0; t < 5 * MINUTE; t += 10) {
    if (limits.admit('w', burst(100)) === null) admittedAt.push(clock.now());
    clock.advance(10);
  }
  const start = admittedAt[0];
  for (let m = 0; m < 5; m++) {
    const inMinute = admittedAt.filter((t) => t >= start + m * MINUTE && t < start + (m + 1) * MINUTE).length;
    assert.ok(inMinute <= 100, `minute ${m}: ${inMinute}`);
  }
  let lo = 0;
  for (let hi = 0; hi < admittedAt.length; hi++) {
    while (admittedAt[hi] - admittedAt[lo] >= MINUTE) lo++;
    assert.ok(hi - lo + 1 <= 200, `sliding 60 s window holds ${hi - lo + 1}`);
  }
  // under steady pressure it settles near the limit per minute
  assert.ok(admittedAt.length >= 400 && admittedAt.length <= 500, `admitted ${admittedAt.length} in 5 min`);
});

test('burst is per worker', () => {
  const limits = new RequestLimits(manualClock().now);
  assert.equal(ask(limits, 'a', burst(3), 10).admitted, 3);
  assert.equal(ask(limits, 'b', burst(3), 10).admitted, 3);
  assert.equal(limits.admit('a', burst(3)), 1015);
  limits.forget('a');
  assert.equal(limits.admit('a', burst(3)), null);
});

test('a limit of 0 refuses everything', () => {
  const limits = new RequestLimits(manualClock().now);
  assert.equal(limits.admit('w', burst(0)), 1015);
  assert.equal(limits.admit('w', daily(0)), 1027);
});

test('daily: the limit per UTC day, then 1027 until 00:00 UTC', () => {
  const clock = manualClock(Date.UTC(2026, 10, 21, 23, 0, 0));
  const limits = new RequestLimits(clock.now);
  assert.deepEqual(ask(limits, 'w', daily(50), 50), { admitted: 50, refused: [] });
  assert.deepEqual(ask(limits, 'w', daily(50), 20), { admitted: 0, refused: [1027] });
  clock.set(Date.UTC(2026, 10, 21, 23, 59, 59, 999));
  assert.equal(limits.admit('w', daily(50)), 1027);
  clock.set(Date.UTC(2026, 10, 22, 0, 0, 0, 0)); // midnight UTC: a new count
  assert.deepEqual(ask(limits, 'w', daily(50), 60), { admitted: 50, refused: [1027] });
  // days later the count starts over as well
  clock.set(Date.UTC(2026, 10, 25, 8, 0, 0));
  assert.equal(ask(limits, 'w', daily(50), 60).admitted, 50);
});

test('daily and burst together: 1027 first; a request refused by one counts toward neither', () => {
  const clock = manualClock();
  const limits = new RequestLimits(clock.now);
  const both: RequestLimitSettings = { burstPerMinute: 10, dailyRequests: 25 };
  assert.deepEqual(ask(limits, 'w', both, 30), { admitted: 10, refused: [1015] }); // 20 refused by burst
  clock.advance(2 * MINUTE);
  assert.deepEqual(ask(limits, 'w', both, 30), { admitted: 10, refused: [1015] }); // daily at 20, not 40
  clock.advance(2 * MINUTE);
  assert.deepEqual(ask(limits, 'w', both, 30), { admitted: 5, refused: [1027] });
  clock.advance(2 * MINUTE);
  assert.equal(limits.admit('w', both), 1027);
});

test('a clock that goes back does not unlock anything', () => {
  const clock = manualClock();
  const limits = new RequestLimits(clock.now);
  clock.advance(30_000);
  assert.equal(ask(limits, 'w', burst(5), 10).admitted, 5);
  clock.advance(-45_000); // back into the previous minute
  assert.equal(limits.admit('w', burst(5)), 1015);
  assert.equal(limits.admit('w', { burstPerMinute: 5, dailyRequests: 5 }), 1027);
});

test('retryAfterSeconds: next UTC midnight for 1027, the sliding estimate for 1015', () => {
  const clock = manualClock(Date.UTC(2026, 10, 21, 23, 59, 0));
  const limits = new RequestLimits(clock.now);
  assert.equal(limits.retryAfterSeconds('w', 1027, daily(1)), 60);
  clock.advance(59_500);
  assert.equal(limits.retryAfterSeconds('w', 1027, daily(1)), 1);

  const c2 = manualClock();
  const l2 = new RequestLimits(c2.now);
  c2.advance(20_000);
  ask(l2, 'w', burst(10), 10); // all 10 at 20 s into the minute
  assert.equal(l2.retryAfterSeconds('w', 1015, burst(10)), 40); // the minute must end
  c2.advance(40_000); // minute 1 starts: the previous 10 still weigh fully
  assert.equal(l2.admit('w', burst(10)), 1015);
  assert.equal(l2.retryAfterSeconds('w', 1015, burst(10)), 1); // they fade from now on
  c2.advance(1);
  assert.equal(l2.admit('w', burst(10)), null); // floor(10 · 59.999/60) = 9, + 0 < 10
  assert.equal(l2.admit('w', burst(10)), 1015);
  // floor(10 · (1 − t/60 s)) + 1 < 10  ⇔  t > 6 s; we are 1 ms in
  assert.equal(l2.retryAfterSeconds('w', 1015, burst(10)), 6);
  c2.advance(5_900);
  assert.equal(l2.admit('w', burst(10)), 1015);
  c2.advance(101);
  assert.equal(l2.admit('w', burst(10)), null);
  // when a request would be admitted now, 1
  assert.equal(l2.retryAfterSeconds('other', 1015, burst(10)), 1);
});

test('parseLimit reads flags: whole numbers, separators, off', () => {
  assert.equal(parseLimit('1000', '--burst-limit'), 1000);
  assert.equal(parseLimit('100_000', '--daily-limit'), 100000);
  assert.equal(parseLimit('100,000', '--daily-limit'), 100000);
  assert.equal(parseLimit('0', '--daily-limit'), 0);
  assert.equal(parseLimit('off', '--daily-limit'), null);
  assert.equal(parseLimit('Unlimited', '--daily-limit'), null);
  for (const bad of ['', '-1', '1.5', 'abc', '1e3', '99999999999999999999']) {
    assert.throws(() => parseLimit(bad, '--burst-limit'), /--burst-limit must be a whole number/, bad);
  }
});

test('admit is cheap: a million calls well under a second', () => {
  const limits = new RequestLimits();
  const settings: RequestLimitSettings = { burstPerMinute: 1e12, dailyRequests: 1e12 };
  const started = performance.now();
  for (let i = 0; i < 1_000_000; i++) limits.admit(i % 2 ? 'a' : 'b', settings);
  const ms = performance.now() - started;
  assert.ok(ms < 2000, `1e6 admits took ${ms.toFixed(0)} ms`);
});
