import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  TextDecoder,
  TextEncoder,
  utf8Decode,
  utf8Encode,
  utf8ByteLength,
  isUint8Array,
  bytesToBinaryString,
} from '../../src/guest/encoding.ts';

// Node's own implementations serve as the reference.
const NodeTextDecoder = globalThis.TextDecoder;
const NodeTextEncoder = globalThis.TextEncoder;

// Deterministic PRNG so failures are reproducible.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Bytes biased towards UTF-8 structure (lead bytes, continuation bytes,
// boundary values), so malformed-sequence paths are exercised a lot.
const INTERESTING = [0x00, 0x41, 0x7f, 0x80, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff, 0x9f, 0xa0, 0x8f, 0x90, 0xbb];
function randomBytes(random: () => number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    bytes[i] = random() < 0.5 ? INTERESTING[Math.floor(random() * INTERESTING.length)]! : Math.floor(random() * 256);
  }
  return bytes;
}

function decodeInPieces(decoder: { decode(input?: Uint8Array, options?: { stream?: boolean }): string }, bytes: Uint8Array, cuts: number[]): string {
  let text = '';
  let start = 0;
  for (const cut of cuts) {
    text += decoder.decode(bytes.subarray(start, cut), { stream: true });
    start = cut;
  }
  return text + decoder.decode(bytes.subarray(start));
}

test('UTF-8 decoding of random bytes matches Node, whole and streamed', () => {
  const random = rng(1);
  for (let round = 0; round < 3000; round++) {
    const bytes = randomBytes(random, Math.floor(random() * 24));
    const expected = new NodeTextDecoder().decode(bytes);
    assert.equal(new TextDecoder().decode(bytes), expected, `bytes ${[...bytes]}`);
    assert.equal(utf8Decode(bytes), expected);
    const cuts = [...new Set(Array.from({ length: 3 }, () => Math.floor(random() * (bytes.length + 1))))].sort((a, b) => a - b);
    assert.equal(decodeInPieces(new TextDecoder(), bytes, cuts), expected, `bytes ${[...bytes]} cuts ${cuts}`);
  }
});

