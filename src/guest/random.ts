// Cryptographically strong randomness inside the isolate. The host's CSPRNG fills a pool that
// the guest draws from synchronously; the pool is refilled asynchronously when it runs low, and
// only an exhausted pool falls back to a (slow, blocking) synchronous call to the host.
import { GuestMessage, HostEvent } from '../protocol/bridge.ts';
import { DOMException } from './dom-exception.ts';
import { hostRandomSync, onEvent, sendToHost } from './host.ts';

const POOL_SIZE = 16 * 1024;
let pool = new Uint8Array(0);
let offset = 0;
let refillRequested = false;

onEvent(HostEvent.Entropy, (bytes) => {
  const fresh = new Uint8Array(bytes as ArrayBuffer);
  const rest = pool.subarray(offset);
  const merged = new Uint8Array(rest.length + fresh.length);
  merged.set(rest, 0);
  merged.set(fresh, rest.length);
  pool = merged;
  offset = 0;
  refillRequested = false;
});

export function fillRandom(target: Uint8Array): void {
  let written = 0;
  while (written < target.length) {
    if (offset >= pool.length) {
      pool = new Uint8Array(hostRandomSync(Math.max(POOL_SIZE, target.length - written)));
      offset = 0;
    }
    const n = Math.min(pool.length - offset, target.length - written);
    target.set(pool.subarray(offset, offset + n), written);
    pool.fill(0, offset, offset + n); // never hand out the same bytes twice
    offset += n;
    written += n;
  }
  if (!refillRequested && pool.length - offset < POOL_SIZE / 2) {
    refillRequested = true;
    sendToHost(GuestMessage.EntropyLow);
  }
}

const integerArrayTypes = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, BigInt64Array, BigUint64Array];

export function getRandomValues<T extends ArrayBufferView | null>(array: T): T {
  if (!ArrayBuffer.isView(array)) {
    throw new TypeError("Failed to execute 'getRandomValues' on 'Crypto': parameter 1 is not of type 'ArrayBufferView'.");
  }
  if (!integerArrayTypes.some((t) => array instanceof t)) {
    throw new DOMException('ArrayBufferView argument to getRandomValues() must be an integer-typed view.', 'TypeMismatchError');
  }
  if (array.byteLength > 65536) {
    throw new DOMException(`getRandomValues() only accepts buffers of size <= 64K but provided ${array.byteLength} bytes.`, 'QuotaExceededError');
  }
  fillRandom(new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
  return array;
}

const hex: string[] = [];
for (let i = 0; i < 256; i++) hex.push((i + 0x100).toString(16).slice(1));

export function randomUUID(): string {
  const b = new Uint8Array(16);
  fillRandom(b);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  return `${hex[b[0]]}${hex[b[1]]}${hex[b[2]]}${hex[b[3]]}-${hex[b[4]]}${hex[b[5]]}-${hex[b[6]]}${hex[b[7]]}-${hex[b[8]]}${hex[b[9]]}-${hex[b[10]]}${hex[b[11]]}${hex[b[12]]}${hex[b[13]]}${hex[b[14]]}${hex[b[15]]}`;
}
