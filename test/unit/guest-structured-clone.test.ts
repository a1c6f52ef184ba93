import { test } from 'node:test';
import assert from 'node:assert/strict';
import { structuredClone, registerCloneable, registerUncloneable } from '../../src/guest/structured-clone.ts';
import { DOMException } from '../../src/guest/dom-exception.ts';

// Node's structuredClone is the reference where its behaviour matches the spec.
const nodeClone = globalThis.structuredClone;

function assertDataCloneError(fn: () => unknown, message: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof DOMException, `not a DOMException: ${String(error)}`);
    assert.equal(error.name, 'DataCloneError');
    assert.equal(error.code, 25);
    assert.equal(error.message, message);
    return true;
  });
}

test('primitives come back as they are', () => {
  for (const value of [undefined, null, true, false, 0, -0, NaN, Infinity, 1.5, 'text', '', 10n]) {
    assert.ok(Object.is(structuredClone(value), value));
  }
});

test('boxed primitives, Date and RegExp', () => {
  const boxed = structuredClone([Object(true), Object(1.5), Object('s'), Object(7n)]) as object[];
  assert.deepEqual(boxed.map((b) => (b as { valueOf(): unknown }).valueOf()), [true, 1.5, 's', 7n]);
  assert.ok(boxed.every((b) => typeof b === 'object'));
  const date = new Date(1234567);
  const clonedDate = structuredClone(date);
  assert.notEqual(clonedDate, date);
  assert.equal(clonedDate.getTime(), 1234567);
  assert.ok(Number.isNaN(structuredClone(new Date(NaN)).getTime()));
  const re = /a+b/giu;
  re.lastIndex = 3;
  const clonedRe = structuredClone(re);
  assert.equal(clonedRe.source, 'a+b');
  assert.equal(clonedRe.flags, 'giu');
  assert.equal(clonedRe.lastIndex, 0);
});

test('plain objects and arrays: own enumerable string keys, holes kept, prototypes dropped', () => {
  const array: unknown[] = [1, , 3];
  (array as unknown as Record<string, unknown>).extra = 'x';
  const clonedArray = structuredClone(array);
  assert.equal(clonedArray.length, 3);
  assert.equal(1 in clonedArray, false);
  assert.equal((clonedArray as unknown as Record<string, unknown>).extra, 'x');

  const source = Object.create({ inherited: 1 }) as Record<string, unknown>;
  source.own = 2;
  Object.defineProperty(source, 'hidden', { value: 3, enumerable: false });
  Object.defineProperty(source, 'computed', { get: () => 4, enumerable: true });
  source[Symbol('s') as unknown as string] = 5;
  const clone = structuredClone(source);
  assert.deepEqual(Object.getOwnPropertyNames(clone), ['own', 'computed']);
  assert.equal(Object.getPrototypeOf(clone), Object.prototype);
  assert.deepEqual(Object.getOwnPropertyDescriptor(clone, 'computed'), { value: 4, writable: true, enumerable: true, configurable: true });

  class Point {
    x = 1;
    y = 2;
  }
  const point = structuredClone(new Point());
  assert.equal(point.constructor, Object);
  assert.deepEqual(point, { x: 1, y: 2 });

  const proto = JSON.parse('{"__proto__": {"polluted": true}}') as object;
  const protoClone = structuredClone(proto) as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(protoClone), Object.prototype);
  assert.deepEqual(Object.keys(protoClone), ['__proto__']);
  assert.equal(Object.getPrototypeOf(structuredClone(Object.create(null))), Object.prototype);
});

test('cycles and shared references are preserved', () => {
  const shared = { n: 1 };
  const root: Record<string, unknown> = { a: shared, b: shared, list: [shared] };
  root.self = root;
  const map = new Map<unknown, unknown>([[shared, root]]);
  root.map = map;
  const clone = structuredClone(root) as typeof root;
  assert.notEqual(clone, root);
  assert.equal(clone.self, clone);
  assert.equal(clone.a, clone.b);
  assert.equal((clone.list as unknown[])[0], clone.a);
  const clonedMap = clone.map as Map<unknown, unknown>;
  assert.equal([...clonedMap.keys()][0], clone.a);
  assert.equal([...clonedMap.values()][0], clone);
});

test('Map and Set keep order and clone their contents', () => {
  const value = { m: new Map<unknown, unknown>([[1, 'a'], ['k', { deep: [1] }]]), s: new Set([3, 1, 2]) };
  const clone = structuredClone(value);
  assert.deepEqual(clone, nodeClone(value));
  assert.deepEqual([...clone.s], [3, 1, 2]);
  assert.notEqual(clone.m.get('k'), value.m.get('k'));
});

