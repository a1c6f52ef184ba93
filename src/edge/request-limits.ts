// Request rate guards per worker, asked once per incoming request before the worker runs
// (spec §8): a burst limit over any 60 s (1015) and a daily limit per UTC day (1027).
//
// The burst limit is a sliding-window counter (two fixed one-minute windows, the previous one
// weighted by how much of it still overlaps the last 60 s): O(1) time and memory per worker.
// It is exact when requests arrive evenly. Bursts at a window's edge make it approximate in both
// directions: it never admits more than the limit within one fixed clock minute, so at most twice
// the limit within any 60 s span in the worst case, and it may refuse a little early when the
// previous minute's requests all came at its start.
//
// Refused requests count toward neither limit, so a client hammering a limited worker does not
// keep it limited.

export interface RequestLimitSettings {
  /** requests admitted per sliding 60 s; null: no burst limit */
  burstPerMinute: number | null;
  /** requests admitted per UTC day; null: no daily limit */
  dailyRequests: number | null;
}

export type LimitRefusal = 1015 | 1027;

/** Cloudflare's burst limit (1,000 requests per minute). */
export const DEFAULT_BURST_PER_MINUTE = 1000;
/** The Workers Free plan's daily limit. */
export const FREE_PLAN_DAILY_REQUESTS = 100_000;

/** What `flarelet dev` applies without flags, and the two plan presets. */
export const DEFAULT_REQUEST_LIMITS: RequestLimitSettings = { burstPerMinute: DEFAULT_BURST_PER_MINUTE, dailyRequests: null };
export const PLAN_REQUEST_LIMITS: Readonly<Record<'free' | 'paid', RequestLimitSettings>> = {
  free: { burstPerMinute: DEFAULT_BURST_PER_MINUTE, dailyRequests: FREE_PLAN_DAILY_REQUESTS },
  paid: { burstPerMinute: null, dailyRequests: null },
};

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

/**
 * Reads a limit as a flag or config gives it: a whole number ≥ 0, or `off` / `none` / `unlimited`
 * for no limit. Throws an Error with a readable message otherwise.
 */
export function parseLimit(value: string, what: string): number | null {
  const text = value.trim().toLowerCase().replace(/[_,]/g, '');
  if (text === 'off' || text === 'none' || text === 'unlimited') return null;
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new Error(`${what} must be a whole number of requests (0 or more) or "off", got ${JSON.stringify(value)}`);
  }
  return Number(text);
}

interface WorkerCounters {
  /** index of the current one-minute window (epoch ms / 60 000) */
  minute: number;
  thisMinute: number;
  lastMinute: number;
  /** index of the current UTC day (epoch ms / 86 400 000) */
  day: number;
  today: number;
}

export class RequestLimits {
  private readonly clock: () => number;
  private readonly counters = new Map<string, WorkerCounters>();

  constructor(clock: () => number = Date.now) {
    this.clock = clock;
  }

  /**
   * Counts one request for `worker` and returns null, or refuses it (1027 when the day's
   * requests are used up, else 1015 when the burst limit is reached) without counting it.
   */
  admit(worker: string, limits: RequestLimitSettings): LimitRefusal | null {
    const { burstPerMinute, dailyRequests } = limits;
    if (burstPerMinute === null && dailyRequests === null) return null;
    const now = this.clock();
    const c = this.countersAt(worker, now);
    if (dailyRequests !== null && c.today >= dailyRequests) return 1027;
    if (burstPerMinute !== null && this.burstEstimate(c, now) >= burstPerMinute) return 1015;
    c.thisMinute++;
    c.today++;
    return null;
  }

  /**
   * Seconds until a request refused with `code` could be admitted, for a Retry-After header
   * (at least 1). For 1027 that is the next UTC midnight; for 1015 the moment the sliding
   * estimate drops below the limit, if nothing else arrives meanwhile.
   */
  retryAfterSeconds(worker: string, code: LimitRefusal, limits: RequestLimitSettings): number {
    const now = this.clock();
    if (code === 1027) return Math.max(1, Math.ceil(((Math.floor(now / DAY_MS) + 1) * DAY_MS - now) / 1000));
    const limit = limits.burstPerMinute;
    if (limit === null) return 1;
    const c = this.countersAt(worker, now);
    if (this.burstEstimate(c, now) < limit) return 1;
    const intoMinute = Math.max(0, now - c.minute * MINUTE_MS);
    let waitMs: number;
    if (c.thisMinute >= limit) {
      // Only the next window helps: there this minute's count is weighted below the limit.
      waitMs = MINUTE_MS - intoMinute;
    } else {
      // lastMinute · (1 − t/60 s) + thisMinute < limit  ⇔  t > 60 s · (1 − (limit − thisMinute) / lastMinute)
      waitMs = MINUTE_MS * (1 - (limit - c.thisMinute) / c.lastMinute) - intoMinute;
    }
    return Math.max(1, Math.ceil(waitMs / 1000));
  }

  /** Forgets a worker's counts (when it is removed, or to start afresh). */
  forget(worker: string): void {
    this.counters.delete(worker);
  }

  private burstEstimate(c: WorkerCounters, now: number): number {
    const intoMinute = Math.min(MINUTE_MS, Math.max(0, now - c.minute * MINUTE_MS));
    const overlap = (MINUTE_MS - intoMinute) / MINUTE_MS;
    return Math.floor(c.lastMinute * overlap) + c.thisMinute;
  }

  /** The worker's counters rolled forward to `now` (a clock that goes back rolls nothing). */
  private countersAt(worker: string, now: number): WorkerCounters {
    const minute = Math.floor(now / MINUTE_MS);
    const day = Math.floor(now / DAY_MS);
    let c = this.counters.get(worker);
    if (!c) {
      c = { minute, thisMinute: 0, lastMinute: 0, day, today: 0 };
      this.counters.set(worker, c);
      return c;
    }
    if (minute > c.minute) {
      c.lastMinute = minute === c.minute + 1 ? c.thisMinute : 0;
      c.thisMinute = 0;
      c.minute = minute;
    }
    if (day > c.day) {
      c.day = day;
      c.today = 0;
    }
    return c;
  }
}
