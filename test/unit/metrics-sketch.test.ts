// The quantile sketch behind the per-minute CPU / wall percentiles: every quantile it reports is
// within 1% of the exact nearest-rank value, it merges exactly, and its memory stays small.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QuantileSketch, RELATIVE_ERROR } from '../../src/observability/metrics/sketch.ts';

/** Exact nearest-rank quantile: the value at rank ⌈q·n⌉ (1-based) of the sorted data. */
function exact(sorted: number[], q: number): number {
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]!;
}

/** A deterministic pseudo-random generator (mulberry32), so a failure can be replayed. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const QUANTILES = [0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1];

function checkAgainstExact(values: number[]): void {
  const sketch = new QuantileSketch();
  for (const v of values) sketch.add(v);
  const sorted = [...values].sort((a, b) => a - b);
  for (const q of QUANTILES) {
    const want = exact(sorted, q);
    const got = sketch.quantile(q)!;
    if (want === 0) assert.equal(got, 0, `q=${q}`);
    else assert.ok(Math.abs(got - want) <= RELATIVE_ERROR * want + 1e-9, `q=${q}: got ${got}, exact ${want}`);
  }
}

test('heavy-tailed data (log-normal, 1 ms … minutes): every quantile within 1% of the exact value', () => {
  const random = rng(42);
  const values = Array.from({ length: 20_000 }, () => {
    const normal = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    return Math.exp(2 + 1.8 * normal);
  });
  checkAgainstExact(values);
});

test('whole-millisecond data with many zeros (typical CPU times)', () => {
  const random = rng(7);
  const values = Array.from({ length: 5000 }, () => (random() < 0.4 ? 0 : Math.floor(random() ** 3 * 400)));
  checkAgainstExact(values);
});

test('below 50 ms each bucket holds one whole number, so rounding the estimate gives the exact value', () => {
  const sketch = new QuantileSketch();
  for (let ms = 0; ms <= 49; ms++) sketch.add(ms);
  const sorted = Array.from({ length: 50 }, (_, i) => i);
  for (const q of QUANTILES) assert.equal(Math.round(sketch.quantile(q)!), exact(sorted, q), `q=${q}`);
});

test('an empty sketch has no quantiles; one value is every quantile', () => {
  const sketch = new QuantileSketch();
  assert.equal(sketch.quantile(0.5), null);
  sketch.add(123);
  for (const q of QUANTILES) assert.equal(sketch.quantile(q), 123);
  assert.equal(sketch.count, 1);
  assert.equal(sketch.sum, 123);
});

test('merging sketches equals sketching all the values at once', () => {
  const random = rng(99);
  const a = new QuantileSketch();
  const b = new QuantileSketch();
  const all = new QuantileSketch();
  for (let i = 0; i < 3000; i++) {
    const v = Math.floor(random() * 1000);
    (i % 3 === 0 ? a : b).add(v);
    all.add(v);
  }
  a.merge(b);
  assert.equal(a.count, all.count);
  assert.equal(a.sum, all.sum);
  for (const q of QUANTILES) assert.equal(a.quantile(q), all.quantile(q), `q=${q}`);
});

test('memory is the number of buckets in use: a few hundred for 1 ms … 3 hours', () => {
  const sketch = new QuantileSketch();
  for (let v = 1; v < 10_000_000; v = Math.ceil(v * 1.001)) sketch.add(v);
  assert.ok(sketch.size < 900, `${sketch.size} buckets`);
});

test('non-finite values are ignored rather than poisoning the sketch', () => {
  const sketch = new QuantileSketch();
  sketch.add(NaN);
  sketch.add(Infinity);
  sketch.add(5);
  assert.equal(sketch.count, 1);
  assert.equal(sketch.quantile(0.99), 5);
});
