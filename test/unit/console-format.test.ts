import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSync } from 'esbuild';
import ivm from 'isolated-vm';
import { serializeConsoleArgs } from '../../src/guest/console-format.ts';

test('primitives, arrays and plain objects are recorded as JSON values', () => {
  const out = serializeConsoleArgs(['hi', 1, true, null, [1, 'a', null], { a: { b: [2] } }, Object.create(null)]);
  assert.deepStrictEqual(out.message, ['hi', 1, true, null, [1, 'a', null], { a: { b: [2] } }, {}]);
  assert.equal(out.errorInfo, undefined);
  assert.equal('errorInfo' in out, false);
});

test('undefined, NaN and undefined inside arrays become null; undefined properties vanish', () => {
  const out = serializeConsoleArgs([undefined, NaN, [undefined], { a: undefined, b: 1 }]);
  assert.deepStrictEqual(out.message, [null, null, [null], { b: 1 }]);
});

test('other objects are recorded as their string form', () => {
  class Thing {}
  const out = serializeConsoleArgs([new Map([[1, 2]]), new Set(), new Error('x'), new TypeError('bad'), new Thing(), 10n, new Uint8Array([1, 2])]);
  assert.deepStrictEqual(out.message, ['[object Map]', '[object Set]', 'Error: x', 'TypeError: bad', '[object Object]', '10', '1,2']);
});

test('anything with a toJSON method is serialised through it', () => {
  const date = new Date(Date.UTC(2026, 10, 21, 19, 6, 55));
  class Point {
    toJSON() {
      return { x: 1 };
    }
  }
  class Nothing {
    toJSON() {
      return undefined;
    }
  }
  const out = serializeConsoleArgs([date, new Point(), new Nothing()]);
  assert.deepStrictEqual(out.message, ['2026-11-21T19:06:55.000Z', { x: 1 }, null]);
});

test('arguments whose serialisation throws are recorded as {}', () => {
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;
  const getter = { get boom() { throw new Error('getter'); } };
  const toStringBomb = { toString() { throw new Error('nope'); } };
  Object.setPrototypeOf(toStringBomb, Object.create(null));
  const notAString = Object.assign(Object.create({ x: 1 }), { toString: () => ({}), valueOf: () => ({}) });
  const trap = new Proxy({}, { getPrototypeOf() { throw new Error('trap'); } });
  const out = serializeConsoleArgs([cycle, getter, toStringBomb, notAString, Symbol('s'), { big: 1n }, trap, 'after']);
  assert.deepStrictEqual(out.message, [{}, {}, {}, {}, {}, {}, {}, 'after']);
});

test('a throwing toJSON getter or toJSON method is contained', () => {
  const viaGetter = Object.create({ get toJSON() { throw new Error('x'); } });
  const viaMethod = { toJSON() { throw new Error('y'); } };
  assert.deepStrictEqual(serializeConsoleArgs([viaGetter, viaMethod]).message, [{}, {}]);
});

test('size is the UTF-8 byte length of the serialised message array', () => {
  // ["a", 1, {"k":"é"}] → 2 brackets + "a" (3) + ", " + 1 + ", " + {"k":"é"} (10 bytes: é is 2)
  const out = serializeConsoleArgs(['a', 1, { k: 'é' }]);
  assert.equal(out.size, Buffer.byteLength('["a", 1, {"k":"é"}]'));
  assert.equal(out.size, 20);
  assert.equal(serializeConsoleArgs([]).size, 2);
  assert.equal(serializeConsoleArgs(['😀']).size, Buffer.byteLength('["😀"]'));
});

test('errorInfo has one slot per argument when an argument is an Error', () => {
  const error = new TypeError('bad thing');
  const out = serializeConsoleArgs(['oops', error, 3]);
  assert.deepStrictEqual(out.message, ['oops', 'TypeError: bad thing', 3]);
  assert.ok(out.errorInfo);
  assert.equal(out.errorInfo.length, 3);
  assert.equal(out.errorInfo[0], null);
  assert.equal(out.errorInfo[2], null);
  const info = out.errorInfo[1]!;
  assert.equal(info.name, 'TypeError');
  assert.equal(info.message, 'bad thing');
  // The stack keeps the frames but not the "TypeError: bad thing" line.
  assert.ok(info.stack?.startsWith('    at '), info.stack);
  assert.equal(info.stack, error.stack!.slice('TypeError: bad thing\n'.length));
});

test('errorInfo omits an empty stack and reads unusual Error fields like workerd', () => {
  const noStack = new Error('m');
  noStack.stack = 'Error: m';
  const noMessage = new Error();
  delete (noMessage as { message?: string }).message; // own property absent; prototype has ""
  const renamed = new Error('x');
  renamed.name = 'Custom';
  renamed.stack = 'Custom: x\n    at here';
  const out = serializeConsoleArgs([noStack, noMessage, renamed]);
  assert.deepStrictEqual(out.errorInfo![0], { name: 'Error', message: 'm' });
  assert.equal(out.errorInfo![1]!.message, '');
  assert.deepStrictEqual(out.errorInfo![2], { name: 'Custom', message: 'x', stack: '    at here' });
});

test('an Error whose properties throw keeps its message slot and gets a null errorInfo slot', () => {
  const error = new Error('x');
  Object.defineProperty(error, 'stack', { get() { throw new Error('no'); } });
  const out = serializeConsoleArgs([error]);
  assert.deepStrictEqual(out.message, ['Error: x']);
  assert.equal(out.errorInfo, undefined);
});

test('objects that merely look like Errors get no errorInfo', () => {
  const fake = { name: 'Error', message: 'x', stack: 'Error: x' };
  const out = serializeConsoleArgs([fake]);
  assert.deepStrictEqual(out.message, [fake]);
  assert.equal(out.errorInfo, undefined);
});

test('runs inside a bare V8 isolate and survives poisoned prototypes there', () => {
  const bundle = buildSync({
    entryPoints: [new URL('../../src/guest/console-format.ts', import.meta.url).pathname],
    bundle: true,
    format: 'iife',
    globalName: 'consoleFormat',
    write: false,
    platform: 'neutral',
  }).outputFiles[0]!.text;
  const isolate = new ivm.Isolate({ memoryLimit: 32 });
  try {
    const context = isolate.createContextSync();
    context.evalSync(bundle);
    const json = context.evalSync(`
      // User code runs after the guest bundle and may sabotage built-ins.
      Object.defineProperty(Array.prototype, '0', { set() { throw new Error('setter'); }, configurable: true });
      String.prototype.startsWith = () => { throw new Error('startsWith'); };
      String.prototype.charCodeAt = () => { throw new Error('charCodeAt'); };
      Object.prototype.get = 1;
      const e = new RangeError('r');
      JSON.stringify(consoleFormat.serializeConsoleArgs(['x', e, new Map(), undefined]));
    `) as string;
    const out = JSON.parse(json);
    assert.deepStrictEqual(out.message, ['x', 'RangeError: r', '[object Map]', null]);
    assert.equal(out.errorInfo.length, 4);
    assert.equal(out.errorInfo[1].name, 'RangeError');
    assert.equal(out.errorInfo[1].message, 'r');
    assert.equal(out.size, Buffer.byteLength('["x", "RangeError: r", "[object Map]", null]'));
  } finally {
    isolate.dispose();
  }
});
