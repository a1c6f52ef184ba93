// Tail filters (spec §5): the list wrangler sends is accepted as it is, malformed filters are refused
// with a message that names them, and each filter keeps exactly the events it should.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { blockingFilter, normalizeIp, parseTailFilters, TailFilterError } from '../../src/observability/tail/filters.ts';
import type { TailFilter } from '../../src/observability/tail/filters.ts';
import { FILTERED_BY_KEY, markFilteredOut, noticeEvent, OVERLOAD_MESSAGE, OVERLOAD_STOP_MESSAGE } from '../../src/observability/tail/notices.ts';
import type { TraceEvent } from '../../src/protocol/trace.ts';

const SELF = { selfIp: '10.0.0.7' };

function fetchEvent(overrides: Partial<TraceEvent> & { method?: string; headers?: Record<string, string>; ip?: string } = {}): TraceEvent {
  const { method = 'GET', headers = {}, ip = '127.0.0.1', ...rest } = overrides;
  return {
    wallTime: 1,
    cpuTime: 0,
    truncated: false,
    executionModel: 'stateless',
    outcome: 'ok',
    scriptName: 'w',
    diagnosticsChannelEvents: [],
    exceptions: [],
    logs: [],
    eventTimestamp: 1_700_000_000_000,
    event: { request: { url: 'https://w.example/', method, headers: { 'cf-connecting-ip': ip, ...headers }, cf: {} }, response: { status: 200 } },
    ...rest,
  };
}

const keeps = (filters: TailFilter[], event: TraceEvent, random = () => 0.5) => blockingFilter(filters, event, random) === null;

describe('parsing', () => {
  test('accepts exactly what wrangler sends for every flag, in its order', () => {
    // wrangler tail --sampling-rate 0.5 --status error --status ok --method GET --header x-a:b --ip self --search needle --version-id v1
    const body = {
      filters: [
        { sampling_rate: 0.5 },
        { outcome: ['exception', 'exceededCpu', 'exceededMemory', 'unknown', 'ok'] },
        { method: ['GET'] },
        { header: { key: 'x-a', query: 'b' } },
        { client_ip: ['self'] },
        { query: 'needle' },
        { scriptVersion: 'v1' },
      ],
    };
    const filters = parseTailFilters(body, SELF);
    assert.deepEqual(filters.map((f) => f.name), ['sampling_rate', 'outcome', 'method', 'header', 'client_ip', 'query', 'scriptVersion']);
    assert.deepEqual(filters.map((f) => f.message), body.filters, 'each filter remembers what the client sent');
  });

  test('no body, no list, an empty list: no filter', () => {
    assert.deepEqual(parseTailFilters(undefined, SELF), []);
    assert.deepEqual(parseTailFilters({}, SELF), []);
    assert.deepEqual(parseTailFilters({ filters: [] }, SELF), []);
  });

  const refused: [string, unknown, RegExp][] = [
    ['a body that is not an object', [1], /must be a JSON object/],
    ['filters that are not a list', { filters: { method: ['GET'] } }, /"filters" must be an array/],
    ['a filter that is not an object', { filters: ['GET'] }, /filters\[0\] must be an object/],
    ['a filter with two keys', { filters: [{ method: ['GET'], outcome: ['ok'] }] }, /filters\[0\] must have exactly one key .*got method, outcome/],
    ['an unknown filter', { filters: [{ colo: ['LAX'] }] }, /filters\[0\]: unknown filter "colo"/],
    ['sampling_rate 0', { filters: [{ sampling_rate: 0 }] }, /"sampling_rate" must be a number greater than 0 and at most 1, got 0/],
    ['sampling_rate as text', { filters: [{ sampling_rate: '0.5' }] }, /"sampling_rate" must be a number/],
    ['sampling_rate above 1', { filters: [{ sampling_rate: 1.5 }] }, /"sampling_rate"/],
    ['an unknown outcome', { filters: [{ outcome: ['error'] }] }, /"outcome" has an unknown outcome "error"/],
    ['an empty outcome list', { filters: [{ outcome: [] }] }, /"outcome" must be a non-empty array/],
    ['a method that is not a token', { filters: [{ method: ['GET /'] }] }, /"method" has an invalid HTTP method "GET \/"/],
    ['a method that is a number', { filters: [{ method: [1] }] }, /"method" must hold strings only, got 1/],
    ['a header without key', { filters: [{ header: { query: 'x' } }] }, /"header" needs a non-empty "key"/],
    ['a header as text', { filters: [{ header: 'x-a:b' }] }, /"header" must be an object/],
    ['a header query that is a number', { filters: [{ header: { key: 'a', query: 1 } }] }, /"header" "query" must be a string/],
    ['a header with an extra field', { filters: [{ header: { key: 'a', value: 'b' } }] }, /"header" has unknown fields: value/],
    ['a client_ip that is no IP', { filters: [{ client_ip: ['localhost'] }] }, /"client_ip" has "localhost", which is neither an IP address nor "self"/],
    ['an empty query', { filters: [{ query: '' }] }, /"query" must be a non-empty string/],
    ['a scriptVersion that is a number', { filters: [{ scriptVersion: 3 }] }, /"scriptVersion" must be a non-empty version id/],
  ];
  for (const [what, body, message] of refused) {
    test(`refuses ${what} with a message naming it`, () => {
      assert.throws(() => parseTailFilters(body, SELF), (error: unknown) => error instanceof TailFilterError && message.test(error.message));
    });
  }

  test('the second bad filter is named by its position', () => {
    assert.throws(() => parseTailFilters({ filters: [{ method: ['GET'] }, { outcome: ['nope'] }] }, SELF), /filters\[1\]: "outcome"/);
  });
});

