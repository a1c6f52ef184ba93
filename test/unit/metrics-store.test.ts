// The metrics store: per-minute buckets (24 h, bounded), totals over a range, per-status and
// per-disconnect counts, percentiles, drops by consumer, the Prometheus families; and the checks
// of the charts endpoint's since/until parameters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRange } from '../../src/control/metrics-api.ts';
import { renderFamilies } from '../../src/observability/metrics/prometheus.ts';
import { MetricsStore, MINUTE_MS, RETAINED_MINUTES } from '../../src/observability/metrics/store.ts';
import type { Outcome, TraceEvent } from '../../src/protocol/trace.ts';

const T0 = Date.UTC(2026, 0, 31, 12, 0, 0);

function event(outcome: Outcome, at: number, cpuTime = 1, wallTime = 5, scriptName: string | null = 'w'): TraceEvent {
  return {
    wallTime, cpuTime, truncated: false, executionModel: 'stateless', outcome, scriptName,
    diagnosticsChannelEvents: [], exceptions: [], logs: [], eventTimestamp: at,
    event: { request: { url: 'https://w.example/', method: 'GET', headers: {}, cf: {} }, response: { status: 200 } },
  };
}

function clock(start: number) {
  let now = start;
  return { now: () => now, set: (t: number) => { now = t; } };
}

test('requests land in the UTC minute they started in; each point has status and disconnect counts', () => {
  const c = clock(T0 + 5 * MINUTE_MS);
  const store = new MetricsStore({ now: c.now });
  store.record(event('ok', T0 + 1000), { subrequests: 2 });
  store.record(event('exception', T0 + 59_999), { subrequests: 0 });
  store.record(event('canceled', T0 + MINUTE_MS), { subrequests: 1 });
  store.record(event('responseStreamDisconnected', T0 + MINUTE_MS + 10), { subrequests: 0 });
  store.record(event('exceededCpu', T0 + 3 * MINUTE_MS), { subrequests: 0 });
  store.record(event('daemonDown', T0 + 3 * MINUTE_MS), { subrequests: 0 });

  const s = store.series('w', T0, T0 + 4 * MINUTE_MS);
  assert.equal(s.series.length, 4);
  assert.deepEqual(s.series.map((p) => p.minute), [0, 1, 2, 3].map((i) => new Date(T0 + i * MINUTE_MS).toISOString()));
  assert.deepEqual(s.series.map((p) => p.requests), [2, 2, 0, 2]);
  assert.deepEqual(s.series[0]!.outcomes, { ok: 1, exception: 1 });
  assert.deepEqual(s.series[0]!.status, { success: 1, clientDisconnected: 0, scriptThrewException: 1, exceededResources: 0, internalError: 0 });
  assert.deepEqual(s.series[1]!.clientDisconnects, { responseStreamDisconnected: 1, canceled: 1 });
  assert.equal(s.series[1]!.status.clientDisconnected, 2);
  assert.deepEqual(s.series[3]!.status, { success: 0, clientDisconnected: 0, scriptThrewException: 0, exceededResources: 1, internalError: 1 });
  assert.deepEqual(s.series[2]!.cpuTimeMs, { p50: null, p90: null, p99: null }, 'an empty minute has no percentiles');
  assert.equal(s.totals.requests, 6);
  assert.equal(s.totals.subrequests, 3);
  assert.deepEqual(s.totals.outcomes, { ok: 1, exception: 1, canceled: 1, responseStreamDisconnected: 1, exceededCpu: 1, daemonDown: 1 });
  assert.equal(s.intervalSeconds, 60);
});

test('percentiles per minute and over the range are nearest-rank, in whole ms', () => {
  const c = clock(T0 + 2 * MINUTE_MS);
  const store = new MetricsStore({ now: c.now });
  for (let i = 1; i <= 100; i++) store.record(event('ok', T0 + i, i % 10, i), { subrequests: 0 });
  store.record(event('ok', T0 + MINUTE_MS, 40, 1000), { subrequests: 0 });
  const s = store.series('w', T0, T0 + 2 * MINUTE_MS);
  // Exact below 50 ms; within 1% + 0.5 ms (the rounding to whole ms) above.
  const near = (got: number | null, want: number) => assert.ok(got !== null && Math.abs(got - want) <= 0.01 * want + 0.5, `got ${got}, exact ${want}`);
  assert.equal(s.series[0]!.wallTimeMs.p50, 50);
  near(s.series[0]!.wallTimeMs.p90, 90);
  near(s.series[0]!.wallTimeMs.p99, 99);
  assert.deepEqual(s.series[0]!.cpuTimeMs, { p50: 4, p90: 8, p99: 9 });
  assert.deepEqual(s.series[1]!.wallTimeMs, { p50: 1000, p90: 1000, p99: 1000 });
  // The range merges both minutes: 101 values, rank ⌈0.99·101⌉ = 100 → 100 ms.
  near(s.totals.wallTimeMs.p50!, 51);
  near(s.totals.wallTimeMs.p90!, 91);
  near(s.totals.wallTimeMs.p99!, 100);
  assert.deepEqual(s.totals.cpuTimeMs, { p50: 5, p90: 9, p99: 9 });
});

test('drops are counted per consumer, per minute and in the Prometheus counter', () => {
  const c = clock(T0);
  const store = new MetricsStore({ now: c.now });
  store.recordDropped('w', 'tail', 3);
  store.recordDropped('w', 'logpush', 2);
  store.recordDropped('w', 'tail', 1);
  store.recordDropped('w', 'tail', 0);
  const s = store.series('w', T0, T0 + MINUTE_MS);
  assert.deepEqual(s.series[0]!.dropped, { tail: 4, logpush: 2 });
  assert.deepEqual(s.totals.dropped, { tail: 4, logpush: 2 });
  const text = renderFamilies(store.families());
  assert.match(text, /^flarelet_dropped_events_total\{script_name="w",consumer="logpush"\} 2$/m);
  assert.match(text, /^flarelet_dropped_events_total\{script_name="w",consumer="tail"\} 4$/m);
});

