import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redactHeaders, redactUrl } from '../../src/observability/redact.ts';

const redacts = (input: string, expected: string) => assert.equal(redactUrl(input), expected, input);
const keeps = (input: string) => assert.equal(redactUrl(input), input, input);

test('URLs without identifiers pass unchanged', () => {
  keeps('');
  keeps('https://example.com/path?a=1&b=2');
  keeps('https://example.com/users/42/profile#top');
});

test('hex ids of 32 or more digits are redacted, separators allowed', () => {
  redacts('https://d/0123456789abcdef0123456789abcdef/x', 'https://d/REDACTED/x');
  redacts('https://d/0123456789abcdef-0123456789abcdef/x', 'https://d/REDACTED/x');
  redacts('https://d/0123456789ABCDEF0123456789ABCDEF', 'https://d/REDACTED');
  redacts('https://d/?id=3f2504e0-4f89-11d3-9a0c-0305e82c3301', 'https://d/?id=REDACTED');
  // 31 hex digits is not enough
  keeps('https://d/0123456789abcdef0123456789abcde/x');
  keeps('https://d/0123456789_ABCDEF_0123456789_ABCDE/x');
  // a non-hex letter makes it something else
  keeps('https://d/0123456789abcdef0123456789abcdefg/x');
});

test('base64-looking spans of 21+ chars with 2 digits, 2 upper, 2 lower are redacted', () => {
  redacts('https://d/01234567890123456azAZ/x', 'https://d/REDACTED/x');
  keeps('https://d/0123456789012345azAZ/x'); // 20 chars
  keeps('https://d/012345678901234567zAZ/x'); // one lower-case letter
  keeps('https://d/012345678901234567azZ/x'); // one upper-case letter
  keeps('https://d/IThinkIShallNeverSee0/x'); // one digit
  // '.' and '=' end a span, so each part of a JWT is judged alone
  redacts(
    'https://d/ws?token=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
    'https://d/ws?token=REDACTED.REDACTED.REDACTED',
  );
  // ...so a 20-character part survives
  redacts('https://d/?t=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0', 'https://d/?t=eyJhbGciOiJIUzI1NiJ9.REDACTED');
});

test('13 to 19 digit numbers passing Luhn are redacted', () => {
  redacts('https://d/p?number=4222222222222', 'https://d/p?number=REDACTED');
  redacts('https://d/p?number=30569309025904', 'https://d/p?number=REDACTED');
  redacts('https://d/p?number=378282246310005', 'https://d/p?number=REDACTED');
  redacts('https://d/p?number=4111111111111111', 'https://d/p?number=REDACTED');
  redacts('https://d/p?number=4000000000000000006', 'https://d/p?number=REDACTED');
  redacts('https://d/p?number=4111-1111-1111-1111', 'https://d/p?number=REDACTED');
  redacts('https://d/p?number=4111+1111+1111+1111', 'https://d/p?number=REDACTED');
  keeps('https://d/p?number=4111111111111112'); // fails Luhn
  keeps('https://d/p?short=79927398713&long=40000000000000000002'); // Luhn-valid, wrong length
});

test('non-ASCII characters end spans and are kept as they are', () => {
  redacts('https://d/é0123456789abcdef0123456789abcdefé', 'https://d/éREDACTEDé');
});

test('header names are lower-cased and sorted, repeats joined with ", "', () => {
  const headers = redactHeaders([
    ['X-B', '1'],
    ['Accept', 'text/html'],
    ['x-b', '2'],
  ]);
  assert.deepStrictEqual(headers, { accept: 'text/html', 'x-b': '1, 2' });
  assert.deepStrictEqual(Object.keys(headers), ['accept', 'x-b']);
});

test('a flat [name, value, ...] list is accepted too', () => {
  assert.deepStrictEqual(redactHeaders(['Host', 'a.example', 'Accept', '*/*']), { accept: '*/*', host: 'a.example' });
  assert.deepStrictEqual(redactHeaders([]), {});
});

test('secret headers are REDACTED', () => {
  const secrets = [
    'Cookie', 'Set-Cookie', 'Authorization', 'Proxy-Authorization', 'X-Auth-User', 'X-JWT-Assertion',
    'X-Api-Key', 'Sec-WebSocket-Key', 'X-Client-Secret', 'X-CSRF-Token', 'cf-access-jwt-assertion',
  ];
  const kept = ['Accept', 'Cookies', 'Content-Type', 'X-Kee', 'User-Agent', 'cf-connecting-ip', 'X-Aut'];
  const headers = redactHeaders([...secrets, ...kept].map((name) => [name, 'v'] as [string, string]));
  for (const name of secrets) assert.equal(headers[name.toLowerCase()], 'REDACTED', name);
  for (const name of kept) assert.equal(headers[name.toLowerCase()], 'v', name);
});

test('a header named __proto__ is an ordinary header', () => {
  const headers = redactHeaders([['__proto__', 'x']]);
  assert.equal(Object.getPrototypeOf(headers), Object.prototype);
  assert.deepStrictEqual(Object.keys(headers), ['__proto__']);
  assert.equal(JSON.stringify(headers), '{"__proto__":"x"}');
});
