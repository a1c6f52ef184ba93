// Feeds the log store from the trace bus. The bus listener only decides (worker settings, head
// sampling) and appends to a buffer, so it returns at once; batches go to the store one at a
// time, when enough rows wait or every flush interval, and on close. Nothing is lost silently:
// rows the store cannot take (unavailable, full disk, falling behind) are reported to the bus
// as dropped by `logs`, with one warning per episode on stderr.
import type { TraceEvent } from '../../protocol/trace.ts';
import type { InvocationFacts } from '../bus.ts';
import { rowCount } from './rows.ts';
import type { LogStore, StoreWriteItem } from './store.ts';

/** The part of a worker's configuration the log store obeys (wrangler's [observability]). */
export interface LogsWorkerConfig {
  name: string;
  observability: {
    enabled?: boolean;
    persist?: boolean;
    invocationLogs?: boolean;
    headSamplingRate?: number;
  };
}

/** What the writer needs of the trace bus. */
export interface TraceSource {
  subscribe(listener: (event: TraceEvent, facts: InvocationFacts) => void): () => void;
  reportDropped(scriptName: string, consumer: string, count: number): void;
}

export interface LogWriterOptions {
  /**
   * The store, or the promise of it while it opens (rows are buffered meanwhile); null when it
   * could not be opened: every row is then reported as dropped.
   */
  store: LogStore | null | Promise<LogStore | null>;
  bus: TraceSource;
  workers: () => LogsWorkerConfig[];
  warn: (message: string) => void;
  /** rows that start a flush at once (default 1000) */
  batchRows?: number;
  /** longest wait before buffered rows are written (default 250 ms) */
  flushIntervalMs?: number;
  /** rows buffered while the store is busy before new ones are dropped (default 50,000) */
  maxPendingRows?: number;
  /** for tests: the sampling dice */
  random?: () => number;
}

export const CONSUMER = 'logs';
const WORKERS_REFRESH_MS = 1000;
const UNKNOWN_REFRESH_MS = 100;

export class LogWriter {
  private store: LogStore | null = null;
  /** false while the store is still opening */
  private ready = true;
  private readonly opened: Promise<void>;
  private readonly bus: TraceSource;
  private readonly workers: () => LogsWorkerConfig[];
  private readonly warn: (message: string) => void;
  private readonly batchRows: number;
  private readonly flushIntervalMs: number;
  private readonly maxPendingRows: number;
  private readonly random: () => number;
  private readonly unsubscribe: () => void;

  private pending: StoreWriteItem[] = [];
  private pendingRows = 0;
  private inFlight: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private closed = false;
  private configs = new Map<string, LogsWorkerConfig['observability']>();
  private configsAt = -Infinity;
  /** a failure episode is under way (warned once; cleared by the next successful write) */
  private failing = false;
  private overflowing = false;
  private droppedTotal = 0;
  private storedTotal = 0;

  constructor(options: LogWriterOptions) {
    if (options.store instanceof Promise) {
      this.ready = false;
      this.opened = options.store.then(
        (store) => this.storeReady(store),
        () => this.storeReady(null),
      );
    } else {
      this.store = options.store;
      this.opened = Promise.resolve();
    }
    this.bus = options.bus;
    this.workers = options.workers;
    this.warn = options.warn;
    this.batchRows = options.batchRows ?? 1000;
    this.flushIntervalMs = options.flushIntervalMs ?? 250;
    this.maxPendingRows = options.maxPendingRows ?? 50_000;
    this.random = options.random ?? Math.random;
    this.unsubscribe = this.bus.subscribe((event) => this.accept(event));
  }

  /** Rows stored and rows dropped so far. */
  get counts(): { stored: number; dropped: number } {
    return { stored: this.storedTotal, dropped: this.droppedTotal };
  }

  private configOf(name: string): LogsWorkerConfig['observability'] {
    const now = performance.now();
    // Settings are re-read every second, and sooner for a worker not seen before (just
    // deployed), but not on every event of a worker the platform does not list.
    const age = now - this.configsAt;
    if (age > WORKERS_REFRESH_MS || (!this.configs.has(name) && age > UNKNOWN_REFRESH_MS)) {
      this.configs = new Map(this.workers().map((w) => [w.name, w.observability ?? {}]));
      this.configsAt = now;
    }
    return this.configs.get(name) ?? {};
  }

