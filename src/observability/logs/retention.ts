// Keeps the log store within its retention: rows older than `retentionDays` are deleted when the
// platform starts and then periodically. The store deletes in small chunks, so a sweep never
// holds writers up for long; a failed sweep is reported and retried at the next tick.
import type { LogStore } from './store.ts';

const DAY_MS = 24 * 60 * 60 * 1000;
/** Sweep at most this often… */
const MIN_INTERVAL_MS = 1000;
/** …and at least this often. */
const MAX_INTERVAL_MS = 10 * 60 * 1000;

/** Sweeps often enough that rows never outlive retention by more than a tenth of it. */
export function sweepIntervalMs(retentionDays: number): number {
  return Math.min(MAX_INTERVAL_MS, Math.max(MIN_INTERVAL_MS, (retentionDays * DAY_MS) / 10));
}

export interface RetentionOptions {
  store: LogStore;
  retentionDays: number;
  warn: (message: string) => void;
  now?: () => number;
  intervalMs?: number;
}

export class RetentionSweeper {
  private readonly options: RetentionOptions;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;
  private closed = false;
  private warned = false;

  constructor(options: RetentionOptions) {
    this.options = options;
  }

  /** Sweeps now, then every interval. */
  start(): void {
    void this.sweep();
    this.timer = setInterval(() => void this.sweep(), this.options.intervalMs ?? sweepIntervalMs(this.options.retentionDays));
    this.timer.unref();
  }

  /** Deletes what has expired; resolves with the number of rows deleted. */
  sweep(): Promise<number> {
    if (this.closed) return Promise.resolve(0);
    // One sweep at a time: a slow one is not overlapped by the next tick.
    this.running ??= (async () => {
      try {
        const cutoff = (this.options.now ?? Date.now)() - this.options.retentionDays * DAY_MS;
        const deleted = await this.options.store.deleteOlderThan(cutoff);
        this.warned = false;
        return deleted;
      } catch (error) {
        if (!this.warned && !this.closed) {
          this.warned = true;
          this.options.warn(`could not delete expired log rows: ${(error as Error).message} (retried periodically)`);
        }
        return 0;
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.running) await this.running;
  }
}
