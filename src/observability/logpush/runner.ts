// One logpush job at work: its spool (events wait on disk) and its sender, a single loop that
// delivers batches strictly in order. A batch is sent again, unchanged, until the destination
// takes it (2xx) or refuses it for good (other 4xx: the batch is dropped and reported); only then
// does the committed offset move, so an event is never skipped and, short of a crash between a
// delivery and its commit, never sent twice.
import type { TraceEvent } from '../../protocol/trace.ts';
import { parseDestination } from './destination.ts';
import type { HttpDestination } from './destination.ts';
import { NdjsonEncoder, OtlpEncoder } from './encoders.ts';
import type { BatchEncoder, EncodedBatch } from './encoders.ts';
import { backoffMs, postBatch } from './http-post.ts';
import type { AttemptResult } from './http-post.ts';
import { batchLimits, outputTypeOf } from './jobs.ts';
import type { StoredJob } from './jobs.ts';
import { Spool } from './spool.ts';
import type { Position, SpoolOptions } from './spool.ts';

export type DropReason = 'spool' | 'retention' | 'capacity' | 'rejected' | 'corrupt' | 'deleted';

export interface RunnerOptions {
  dir: string;
  job: StoredJob;
  retentionMs: number;
  version: string;
  /** events of `scriptName` this job will never deliver */
  reportDropped: (scriptName: string, count: number) => void;
  warn: (message: string) => void;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  requestTimeoutMs?: number;
  spool?: Omit<SpoolOptions, 'onDrop' | 'onWarn'>;
  now?: () => number;
}

export interface RunnerStats {
  deliveredEvents: number;
  deliveredBatches: number;
  failedAttempts: number;
  rejectedRecords: number;
  dropped: Map<DropReason, number>;
  lastSuccessMs: number | null;
}

interface PreparedBatch {
  fromSeq: number;
  end: Position;
  encoded: EncodedBatch;
  /** events per worker, to report them if the batch is refused */
  scripts: Map<string, number>;
  /** more events were waiting than fit in this batch */
  cut: boolean;
  /** the job configuration it was encoded for */
  version: number;
}

/** Re-check retention at most this often. */
const EXPIRE_EVERY_MS = 60_000;
/** On close: how long to try delivering what is left when the destination is answering. */
const DRAIN_MS = 2000;
/** On close: how long an attempt in flight may still take before it is aborted. */
const IN_FLIGHT_GRACE_MS = 500;

/** Wakes a sleeping loop early; a notify with nobody waiting is remembered for the next wait. */
class Wakeup {
  private wake: (() => void) | null = null;
  private pending = false;

  notify(): void {
    if (this.wake) this.wake();
    else this.pending = true;
  }

  wait(ms?: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = ms === undefined ? null : setTimeout(done, Math.max(0, ms));
      const self = this;
      function done() {
        if (timer) clearTimeout(timer);
        self.wake = null;
        resolve();
      }
      this.wake = done;
    });
  }
}

export function scriptNameOfLine(line: string): string {
  try {
    const name = (JSON.parse(line) as TraceEvent).scriptName;
    return typeof name === 'string' ? name : '';
  } catch {
    return '';
  }
}

export class JobRunner {
  job: StoredJob;
  readonly stats: RunnerStats = {
    deliveredEvents: 0, deliveredBatches: 0, failedAttempts: 0, rejectedRecords: 0, dropped: new Map(), lastSuccessMs: null,
  };
  private readonly options: RunnerOptions;
  private readonly spool: Spool;
  private readonly wakeup = new Wakeup();
  private readonly now: () => number;
  private version = 0;
  private loop: Promise<void> | null = null;
  private stopping = false;
  private draining = false;
  /** the last attempt failed and was to be retried (the destination is not answering) */
  private failing = false;
  private inflight: AbortController | null = null;
  private removeWriteListener: (() => void) | null = null;

  constructor(options: RunnerOptions) {
    this.options = options;
    this.job = options.job;
    this.now = options.now ?? Date.now;
    this.spool = new Spool(options.dir, {
      ...options.spool,
      now: options.spool?.now ?? options.now,
      onDrop: (lines, reason) => this.drop(lines.map(scriptNameOfLine), reason),
      onWarn: options.warn,
    });
  }

  /** Opens the spool and starts the sender. */
  start(): void {
    if (this.loop) return;
    this.removeWriteListener = this.spool.onWrite(() => this.wakeup.notify());
    this.loop = this.run();
  }

  /** One event (its JSON) for this job; sampled by output_options.sample_rate. */
  offer(line: string): void {
    const rate = this.job.output_options?.sample_rate ?? 1;
    if (rate < 1 && Math.random() >= rate) return;
    this.spool.append(line);
  }

