import { test } from 'node:test';
import assert from 'node:assert/strict';
import { format } from 'node:util';
import { formatMessagesSync } from 'esbuild';
import { connectedLine, formatPretty, prettifyOutcome } from '../../src/observability/pretty.ts';
import type { Outcome, TraceEvent } from '../../src/protocol/trace.ts';

const TS = Date.UTC(2026, 10, 21, 19, 6, 55);

function trace(overrides: Partial<TraceEvent> = {}): TraceEvent {
  return {
    wallTime: 5,
    cpuTime: 1,
    truncated: false,
    executionModel: 'stateless',
    outcome: 'ok',
    scriptName: 'w',
    diagnosticsChannelEvents: [],
    exceptions: [],
    logs: [],
    eventTimestamp: TS,
    event: { request: { url: 'https://host/path', method: 'get', headers: {}, cf: {} }, response: { status: 200 } },
    ...overrides,
  };
}

/** What wrangler's logger.error prints: esbuild's error block, first line as text, the rest as notes. */
function esbuildErrorBlock(text: string, color: boolean): string {
  const [first, ...rest] = text.split('\n');
  const notes = rest.length > 0 ? rest.map((line) => ({ text: line })) : undefined;
  return formatMessagesSync([{ text: first!, notes }], { color, kind: 'error' })[0]!;
}

test('connected line', () => {
  assert.equal(connectedLine('my-worker'), 'Connected to my-worker, waiting for logs...');
});

test('fetch header: METHOD url - Outcome @ local date-time', () => {
  const { stdout, stderr } = formatPretty(trace());
  assert.deepStrictEqual(stdout, [`GET https://host/path - Ok @ ${new Date(TS).toLocaleString()}`]);
  assert.deepStrictEqual(stderr, []);
  // With the en-US locale that is wrangler's familiar "11/21/2026, 7:06:55 PM" shape.
  assert.match(new Date(TS).toLocaleString('en-US', { timeZone: 'UTC' }), /^11\/21\/2026, 7:06:55\sPM$/);
});

test('outcome labels', () => {
  const expected: [Outcome, string][] = [
    ['ok', 'Ok'], ['canceled', 'Canceled'], ['exceededCpu', 'Exceeded CPU Limit'],
    ['exceededMemory', 'Exceeded Memory Limit'], ['exception', 'Exception Thrown'], ['unknown', 'Unknown'],
    ['responseStreamDisconnected', 'Unknown'], ['internalError', 'Unknown'], ['exceededWallTime', 'Unknown'],
  ];
  for (const [outcome, label] of expected) assert.equal(prettifyOutcome(outcome), label);
  assert.match(formatPretty(trace({ outcome: 'exceededCpu' })).stdout[0]!, / - Exceeded CPU Limit @ /);
});

test('logs: "  (level)" then the arguments through util.format', () => {
  const { stdout } = formatPretty(trace({
    logs: [
      { message: ['hello', 'world'], level: 'log', timestamp: TS },
      { message: [{ a: 1, b: [1, 2] }, 3, null], level: 'warn', timestamp: TS },
      { message: ['%s is not substituted', 'x'], level: 'error', timestamp: TS },
      { message: [], level: 'debug', timestamp: TS },
    ],
  }));
  assert.deepStrictEqual(stdout.slice(1), [
    '  (log) hello world',
    "  (warn) { a: 1, b: [ 1, 2 ] } 3 null",
    '  (error) %s is not substituted x',
    '  (debug)',
  ]);
  assert.equal(stdout[2], format('  (warn)', { a: 1, b: [1, 2] }, 3, null));
});

