// `crypto` inside the isolate. Random values come from the entropy pool; SubtleCrypto is carried
// out by the host's WebCrypto. Keys stay on the host: the guest holds CryptoKey objects that name
// a host key by number, so key material never has to be reimplemented or copied in JavaScript.
import { getCurrentInvocationId, hostOp } from './host.ts';
import { getRandomValues, randomUUID } from './random.ts';

const keyIds = new WeakMap<object, number>();
let allowConstruct = false;

interface KeyDescription { __cryptoKey: number; type: string; extractable: boolean; algorithm: unknown; usages: string[] }

export class CryptoKey {
  readonly type!: string;
  readonly extractable!: boolean;
  readonly algorithm!: unknown;
  readonly usages!: string[];
  constructor() {
    if (!allowConstruct) throw new TypeError('Illegal constructor');
  }
}

function keyFromHost(d: KeyDescription): CryptoKey {
  allowConstruct = true;
  const key = new CryptoKey();
  allowConstruct = false;
  Object.defineProperties(key, {
    type: { value: d.type, enumerable: true },
    extractable: { value: d.extractable, enumerable: true },
    algorithm: { value: d.algorithm, enumerable: true },
    usages: { value: d.usages, enumerable: true },
  });
  keyIds.set(key, d.__cryptoKey);
  return key;
}

/** Replaces CryptoKeys (also nested, e.g. ECDH `public`) by references the host understands. */
function toHost(value: unknown): unknown {
  if (value instanceof CryptoKey) return { __cryptoKey: keyIds.get(value) };
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return value;
  if (Array.isArray(value)) return value.map(toHost);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value)) out[k] = toHost((value as Record<string, unknown>)[k]);
  return out;
}

function fromHost(value: unknown): unknown {
  if (value && typeof value === 'object') {
    const v = value as Record<string, unknown>;
    if (typeof v.__cryptoKey === 'number') return keyFromHost(v as unknown as KeyDescription);
    if (v.publicKey && v.privateKey && typeof (v.publicKey as Record<string, unknown>).__cryptoKey === 'number') {
      return { publicKey: fromHost(v.publicKey), privateKey: fromHost(v.privateKey) };
    }
  }
  return value;
}

function call(method: string, args: unknown[]): Promise<unknown> {
  return hostOp<unknown>('subtle', [method, ...args.map(toHost)], getCurrentInvocationId()).then(fromHost);
}

export class SubtleCrypto {
  digest(algorithm: unknown, data: unknown) { return call('digest', [algorithm, data]); }
  encrypt(algorithm: unknown, key: unknown, data: unknown) { return call('encrypt', [algorithm, key, data]); }
  decrypt(algorithm: unknown, key: unknown, data: unknown) { return call('decrypt', [algorithm, key, data]); }
  sign(algorithm: unknown, key: unknown, data: unknown) { return call('sign', [algorithm, key, data]); }
  verify(algorithm: unknown, key: unknown, signature: unknown, data: unknown) { return call('verify', [algorithm, key, signature, data]); }
  generateKey(algorithm: unknown, extractable: unknown, usages: unknown) { return call('generateKey', [algorithm, extractable, usages]); }
  deriveKey(algorithm: unknown, baseKey: unknown, derivedKeyType: unknown, extractable: unknown, usages: unknown) {
    return call('deriveKey', [algorithm, baseKey, derivedKeyType, extractable, usages]);
  }
  deriveBits(algorithm: unknown, baseKey: unknown, length?: unknown) { return call('deriveBits', [algorithm, baseKey, length ?? null]); }
  importKey(format: unknown, keyData: unknown, algorithm: unknown, extractable: unknown, usages: unknown) {
    return call('importKey', [format, keyData, algorithm, extractable, usages]);
  }
  exportKey(format: unknown, key: unknown) { return call('exportKey', [format, key]); }
  wrapKey(format: unknown, key: unknown, wrappingKey: unknown, wrapAlgorithm: unknown) {
    return call('wrapKey', [format, key, wrappingKey, wrapAlgorithm]);
  }
  unwrapKey(format: unknown, wrappedKey: unknown, unwrappingKey: unknown, unwrapAlgorithm: unknown, unwrappedKeyAlgorithm: unknown, extractable: unknown, usages: unknown) {
    return call('unwrapKey', [format, wrappedKey, unwrappingKey, unwrapAlgorithm, unwrappedKeyAlgorithm, extractable, usages]);
  }
}

export class Crypto {
  readonly subtle = new SubtleCrypto();
  getRandomValues<T extends ArrayBufferView | null>(array: T): T { return getRandomValues(array); }
  randomUUID(): string { return randomUUID(); }
}
