// Checks of a logpush job body (Cloudflare's Logpush job API): defaults, each field's rule and
// message, PUT semantics (every field optional), the public shape, and the batch limits in use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { batchLimits, jobFromCreate, jobFromUpdate, publicJob } from '../../src/observability/logpush/jobs.ts';

const base = { destination_conf: 'https://logs.example.com/in', dataset: 'workers_trace_events' };

test('a minimal job: Cloudflare defaults (disabled, no name, high frequency) and Cloudflare key order', () => {
  const job = jobFromCreate(base, 7);
  assert.deepEqual(publicJob(job), {
    id: 7,
    dataset: 'workers_trace_events',
    enabled: false,
    name: null,
    logpull_options: null,
    output_options: null,
    destination_conf: 'https://logs.example.com/in',
    last_complete: null,
    last_error: null,
    error_message: null,
    frequency: 'high',
    kind: '',
    max_upload_bytes: null,
    max_upload_records: null,
    max_upload_interval_seconds: null,
  });
  assert.deepEqual(batchLimits(job), { maxRecords: 1000, maxBytes: 5_000_000, maxDelayMs: 1000 });
});

test('every supported field is kept', () => {
  const job = jobFromCreate({
    ...base,
    name: 'my-job.example',
    enabled: true,
    output_options: { field_names: ['Outcome', 'ScriptName'], output_type: 'ndjson', sample_rate: 0.5, timestamp_format: 'unixnano', 'CVE-2021-44228': true },
    frequency: 'low',
    kind: '',
    filter: '',
    logpull_options: null,
    ownership_challenge: 'ignored for http',
    max_upload_bytes: 2048,
    max_upload_records: 10,
    max_upload_interval_seconds: 2,
  }, 1);
  assert.equal(job.name, 'my-job.example');
  assert.equal(job.enabled, true);
  assert.deepEqual(job.output_options, { field_names: ['Outcome', 'ScriptName'], output_type: 'ndjson', sample_rate: 0.5, timestamp_format: 'unixnano', 'CVE-2021-44228': true });
  assert.deepEqual(batchLimits(job), { maxRecords: 10, maxBytes: 2048, maxDelayMs: 2000 });
  assert.equal(job.frequency, 'low');
});

test('bad bodies are refused with a message naming the field', () => {
  const bad: [unknown, RegExp][] = [
    [null, /must be a JSON object/],
    [[], /must be a JSON object/],
    [{ dataset: 'workers_trace_events' }, /destination_conf is required/],
    [{ destination_conf: 'https://x/' }, /dataset is required/],
    [{ ...base, dataset: 'http_requests' }, /Flarelet pushes the workers_trace_events dataset only/],
    [{ ...base, destination_conf: 's3://bucket' }, /only http:\/\/ and https:\/\//],
    [{ ...base, destination_conf: 'https://x/' + 'a'.repeat(5000) }, /longer than 4096/],
    [{ ...base, name: 'has space' }, /name may hold only/],
    [{ ...base, enabled: 'yes' }, /enabled must be true or false/],
    [{ ...base, colour: 'red' }, /unknown field "colour"/],
    [{ ...base, max_upload_records: 1.5 }, /max_upload_records must be an integer from 1 to 1000000/],
    [{ ...base, max_upload_bytes: 10 }, /max_upload_bytes must be an integer from 1024/],
    [{ ...base, max_upload_interval_seconds: 301 }, /max_upload_interval_seconds must be an integer from 1 to 300/],
    [{ ...base, output_options: { field_names: ['Nope'] } }, /Nope not in workers_trace_events/],
    [{ ...base, output_options: { field_names: [] } }, /non-empty list/],
    [{ ...base, output_options: { output_type: 'csv' } }, /"ndjson" or "otlp"/],
    [{ ...base, output_options: { sample_rate: 0 } }, /sample_rate must be a number above 0/],
    [{ ...base, output_options: { batch_prefix: '[' } }, /output_options.batch_prefix is not supported/],
    [{ ...base, output_options: 'x' }, /output_options must be an object/],
    [{ ...base, filter: '{"where":{}}' }, /filter is not supported/],
    [{ ...base, logpull_options: 'fields=A' }, /logpull_options is not supported/],
    [{ ...base, kind: 'edge' }, /kind "edge" is not supported/],
    [{ ...base, frequency: 'often' }, /frequency must be "high" or "low"/],
  ];
  for (const [body, message] of bad) assert.throws(() => jobFromCreate(body, 1), message, JSON.stringify(body).slice(0, 80));
});

test('0 or null for an upload limit means the default', () => {
  const job = jobFromCreate({ ...base, max_upload_records: 0, max_upload_bytes: null, max_upload_interval_seconds: 0 }, 1);
  assert.deepEqual(batchLimits(job), { maxRecords: 1000, maxBytes: 5_000_000, maxDelayMs: 1000 });
});

test('an update changes only the fields it names and keeps id, status and dataset', () => {
  const job = { ...jobFromCreate({ ...base, name: 'a', max_upload_records: 5 }, 3), last_complete: '2026-01-01T00:00:00.000Z' };
  const updated = jobFromUpdate(job, { enabled: true, destination_conf: 'http://127.0.0.1:1/?header_X=1' });
  assert.equal(updated.id, 3);
  assert.equal(updated.name, 'a');
  assert.equal(updated.enabled, true);
  assert.equal(updated.max_upload_records, 5);
  assert.equal(updated.destination_conf, 'http://127.0.0.1:1/?header_X=1');
  assert.equal(updated.last_complete, '2026-01-01T00:00:00.000Z');
  assert.throws(() => jobFromUpdate(job, { dataset: 'dns_logs' }), /workers_trace_events dataset only/);
  assert.throws(() => jobFromUpdate(job, { enabled: 1 }), /enabled must be true or false/);
  assert.equal(job.enabled, false, 'a refused update leaves the job as it was');
});