test('fatal UTF-8 decoding throws exactly when Node does, with workerd text', () => {
  const random = rng(2);
  for (let round = 0; round < 2000; round++) {
    const bytes = randomBytes(random, Math.floor(random() * 12));
    let expected: string | Error;
    try {
      expected = new NodeTextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch (error) {
      expected = error as Error;
    }
    if (typeof expected === 'string') {
      assert.equal(new TextDecoder('utf-8', { fatal: true }).decode(bytes), expected);
    } else {
      assert.throws(() => new TextDecoder('utf-8', { fatal: true }).decode(bytes), {
        name: 'TypeError',
        message: 'Failed to decode input.',
      });
    }
  }
});

test('a sequence split across stream chunks decodes whole; a dangling one flushes as U+FFFD', () => {
  const decoder = new TextDecoder();
  assert.equal(decoder.decode(new Uint8Array([0xe2, 0x82]), { stream: true }), '');
  assert.equal(decoder.decode(new Uint8Array([0xac])), '€');
  assert.equal(decoder.decode(new Uint8Array([0xf0, 0x9f]), { stream: true }), '');
  assert.equal(decoder.decode(), '\ufffd');
  // The stream ended, so the next call starts clean.
  assert.equal(decoder.decode(new Uint8Array([0x41])), 'A');
  const fatal = new TextDecoder('utf-8', { fatal: true });
  assert.equal(fatal.decode(new Uint8Array([0xe2]), { stream: true }), '');
  assert.throws(() => fatal.decode(), { name: 'TypeError', message: 'Failed to decode input.' });
});

test('BOM is stripped once at the start of a stream unless ignoreBOM', () => {
  const bom = [0xef, 0xbb, 0xbf];
  const d = new TextDecoder();
  assert.equal(d.decode(new Uint8Array([...bom, 0x41])), 'A');
  assert.equal(d.decode(new Uint8Array([0xef, 0xbb]), { stream: true }), '');
  assert.equal(d.decode(new Uint8Array([0xbf, 0x41]), { stream: true }), 'A');
  assert.equal(d.decode(new Uint8Array([...bom, 0x41])), '\ufeffA'); // mid-stream BOM is content
  assert.equal(new TextDecoder('utf-8', { ignoreBOM: true }).decode(new Uint8Array([...bom, 0x41])), '\ufeffA');
  assert.equal(utf8Decode(new Uint8Array([...bom, 0x41])), 'A');
  assert.equal(utf8Decode(new Uint8Array([...bom, 0x41]), true), '\ufeffA');
});

test('UTF-16LE/BE decoding of random bytes matches Node', () => {
  const random = rng(3);
  for (const label of ['utf-16le', 'utf-16be']) {
    for (let round = 0; round < 1500; round++) {
      const bytes = randomBytes(random, Math.floor(random() * 16));
      // Make surrogate code units common.
      for (let i = label === 'utf-16le' ? 1 : 0; i < bytes.length; i += 2) if (random() < 0.3) bytes[i] = 0xd8 + Math.floor(random() * 8);
      const expected = new NodeTextDecoder(label).decode(bytes);
      assert.equal(new TextDecoder(label).decode(bytes), expected, `${label} ${[...bytes]}`);
      const cut = Math.floor(random() * (bytes.length + 1));
      assert.equal(decodeInPieces(new TextDecoder(label), bytes, [cut]), expected);
    }
  }
  assert.equal(new TextDecoder('utf-16le').decode(new Uint8Array([0xff, 0xfe, 0x41, 0])), 'A');
  assert.equal(new TextDecoder('utf-16le').decode(new Uint8Array([0x41, 0, 0x42])), 'A\ufffd');
});

test('windows-1252 (also for latin1 and ascii labels) matches Node for every byte', () => {
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  const expected = new NodeTextDecoder('windows-1252').decode(all);
  for (const label of ['windows-1252', 'latin1', 'ascii', 'iso-8859-1', 'us-ascii']) {
    const decoder = new TextDecoder(label);
    assert.equal(decoder.encoding, 'windows-1252');
    assert.equal(decoder.decode(all), expected);
  }
  assert.equal(new TextDecoder('latin1').decode(new Uint8Array([0x80, 0x9f, 0xff])), '€Ÿÿ');
  // No BOM stripping for single-byte encodings.
  assert.equal(new TextDecoder('latin1').decode(new Uint8Array([0xef, 0xbb, 0xbf])), 'ï»¿');
});

test('labels are trimmed and case-insensitive; unknown ones throw workerd\'s RangeError', () => {
  assert.equal(new TextDecoder().encoding, 'utf-8');
  assert.equal(new TextDecoder(undefined).encoding, 'utf-8');
  assert.equal(new TextDecoder(' UTF8\n').encoding, 'utf-8');
  assert.equal(new TextDecoder('unicode-1-1-utf-8').encoding, 'utf-8');
  assert.equal(new TextDecoder('utf-16').encoding, 'utf-16le');
  assert.throws(() => new TextDecoder('foo'), { name: 'RangeError', message: '"foo" is not a valid encoding.' });
  assert.throws(() => new TextDecoder(' foo '), { name: 'RangeError', message: '" foo " is not a valid encoding.' });
  assert.throws(() => new TextDecoder(null as unknown as string), { message: '"null" is not a valid encoding.' });
  assert.throws(() => new TextDecoder('replacement'), RangeError);
});

test('decoder options and inputs are validated like workerd', () => {
  const d = new TextDecoder('utf-8', { fatal: 1 as unknown as boolean, ignoreBOM: true });
  assert.equal(d.fatal, true);
  assert.equal(d.ignoreBOM, true);
  assert.throws(() => new TextDecoder('utf-8', 5 as never), {
    name: 'TypeError',
    message: "Failed to construct 'TextDecoder': constructor parameter 2 is not of type 'ConstructorOptions'.",
  });
  const arrayError = { name: 'TypeError', message: "Failed to execute 'decode' on 'TextDecoder': parameter 1 is not of type 'Array'." };
  assert.throws(() => new TextDecoder().decode('abc' as never), arrayError);
  assert.throws(() => new TextDecoder().decode(null as never), arrayError);
  assert.throws(() => new TextDecoder().decode(new Uint8Array(0), 5 as never), {
    message: "Failed to execute 'decode' on 'TextDecoder': parameter 2 is not of type 'DecodeOptions'.",
  });
  assert.equal(new TextDecoder().decode(), '');
  assert.equal(new TextDecoder().decode(new Uint16Array([0x4241])), 'AB');
  assert.equal(new TextDecoder().decode(new DataView(new Uint8Array([0x61, 0x62, 0x63]).buffer, 1)), 'bc');
  assert.equal(new TextDecoder().decode(new Uint8Array([0x68, 0x69]).buffer), 'hi');
});

function randomString(random: () => number, length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) {
    const r = random();
    if (r < 0.4) s += String.fromCharCode(Math.floor(random() * 0x80));
    else if (r < 0.6) s += String.fromCharCode(0x80 + Math.floor(random() * 0x780));
    else if (r < 0.75) s += String.fromCharCode(0x800 + Math.floor(random() * 0xf000));
    else if (r < 0.9) s += String.fromCodePoint(0x10000 + Math.floor(random() * 0x100000));
    else s += String.fromCharCode(0xd800 + Math.floor(random() * 0x800)); // lone surrogates
  }
  return s;
}

