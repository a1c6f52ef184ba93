// The Prometheus text exposition format, version 0.0.4: one `# HELP` and one `# TYPE` line per
// metric family, then one line per sample `name{label="value",…} number`. Label values escape
// backslash, double quote and line feed; HELP text escapes backslash and line feed. Numbers are
// Go-style floats: `+Inf`, `-Inf`, `NaN` spelled out.
import type { FixedHistogram } from './histogram.ts';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type Labels = Record<string, string>;

export interface Sample {
  /** appended to the family name: `_bucket`, `_sum`, `_count` for histograms, else empty */
  suffix?: string;
  labels: Labels;
  value: number;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function formatLabels(labels: Labels): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(labels)) {
    if (!LABEL_NAME.test(name) || name.startsWith('__')) throw new Error(`invalid Prometheus label name: ${name}`);
    parts.push(`${name}="${escapeLabelValue(value)}"`);
  }
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

/**
 * The `_bucket` / `_sum` / `_count` samples of one histogram series. `divisor` converts the unit
 * observed into the unit exported (1000: observed in ms, exported in seconds); dividing whole
 * numbers keeps the printed bounds and sums free of binary fractions (0.025, not 0.025000000000000001).
 */
export function histogramSamples(labels: Labels, histogram: FixedHistogram, divisor = 1): Sample[] {
  const samples: Sample[] = histogram.cumulative().map(([bound, count]) => ({
    suffix: '_bucket',
    labels: { ...labels, le: formatNumber(bound / divisor) },
    value: count,
  }));
  samples.push({ suffix: '_sum', labels, value: histogram.sum / divisor });
  samples.push({ suffix: '_count', labels, value: histogram.count });
  return samples;
}

export function renderFamilies(families: MetricFamily[]): string {
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const family of families) {
    if (!METRIC_NAME.test(family.name)) throw new Error(`invalid Prometheus metric name: ${family.name}`);
    if (seen.has(family.name)) throw new Error(`metric family rendered twice: ${family.name}`);
    seen.add(family.name);
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`);
    lines.push(`# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) {
      lines.push(`${family.name}${sample.suffix ?? ''}${formatLabels(sample.labels)} ${formatNumber(sample.value)}`);
    }
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}