  private storeReady(store: LogStore | null): void {
    this.store = store;
    this.ready = true;
    if (store) {
      this.schedule();
      return;
    }
    // It will never open: what was buffered for it is lost, and said so.
    for (const item of this.pending) this.drop(item.event.scriptName ?? '', rowCount(item.event, item.invocationRow));
    this.pending = [];
    this.pendingRows = 0;
  }

  private drop(scriptName: string, rows: number): void {
    if (rows <= 0) return;
    this.droppedTotal += rows;
    this.bus.reportDropped(scriptName, CONSUMER, rows);
  }

  /** The bus listener: decide, buffer, return. */
  private accept(event: TraceEvent): void {
    if (this.closed) return;
    const name = event.scriptName ?? '';
    const config = this.configOf(name);
    // Workers Logs is on unless the worker turns it off ([observability] enabled / logs.persist).
    if (config.enabled === false || config.persist === false) return;
    const rate = config.headSamplingRate ?? 1;
    if (rate < 1 && !(this.random() < rate)) return;
    const invocationRow = config.invocationLogs !== false;
    const rows = rowCount(event, invocationRow);
    if (rows === 0) return;
    if (this.ready && !this.store) {
      this.drop(name, rows);
      return;
    }
    if (this.pendingRows + rows > this.maxPendingRows) {
      if (!this.overflowing) {
        this.overflowing = true;
        this.warn(`the log store is falling behind: more than ${this.maxPendingRows} rows wait to be written; new rows are dropped (and counted) until it catches up`);
      }
      this.drop(name, rows);
      return;
    }
    this.pending.push({ event, invocationRow });
    this.pendingRows += rows;
    this.schedule();
  }

  private schedule(): void {
    if (this.inFlight || !this.ready) return; // the write under way (or the opening) schedules the next
    if (this.pendingRows >= this.batchRows) {
      this.immediate ??= setImmediate(() => { this.immediate = null; this.flushNow(); });
    } else if (!this.timer && this.pendingRows > 0) {
      this.timer = setTimeout(() => { this.timer = null; this.flushNow(); }, this.flushIntervalMs);
      this.timer.unref();
    }
  }

  /** Sends what is buffered as one batch (unless a batch is already being written). */
  private flushNow(): void {
    if (this.inFlight || this.pending.length === 0 || !this.store) return;
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    const batch = this.pending;
    this.pending = [];
    this.pendingRows = 0;
    this.inFlight = this.writeBatch(this.store, batch).finally(() => {
      this.inFlight = null;
      if (!this.closed) this.schedule();
    });
  }

  private async writeBatch(store: LogStore, batch: StoreWriteItem[]): Promise<void> {
    let failed: Record<string, number>;
    let reason: string | undefined;
    let stored = 0;
    try {
      const outcome = await store.write(batch);
      failed = outcome.failed;
      reason = outcome.error;
      stored = outcome.stored;
    } catch (error) {
      failed = {};
      for (const item of batch) {
        const name = item.event.scriptName ?? '';
        failed[name] = (failed[name] ?? 0) + rowCount(item.event, item.invocationRow);
      }
      reason = (error as Error).message;
    }
    this.storedTotal += stored;
    let lost = 0;
    for (const [name, rows] of Object.entries(failed)) {
      lost += rows;
      this.drop(name, rows);
    }
    if (lost > 0 && !this.failing) {
      this.failing = true;
      this.warn(`could not store ${lost} log rows (${reason ?? 'unknown error'}); rows that cannot be stored are dropped and counted until writes succeed again`);
    } else if (lost === 0 && stored > 0 && this.failing) {
      this.failing = false;
      this.warn('the log store accepts writes again');
    }
    if (this.overflowing && this.pendingRows < this.maxPendingRows / 2) this.overflowing = false;
  }

  /** Writes everything buffered so far. */
  async flush(): Promise<void> {
    await this.opened;
    for (;;) {
      if (this.inFlight) await this.inFlight;
      else if (this.pending.length > 0 && this.store) this.flushNow();
      else return;
    }
  }

  /** Stops listening, writes what is buffered. */
  async close(): Promise<void> {
    this.unsubscribe();
    await this.flush();
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
  }
}