test('ArrayBuffer, typed arrays and DataView share the cloned buffer', () => {
  const buffer = new ArrayBuffer(8);
  new Uint8Array(buffer).set([1, 2, 3, 4, 5, 6, 7, 8]);
  const value = { buffer, bytes: new Uint8Array(buffer, 2, 4), view: new DataView(buffer, 1), floats: new Float64Array(1) };
  const clone = structuredClone(value);
  assert.notEqual(clone.buffer, buffer);
  assert.equal(clone.bytes.buffer, clone.buffer);
  assert.equal(clone.view.buffer, clone.buffer);
  assert.equal(clone.bytes.byteOffset, 2);
  assert.equal(clone.bytes.length, 4);
  assert.equal(clone.view.byteOffset, 1);
  assert.equal(clone.view.byteLength, 7);
  assert.ok(clone.floats instanceof Float64Array);
  assert.deepEqual([...clone.bytes], [3, 4, 5, 6]);
  clone.bytes[0] = 99;
  assert.equal(new Uint8Array(clone.buffer)[2], 99);
  assert.equal(new Uint8Array(buffer)[2], 3);

  // Resizable buffers are ES2024, newer than the project's lib typings.
  type Resizable = ArrayBuffer & { resizable: boolean; maxByteLength: number };
  const ResizableBuffer = ArrayBuffer as unknown as new (length: number, options: { maxByteLength: number }) => Resizable;
  const resizable = new ResizableBuffer(4, { maxByteLength: 16 });
  const clonedResizable = structuredClone(resizable);
  assert.equal(clonedResizable.resizable, true);
  assert.equal(clonedResizable.maxByteLength, 16);
});

test('transfer detaches the originals only when cloning succeeds', () => {
  const buffer = new Uint8Array([1, 2, 3]).buffer;
  const view = new Uint8Array(buffer);
  const clone = structuredClone({ view, buffer }, { transfer: [buffer, buffer] });
  assert.equal(buffer.byteLength, 0);
  assert.equal(view.length, 0);
  assert.equal(clone.view.buffer, clone.buffer);
  assert.deepEqual([...clone.view], [1, 2, 3]);

  const untouched = new ArrayBuffer(4);
  structuredClone(1, { transfer: [untouched] });
  assert.equal(untouched.byteLength, 0); // listed buffers are detached even if unused

  const kept = new ArrayBuffer(4);
  assertDataCloneError(() => structuredClone({ kept, f: () => {} }, { transfer: [kept] }), '() => {} could not be cloned.');
  assert.equal(kept.byteLength, 4);

  const typed = new Uint8Array(2);
  structuredClone(1, { transfer: [typed as unknown as ArrayBuffer] });
  assert.equal(typed.buffer.byteLength, 0);

  assert.throws(() => structuredClone(1, { transfer: [5] }), { name: 'TypeError', message: 'Object is not transferable' });
  assert.throws(() => structuredClone(1, { transfer: 5 as never }), {
    message: "Incorrect type for the 'transfer' field on 'StructuredCloneOptions': the provided value is not of type 'Array'.",
  });
  assert.throws(() => structuredClone(1, 5 as never), {
    message: "Failed to execute 'structuredClone' on 'ServiceWorkerGlobalScope': parameter 2 is not of type 'StructuredCloneOptions'.",
  });
  assert.equal(structuredClone(1, { transfer: undefined }), 1);
});

test('detached buffers cannot be cloned', () => {
  const buffer = new ArrayBuffer(2);
  (buffer as ArrayBuffer & { transfer(): ArrayBuffer }).transfer();
  assertDataCloneError(() => structuredClone(buffer), 'An ArrayBuffer is detached and could not be cloned.');
});

test('errors keep name (standard types only), message, stack and cause', () => {
  const error = new TypeError('bad', { cause: { why: 1 } });
  (error as unknown as Record<string, unknown>).extra = 1;
  const clone = structuredClone(error);
  assert.ok(clone instanceof TypeError);
  assert.equal(clone.message, 'bad');
  assert.equal(clone.stack, error.stack);
  assert.deepEqual(clone.cause, { why: 1 });
  assert.notEqual(clone.cause, error.cause);
  assert.equal((clone as unknown as Record<string, unknown>).extra, undefined);
  assert.deepEqual(Object.getOwnPropertyDescriptor(clone, 'message'), { value: 'bad', writable: true, enumerable: false, configurable: true });
  assert.equal(Object.getOwnPropertyDescriptor(clone, 'cause')!.enumerable, false);

  class MyError extends Error {}
  assert.equal(structuredClone(new MyError('m')).constructor, Error);
  const renamed = new RangeError('q');
  renamed.name = 'TypeError';
  assert.ok(structuredClone(renamed) instanceof TypeError);
  const weird = new Error('w');
  weird.name = 'Weird';
  assert.equal(structuredClone(weird).name, 'Error');
  assert.equal(Object.hasOwn(structuredClone(new Error()), 'message'), false);

  const domException = structuredClone(new DOMException('gone', 'AbortError'));
  assert.ok(domException instanceof DOMException);
  assert.equal(domException.name, 'AbortError');
  assert.equal(domException.code, 20);
  assert.match(domException.stack!, /^AbortError: gone/);
});

