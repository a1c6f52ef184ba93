// SubtleCrypto calls from a guest, carried out by Node's WebCrypto. Keys live here, in a table
// per isolate; the guest only ever holds their numbers.
import { webcrypto } from 'node:crypto';

type Key = webcrypto.CryptoKey;

function describeKey(id: number, key: Key) {
  return { __cryptoKey: id, type: key.type, extractable: key.extractable, algorithm: key.algorithm, usages: key.usages };
}

export class KeyTable {
  private keys = new Map<number, Key>();
  private nextId = 1;

  private add(key: Key) {
    const id = this.nextId++;
    this.keys.set(id, key);
    return describeKey(id, key);
  }

  private resolve(value: unknown): unknown {
    if (value && typeof value === 'object' && !ArrayBuffer.isView(value) && !(value instanceof ArrayBuffer)) {
      const v = value as Record<string, unknown>;
      if (typeof v.__cryptoKey === 'number') {
        const key = this.keys.get(v.__cryptoKey);
        if (!key) throw new TypeError('Invalid CryptoKey.');
        return key;
      }
      if (Array.isArray(value)) return value.map((x) => this.resolve(x));
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v)) out[k] = this.resolve(v[k]);
      return out;
    }
    return value;
  }

  private wrapResult(result: unknown): unknown {
    if (result instanceof globalThis.CryptoKey) return this.add(result as Key);
    if (result && typeof result === 'object' && 'privateKey' in result && 'publicKey' in result) {
      const pair = result as webcrypto.CryptoKeyPair;
      return { publicKey: this.add(pair.publicKey), privateKey: this.add(pair.privateKey) };
    }
    return result;
  }

  async call(method: string, args: unknown[]): Promise<unknown> {
    const subtle = webcrypto.subtle as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
    const allowed = ['digest', 'encrypt', 'decrypt', 'sign', 'verify', 'generateKey', 'deriveKey', 'deriveBits', 'importKey', 'exportKey', 'wrapKey', 'unwrapKey'];
    if (!allowed.includes(method)) throw new TypeError(`Unknown SubtleCrypto method ${method}.`);
    const resolved = args.map((a) => this.resolve(a));
    if (method === 'deriveBits' && resolved[2] === null) resolved.pop();
    return this.wrapResult(await subtle[method].apply(webcrypto.subtle, resolved));
  }
}
