import { test } from 'node:test';
import assert from 'node:assert/strict';
import { negotiator, parseAccept } from '../../src/edge/accept.ts';

const OFFERS = ['text/plain', 'text/html', 'application/problem+json', 'application/json', 'text/markdown'];
const pick = negotiator(OFFERS);
const picks = (accept: string | undefined, expected: string | null) =>
  assert.equal(pick(accept) === -1 ? null : OFFERS[pick(accept)], expected, `Accept: ${accept}`);

test('no Accept, an empty one or */* alone: the first offer (server preference)', () => {
  picks(undefined, 'text/plain');
  picks('', 'text/plain');
  picks('   ', 'text/plain');
  picks('*/*', 'text/plain');
  picks('*/*;q=0.5', 'text/plain');
  picks('*', 'text/plain'); // old Java clients
});

test('an exact type wins over wildcards', () => {
  picks('text/html', 'text/html');
  picks('application/json', 'application/json');
  picks('application/problem+json', 'application/problem+json');
  picks('text/markdown', 'text/markdown');
  picks('TEXT/HTML', 'text/html');
  picks('  text/html  ', 'text/html');
});

test('browsers get HTML', () => {
  picks('text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8', 'text/html');
  picks('text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', 'text/html');
  picks('text/html, application/xhtml+xml, image/jxr, */*', 'text/html');
});

test('q-values are honoured', () => {
  picks('text/html;q=0.5, application/json', 'application/json');
  picks('application/json;q=0.2, text/markdown;q=0.3', 'text/markdown');
  picks('text/html;q=0.001, */*;q=0.0001', 'text/html');
  picks('text/html; q=1.0, application/json; q=0.999', 'text/html');
  picks('application/json;q=.5, text/html;q=.4', 'application/json'); // lenient: no leading 0
});

test('q=0 excludes, also through the most specific range', () => {
  picks('text/plain;q=0, */*', 'text/html');
  picks('text/plain;q=0, text/html;q=0, */*', 'application/problem+json');
  picks('text/*;q=0, application/json', 'application/json');
  picks('*/*;q=0', null);
  picks('text/html;q=0', null);
  // text/html is excluded although text/* would allow it: the specific range decides
  picks('text/html;q=0, text/*;q=0.9, application/json;q=0.8', 'text/plain');
});

test('the most specific matching range gives an offer its q', () => {
  // RFC 9110 §12.5.1's example, rated for our offers
  const accept = 'text/*;q=0.3, text/html;q=0.7, text/html;level=1, text/html;level=2;q=0.4, */*;q=0.5';
  picks(accept, 'text/html'); // 0.7 beats application/* at 0.5 and text/plain at 0.3
  picks('text/*;q=0.9, text/plain;q=0.1', 'text/html'); // text/plain is pinned at 0.1
  picks('*/*;q=0.9, application/json;q=0.1', 'text/plain');
});

test('ties: the more specific match wins, then the client order, then the server order', () => {
  picks('text/*, application/json', 'application/json'); // exact beats text/*
  picks('*/*, text/markdown', 'text/markdown'); // exact beats */*
  picks('application/*', 'application/problem+json'); // server order among application/*
  picks('text/*', 'text/plain'); // server order among text/*
  picks('application/json, text/html', 'application/json'); // client order
  picks('text/html, application/json', 'text/html');
  picks('text/markdown;q=0.5, text/html;q=0.5', 'text/markdown');
  picks('application/json, application/problem+json', 'application/json');
  picks('application/problem+json, application/json', 'application/problem+json');
});

test('a range with parameters only matches offers that carry them', () => {
  const withCharset = negotiator(['text/plain;charset=utf-8', 'application/json;charset=utf-8']);
  assert.equal(withCharset('application/json; charset=utf-8'), 1);
  assert.equal(withCharset('application/json; charset="UTF-8"'), 1);
  assert.equal(withCharset('application/json; charset=iso-8859-1'), -1);
  assert.equal(withCharset('application/json; version=2'), -1);
  // with parameters the range is more specific than the bare type
  assert.equal(withCharset('application/json;charset=utf-8;q=0.9, application/json;q=0.1'), 1);
  assert.equal(withCharset('application/json;charset=utf-8;q=0, application/json'), -1);
});

test('garbage never throws; malformed ranges are skipped', () => {
  const garbage = [
    ',,,', ';', ';;q=1', '/', 'text/', '/html', 'text', 'text/html/extra', '*/html', 'te xt/html', 'ä/ö',
    'text/html;q=abc', 'text/html;q=2', 'text/html;q=-1', 'text/html;q=', 'text/html;=x', 'text/html;q',
    '"unterminated', 'text/html;x="a,b', '\u0000\u0001', 'q=1', '💥/💥', 'text/html;;;', '*/*;q=NaN',
    'a'.repeat(10_000), ', '.repeat(5_000) + 'text/html',
  ];
  for (const header of garbage) {
    assert.doesNotThrow(() => pick(header), header.slice(0, 40));
    assert.doesNotThrow(() => parseAccept(header), header.slice(0, 40));
  }
  // nothing valid: as if there were no Accept header
  picks('text/html;q=abc', 'text/plain');
  picks('te xt/html', 'text/plain');
  // the valid ranges still count
  picks('garbage, text/html;q=abc, application/json;q=0.5', 'application/json');
  picks(', '.repeat(5_000) + 'text/html', 'text/html');
  picks('text/html;;;', 'text/html');
  // an accept-ext after q is ignored, quoted commas do not split
  picks('text/markdown;q=0.9;ext="a, b", text/html;q=0.8', 'text/markdown');
});

test('parseAccept keeps header order, lower-cases, reads q and parameters', () => {
  const ranges = parseAccept('Text/HTML;Level=1;q=0.5, */*;q=0.1, bad, application/json');
  assert.deepEqual(
    ranges.map((r) => [r.type, r.subtype, Object.fromEntries(r.params), r.q, r.order]),
    [
      ['text', 'html', { level: '1' }, 0.5, 0],
      ['*', '*', {}, 0.1, 1],
      ['application', 'json', {}, 1, 2],
    ],
  );
});

test('offers must be concrete media types', () => {
  assert.throws(() => negotiator(['text/*']), /concrete/);
  assert.throws(() => negotiator(['nonsense']), /concrete/);
  assert.equal(negotiator([])('text/html'), -1);
  assert.equal(negotiator([])(undefined), -1);
});
