// The Prometheus text exposition format 0.0.4 as /metrics renders it: HELP/TYPE lines, counters,
// cumulative histogram buckets ending in +Inf, and escaping of label values and help text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FixedHistogram } from '../../src/observability/metrics/histogram.ts';
import { escapeHelp, escapeLabelValue, formatNumber, histogramSamples, renderFamilies } from '../../src/observability/metrics/prometheus.ts';

/** A sample line of the 0.0.4 grammar: name, optional {label="value",…}, a float. */
const SAMPLE_LINE = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\\\|\\"|\\n|[^"\\\n])*",?)*\})? (NaN|[+-]Inf|-?\d+(\.\d+)?(e[+-]?\d+)?)$/;

test('label values escape backslash, double quote and line feed (and nothing else)', () => {
  assert.equal(escapeLabelValue('plain-name_1'), 'plain-name_1');
  assert.equal(escapeLabelValue('a\\b'), 'a\\\\b');
  assert.equal(escapeLabelValue('say "hi"'), 'say \\"hi\\"');
  assert.equal(escapeLabelValue('two\nlines'), 'two\\nlines');
  assert.equal(escapeLabelValue('tab\there é'), 'tab\there é');
});

test('help text escapes backslash and line feed but keeps quotes', () => {
  assert.equal(escapeHelp('a "b" c\\d\ne'), 'a "b" c\\\\d\\ne');
});

test('numbers: integers, fractions, infinities and NaN spelled as Prometheus wants', () => {
  assert.equal(formatNumber(3), '3');
  assert.equal(formatNumber(0.025), '0.025');
  assert.equal(formatNumber(Infinity), '+Inf');
  assert.equal(formatNumber(-Infinity), '-Inf');
  assert.equal(formatNumber(NaN), 'NaN');
});

test('a counter family renders HELP, TYPE and one line per sample with escaped labels', () => {
  const text = renderFamilies([
    {
      name: 'flarelet_worker_requests_total',
      help: 'Requests.\nSecond line',
      type: 'counter',
      samples: [
        { labels: { script_name: 'w', outcome: 'ok' }, value: 2 },
        { labels: { script_name: 'we"ird\\name\n', outcome: 'exception' }, value: 1 },
      ],
    },
  ]);
  assert.equal(
    text,
    '# HELP flarelet_worker_requests_total Requests.\\nSecond line\n' +
      '# TYPE flarelet_worker_requests_total counter\n' +
      'flarelet_worker_requests_total{script_name="w",outcome="ok"} 2\n' +
      'flarelet_worker_requests_total{script_name="we\\"ird\\\\name\\n",outcome="exception"} 1\n',
  );
  for (const line of text.trimEnd().split('\n')) if (!line.startsWith('#')) assert.match(line, SAMPLE_LINE);
});

test('a histogram renders cumulative _bucket lines ending with le="+Inf", then _sum and _count', () => {
  const histogram = new FixedHistogram([1, 5, 25]);
  for (const ms of [0, 1, 2, 5, 7, 30, 100]) histogram.observe(ms);
  const text = renderFamilies([
    { name: 'flarelet_worker_cpu_time_seconds', help: 'CPU.', type: 'histogram', samples: histogramSamples({ script_name: 'w' }, histogram, 1000) },
  ]);
  assert.equal(
    text,
    '# HELP flarelet_worker_cpu_time_seconds CPU.\n' +
      '# TYPE flarelet_worker_cpu_time_seconds histogram\n' +
      'flarelet_worker_cpu_time_seconds_bucket{script_name="w",le="0.001"} 2\n' +
      'flarelet_worker_cpu_time_seconds_bucket{script_name="w",le="0.005"} 4\n' +
      'flarelet_worker_cpu_time_seconds_bucket{script_name="w",le="0.025"} 5\n' +
      'flarelet_worker_cpu_time_seconds_bucket{script_name="w",le="+Inf"} 7\n' +
      'flarelet_worker_cpu_time_seconds_sum{script_name="w"} 0.145\n' +
      'flarelet_worker_cpu_time_seconds_count{script_name="w"} 7\n',
  );
  for (const line of text.trimEnd().split('\n')) if (!line.startsWith('#')) assert.match(line, SAMPLE_LINE);
});

test('a family without samples still declares itself; nothing at all renders as an empty body', () => {
  assert.equal(renderFamilies([{ name: 'x_total', help: 'h', type: 'counter', samples: [] }]), '# HELP x_total h\n# TYPE x_total counter\n');
  assert.equal(renderFamilies([]), '');
});

test('invalid metric or label names and duplicate families are refused, not rendered', () => {
  assert.throws(() => renderFamilies([{ name: '1bad', help: '', type: 'gauge', samples: [] }]), /invalid Prometheus metric name/);
  assert.throws(() => renderFamilies([{ name: 'ok', help: '', type: 'gauge', samples: [{ labels: { 'bad-name': 'x' }, value: 1 }] }]), /invalid Prometheus label name/);
  assert.throws(() => renderFamilies([{ name: 'ok', help: '', type: 'gauge', samples: [{ labels: { __reserved: 'x' }, value: 1 }] }]), /invalid Prometheus label name/);
  const family = { name: 'twice', help: '', type: 'gauge' as const, samples: [] };
  assert.throws(() => renderFamilies([family, family]), /rendered twice/);
});

test('histogram bounds must increase', () => {
  assert.throws(() => new FixedHistogram([1, 1]), /must increase/);
  assert.throws(() => new FixedHistogram([5, 2]), /must increase/);
});