test('per-minute data is kept 24 hours: older minutes are pruned, and never shown', () => {
  const c = clock(T0);
  const store = new MetricsStore({ now: c.now });
  store.record(event('ok', T0), { subrequests: 0 });
  c.set(T0 + RETAINED_MINUTES * MINUTE_MS);
  assert.equal(store.series('w', T0, T0 + MINUTE_MS).totals.requests, 0, 'the minute fell out of the window');
  store.record(event('ok', c.now()), { subrequests: 0 });
  store.record(event('ok', T0 - MINUTE_MS), { subrequests: 0 });
  assert.equal(store.series('w', c.now() - MINUTE_MS, c.now() + 1).totals.requests, 1);
  // The cumulative counters still count everything.
  assert.match(renderFamilies(store.families()), /^flarelet_worker_requests_total\{script_name="w",outcome="ok"\} 3$/m);
});

test('Prometheus families: every outcome exported with zeros, status and disconnect counters, histograms in seconds', () => {
  const store = new MetricsStore({ now: () => T0 });
  store.declare('idle');
  store.record(event('ok', T0, 3, 20), { subrequests: 4 });
  store.record(event('exception', T0, 0, 7), { subrequests: 0 });
  store.record(event('canceled', T0, 1, 2000), { subrequests: 1 });
  const text = renderFamilies(store.families());
  for (const outcome of ['unknown', 'ok', 'exception', 'exceededCpu', 'killSwitch', 'daemonDown', 'scriptNotFound', 'canceled', 'exceededMemory', 'loadShed', 'responseStreamDisconnected', 'internalError', 'exceededWallTime', 'aborted']) {
    assert.match(text, new RegExp(`^flarelet_worker_requests_total\\{script_name="idle",outcome="${outcome}"\\} 0$`, 'm'));
  }
  assert.match(text, /^flarelet_worker_requests_total\{script_name="w",outcome="ok"\} 1$/m);
  assert.match(text, /^flarelet_worker_invocation_status_total\{script_name="w",status="success"\} 1$/m);
  assert.match(text, /^flarelet_worker_invocation_status_total\{script_name="w",status="scriptThrewException"\} 1$/m);
  assert.match(text, /^flarelet_worker_invocation_status_total\{script_name="w",status="clientDisconnected"\} 1$/m);
  assert.match(text, /^flarelet_worker_client_disconnects_total\{script_name="w",type="canceled"\} 1$/m);
  assert.match(text, /^flarelet_worker_client_disconnects_total\{script_name="w",type="responseStreamDisconnected"\} 0$/m);
  assert.match(text, /^flarelet_worker_cpu_time_seconds_bucket\{script_name="w",le="0.001"\} 2$/m);
  assert.match(text, /^flarelet_worker_cpu_time_seconds_bucket\{script_name="w",le="0.005"\} 3$/m);
  assert.match(text, /^flarelet_worker_cpu_time_seconds_sum\{script_name="w"\} 0.004$/m);
  assert.match(text, /^flarelet_worker_wall_time_seconds_bucket\{script_name="w",le="1"\} 2$/m);
  assert.match(text, /^flarelet_worker_wall_time_seconds_bucket\{script_name="w",le="\+Inf"\} 3$/m);
  assert.match(text, /^flarelet_worker_wall_time_seconds_sum\{script_name="w"\} 2.027$/m);
  assert.match(text, /^flarelet_worker_wall_time_seconds_count\{script_name="w"\} 3$/m);
  assert.match(text, /^flarelet_worker_subrequests_total\{script_name="w"\} 5$/m);
});

test('odd events do not break the store: null scriptName, missing facts, non-finite times', () => {
  const store = new MetricsStore({ now: () => T0 });
  store.record(event('ok', NaN, NaN, -3, null), undefined as never);
  assert.ok(store.has(''));
  const s = store.series('', T0, T0 + MINUTE_MS);
  assert.equal(s.totals.requests, 1);
  assert.deepEqual(s.totals.cpuTimeMs, { p50: 0, p90: 0, p99: 0 });
});

test('since / until: ISO 8601 or epoch ms, defaults to the last hour, checked', () => {
  const now = T0;
  const p = (q: string) => parseRange(new URLSearchParams(q), now);
  assert.deepEqual(p(''), { since: now - 60 * MINUTE_MS, until: now });
  assert.deepEqual(p(`since=${T0 - 1000}&until=${T0}`), { since: T0 - 1000, until: T0 });
  assert.deepEqual(p('since=2026-01-31T11:00:00Z&until=2026-01-31T11:30:00.000Z'), { since: T0 - 60 * MINUTE_MS, until: T0 - 30 * MINUTE_MS });
  assert.throws(() => p('since=yesterday'), /since must be an ISO 8601 date-time/);
  assert.throws(() => p('until=2026-13-45T99:00:00Z'), /until must be an ISO 8601 date-time/);
  assert.throws(() => p(`since=${T0}&until=${T0}`), /must be before until/);
  assert.throws(() => p(`since=${T0 - 25 * 60 * MINUTE_MS}`), /at most 1440/);
  assert.throws(() => p('step=60'), /unknown parameter "step"/);
  assert.doesNotThrow(() => p(`since=${T0 - 24 * 60 * MINUTE_MS}`));
});