  /** The job's configuration changed (API PUT): the next attempt uses it. */
  update(job: StoredJob): void {
    this.job = job;
    this.version++;
    this.wakeup.notify();
  }

  get pendingEvents(): number { return this.spool.unsent; }
  get spoolBytes(): number { return this.spool.diskBytes; }

  /** Stops the sender (after a short last delivery, unless the destination is failing) and closes the spool. */
  async close(): Promise<void> {
    if (this.stopping) return;
    if (this.loop && this.job.enabled) {
      await this.spool.flush();
      this.draining = true;
      this.wakeup.notify();
      const deadline = this.now() + DRAIN_MS;
      while (this.spool.unsent > 0 && !this.failing && this.now() < deadline) await sleep(20);
    }
    this.stopping = true;
    this.wakeup.notify();
    const abort = setTimeout(() => this.inflight?.abort(), IN_FLIGHT_GRACE_MS);
    await this.loop;
    clearTimeout(abort);
    this.removeWriteListener?.();
    await this.spool.close();
  }

  /** Stops and deletes the spool (the job was deleted); undelivered events are reported as dropped. */
  async destroy(): Promise<void> {
    this.stopping = true;
    this.wakeup.notify();
    this.inflight?.abort();
    await this.loop;
    this.removeWriteListener?.();
    await this.spool.flush();
    // Count what is lost in slices, so a large backlog is never held in memory at once.
    for (;;) {
      const entries = await this.spool.peek(10_000, 16 * 1024 * 1024);
      if (entries.length === 0) break;
      this.drop(entries.map((e) => scriptNameOfLine(e.line)), 'deleted');
      await this.spool.commit(entries[entries.length - 1]!.end);
    }
    await this.spool.destroy();
  }

  /** Opens the spool only (a job of an earlier run whose flag was not given again). */
  async inspect(): Promise<number> {
    await this.spool.open();
    await this.spool.expire(this.options.retentionMs);
    return this.spool.unsent;
  }

  private drop(scripts: string[], reason: DropReason): void {
    if (scripts.length === 0) return;
    this.stats.dropped.set(reason, (this.stats.dropped.get(reason) ?? 0) + scripts.length);
    const counts = new Map<string, number>();
    for (const name of scripts) counts.set(name, (counts.get(name) ?? 0) + 1);
    for (const [name, n] of counts) this.options.reportDropped(name, n);
  }

  private async run(): Promise<void> {
    await this.spool.open();
    let lastExpire = -Infinity;
    let batch: PreparedBatch | null = null;
    let attempt = 0;
    // Events left from an earlier run have waited long enough: send them at once.
    let waitingSince: number | null = this.spool.unsent > 0 ? -Infinity : null;
    while (!this.stopping) {
      try {
        const now = this.now();
        if (now - lastExpire >= EXPIRE_EVERY_MS) {
          lastExpire = now;
          await this.spool.expire(this.options.retentionMs);
        }
        if (!this.job.enabled) {
          // A disabled job keeps its spool (retention still applies) until it is enabled again.
          await this.wakeup.wait(EXPIRE_EVERY_MS);
          continue;
        }
        // Retention may have dropped events of the batch in hand, or the job changed: prepare anew.
        if (batch && (batch.fromSeq < this.spool.committedSeq || batch.version !== this.version)) batch = null;
        if (!batch) {
          if (this.spool.unsent === 0) {
            waitingSince = null;
            await this.wakeup.wait();
            continue;
          }
          waitingSince ??= now;
          const { maxRecords, maxBytes, maxDelayMs } = batchLimits(this.job);
          const full = this.spool.unsent >= maxRecords || this.spool.unsentBytes >= maxBytes;
          const dueIn = waitingSince + maxDelayMs - now;
          if (!full && dueIn > 0 && !this.draining) {
            await this.wakeup.wait(dueIn);
            continue;
          }
          batch = await this.prepare(maxRecords, maxBytes);
          attempt = 0;
          if (!batch) continue;
        }
        const result = await this.attempt(batch);
        this.failing = result.kind === 'retry';
        if (result.kind === 'delivered') {
          await this.spool.commit(batch.end);
          this.stats.deliveredEvents += batch.encoded.events;
          this.stats.deliveredBatches++;
          this.stats.lastSuccessMs = this.now();
          // last_error / error_message keep describing the last failure (as Cloudflare's do):
          // last_complete later than last_error says the job has recovered.
          this.job.last_complete = new Date(this.stats.lastSuccessMs).toISOString();
          this.noteOtlpPartialSuccess(result.body);
          waitingSince = this.spool.unsent > 0 ? (batch.cut ? -Infinity : this.now()) : null;
          batch = null;
        } else if (result.kind === 'rejected') {
          this.job.last_error = new Date(this.now()).toISOString();
          this.job.error_message = `destination refused a batch of ${batch.encoded.events} event(s) for good (${result.reason}); the batch was dropped`;
          this.options.warn(`logpush job ${this.job.id}: ${this.job.error_message}`);
          const scripts: string[] = [];
          for (const [name, n] of batch.scripts) for (let i = 0; i < n; i++) scripts.push(name);
          this.drop(scripts, 'rejected');
          await this.spool.commit(batch.end);
          batch = null;
        } else {
          if (this.stopping) break;
          attempt++;
          this.stats.failedAttempts++;
          this.job.last_error = new Date(this.now()).toISOString();
          this.job.error_message = `delivery failed, retrying (attempt ${attempt}): ${result.reason}`;
          const step = backoffMs(attempt, this.options.backoffBaseMs ?? 1000, this.options.backoffMaxMs ?? 60_000);
          const delay = result.retryAfterMs === null ? step : Math.min(Math.max(step, result.retryAfterMs), this.options.backoffMaxMs ?? 60_000);
          await this.backoff(delay);
        }
      } catch (error) {
        // Never let the sender die: say what happened and try again a little later.
        this.options.warn(`logpush job ${this.job.id}: ${(error as Error)?.message ?? String(error)}`);
        batch = null;
        await this.backoff(1000);
      }
    }
  }

