// Sampling mode of one tail session. Cloudflare's tail stops sending every event once a session
// gets more than it can carry (the seeds: 200 events/s) and says so with an "overload" notice;
// when the volume is back under the limit it says "overload-stop" and sends everything again.
//
// Flarelet's rule (Cloudflare documents none): the rate is counted in one-second windows of the
// events that passed the session's filters. Once a window holds more than `limit` events the
// session samples: every later event is kept with probability limit / (events of the previous
// window), and never more than `limit` per window, so a client gets at most `limit` events/s,
// spread over each second. A full window with at most `limit` events ends sampling.

export type SamplingNotice = 'overload' | 'overload-stop';

export interface OverloadSamplerOptions {
  /** events per second a session may receive before it samples */
  limit: number;
  /** told when sampling starts and ends, before the event that caused it is decided */
  onNotice: (notice: SamplingNotice) => void;
  now?: () => number;
  random?: () => number;
}

const WINDOW_MS = 1000;

export class OverloadSampler {
  readonly limit: number;
  readonly #onNotice: (notice: SamplingNotice) => void;
  readonly #now: () => number;
  readonly #random: () => number;
  #windowStart: number;
  #offered = 0;
  #admitted = 0;
  #previousOffered = 0;
  #sampling = false;

  constructor(options: OverloadSamplerOptions) {
    this.limit = options.limit;
    this.#onNotice = options.onNotice;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.#windowStart = this.#now();
  }

  get sampling(): boolean {
    return this.#sampling;
  }

  /** One event passed the filters: true when it is to be sent, false when sampling drops it. */
  offer(): boolean {
    this.tick();
    this.#offered++;
    if (!this.#sampling) {
      if (this.#offered <= this.limit) {
        this.#admitted++;
        return true;
      }
      this.#sampling = true;
      this.#onNotice('overload');
    }
    if (this.#admitted >= this.limit) return false;
    const keep = this.#previousOffered > this.limit ? this.limit / this.#previousOffered : 1;
    if (keep < 1 && this.#random() >= keep) return false;
    this.#admitted++;
    return true;
  }

  /**
   * Closes the window when a second has passed. Called by offer() and, while sampling, by a timer,
   * so that "overload-stop" is sent even when the traffic simply stops.
   */
  tick(): void {
    const now = this.#now();
    const elapsed = now - this.#windowStart;
    if (elapsed < WINDOW_MS) return;
    // A gap of more than one window means the window just before now held nothing.
    this.#previousOffered = elapsed < 2 * WINDOW_MS ? this.#offered : 0;
    this.#windowStart = now - (elapsed % WINDOW_MS);
    this.#offered = 0;
    this.#admitted = 0;
    if (this.#sampling && this.#previousOffered <= this.limit) {
      this.#sampling = false;
      this.#onNotice('overload-stop');
    }
  }
}
