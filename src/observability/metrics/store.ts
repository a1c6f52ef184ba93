// What the metrics feature remembers of every finished invocation: counters since the process
// started (for Prometheus) and per-worker, per-UTC-minute buckets for the last 24 hours (for the
// charts endpoint). Memory is bounded: 1440 minutes per worker, a fixed number of workers, and
// CPU / wall time kept as quantile sketches (see sketch.ts) rather than lists of values.
import type { InvocationFacts } from '../bus.ts';
import type { TraceEvent } from '../../protocol/trace.ts';
import { FixedHistogram } from './histogram.ts';
import { histogramSamples } from './prometheus.ts';
import type { MetricFamily, Sample } from './prometheus.ts';
import { QuantileSketch } from './sketch.ts';
import { DISCONNECT_TYPES, disconnectType, invocationStatus, OUTCOMES, STATUSES } from './status.ts';
import type { DisconnectType, InvocationStatus } from './status.ts';

export const MINUTE_MS = 60_000;
/** How many minutes of per-minute buckets are kept per worker (24 hours). */
export const RETAINED_MINUTES = 1440;
/** Workers tracked separately; events of further workers are counted under OVERFLOW_SCRIPT. */
export const MAX_TRACKED_WORKERS = 1000;
export const OVERFLOW_SCRIPT = '(other)';
/** scriptName of events that carry none (null). */
export const UNNAMED_SCRIPT = '';

/** Upper bounds (ms; exported in seconds) of the CPU time histogram: the 10 ms / 50 ms plan limits fall on bounds. */
export const CPU_BUCKETS_MS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 300_000];
/** Upper bounds (ms; exported in seconds) of the wall time histogram: up to the 30 s waitUntil limit and past it. */
export const WALL_BUCKETS_MS = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 120_000, 300_000];

interface MinuteBucket {
  /** ms since the epoch of the minute's first instant (UTC) */
  start: number;
  requests: number;
  outcomes: Map<string, number>;
  cpu: QuantileSketch;
  wall: QuantileSketch;
  subrequests: number;
  dropped: Map<string, number>;
}

interface WorkerMetrics {
  outcomes: Map<string, number>;
  subrequests: number;
  cpu: FixedHistogram;
  wall: FixedHistogram;
  dropped: Map<string, number>;
  minutes: Map<number, MinuteBucket>;
}

export interface Percentiles {
  p50: number | null;
  p90: number | null;
  p99: number | null;
}

export interface MinutePoint {
  /** ISO 8601 start of the UTC minute */
  minute: string;
  requests: number;
  /** only the outcomes seen in that minute */
  outcomes: Record<string, number>;
  status: Record<InvocationStatus, number>;
  clientDisconnects: Record<DisconnectType, number>;
  cpuTimeMs: Percentiles;
  wallTimeMs: Percentiles;
  subrequests: number;
  /** events consumers (tail, logs, logpush) dropped, by consumer */
  dropped: Record<string, number>;
}

export interface Series {
  scriptName: string;
  since: string;
  until: string;
  intervalSeconds: number;
  totals: Omit<MinutePoint, 'minute'>;
  series: MinutePoint[];
}

export function minuteStart(ms: number): number {
  return Math.floor(ms / MINUTE_MS) * MINUTE_MS;
}

// CPU and wall times are whole ms, so percentiles are too: rounding the sketch's estimate gives the
// exact value below 50 ms (where a 1% bucket holds at most one whole number) and stays within
// 1% + 0.5 ms above.
const wholeMs = (n: number | null) => (n === null ? null : Math.round(n));

function percentiles(sketch: QuantileSketch): Percentiles {
  return { p50: wholeMs(sketch.quantile(0.5)), p90: wholeMs(sketch.quantile(0.9)), p99: wholeMs(sketch.quantile(0.99)) };
}

function add(map: Map<string, number>, key: string, n: number): void {
  map.set(key, (map.get(key) ?? 0) + n);
}

export class MetricsStore {
  private readonly workers = new Map<string, WorkerMetrics>();
  private readonly now: () => number;

  constructor(options: { now?: () => number } = {}) {
    this.now = options.now ?? Date.now;
  }