test('encode and utf8Encode match Node, lone surrogates included', () => {
  const random = rng(4);
  const encoder = new TextEncoder();
  const reference = new NodeTextEncoder();
  assert.equal(encoder.encoding, 'utf-8');
  for (let round = 0; round < 2000; round++) {
    const s = randomString(random, Math.floor(random() * 20));
    const expected = reference.encode(s);
    assert.deepEqual(encoder.encode(s), expected, JSON.stringify(s));
    assert.deepEqual(utf8Encode(s), expected);
    assert.equal(utf8ByteLength(s), expected.length);
  }
  assert.deepEqual(encoder.encode(), new Uint8Array(0));
  assert.deepEqual(encoder.encode('plain ascii'), reference.encode('plain ascii'));
  assert.deepEqual([...encoder.encode('\ud800')], [0xef, 0xbf, 0xbd]);
});

test('encodeInto matches Node for every destination size and checks its type', () => {
  const random = rng(5);
  for (let round = 0; round < 500; round++) {
    const s = randomString(random, Math.floor(random() * 8));
    for (let size = 0; size <= s.length * 3 + 1; size++) {
      const ours = new Uint8Array(size);
      const theirs = new Uint8Array(size);
      assert.deepEqual(new TextEncoder().encodeInto(s, ours), new NodeTextEncoder().encodeInto(s, theirs), `${JSON.stringify(s)} into ${size}`);
      assert.deepEqual(ours, theirs);
    }
  }
  assert.throws(() => new TextEncoder().encodeInto('a', new Uint16Array(4) as never), {
    name: 'TypeError',
    message: "Failed to execute 'encodeInto' on 'TextEncoder': parameter 2 is not of type 'Uint8Array'.",
  });
});

test('long inputs round-trip (chunked string building)', () => {
  const random = rng(6);
  const s = randomString(random, 50000).replace(/[\ud800-\udfff]/g, 'x');
  assert.equal(utf8Decode(utf8Encode(s)), s);
  const ascii = 'a'.repeat(100000);
  assert.equal(new TextDecoder().decode(utf8Encode(ascii)), ascii);
  const bytes = Uint8Array.from({ length: 70000 }, (_, i) => i & 0xff);
  assert.equal(bytesToBinaryString(bytes), Buffer.from(bytes).toString('latin1'));
});

test('isUint8Array is a brand check', () => {
  assert.equal(isUint8Array(new Uint8Array(1)), true);
  assert.equal(isUint8Array(new Uint8ClampedArray(1)), false);
  assert.equal(isUint8Array(Object.create(Uint8Array.prototype)), false);
});