test('exceptions go to stderr framed exactly as wrangler (esbuild) frames them', () => {
  const exceptions = [
    { stack: '    at fetch (worker.js:3:11)\n    at async dispatch (worker.js:9:1)', name: 'TypeError', message: 'x is not a function', timestamp: TS },
    { name: 'Error', message: 'no stack', timestamp: TS },
    { stack: '\tat weird\n\n  at gap', name: 'E', message: 'é ✓', timestamp: TS },
  ];
  for (const color of [true, false]) {
    const { stdout, stderr } = formatPretty(trace({ outcome: 'exception', exceptions }), { color });
    assert.equal(stdout.length, 1);
    assert.deepStrictEqual(stderr, [
      esbuildErrorBlock('TypeError: x is not a function\n    at fetch (worker.js:3:11)\n    at async dispatch (worker.js:9:1)', color),
      esbuildErrorBlock('Error: no stack', color),
      esbuildErrorBlock('E: é ✓\n\tat weird\n\n  at gap', color),
    ]);
  }
  assert.equal(
    formatPretty(trace({ exceptions: [exceptions[0]!] }), { color: false }).stderr[0],
    '✘ [ERROR] TypeError: x is not a function\n\n      at fetch (worker.js:3:11)\n      at async dispatch (worker.js:9:1)\n\n',
  );
});

test('a request with no URL prints [missing request]', () => {
  const { stdout } = formatPretty(trace({ event: { request: { url: '', method: 'GET', headers: {}, cf: {} } } }));
  assert.equal(stdout[0], `[missing request] - Ok @ ${new Date(TS).toLocaleString()}`);
});

test('scheduled, unknown and other event kinds use wrangler headers', () => {
  const scheduledTime = TS + 1000;
  assert.equal(
    formatPretty(trace({ event: { cron: '*/5 * * * *', scheduledTime } })).stdout[0],
    `"*/5 * * * *" @ ${new Date(scheduledTime).toLocaleString()} - Ok`,
  );
  const at = new Date(TS).toLocaleString();
  assert.equal(formatPretty(trace({ event: null })).stdout[0], `Unknown Event - Ok @ ${at}`);
  const other = (event: unknown, extra: object = {}) =>
    formatPretty({ ...trace(), ...extra, event } as unknown as TraceEvent).stdout[0];
  assert.equal(other({ queue: 'jobs', batchSize: 1 }), `Queue jobs (1 message) - Ok @ ${at}`);
  assert.equal(other({ queue: 'jobs', batchSize: 3 }), `Queue jobs (3 messages) - Ok @ ${at}`);
  assert.equal(other({ mailFrom: 'a@x', rcptTo: 'b@y', rawSize: 10 }), `Email from:a@x to:b@y size:10 @ ${at} - Ok`);
  assert.equal(other({ rpcMethod: 'go' }, { entrypoint: 'Api' }), `Api.go - Ok @ ${at}`);
  assert.equal(other({ consumedEvents: [{ scriptName: 'a' }, {}, { scriptName: 'a' }, { scriptName: 'b' }] }), `Tailing a,b - Ok @ ${at}`);
});

test('tail notices print their message, coloured like wrangler when colour is on', () => {
  const overload = { event: { type: 'overload' as const, message: 'Tail is currently in sampling mode.' } };
  assert.deepStrictEqual(formatPretty(overload, { color: false }), { stdout: ['Tail is currently in sampling mode.'], stderr: [] });
  assert.deepStrictEqual(formatPretty(overload).stdout, ['\x1b[31m\x1b[1mTail is currently in sampling mode.\x1b[22m\x1b[39m']);
  const stop = { event: { type: 'overload-stop' as const, message: 'done' } };
  assert.deepStrictEqual(formatPretty(stop).stdout, ['\x1b[33m\x1b[1mdone\x1b[22m\x1b[39m']);
});

test('worker text cannot drive the terminal: control characters are escaped, tab and newline kept', () => {
  const out = formatPretty({
    wallTime: 1, cpuTime: 1, truncated: false, executionModel: 'stateless', outcome: 'exception', scriptName: 'w',
    diagnosticsChannelEvents: [], exceptions: [{ name: 'Error', message: 'bad\u001b]0;title\u0007', timestamp: 0 }],
    logs: [{ message: ['\u001b[2Jcleared\tok'], level: 'log', timestamp: 0 }], eventTimestamp: 0, event: null,
  }, { color: false });
  assert.equal(out.stdout.at(-1), '  (log) \\u001b[2Jcleared\tok');
  assert.ok(out.stderr[0].includes('bad\\u001b]0;title\\u0007'));
});
