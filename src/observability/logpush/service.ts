// The logpush jobs of a process: made from --logpush / --otlp flags at start and through the REST
// API, saved in <stateDir>/logpush/jobs.json, each run by a JobRunner with its spool in
// <stateDir>/logpush/<id>/. The trace bus listener only serialises the event once and appends it
// to the spool of every enabled job: it never waits for a disk or a network.
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { TraceEvent } from '../../protocol/trace.ts';
import type { MetricFamily, Sample } from '../metrics/prometheus.ts';
import { describeDestination, parseDestination } from './destination.ts';
import { emptyJob, jobFromCreate, jobFromUpdate, outputTypeOf, publicJob } from './jobs.ts';
import type { LogpushJob, OutputType, StoredJob } from './jobs.ts';
import { loadRegistry, saveRegistry } from './registry.ts';
import type { RegistryState } from './registry.ts';
import { JobRunner } from './runner.ts';
import type { RunnerOptions } from './runner.ts';

export const CONSUMER = 'logpush';
const DAY_MS = 24 * 60 * 60 * 1000;

export interface LogpushServiceOptions {
  stateDir: string;
  retentionDays: number;
  reportDropped: (scriptName: string, consumer: string, count: number) => void;
  warn: (message: string) => void;
  /** knobs for tests (backoff, timeouts, spool sizes) passed to every runner */
  runner?: Pick<RunnerOptions, 'backoffBaseMs' | 'backoffMaxMs' | 'requestTimeoutMs' | 'spool' | 'now'>;
}

/** The job list could not be saved: the change was not made. */
export class JobPersistError extends Error {}