describe('evaluation', () => {
  test('outcome: --status error keeps failures only', () => {
    const filters = parseTailFilters({ filters: [{ outcome: ['exception', 'exceededCpu', 'exceededMemory', 'unknown'] }] }, SELF);
    assert.equal(keeps(filters, fetchEvent({ outcome: 'exception' })), true);
    assert.equal(keeps(filters, fetchEvent({ outcome: 'exceededCpu' })), true);
    assert.equal(keeps(filters, fetchEvent({ outcome: 'ok' })), false);
    assert.equal(keeps(filters, fetchEvent({ outcome: 'canceled' })), false);
  });

  test('method: any of the listed, without regard to case', () => {
    const filters = parseTailFilters({ filters: [{ method: ['post', 'PUT'] }] }, SELF);
    assert.equal(keeps(filters, fetchEvent({ method: 'POST' })), true);
    assert.equal(keeps(filters, fetchEvent({ method: 'PUT' })), true);
    assert.equal(keeps(filters, fetchEvent({ method: 'GET' })), false);
  });

  test('header: present (any case of the name), and containing the query when there is one', () => {
    const present = parseTailFilters({ filters: [{ header: { key: 'X-Probe' } }] }, SELF);
    assert.equal(keeps(present, fetchEvent({ headers: { 'x-probe': '' } })), true);
    assert.equal(keeps(present, fetchEvent()), false);
    const valued = parseTailFilters({ filters: [{ header: { key: 'user-agent', query: 'curl' } }] }, SELF);
    assert.equal(keeps(valued, fetchEvent({ headers: { 'user-agent': 'curl/8.5' } })), true);
    assert.equal(keeps(valued, fetchEvent({ headers: { 'user-agent': 'Mozilla/5.0' } })), false);
    assert.equal(keeps(valued, fetchEvent({ headers: { 'user-agent': 'CURL' } })), false, 'the value match is case-sensitive');
  });

  test('header: a redacted header only ever reads REDACTED', () => {
    const filters = parseTailFilters({ filters: [{ header: { key: 'authorization', query: 'Bearer' } }] }, SELF);
    assert.equal(keeps(filters, fetchEvent({ headers: { authorization: 'REDACTED' } })), false);
  });

  test('client_ip: listed addresses, and self as the tail client saw itself', () => {
    const filters = parseTailFilters({ filters: [{ client_ip: ['self', '2001:db8::1'] }] }, SELF);
    assert.equal(keeps(filters, fetchEvent({ ip: '10.0.0.7' })), true);
    assert.equal(keeps(filters, fetchEvent({ ip: '::ffff:10.0.0.7' })), true, 'an IPv4-mapped address is the IPv4 address');
    assert.equal(keeps(filters, fetchEvent({ ip: '2001:DB8::1' })), true);
    assert.equal(keeps(filters, fetchEvent({ ip: '127.0.0.1' })), false);
  });

  test('query: console messages, exception names and messages; nothing else', () => {
    const filters = parseTailFilters({ filters: [{ query: 'needle' }] }, SELF);
    const log = (message: unknown[]) => fetchEvent({ logs: [{ message, level: 'log', timestamp: 1 }] });
    assert.equal(keeps(filters, log(['a needle here'])), true);
    assert.equal(keeps(filters, log([{ deep: ['needle'] }])), true, 'objects are searched as JSON');
    assert.equal(keeps(filters, log(['a Needle'])), false, 'case-sensitive');
    assert.equal(keeps(filters, fetchEvent({ exceptions: [{ name: 'Error', message: 'needle broke', timestamp: 1 }] })), true);
    assert.equal(keeps(filters, fetchEvent({ exceptions: [{ name: 'NeedleError', message: 'x', timestamp: 1 }] })), false);
    assert.equal(keeps(parseTailFilters({ filters: [{ query: 'NeedleError' }] }, SELF), fetchEvent({ exceptions: [{ name: 'NeedleError', message: 'x', timestamp: 1 }] })), true);
    assert.equal(keeps(filters, fetchEvent({ headers: { 'x-a': 'needle' } })), false, 'headers are not searched');
  });

  test('scriptVersion: the event of that version only', () => {
    const filters = parseTailFilters({ filters: [{ scriptVersion: 'v2' }] }, SELF);
    assert.equal(keeps(filters, fetchEvent({ scriptVersion: { id: 'v2' } })), true);
    assert.equal(keeps(filters, fetchEvent({ scriptVersion: { id: 'v1' } })), false);
    assert.equal(keeps(filters, fetchEvent()), false, 'an event without a version');
  });

  test('sampling_rate keeps an event when the draw is below the rate', () => {
    const filters = parseTailFilters({ filters: [{ sampling_rate: 0.25 }] }, SELF);
    assert.equal(keeps(filters, fetchEvent(), () => 0.1), true);
    assert.equal(keeps(filters, fetchEvent(), () => 0.3), false);
    let kept = 0;
    for (let i = 0; i < 4000; i++) if (keeps(filters, fetchEvent(), Math.random)) kept++;
    assert.ok(kept > 800 && kept < 1200, `about a quarter kept, got ${kept} of 4000`);
  });

  test('all filters must match; the first one that does not is the one reported', () => {
    const filters = parseTailFilters({ filters: [{ method: ['GET'] }, { outcome: ['ok'] }, { query: 'x' }] }, SELF);
    assert.equal(blockingFilter(filters, fetchEvent({ method: 'POST', outcome: 'exception' }))?.name, 'method');
    assert.equal(blockingFilter(filters, fetchEvent({ outcome: 'exception' }))?.name, 'outcome');
    assert.equal(blockingFilter(filters, fetchEvent())?.name, 'query');
    assert.equal(blockingFilter(filters, fetchEvent({ logs: [{ message: ['x'], level: 'log', timestamp: 1 }] })), null);
  });

  test('request filters never keep an event without a request (e.g. a cron event)', () => {
    const cron = fetchEvent({ event: { cron: '* * * * *', scheduledTime: 1 } });
    for (const filter of [{ method: ['GET'] }, { header: { key: 'a' } }, { client_ip: ['self'] }]) {
      assert.equal(keeps(parseTailFilters({ filters: [filter] }, SELF), cron), false, JSON.stringify(filter));
    }
  });

  test('normalizeIp', () => {
    assert.equal(normalizeIp('::ffff:127.0.0.1'), '127.0.0.1');
    assert.equal(normalizeIp('::FFFF:7f00:1'), '::ffff:7f00:1', 'only the dotted form is an IPv4 in disguise');
    assert.equal(normalizeIp(' FE80::1 '), 'fe80::1');
  });
});