  /** Counts one finished invocation. Never throws on odd input: a bad event must not stop the bus. */
  record(event: TraceEvent, facts: InvocationFacts): void {
    const worker = this.worker(event.scriptName ?? UNNAMED_SCRIPT);
    const cpuMs = Number.isFinite(event.cpuTime) ? Math.max(0, event.cpuTime) : 0;
    const wallMs = Number.isFinite(event.wallTime) ? Math.max(0, event.wallTime) : 0;
    const subrequests = Number.isFinite(facts?.subrequests) ? Math.max(0, facts.subrequests) : 0;
    const outcome = typeof event.outcome === 'string' ? event.outcome : 'unknown';
    add(worker.outcomes, outcome, 1);
    worker.subrequests += subrequests;
    worker.cpu.observe(cpuMs);
    worker.wall.observe(wallMs);
    const at = Number.isFinite(event.eventTimestamp) ? event.eventTimestamp : this.now();
    const bucket = this.bucket(worker, at);
    if (!bucket) return;
    bucket.requests++;
    add(bucket.outcomes, outcome, 1);
    bucket.cpu.add(cpuMs);
    bucket.wall.add(wallMs);
    bucket.subrequests += subrequests;
  }

  /** A consumer dropped `count` events of a worker (TraceBus.onDropped). */
  recordDropped(scriptName: string, consumer: string, count: number): void {
    if (!(count > 0)) return;
    const worker = this.worker(scriptName);
    add(worker.dropped, consumer, count);
    const bucket = this.bucket(worker, this.now());
    if (bucket) add(bucket.dropped, consumer, count);
  }

  /** Makes a worker known (so it is exported with zero counts before its first request). */
  declare(scriptName: string): void {
    this.worker(scriptName);
  }

  has(scriptName: string): boolean {
    return this.workers.has(scriptName);
  }

  /** Per-minute points of [since, until): every minute in the range, zeros where nothing happened. */
  series(scriptName: string, since: number, until: number): Series {
    const worker = this.workers.get(scriptName);
    const first = minuteStart(since);
    const points: MinutePoint[] = [];
    const totalOutcomes = new Map<string, number>();
    const totalDropped = new Map<string, number>();
    const totalCpu = new QuantileSketch();
    const totalWall = new QuantileSketch();
    let totalRequests = 0;
    let totalSubrequests = 0;
    // Buckets of an idle worker are only pruned when it gets a new minute: never show stale ones.
    const oldestKept = minuteStart(this.now()) - (RETAINED_MINUTES - 1) * MINUTE_MS;
    for (let start = first; start < until; start += MINUTE_MS) {
      const bucket = start >= oldestKept ? worker?.minutes.get(start) : undefined;
      const point = pointOf(start, bucket);
      points.push(point);
      if (!bucket) continue;
      totalRequests += bucket.requests;
      totalSubrequests += bucket.subrequests;
      for (const [k, n] of bucket.outcomes) add(totalOutcomes, k, n);
      for (const [k, n] of bucket.dropped) add(totalDropped, k, n);
      totalCpu.merge(bucket.cpu);
      totalWall.merge(bucket.wall);
    }
    const totals = pointOf(first, {
      start: first, requests: totalRequests, outcomes: totalOutcomes, cpu: totalCpu, wall: totalWall,
      subrequests: totalSubrequests, dropped: totalDropped,
    });
    const { minute: _minute, ...totalsWithoutMinute } = totals;
    return {
      scriptName,
      since: new Date(first).toISOString(),
      until: new Date(until).toISOString(),
      intervalSeconds: 60,
      totals: totalsWithoutMinute,
      series: points,
    };
  }

