import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ERROR_CODES, errorBody } from '../../src/edge/error-codes.ts';
import type { ErrorCodeNumber } from '../../src/edge/error-codes.ts';
import { errorPageFormat, renderErrorPage, zoneOf } from '../../src/edge/error-page.ts';
import type { ErrorPageContext } from '../../src/edge/error-page.ts';

// Spec §3, the statuses the client sees.
const STATUSES: Record<ErrorCodeNumber, number> = {
  1101: 500, 1102: 503, 1103: 403, 1015: 429, 1019: 508, 1021: 403, 1022: 404, 1024: 403, 1027: 429, 1042: 500,
};
const CODES = Object.keys(STATUSES).map(Number) as ErrorCodeNumber[];

const RAY = '8f1c2b3a4d5e6f70-LCL';
const WHEN = new Date('2026-11-21T19:06:55.123Z');
const ctx = (accept: string | undefined, host = 'shop.example.com:8787'): ErrorPageContext => ({ accept, rayId: RAY, host, timestamp: WHEN });

const PROBLEM_KEYS = [
  'type', 'title', 'status', 'detail', 'instance',
  'error_code', 'error_name', 'error_category', 'ray_id', 'timestamp', 'zone', 'retryable', 'owner_action_required',
];

/** The front matter as key → value (quoted strings read as JSON, which our YAML subset is). */
function frontMatter(markdown: string): Record<string, unknown> {
  const match = /^---\n([\s\S]*?)\n---\n/.exec(markdown);
  assert.ok(match, 'front matter present');
  const facts: Record<string, unknown> = {};
  for (const line of match[1].split('\n')) {
    const m = /^([a-z_]+): (.*)$/.exec(line);
    assert.ok(m, `a key: value line: ${JSON.stringify(line)}`);
    const raw = m[2];
    facts[m[1]] = raw.startsWith('"') ? JSON.parse(raw) : raw === 'true' ? true : raw === 'false' ? false : /^\d+$/.test(raw) ? Number(raw) : raw;
  }
  return facts;
}

