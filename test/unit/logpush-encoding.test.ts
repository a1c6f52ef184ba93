// What logpush sends: the workers_trace_events record of a trace event, NDJSON batches (gunzipped
// and parsed back), OTLP/HTTP logs JSON, destination_conf with header_* parameters, and the
// retry rules (which answers are retried, backoff with jitter, Retry-After).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { DATASET_FIELDS, datasetRecord, selectFields } from '../../src/observability/logpush/dataset.ts';
import { parseDestination } from '../../src/observability/logpush/destination.ts';
import { NdjsonEncoder, OtlpEncoder } from '../../src/observability/logpush/encoders.ts';
import { backoffMs, isRetryableStatus, retryAfterMs } from '../../src/observability/logpush/http-post.ts';
import type { TraceEvent } from '../../src/protocol/trace.ts';

const TS = Date.UTC(2026, 0, 31, 12, 0, 0);

function trace(overrides: Partial<TraceEvent> = {}): TraceEvent {
  return {
    wallTime: 12,
    cpuTime: 3,
    truncated: false,
    executionModel: 'stateless',
    outcome: 'exception',
    scriptVersion: { id: 'v-123' },
    scriptName: 'shop',
    diagnosticsChannelEvents: [],
    exceptions: [{ name: 'TypeError', message: 'x is not a function', stack: '    at fetch (shop.js:3:5)', timestamp: TS + 2 }],
    logs: [
      { message: ['hello', { n: 1 }], level: 'log', timestamp: TS + 1 },
      { message: ['careful'], level: 'warn', timestamp: TS + 1 },
    ],
    eventTimestamp: TS,
    event: {
      request: { url: 'https://shop.example/cart?id=1', method: 'POST', headers: { 'cf-ray': '8f0c1a2b3c4d5e6f-LCL', 'cf-connecting-ip': '127.0.0.1' }, cf: { colo: 'LCL' } },
      response: { status: 500 },
    },
    ...overrides,
  };
}

test('the dataset record: Cloudflare field names and nesting, fields in alphabetical order', () => {
  const record = datasetRecord(trace());
  assert.deepEqual(Object.keys(record), [...DATASET_FIELDS]);
  assert.deepEqual(record, {
    CPUTimeMs: 3,
    DispatchNamespace: '',
    Entrypoint: '',
    Event: { RayID: '8f0c1a2b3c4d5e6f', Request: { URL: 'https://shop.example/cart?id=1', Method: 'POST' }, Response: { Status: 500 } },
    EventTimestampMs: TS,
    EventType: 'fetch',
    Exceptions: [{ Name: 'TypeError', Message: 'x is not a function', TimestampMs: TS + 2 }],
    Logs: [
      { Level: 'log', Message: ['hello', { n: 1 }], TimestampMs: TS + 1 },
      { Level: 'warn', Message: ['careful'], TimestampMs: TS + 1 },
    ],
    Outcome: 'exception',
    ScriptName: 'shop',
    ScriptTags: [],
    ScriptVersion: { ID: 'v-123', Message: '', Tag: '' },
    WallTimeMs: 12,
  });
  assert.deepEqual(Object.keys((record.Event as Record<string, unknown>)), ['RayID', 'Request', 'Response']);
});

test('a canceled fetch has no Response; a scheduled event has Cron and ScheduledTimeMs', () => {
  const canceled = datasetRecord(trace({ outcome: 'canceled', event: { request: { url: 'https://a/', method: 'GET', headers: {}, cf: {} } } }));
  assert.deepEqual(canceled.Event, { RayID: '', Request: { URL: 'https://a/', Method: 'GET' } });
  const scheduled = datasetRecord(trace({ event: { cron: '*/5 * * * *', scheduledTime: TS } }));
  assert.equal(scheduled.EventType, 'scheduled');
  assert.deepEqual(scheduled.Event, { Cron: '*/5 * * * *', ScheduledTimeMs: TS });
  const unnamed = datasetRecord(trace({ scriptName: null, scriptVersion: undefined }));
  assert.equal(unnamed.ScriptName, '');
  assert.deepEqual(unnamed.ScriptVersion, { ID: '', Message: '', Tag: '' });
});

test('field_names keeps the chosen fields, in dataset order whatever order they were asked in', () => {
  const record = datasetRecord(trace());
  assert.deepEqual(selectFields(record, ['WallTimeMs', 'Outcome', 'ScriptName']), { Outcome: 'exception', ScriptName: 'shop', WallTimeMs: 12 });
  assert.equal(selectFields(record, null), record);
});