  /** The Prometheus metric families of every worker known so far. */
  families(): MetricFamily[] {
    const requests: Sample[] = [];
    const statuses: Sample[] = [];
    const disconnects: Sample[] = [];
    const cpu: Sample[] = [];
    const wall: Sample[] = [];
    const subrequests: Sample[] = [];
    const dropped: Sample[] = [];
    const names = [...this.workers.keys()].sort();
    for (const name of names) {
      const worker = this.workers.get(name)!;
      const script = { script_name: name };
      // Every known outcome is exported, zeros included, so rate() has a series from the start.
      const outcomes = new Set<string>([...OUTCOMES, ...worker.outcomes.keys()]);
      const byStatus = new Map<string, number>(STATUSES.map((s) => [s, 0]));
      for (const outcome of outcomes) {
        const n = worker.outcomes.get(outcome) ?? 0;
        requests.push({ labels: { ...script, outcome }, value: n });
        add(byStatus, invocationStatus(outcome), n);
      }
      for (const [status, n] of byStatus) statuses.push({ labels: { ...script, status }, value: n });
      for (const type of DISCONNECT_TYPES) disconnects.push({ labels: { ...script, type }, value: worker.outcomes.get(type) ?? 0 });
      cpu.push(...histogramSamples(script, worker.cpu, 1000));
      wall.push(...histogramSamples(script, worker.wall, 1000));
      subrequests.push({ labels: script, value: worker.subrequests });
      for (const [consumer, n] of [...worker.dropped].sort(([a], [b]) => a.localeCompare(b))) {
        dropped.push({ labels: { ...script, consumer }, value: n });
      }
    }
    return [
      { name: 'flarelet_worker_requests_total', help: 'Finished worker invocations, by outcome of the trace event.', type: 'counter', samples: requests },
      { name: 'flarelet_worker_invocation_status_total', help: 'Finished worker invocations, by invocation status (success, clientDisconnected, scriptThrewException, exceededResources, internalError).', type: 'counter', samples: statuses },
      { name: 'flarelet_worker_client_disconnects_total', help: 'Invocations whose client went away, by type (canceled before the response, responseStreamDisconnected while streaming it).', type: 'counter', samples: disconnects },
      { name: 'flarelet_worker_cpu_time_seconds', help: 'CPU time of each invocation, in seconds (the trace event cpuTime).', type: 'histogram', samples: cpu },
      { name: 'flarelet_worker_wall_time_seconds', help: 'Wall time of each invocation, in seconds (the trace event wallTime).', type: 'histogram', samples: wall },
      { name: 'flarelet_worker_subrequests_total', help: 'Subrequests (fetch calls) made by worker invocations.', type: 'counter', samples: subrequests },
      { name: 'flarelet_dropped_events_total', help: 'Trace events a consumer (tail, logs, logpush) dropped instead of delivering, by worker and consumer.', type: 'counter', samples: dropped },
    ];
  }

  private worker(scriptName: string): WorkerMetrics {
    let worker = this.workers.get(scriptName);
    if (worker) return worker;
    if (this.workers.size >= MAX_TRACKED_WORKERS) {
      worker = this.workers.get(OVERFLOW_SCRIPT);
      if (worker) return worker;
      scriptName = OVERFLOW_SCRIPT;
    }
    worker = {
      outcomes: new Map(),
      subrequests: 0,
      cpu: new FixedHistogram(CPU_BUCKETS_MS),
      wall: new FixedHistogram(WALL_BUCKETS_MS),
      dropped: new Map(),
      minutes: new Map(),
    };
    this.workers.set(scriptName, worker);
    return worker;
  }

  /** The bucket of the minute of `at`, or null when that minute is already past retention. */
  private bucket(worker: WorkerMetrics, at: number): MinuteBucket | null {
    const start = minuteStart(at);
    const oldestKept = minuteStart(this.now()) - (RETAINED_MINUTES - 1) * MINUTE_MS;
    if (start < oldestKept) return null;
    let bucket = worker.minutes.get(start);
    if (bucket) return bucket;
    bucket = { start, requests: 0, outcomes: new Map(), cpu: new QuantileSketch(), wall: new QuantileSketch(), subrequests: 0, dropped: new Map() };
    worker.minutes.set(start, bucket);
    // A new minute is the moment to forget the ones that fell out of the window.
    for (const key of worker.minutes.keys()) if (key < oldestKept) worker.minutes.delete(key);
    return bucket;
  }
}

function pointOf(start: number, bucket: MinuteBucket | undefined): MinutePoint {
  const status = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<InvocationStatus, number>;
  const clientDisconnects = Object.fromEntries(DISCONNECT_TYPES.map((t) => [t, 0])) as Record<DisconnectType, number>;
  const outcomes: Record<string, number> = {};
  for (const [outcome, n] of bucket?.outcomes ?? []) {
    outcomes[outcome] = n;
    status[invocationStatus(outcome)] += n;
    const type = disconnectType(outcome);
    if (type) clientDisconnects[type] += n;
  }
  const empty = new QuantileSketch();
  return {
    minute: new Date(start).toISOString(),
    requests: bucket?.requests ?? 0,
    outcomes,
    status,
    clientDisconnects,
    cpuTimeMs: percentiles(bucket?.cpu ?? empty),
    wallTimeMs: percentiles(bucket?.wall ?? empty),
    subrequests: bucket?.subrequests ?? 0,
    dropped: Object.fromEntries(bucket?.dropped ?? []),
  };
}