describe('the error table', () => {
  test('every code of spec §3 with its status', () => {
    assert.deepEqual(Object.keys(ERROR_CODES).map(Number).sort(), [...CODES].sort());
    for (const code of CODES) {
      assert.equal(ERROR_CODES[code].code, code);
      assert.equal(ERROR_CODES[code].status, STATUSES[code], `status of ${code}`);
    }
  });

  test('names are unique snake_case; 1102 is worker_exceeded_resources', () => {
    const names = CODES.map((code) => ERROR_CODES[code].name);
    assert.equal(new Set(names).size, names.length);
    for (const name of names) assert.match(name, /^worker_[a-z]+(_[a-z]+)*$/);
    assert.equal(ERROR_CODES[1102].name, 'worker_exceeded_resources');
  });

  test('texts are plain sentences, safe in HTML and Markdown without escaping', () => {
    for (const code of CODES) {
      const info = ERROR_CODES[code];
      for (const text of [info.title, info.whatHappened('SITE'), info.visitorAction, info.ownerAction]) {
        assert.doesNotMatch(text, /[<>&`*[\]\n]/, `${code}: ${text}`);
        assert.ok(text.length > 5, `${code}: non-empty text`);
      }
      assert.match(info.whatHappened('SITE'), /SITE/, `${code}: whatHappened names the site`);
      assert.match(info.docs, /^https:\/\/developers\.cloudflare\.com\//);
    }
  });

  test('errorBody is exactly `error code: NNNN`', () => {
    assert.equal(errorBody(1101), 'error code: 1101');
  });
});

describe('format by Accept', () => {
  test('the negotiated formats', () => {
    assert.equal(errorPageFormat(undefined), 'text');
    assert.equal(errorPageFormat('*/*'), 'text');
    assert.equal(errorPageFormat('image/png'), 'text');
    assert.equal(errorPageFormat('text/html,application/xhtml+xml,*/*;q=0.8'), 'html');
    assert.equal(errorPageFormat('application/json'), 'json');
    assert.equal(errorPageFormat('application/json; charset=utf-8'), 'json');
    assert.equal(errorPageFormat('application/problem+json'), 'problem+json');
    assert.equal(errorPageFormat('application/*'), 'problem+json');
    assert.equal(errorPageFormat('text/markdown'), 'markdown');
    assert.equal(errorPageFormat('text/markdown;q=0.9, text/html;q=0.8'), 'markdown');
    assert.equal(errorPageFormat('text/plain;q=0, */*'), 'html');
    assert.equal(errorPageFormat('*/*;q=0'), 'text'); // nothing acceptable: plain text anyway
  });

  test('zoneOf strips the port and lower-cases', () => {
    assert.equal(zoneOf('Shop.Example.com:8787'), 'shop.example.com');
    assert.equal(zoneOf('example.com'), 'example.com');
    assert.equal(zoneOf('[::1]:8787'), '[::1]');
    assert.equal(zoneOf('[::1]'), '[::1]');
    assert.equal(zoneOf('127.0.0.1:'), '127.0.0.1');
    assert.equal(zoneOf(''), '');
  });
});

for (const code of CODES) {
  describe(`error ${code}`, () => {
    const info = ERROR_CODES[code];

    test('plain text', () => {
      for (const accept of [undefined, '*/*', 'text/plain', 'image/png', 'nonsense']) {
        const page = renderErrorPage(code, ctx(accept));
        assert.equal(page.contentType, 'text/plain; charset=UTF-8');
        assert.equal(page.body, `error code: ${code}`);
      }
    });

    test('JSON: RFC 9457 members then ours, exactly', () => {
      for (const [accept, contentType] of [
        ['application/json', 'application/json'],
        ['application/problem+json', 'application/problem+json'],
      ]) {
        const page = renderErrorPage(code, ctx(accept));
        assert.equal(page.contentType, contentType);
        const body = JSON.parse(page.body);
        assert.deepEqual(Object.keys(body), PROBLEM_KEYS);
        assert.equal(body.type, info.docs);
        assert.equal(body.title, info.title);
        assert.equal(body.status, STATUSES[code]);
        assert.equal(body.detail, info.whatHappened('shop.example.com'));
        assert.equal(body.instance, `urn:flarelet:ray:${RAY}`);
        assert.equal(body.error_code, code);
        assert.equal(body.error_name, info.name);
        assert.equal(body.error_category, info.category);
        assert.equal(body.ray_id, RAY);
        assert.equal(body.timestamp, '2026-11-21T19:06:55.123Z');
        assert.equal(body.zone, 'shop.example.com');
        assert.equal(body.retryable, info.retryable);
        assert.equal(body.owner_action_required, info.ownerActionRequired);
      }
    });

    test('HTML: code, title, both sections, Ray ID and UTC time; self-contained', () => {
      const page = renderErrorPage(code, ctx('text/html'));
      assert.equal(page.contentType, 'text/html; charset=UTF-8');
      const html = page.body;
      assert.match(html, /^<!DOCTYPE html>/);
      assert.match(html, new RegExp(`Error ${code}\\b`));
      assert.ok(html.includes(`<h1>${info.title}</h1>`), 'title as heading');
      assert.ok(html.includes('What happened?') && html.includes('What can I do?'));
      assert.ok(html.includes(info.whatHappened('<strong>shop.example.com</strong>')));
      assert.ok(html.includes(info.ownerAction.replaceAll("'", '&#39;')), 'owner action');
      assert.ok(html.includes(`Ray ID: <code>${RAY}</code>`));
      assert.ok(html.includes('2026-11-21 19:06:55 UTC'));
      assert.ok(html.includes('<meta name="viewport"'), 'readable on mobile');
      assert.ok(html.includes('prefers-color-scheme:dark'), 'dark mode');
      assert.doesNotMatch(html, /<script|<link|<img|<iframe|@import|url\(|src=/i, 'no external assets, no script');
    });

    test('Markdown: the same facts as front matter, then two sections', () => {
      const page = renderErrorPage(code, ctx('text/markdown'));
      assert.equal(page.contentType, 'text/markdown; charset=UTF-8');
      const facts = frontMatter(page.body);
      const json = JSON.parse(renderErrorPage(code, ctx('application/json')).body);
      delete json.detail;
      assert.deepEqual(facts, json);
      const body = page.body.slice(page.body.indexOf('\n---\n') + 5);
      assert.deepEqual(body.match(/^#+ .*$/gm), [`# Error ${code}: ${info.title}`, '## What happened', '## What you can do']);
      assert.ok(body.includes(info.whatHappened('`shop.example.com`')));
      assert.ok(body.includes(info.ownerAction) && body.includes(info.visitorAction));
    });
  });
}

describe('what the client controls is escaped', () => {
  const hostile = `evil.test"'><script>alert(1)</script>&amp;\`x\`[a](javascript:1)`;

  test('HTML escapes the host everywhere', () => {
    const html = renderErrorPage(1101, ctx('text/html', hostile)).body;
    assert.ok(!html.includes('<script>'), 'no raw script tag');
    assert.ok(html.includes('evil.test&quot;&#39;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;amp;'));
  });

  test('a hostile ray id (from a hostile --colo) is escaped too', () => {
    const html = renderErrorPage(1101, { ...ctx('text/html'), rayId: '0123-<b>' }).body;
    assert.ok(html.includes('0123-&lt;b&gt;') && !html.includes('<b>'));
  });

  test('Markdown puts the host in a code span; front matter stays one line per key', () => {
    const md = renderErrorPage(1101, ctx('text/markdown', hostile)).body;
    assert.equal(frontMatter(md).zone, zoneOf(hostile));
    assert.ok(md.includes('``evil.test"\'><script>alert(1)</script>&amp;`x`[a](javascript:1)``'), md);
    // a host that starts with a backtick is padded so the fence stays a fence
    assert.ok(renderErrorPage(1101, ctx('text/markdown', '`a')).body.includes('`` `a ``'));
    // control and non-ASCII characters cannot break the YAML
    const odd = renderErrorPage(1101, ctx('text/markdown', 'a\u0085b\u00e9c\u2028d')).body;
    assert.equal(frontMatter(odd).zone, 'a\u0085b\u00e9c\u2028d');
    assert.ok(odd.includes('zone: "a\\u0085b\\u00e9c\\u2028d"'));
  });

  test('JSON carries the host as data', () => {
    const body = JSON.parse(renderErrorPage(1101, ctx('application/json', hostile)).body);
    assert.equal(body.zone, zoneOf(hostile));
  });

  test('an empty Host still gives a readable page', () => {
    const html = renderErrorPage(1022, ctx('text/html', '')).body;
    assert.ok(html.includes(ERROR_CODES[1022].whatHappened('this site')));
    const json = JSON.parse(renderErrorPage(1022, ctx('application/json', '')).body);
    assert.equal(json.zone, '');
  });
});