  /** Sleeps `ms`, cut short only by close or a configuration change (new events do not end a backoff). */
  private async backoff(ms: number): Promise<void> {
    const until = this.now() + ms;
    const version = this.version;
    while (!this.stopping && this.version === version && this.now() < until) await this.wakeup.wait(until - this.now());
  }

  private encoder(maxBytes: number): BatchEncoder {
    if (outputTypeOf(this.job) === 'otlp') return new OtlpEncoder({ maxBytes, version: this.options.version });
    return new NdjsonEncoder({
      maxBytes,
      fieldNames: this.job.output_options?.field_names ?? null,
      redactCve202144228: this.job.output_options?.['CVE-2021-44228'] === true,
    });
  }

  private async prepare(maxRecords: number, maxBytes: number): Promise<PreparedBatch | null> {
    const entries = await this.spool.peek(maxRecords, maxBytes);
    if (entries.length === 0) return null;
    const encoder = this.encoder(maxBytes);
    const scripts = new Map<string, number>();
    const corrupt: string[] = [];
    let end: Position | null = null;
    let cut = entries.length >= maxRecords || this.spool.unsent > entries.length;
    for (const entry of entries) {
      let event: TraceEvent;
      try {
        event = JSON.parse(entry.line) as TraceEvent;
      } catch {
        corrupt.push('');
        end = entry.end;
        continue;
      }
      if (!encoder.add(event)) {
        cut = true;
        break;
      }
      const name = event.scriptName ?? '';
      scripts.set(name, (scripts.get(name) ?? 0) + 1);
      end = entry.end;
    }
    if (corrupt.length > 0) this.drop(corrupt, 'corrupt');
    if (encoder.events === 0) {
      if (end) await this.spool.commit(end);
      return null;
    }
    return { fromSeq: entries[0]!.seq, end: end!, encoded: await encoder.finish(), scripts, cut, version: this.version };
  }

  private async attempt(batch: PreparedBatch): Promise<AttemptResult> {
    let destination: HttpDestination;
    try {
      destination = parseDestination(this.job.destination_conf);
    } catch (error) {
      return { kind: 'retry', reason: (error as Error).message, retryAfterMs: null };
    }
    const headers = { ...batch.encoded.headers, 'user-agent': `flarelet/${this.options.version}`, ...destination.headers };
    this.inflight = new AbortController();
    try {
      return await postBatch(destination.url, headers, batch.encoded.body, {
        timeoutMs: this.options.requestTimeoutMs ?? 30_000,
        signal: this.inflight.signal,
      });
    } finally {
      this.inflight = null;
    }
  }

  /** OTLP receivers answer 200 with {partialSuccess: {rejectedLogRecords, errorMessage}} when they kept only part. */
  private noteOtlpPartialSuccess(body: string): void {
    if (outputTypeOf(this.job) !== 'otlp' || !body) return;
    try {
      const partial = JSON.parse(body)?.partialSuccess;
      const rejected = Number(partial?.rejectedLogRecords ?? 0);
      if (rejected > 0) {
        this.stats.rejectedRecords += rejected;
        this.job.last_error = new Date(this.now()).toISOString();
        this.job.error_message = `destination rejected ${rejected} log record(s): ${String(partial?.errorMessage ?? '')}`;
      }
    } catch { /* a body that is not JSON carries no partial success */ }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
