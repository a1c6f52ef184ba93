import { test } from 'node:test';
import assert from 'node:assert/strict';
import { atob, btoa, bytesToBase64, base64ToBytes, tryBase64ToBytes } from '../../src/guest/base64.ts';
import { DOMException } from '../../src/guest/dom-exception.ts';

// Node's own atob/btoa are the reference for valid inputs.
const nodeAtob = globalThis.atob;
const nodeBtoa = globalThis.btoa;

const ATOB_MESSAGE =
  "atob() called with invalid base64-encoded data. (Only whitespace, '+', '/', alphanumeric ASCII, " +
  "and up to two terminal '=' signs when the input data length is divisible by 4 are allowed.)";

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

function binaryString(random: () => number, length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) s += String.fromCharCode(Math.floor(random() * 256));
  return s;
}

test('btoa and atob round-trip random binary strings exactly like Node', () => {
  const random = rng(7);
  for (let round = 0; round < 2000; round++) {
    const data = binaryString(random, Math.floor(random() * 40));
    const encoded = btoa(data);
    assert.equal(encoded, nodeBtoa(data));
    assert.equal(atob(encoded), data);
    assert.equal(atob(encoded), nodeAtob(encoded));
  }
});

test('atob is forgiving about whitespace and missing padding, as Node is', () => {
  const random = rng(8);
  const whitespace = [' ', '\t', '\n', '\f', '\r'];
  for (let round = 0; round < 1000; round++) {
    let encoded = nodeBtoa(binaryString(random, Math.floor(random() * 20)));
    if (random() < 0.5) encoded = encoded.replace(/=+$/, '');
    let messy = '';
    for (const ch of encoded) {
      if (random() < 0.3) messy += whitespace[Math.floor(random() * whitespace.length)];
      messy += ch;
    }
    assert.equal(atob(messy), nodeAtob(messy), JSON.stringify(messy));
  }
  assert.equal(atob(' YW Jj '), 'abc');
  assert.equal(atob('Y Q = ='), 'a');
  assert.equal(atob('YR'), 'a'); // leftover bits are discarded
  assert.equal(atob(''), '');
  assert.equal(atob(null as unknown as string), '\x9e\xe9e'); // "null" is valid base64
});

test('invalid input throws InvalidCharacterError with workerd\'s message, where Node also throws', () => {
  for (const bad of ['a', 'YQ=', 'Y===', 'YQ===', '====', '=', 'YQ=a', 'ab!c', 'abc=d', '\u00a0YQ==', 'YQ==\u0100', 'abcde', 'ab=c']) {
    assert.throws(() => nodeAtob(bad), `Node accepts ${JSON.stringify(bad)}`);
    assert.throws(
      () => atob(bad),
      (error: unknown) => {
        assert.ok(error instanceof DOMException);
        assert.equal(error.name, 'InvalidCharacterError');
        assert.equal(error.code, 5);
        assert.equal(error.message, ATOB_MESSAGE);
        return true;
      },
      JSON.stringify(bad),
    );
    assert.equal(tryBase64ToBytes(bad), null);
  }
});

test('btoa rejects non-Latin-1 and converts other values to strings', () => {
  assert.throws(() => btoa('\u0100'), {
    name: 'InvalidCharacterError',
    message: 'btoa() can only operate on characters in the Latin1 (ISO/IEC 8859-1) range.',
  });
  assert.equal(btoa('\u00ff\u0000'), '/wA=');
  assert.equal(btoa(123 as unknown as string), 'MTIz');
  assert.equal(btoa(null as unknown as string), 'bnVsbA==');
});

test('missing arguments throw workerd\'s TypeErrors', () => {
  assert.throws(() => (atob as () => string)(), {
    name: 'TypeError',
    message: "Failed to execute 'atob' on 'ServiceWorkerGlobalScope': parameter 1 is not of type 'string'.",
  });
  assert.throws(() => (btoa as () => string)(), {
    name: 'TypeError',
    message: "Failed to execute 'btoa' on 'ServiceWorkerGlobalScope': parameter 1 is not of type 'String'.",
  });
});

test('bytesToBase64 / base64ToBytes match Buffer', () => {
  const random = rng(9);
  for (let round = 0; round < 1000; round++) {
    const bytes = Uint8Array.from({ length: Math.floor(random() * 50) }, () => Math.floor(random() * 256));
    const encoded = bytesToBase64(bytes);
    assert.equal(encoded, Buffer.from(bytes).toString('base64'));
    assert.deepEqual(base64ToBytes(encoded), bytes);
  }
  const big = Uint8Array.from({ length: 100000 }, (_, i) => (i * 31) & 0xff);
  assert.equal(bytesToBase64(big), Buffer.from(big).toString('base64'));
  assert.throws(() => base64ToBytes('a'), { name: 'InvalidCharacterError' });
});
