// A quantile sketch with a bounded relative error (the DDSketch idea): each positive value falls
// in the bucket ⌈log_γ(v)⌉ with γ = (1+α)/(1−α), and a bucket is represented by the value whose
// relative distance to both of its edges is α. Any quantile read back is therefore within α (1%)
// of the true value of that rank, however skewed the data, and the memory is the number of
// distinct buckets in use: about 120 per decade of values, so a few hundred at most for times
// between 1 ms and hours. Values ≤ 0 are counted apart (CPU time is often 0 ms). Sketches of
// several minutes merge exactly (bucket counts add), which a list of percentiles could not do.

export const RELATIVE_ERROR = 0.01;
const GAMMA = (1 + RELATIVE_ERROR) / (1 - RELATIVE_ERROR);
const LOG_GAMMA = Math.log(GAMMA);

export class QuantileSketch {
  private readonly buckets = new Map<number, number>();
  private zeros = 0;
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;

  add(value: number, times = 1): void {
    if (!Number.isFinite(value) || times <= 0) return;
    if (value <= 0) this.zeros += times;
    else {
      const key = Math.ceil(Math.log(value) / LOG_GAMMA);
      this.buckets.set(key, (this.buckets.get(key) ?? 0) + times);
    }
    this.count += times;
    this.sum += value * times;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }

  merge(other: QuantileSketch): void {
    for (const [key, n] of other.buckets) this.buckets.set(key, (this.buckets.get(key) ?? 0) + n);
    this.zeros += other.zeros;
    this.count += other.count;
    this.sum += other.sum;
    if (other.min < this.min) this.min = other.min;
    if (other.max > this.max) this.max = other.max;
  }

  /**
   * The value of nearest rank ⌈q·n⌉ (q in [0, 1]), within 1% relative error; null when empty.
   * The estimate is clamped to the observed minimum and maximum, so p0 and p100 are exact.
   */
  quantile(q: number): number | null {
    if (this.count === 0) return null;
    const rank = Math.max(1, Math.ceil(Math.min(1, Math.max(0, q)) * this.count));
    if (rank <= this.zeros) return Math.max(this.min, 0);
    let seen = this.zeros;
    const keys = [...this.buckets.keys()].sort((a, b) => a - b);
    for (const key of keys) {
      seen += this.buckets.get(key)!;
      if (seen >= rank) {
        const estimate = (2 * GAMMA ** key) / (GAMMA + 1);
        return Math.min(this.max, Math.max(this.min, estimate));
      }
    }
    return this.max;
  }

  /** Buckets in use (a measure of the memory it holds). */
  get size(): number {
    return this.buckets.size + (this.zeros > 0 ? 1 : 0);
  }
}