function flareletVersion(): string {
  try {
    return JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export class LogpushService {
  private readonly options: LogpushServiceOptions;
  private readonly root: string;
  private readonly registryFile: string;
  private readonly version = flareletVersion();
  private state: RegistryState = { nextId: 1, jobs: [] };
  /** jobs live in this run (every API job, and the flag jobs of this run's flags) */
  private readonly runners = new Map<number, JobRunner>();
  private enabled: JobRunner[] = [];
  private closed = false;

  constructor(options: LogpushServiceOptions) {
    this.options = options;
    this.root = path.join(options.stateDir, 'logpush');
    this.registryFile = path.join(this.root, 'jobs.json');
  }

  async start(flagUrls: { ndjson: string[]; otlp: string[] }): Promise<void> {
    this.state = await loadRegistry(this.registryFile, this.options.warn);
    const flagged = new Set<number>();
    const flagJobs: [string, OutputType][] = [
      ...flagUrls.ndjson.map((u) => [u, 'ndjson'] as [string, OutputType]),
      ...flagUrls.otlp.map((u) => [u, 'otlp'] as [string, OutputType]),
    ];
    for (const [url, type] of flagJobs) {
      try {
        parseDestination(url);
      } catch (error) {
        this.options.warn(`--${type === 'otlp' ? 'otlp' : 'logpush'} ${describeDestination(url)}: ${(error as Error).message}; not pushing there`);
        continue;
      }
      // The same flag as in an earlier run reuses its job, so its spool (undelivered events) is picked up.
      let job = this.state.jobs.find((j) => j.source === 'cli' && j.destination_conf === url && outputTypeOf(j) === type && !flagged.has(j.id));
      if (!job) {
        job = {
          ...emptyJob(this.state.nextId++, url),
          name: type === 'otlp' ? 'otlp-flag' : 'logpush-flag',
          enabled: true,
          output_options: type === 'otlp' ? { output_type: 'otlp' } : null,
          source: 'cli',
        };
        this.state.jobs.push(job);
      }
      job.enabled = true;
      flagged.add(job.id);
    }
    for (const job of [...this.state.jobs]) {
      if (job.source === 'cli' && !flagged.has(job.id)) await this.settleDormant(job);
    }
    await this.save().catch((error: Error) => this.options.warn(`logpush: cannot save ${this.registryFile}: ${error.message}`));
    for (const job of this.state.jobs) {
      if (job.source === 'api' || flagged.has(job.id)) this.launch(job);
    }
    this.refreshEnabled();
  }

  /** Called for every trace event: append it to each enabled job's spool. */
  publish(event: TraceEvent): void {
    if (this.closed || this.enabled.length === 0) return;
    const line = JSON.stringify(event);
    for (const runner of this.enabled) runner.offer(line);
  }

  list(): LogpushJob[] {
    return [...this.runners.values()].map((r) => publicJob(r.job)).sort((a, b) => a.id - b.id);
  }

  get(id: number): LogpushJob | null {
    const runner = this.runners.get(id);
    return runner ? publicJob(runner.job) : null;
  }

  /** Flag jobs follow the command line; the API only reads them. */
  isFlagJob(id: number): boolean {
    return this.runners.get(id)?.job.source === 'cli';
  }

  async create(body: unknown): Promise<LogpushJob> {
    const job: StoredJob = { ...jobFromCreate(body, this.state.nextId), source: 'api' };
    this.state.nextId++;
    this.state.jobs.push(job);
    try {
      await this.save();
    } catch (error) {
      this.state.jobs = this.state.jobs.filter((j) => j !== job);
      throw new JobPersistError(`cannot save the job list (${(error as Error).message}); the job was not created`);
    }
    this.launch(job);
    this.refreshEnabled();
    return publicJob(job);
  }

  /** Returns null when there is no such job. */
  async update(id: number, body: unknown): Promise<LogpushJob | null> {
    const runner = this.runners.get(id);
    if (!runner) return null;
    const updated: StoredJob = { ...jobFromUpdate(runner.job, body), source: runner.job.source };
    const index = this.state.jobs.findIndex((j) => j.id === id);
    const previous = this.state.jobs[index]!;
    this.state.jobs[index] = updated;
    try {
      await this.save();
    } catch (error) {
      this.state.jobs[index] = previous;
      throw new JobPersistError(`cannot save the job list (${(error as Error).message}); the job was not changed`);
    }
    runner.update(updated);
    this.refreshEnabled();
    return publicJob(updated);
  }

  /** Returns false when there is no such job. */
  async remove(id: number): Promise<boolean> {
    const runner = this.runners.get(id);
    if (!runner) return false;
    const before = this.state.jobs;
    this.state.jobs = before.filter((j) => j.id !== id);
    try {
      await this.save();
    } catch (error) {
      this.state.jobs = before;
      throw new JobPersistError(`cannot save the job list (${(error as Error).message}); the job was not deleted`);
    }
    this.runners.delete(id);
    this.refreshEnabled();
    await runner.destroy();
    return true;
  }

  /** Per-job delivery metrics for /metrics. */
  families(): MetricFamily[] {
    const delivered: Sample[] = [];
    const batches: Sample[] = [];
    const failures: Sample[] = [];
    const dropped: Sample[] = [];
    const pending: Sample[] = [];
    const bytes: Sample[] = [];
    const lastSuccess: Sample[] = [];
    for (const runner of [...this.runners.values()].sort((a, b) => a.job.id - b.job.id)) {
      const labels = { logpush_job: String(runner.job.id) };
      const { stats } = runner;
      delivered.push({ labels, value: stats.deliveredEvents });
      batches.push({ labels, value: stats.deliveredBatches });
      failures.push({ labels, value: stats.failedAttempts });
      for (const [reason, n] of stats.dropped) dropped.push({ labels: { ...labels, reason }, value: n });
      pending.push({ labels, value: runner.pendingEvents });
      bytes.push({ labels, value: runner.spoolBytes });
      lastSuccess.push({ labels, value: stats.lastSuccessMs === null ? 0 : stats.lastSuccessMs / 1000 });
    }
    return [
      { name: 'flarelet_logpush_delivered_events_total', help: 'Trace events a logpush job delivered (destination answered 2xx).', type: 'counter', samples: delivered },
      { name: 'flarelet_logpush_delivered_batches_total', help: 'Batches a logpush job delivered.', type: 'counter', samples: batches },
      { name: 'flarelet_logpush_failed_attempts_total', help: 'Delivery attempts that failed and will be retried (no connection, timeout, 408, 429, 5xx).', type: 'counter', samples: failures },
      { name: 'flarelet_logpush_dropped_events_total', help: 'Trace events a logpush job will never deliver, by reason (spool, retention, capacity, rejected, corrupt, deleted).', type: 'counter', samples: dropped },
      { name: 'flarelet_logpush_pending_events', help: 'Trace events waiting in the spool of a logpush job.', type: 'gauge', samples: pending },
      { name: 'flarelet_logpush_spool_bytes', help: 'Bytes on disk in the spool of a logpush job.', type: 'gauge', samples: bytes },
      { name: 'flarelet_logpush_last_success_timestamp_seconds', help: 'When a logpush job last delivered a batch (seconds since the epoch; 0 = never).', type: 'gauge', samples: lastSuccess },
    ];
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.enabled = [];
    await Promise.all([...this.runners.values()].map((r) => r.close()));
    // Keep the delivery status (last_complete, error_message) for the next run.
    for (const runner of this.runners.values()) {
      const index = this.state.jobs.findIndex((j) => j.id === runner.job.id);
      if (index >= 0) this.state.jobs[index] = runner.job;
    }
    await this.save().catch(() => {});
  }

  private runnerFor(job: StoredJob): JobRunner {
    return new JobRunner({
      ...this.options.runner,
      dir: this.spoolDir(job),
      job,
      retentionMs: this.options.retentionDays * DAY_MS,
      version: this.version,
      reportDropped: (scriptName, count) => this.options.reportDropped(scriptName, CONSUMER, count),
      warn: this.options.warn,
    });
  }

  private spoolDir(job: StoredJob): string {
    return path.join(this.root, String(job.id));
  }

  private launch(job: StoredJob): void {
    const runner = this.runnerFor(job);
    this.runners.set(job.id, runner);
    runner.start();
  }

  private refreshEnabled(): void {
    this.enabled = [...this.runners.values()].filter((r) => r.job.enabled);
  }

  /**
   * A flag job of an earlier run whose flag was not given this time: if its spool is empty it is
   * forgotten; otherwise it waits (not listed, not sent) for the same flag to come back.
   */
  private async settleDormant(job: StoredJob): Promise<void> {
    const runner = this.runnerFor(job);
    const waiting = await runner.inspect().catch(() => 0);
    await runner.close();
    if (waiting === 0) {
      this.state.jobs = this.state.jobs.filter((j) => j !== job);
      await rm(this.spoolDir(job), { recursive: true, force: true }).catch(() => {});
    } else {
      const flag = outputTypeOf(job) === 'otlp' ? '--otlp' : '--logpush';
      this.options.warn(`logpush: ${waiting} undelivered event(s) wait for ${flag} ${describeDestination(job.destination_conf)} (job ${job.id}); give that flag again to deliver them`);
    }
  }

  private save(): Promise<void> {
    return saveRegistry(this.registryFile, this.state);
  }
}