test('uncloneable values throw DataCloneError with V8/workerd texts', () => {
  assertDataCloneError(() => structuredClone(() => {}), '() => {} could not be cloned.');
  assertDataCloneError(() => structuredClone(function foo() {}), 'function foo() {} could not be cloned.');
  assertDataCloneError(() => structuredClone({ a: () => 1 }), '() => 1 could not be cloned.');
  assertDataCloneError(() => structuredClone(Symbol('x')), 'Symbol(x) could not be cloned.');
  assertDataCloneError(() => structuredClone(Object(Symbol('q'))), '[object Symbol] could not be cloned.');
  assertDataCloneError(() => structuredClone(new WeakMap()), '#<WeakMap> could not be cloned.');
  assertDataCloneError(() => structuredClone(new WeakSet()), '#<WeakSet> could not be cloned.');
  assertDataCloneError(() => structuredClone(Promise.resolve(1)), '#<Promise> could not be cloned.');
  // A fake tag does not make an ordinary object uncloneable.
  assert.deepEqual(structuredClone({ [Symbol.toStringTag]: 'WeakMap', a: 1 }), { a: 1 });
  assert.deepEqual(structuredClone({ [Symbol.toStringTag]: 'Date', a: 1 }), { a: 1 });
});

test('a throwing getter aborts the clone with its own error', () => {
  const value = {};
  Object.defineProperty(value, 'g', { get() { throw new Error('boom'); }, enumerable: true });
  assert.throws(() => structuredClone(value), { message: 'boom' });
});

test('missing argument throws workerd\'s TypeError', () => {
  assert.throws(() => (structuredClone as () => unknown)(), {
    name: 'TypeError',
    message: "Failed to execute 'structuredClone' on 'ServiceWorkerGlobalScope': parameter 1 is not of type 'Value'.",
  });
});

test('registered platform classes clone through their hook, subclasses included', () => {
  class Blobish {
    #parts: string[];
    constructor(parts: string[]) {
      this.#parts = parts;
    }
    get parts(): string[] {
      return this.#parts;
    }
  }
  class Fileish extends Blobish {}
  class Eventish {}
  registerCloneable(Blobish, (blob, cloneValue) => new Blobish(cloneValue(blob.parts) as string[]));
  registerUncloneable(Eventish, 'Event');
  const blob = new Blobish(['a', 'b']);
  const clone = structuredClone({ blob, again: blob, file: new Fileish(['f']) });
  assert.ok(clone.blob instanceof Blobish);
  assert.deepEqual(clone.blob.parts, ['a', 'b']);
  assert.notEqual(clone.blob.parts, blob.parts);
  assert.equal(clone.again, clone.blob);
  assert.ok(clone.file instanceof Blobish);
  assertDataCloneError(() => structuredClone(new Eventish()), 'Could not serialize object of type "Event". This type does not support serialization.');
});

test('random JSON-like graphs clone like Node\'s structuredClone', () => {
  let seed = 11;
  const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
  const make = (depth: number): unknown => {
    const r = random();
    if (depth > 4 || r < 0.3) return [1, 'two', null, undefined, true, 3n][Math.floor(random() * 6)];
    if (r < 0.5) return Array.from({ length: Math.floor(random() * 4) }, () => make(depth + 1));
    if (r < 0.6) return new Map([[make(depth + 1), make(depth + 1)]]);
    if (r < 0.7) return new Set([make(depth + 1)]);
    if (r < 0.75) return new Date(Math.floor(random() * 1e12));
    return Object.fromEntries(Array.from({ length: Math.floor(random() * 4) }, (_, i) => [`k${i}`, make(depth + 1)]));
  };
  for (let round = 0; round < 300; round++) {
    const value = make(0);
    assert.deepStrictEqual(structuredClone(value), nodeClone(value));
  }
});