describe('notices and debug marks', () => {
  test('an overload notice has a trace event\'s shape with {type, message} as its event', () => {
    const notice = noticeEvent('overload', 'w', 5);
    assert.deepEqual(Object.keys(notice), ['wallTime', 'cpuTime', 'truncated', 'executionModel', 'outcome', 'scriptName', 'diagnosticsChannelEvents', 'exceptions', 'logs', 'eventTimestamp', 'event']);
    assert.deepEqual(notice.event, { type: 'overload', message: OVERLOAD_MESSAGE });
    assert.deepEqual(noticeEvent('overload-stop', 'w', 5).event, { type: 'overload-stop', message: OVERLOAD_STOP_MESSAGE });
    assert.equal(OVERLOAD_MESSAGE, 'Tail is currently in sampling mode due to the high volume of messages. To prevent messages from being dropped consider adding filters.');
    assert.equal(OVERLOAD_STOP_MESSAGE, 'Tail has exited sampling mode and is no longer dropping messages.');
  });

  test('a debug mark is appended as the last key; the event\'s keys keep their order', () => {
    const event = fetchEvent({ logs: [{ message: ['é ✓'], level: 'log', timestamp: 1 }] });
    const marked = JSON.parse(markFilteredOut(Buffer.from(JSON.stringify(event)), { outcome: ['exception'] }).toString('utf8'));
    assert.deepEqual(Object.keys(marked), [...Object.keys(event), FILTERED_BY_KEY]);
    assert.deepEqual(marked[FILTERED_BY_KEY], { outcome: ['exception'] });
    assert.deepEqual(marked.logs, event.logs, 'multi-byte text survives');
  });
});
