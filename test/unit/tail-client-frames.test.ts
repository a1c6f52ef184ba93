// The real wrangler sends its first tail frame unmasked. ClientFrameNormalizer gives such a frame a
// zero masking key so that `ws` (which insists on masked client frames) reads it; masked frames pass
// unchanged, and frames split anywhere across chunks come out whole.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientFrameNormalizer } from '../../src/observability/tail/lenient-socket.ts';

/** A client frame: FIN + opcode, the length in 7, 7+16 or 7+64 bits, then the key and masked payload. */
function frame(opcode: number, payload: Buffer, mask: Buffer | null): Buffer {
  const length = payload.length;
  const lengthBytes = length < 126 ? Buffer.from([length]) : length < 65536 ? Buffer.from([126, length >> 8, length & 0xff]) : (() => {
    const b = Buffer.alloc(9);
    b[0] = 127;
    b.writeBigUInt64BE(BigInt(length), 1);
    return b;
  })();
  if (mask) lengthBytes[0] |= 0x80;
  const body = mask ? Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4])) : payload;
  return Buffer.concat([Buffer.from([0x80 | opcode]), lengthBytes, mask ?? Buffer.alloc(0), body]);
}

/** Reads frames the way a strict server does: every frame must be masked. Returns the payloads. */
function strictRead(bytes: Buffer): { opcode: number; payload: string }[] {
  const frames: { opcode: number; payload: string }[] = [];
  let i = 0;
  while (i < bytes.length) {
    const opcode = bytes[i] & 0x0f;
    assert.ok(bytes[i + 1] & 0x80, 'MASK must be set');
    let length = bytes[i + 1] & 0x7f;
    i += 2;
    if (length === 126) { length = bytes.readUInt16BE(i); i += 2; } else if (length === 127) { length = Number(bytes.readBigUInt64BE(i)); i += 8; }
    const key = bytes.subarray(i, i + 4);
    i += 4;
    const payload = Buffer.from(bytes.subarray(i, i + length).map((byte, j) => byte ^ key[j % 4]));
    i += length;
    frames.push({ opcode, payload: payload.toString('utf8') });
  }
  return frames;
}

const KEY = Buffer.from([0x12, 0x34, 0x56, 0x78]);

describe('ClientFrameNormalizer', () => {
  test("wrangler's unmasked {\"debug\": false} frame gets a zero key and reads the same", () => {
    const out = new ClientFrameNormalizer().push(frame(1, Buffer.from('{"debug":false}'), null));
    assert.equal(out[1] & 0x80, 0x80);
    assert.deepEqual(out.subarray(2, 6), Buffer.alloc(4));
    assert.deepEqual(strictRead(out), [{ opcode: 1, payload: '{"debug":false}' }]);
  });

  test('masked frames pass through byte for byte', () => {
    const input = Buffer.concat([frame(1, Buffer.from('hello'), KEY), frame(9, Buffer.from('wrangler tail ping'), KEY)]);
    const out = new ClientFrameNormalizer().push(input);
    assert.deepEqual(out, input);
  });

  test('16-bit and 64-bit lengths, mixed masked and unmasked, split into 1-byte chunks', () => {
    const medium = 'm'.repeat(300);
    const large = 'L'.repeat(70_000);
    const input = Buffer.concat([
      frame(1, Buffer.from(medium), null),
      frame(9, Buffer.from('ping'), KEY),
      frame(1, Buffer.from(large), null),
      frame(8, Buffer.from([0x03, 0xe8]), KEY),
    ]);
    const normalizer = new ClientFrameNormalizer();
    const pieces: Buffer[] = [];
    // Byte by byte through the headers, in larger pieces through the big payload.
    for (let i = 0; i < input.length;) {
      const step = i < 400 || i > input.length - 20 ? 1 : 997;
      pieces.push(normalizer.push(input.subarray(i, i + step)));
      i += step;
    }
    const frames = strictRead(Buffer.concat(pieces));
    assert.deepEqual(frames.map((f) => f.opcode), [1, 9, 1, 8]);
    assert.equal(frames[0].payload, medium);
    assert.equal(frames[1].payload, 'ping');
    assert.equal(frames[2].payload, large);
  });

  test('an empty unmasked frame', () => {
    const out = new ClientFrameNormalizer().push(frame(10, Buffer.alloc(0), null));
    assert.deepEqual(out, Buffer.from([0x8a, 0x80, 0, 0, 0, 0]));
  });
});