test('NDJSON batch: gzipped, one record per line, each line ending in \\n', async () => {
  const encoder = new NdjsonEncoder({ maxBytes: 1 << 20, fieldNames: null, redactCve202144228: false });
  for (let i = 0; i < 3; i++) assert.equal(encoder.add(trace({ eventTimestamp: TS + i })), true);
  const batch = await encoder.finish();
  assert.deepEqual(batch.headers, { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' });
  assert.equal(batch.events, 3);
  const text = gunzipSync(batch.body).toString('utf8');
  assert.equal(Buffer.byteLength(text), batch.uncompressedBytes);
  assert.ok(text.endsWith('\n'));
  const lines = text.split('\n').slice(0, -1);
  assert.equal(lines.length, 3);
  assert.deepEqual(lines.map((l) => JSON.parse(l).EventTimestampMs), [TS, TS + 1, TS + 2]);
  assert.deepEqual(JSON.parse(lines[0]!), datasetRecord(trace()));
});

test('NDJSON batch: the byte limit refuses the event that would cross it, but never the first one', async () => {
  const one = JSON.stringify(datasetRecord(trace())).length + 1;
  const encoder = new NdjsonEncoder({ maxBytes: one * 2 + 5, fieldNames: null, redactCve202144228: false });
  assert.equal(encoder.add(trace()), true);
  assert.equal(encoder.add(trace()), true);
  assert.equal(encoder.add(trace()), false);
  assert.equal(encoder.events, 2);
  const tiny = new NdjsonEncoder({ maxBytes: 10, fieldNames: null, redactCve202144228: false });
  assert.equal(tiny.add(trace()), true, 'one event always fits');
  assert.equal(tiny.add(trace()), false);
  assert.ok((await encoder.finish()).uncompressedBytes <= one * 2 + 5);
});

test('NDJSON batch: field_names and the CVE-2021-44228 option', async () => {
  const encoder = new NdjsonEncoder({ maxBytes: 1 << 20, fieldNames: ['Logs', 'ScriptName'], redactCve202144228: true });
  encoder.add(trace({ logs: [{ message: ['${jndi:ldap://x}'], level: 'log', timestamp: TS }] }));
  const record = JSON.parse(gunzipSync((await encoder.finish()).body).toString('utf8'));
  assert.deepEqual(record, { Logs: [{ Level: 'log', Message: ['x{jndi:ldap://x}'], TimestampMs: TS }], ScriptName: 'shop' });
});

/** Checks an OTLP JSON AnyValue: exactly one of the value kinds, of the right JSON type. */
function assertAnyValue(value: Record<string, unknown>): void {
  const keys = Object.keys(value);
  assert.equal(keys.length, 1, JSON.stringify(value));
  const [kind] = keys;
  const v = value[kind!];
  if (kind === 'stringValue') assert.equal(typeof v, 'string');
  else if (kind === 'boolValue') assert.equal(typeof v, 'boolean');
  else if (kind === 'intValue') assert.match(String(v), /^-?\d+$/);
  else if (kind === 'doubleValue') assert.equal(typeof v, 'number');
  else assert.fail(`unexpected AnyValue kind ${kind}`);
}

test('OTLP logs JSON: resource per worker, a record for the invocation, each console call and each exception', async () => {
  const encoder = new OtlpEncoder({ maxBytes: 1 << 20, version: '9.9.9' });
  encoder.add(trace());
  encoder.add(trace({ scriptName: 'blog', outcome: 'ok', logs: [], exceptions: [] }));
  encoder.add(trace({ eventTimestamp: TS + 10, outcome: 'canceled', logs: [], exceptions: [], event: { request: { url: 'https://shop.example/', method: 'GET', headers: {}, cf: {} } } }));
  const batch = await encoder.finish();
  assert.deepEqual(batch.headers, { 'content-type': 'application/json' });
  assert.equal(batch.events, 3);
  const payload = JSON.parse(batch.body.toString('utf8'));
  assert.deepEqual(Object.keys(payload), ['resourceLogs']);
  assert.equal(payload.resourceLogs.length, 2, 'one resource per worker');
  const [shop, blog] = payload.resourceLogs;
  assert.deepEqual(shop.resource.attributes.find((a: { key: string }) => a.key === 'service.name'), { key: 'service.name', value: { stringValue: 'shop' } });
  assert.deepEqual(blog.resource.attributes.find((a: { key: string }) => a.key === 'service.name').value, { stringValue: 'blog' });
  assert.deepEqual(shop.scopeLogs[0].scope, { name: 'flarelet', version: '9.9.9' });
  const records = shop.scopeLogs[0].logRecords;
  // Invocation, two console calls, one exception; then the canceled invocation.
  assert.equal(records.length, 5);
  for (const record of [...records, ...blog.scopeLogs[0].logRecords]) {
    assert.match(record.timeUnixNano, /^\d+$/);
    assert.match(record.observedTimeUnixNano, /^\d+$/);
    assert.equal(typeof record.severityNumber, 'number');
    assertAnyValue(record.body);
    for (const attribute of record.attributes) {
      assert.equal(typeof attribute.key, 'string');
      assertAnyValue(attribute.value);
    }
  }
  const attrs = (r: { attributes: { key: string; value: unknown }[] }) => Object.fromEntries(r.attributes.map((a) => [a.key, a.value]));
  const [invocation, log, warn, exception, canceled] = records;
  assert.equal(invocation.timeUnixNano, `${TS}000000`);
  assert.deepEqual([invocation.severityNumber, invocation.severityText], [17, 'ERROR']);
  assert.deepEqual(invocation.body, { stringValue: 'POST https://shop.example/cart?id=1' });
  assert.deepEqual(attrs(invocation), {
    'cloudflare.ray_id': { stringValue: '8f0c1a2b3c4d5e6f' },
    'cloudflare.outcome': { stringValue: 'exception' },
    'cloudflare.event_type': { stringValue: 'fetch' },
    'cloudflare.cpu_time_ms': { intValue: '3' },
    'cloudflare.wall_time_ms': { intValue: '12' },
    'cloudflare.script_version.id': { stringValue: 'v-123' },
    'http.request.method': { stringValue: 'POST' },
    'url.full': { stringValue: 'https://shop.example/cart?id=1' },
    'http.response.status_code': { intValue: '500' },
  });
  assert.deepEqual([log.severityNumber, log.severityText, log.body], [9, 'INFO', { stringValue: 'hello {"n":1}' }]);
  assert.equal(log.timeUnixNano, `${TS + 1}000000`);
  assert.deepEqual([warn.severityNumber, warn.severityText], [13, 'WARN']);
  assert.deepEqual([exception.severityNumber, exception.body], [17, { stringValue: 'TypeError: x is not a function' }]);
  assert.deepEqual(attrs(exception)['exception.stacktrace'], { stringValue: '    at fetch (shop.js:3:5)' });
  assert.deepEqual(attrs(exception)['exception.type'], { stringValue: 'TypeError' });
  assert.deepEqual([canceled.severityNumber, canceled.severityText], [13, 'WARN']);
  assert.equal(attrs(canceled)['http.response.status_code'], undefined);
  assert.deepEqual(blog.scopeLogs[0].logRecords[0].severityText, 'INFO');
});

test('destination_conf: header_* parameters become headers and leave the URL; the rest stays', () => {
  const d = parseDestination('https://logs.example.com/in?header_Authorization=Basic%20abc&tags=host:a,b&header_X-Team=blue&header_x-team=green');
  assert.equal(d.url.toString(), 'https://logs.example.com/in?tags=host%3Aa%2Cb');
  assert.deepEqual(d.headers, { authorization: 'Basic abc', 'x-team': 'blue, green' });
  assert.deepEqual(parseDestination('http://127.0.0.1:9/').headers, {});
});

test('destination_conf: other schemes, bad header names, reserved headers and URL credentials are refused', () => {
  assert.throws(() => parseDestination('s3://bucket/path?region=us-east-1'), /only http:\/\/ and https:\/\//);
  assert.throws(() => parseDestination('not a url'), /not a URL/);
  assert.throws(() => parseDestination('https://x/?header_Bad%20Name=1'), /valid HTTP header/);
  assert.throws(() => parseDestination('https://x/?header_Content-Encoding=br'), /set by Flarelet/);
  assert.throws(() => parseDestination('https://x/?header_X=a%0D%0Ab'), /line break/);
  assert.throws(() => parseDestination('https://user:pw@x/'), /credentials/);
});

test('retry rules: no answer, 408, 429 and 5xx are retried; other statuses are final', () => {
  for (const status of [408, 429, 500, 502, 503, 504, 599]) assert.equal(isRetryableStatus(status), true, String(status));
  for (const status of [301, 400, 401, 403, 404, 413, 422]) assert.equal(isRetryableStatus(status), false, String(status));
});

test('backoff: 1 s doubling to 60 s, each delay in the upper half of its step', () => {
  const steps = [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000];
  steps.forEach((step, i) => {
    assert.equal(backoffMs(i + 1, 1000, 60_000, () => 0), step / 2);
    assert.equal(backoffMs(i + 1, 1000, 60_000, () => 0.999999), step / 2 + 0.999999 * (step / 2));
  });
});

test('Retry-After in seconds or as an HTTP date', () => {
  assert.equal(retryAfterMs('7'), 7000);
  assert.equal(retryAfterMs(new Date(TS + 5000).toUTCString(), TS), 5000);
  assert.equal(retryAfterMs('soon'), null);
  assert.equal(retryAfterMs(undefined), null);
});
