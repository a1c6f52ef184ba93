// A cumulative histogram with fixed upper bounds, as Prometheus histograms are: counts per bucket
// since the process started, plus the sum and count of every observation. Fixed bounds make the
// series of every process and every scrape comparable (histogram_quantile works across them).

export class FixedHistogram {
  readonly bounds: readonly number[];
  private readonly counts: number[];
  count = 0;
  sum = 0;

  constructor(bounds: readonly number[]) {
    for (let i = 1; i < bounds.length; i++) {
      if (!(bounds[i]! > bounds[i - 1]!)) throw new Error('histogram bounds must increase');
    }
    this.bounds = bounds;
    this.counts = new Array(bounds.length).fill(0);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    this.count++;
    this.sum += value;
    // Bounds are few (a dozen): a linear scan beats a binary search's bookkeeping here.
    for (let i = 0; i < this.bounds.length; i++) {
      if (value <= this.bounds[i]!) {
        this.counts[i]!++;
        return;
      }
    }
  }

  /** [upper bound, observations ≤ bound] for each bound and then +Inf, as Prometheus wants them. */
  cumulative(): [number, number][] {
    const out: [number, number][] = [];
    let running = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      running += this.counts[i]!;
      out.push([this.bounds[i]!, running]);
    }
    out.push([Infinity, this.count]);
    return out;
  }
}
