// `flarelet tail` flags → the filter list, exactly as wrangler translates the same flags
// (wrangler/src/tail/filters.ts), and clear usage errors for bad flags.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../../src/cli/args.ts';
import { RECONNECT_BACKOFF_MS, tailOptions } from '../../src/cli/tail.ts';

describe('flarelet tail flags', () => {
  test('defaults: the local API port, json when stdout is not a terminal, pretty when it is', () => {
    assert.deepEqual(tailOptions(['w'], false), { worker: 'w', apiUrl: 'http://127.0.0.1:8788', format: 'json', filters: [], debug: false });
    assert.equal(tailOptions(['w'], true)?.format, 'pretty');
    assert.equal(tailOptions(['w', '--format', 'json'], true)?.format, 'json');
  });

  test('every filter flag, in wrangler\'s order whatever the order on the command line', () => {
    const options = tailOptions([
      'w', '--version-id', 'v9', '--search', 'needle', '--ip', 'self', '--ip', '10.1.2.3', '--header', ' X-Probe : yes ',
      '--method', 'GET', '--method', 'POST', '--status', 'error', '--status', 'ok', '--sampling-rate', '0.25', '--debug',
      '--url', 'http://127.0.0.1:9999/', '--format', 'pretty',
    ], false);
    assert.deepEqual(options, {
      worker: 'w',
      apiUrl: 'http://127.0.0.1:9999',
      format: 'pretty',
      debug: true,
      filters: [
        { sampling_rate: 0.25 },
        { outcome: ['exception', 'exceededCpu', 'exceededMemory', 'unknown', 'ok'] },
        { method: ['GET', 'POST'] },
        { header: { key: 'X-Probe', query: 'yes' } },
        { client_ip: ['self', '10.1.2.3'] },
        { query: 'needle' },
        { scriptVersion: 'v9' },
      ],
    });
  });

  test('--header NAME without a value filters on presence; --status canceled', () => {
    assert.deepEqual(tailOptions(['w', '--header', 'x-a', '--status', 'canceled'], false)?.filters, [{ outcome: ['canceled'] }, { header: { key: 'x-a' } }]);
  });

  test('--help', () => {
    assert.equal(tailOptions(['--help'], false), null);
  });

  const bad: [string[], RegExp][] = [
    [[], /which worker\?/],
    [['a', 'b'], /one worker at a time/],
    [['Bad Name'], /not a valid worker name/],
    [['w', '--format', 'yaml'], /--format must be json or pretty/],
    [['w', '--status', 'failed'], /--status must be ok, error or canceled, got failed/],
    [['w', '--sampling-rate', '1'], /--sampling-rate must be a number between 0 and 1/],
    [['w', '--sampling-rate', 'half'], /--sampling-rate must be a number between 0 and 1/],
    [['w', '--ip', 'localhost'], /--ip must be an IP address or self/],
    [['w', '--method', 'GE T'], /--method must be an HTTP method/],
    [['w', '--header', ':x'], /--header takes NAME or NAME:TEXT/],
    [['w', '--url', 'not a url'], /--url must be a URL/],
    [['w', '--url', 'ftp://h/'], /--url must be an http/],
    [['w', '--search', ''], /--search needs some text/],
    [['w', '--bogus'], /unknown option --bogus/],
    [['w', '--method'], /--method needs a value/],
  ];
  for (const [argv, message] of bad) {
    test(`usage error: ${argv.join(' ') || '(nothing)'}`, () => {
      assert.throws(() => tailOptions(argv, false), (error: unknown) => error instanceof UsageError && message.test(error.message));
    });
  }

  test('reconnect back-off: 1, 2, 4, 8, 16 s (then 16 s)', () => {
    assert.deepEqual(RECONNECT_BACKOFF_MS, [1000, 2000, 4000, 8000, 16000]);
  });
});
