// structuredClone() for the guest isolate: the HTML structured serialize /
// deserialize pair done in one walk, with workerd's error texts.
//
// Values are recognised by their internal brand (Object.prototype.toString
// plus a brand-checking built-in method), not by instanceof, so a swapped
// prototype cannot fool the cloner. Instances of ordinary classes clone as
// plain objects (own enumerable string-keyed properties), as in workerd.
// Platform classes written in JS (Blob, File, ...) plug in through
// registerCloneable; registerUncloneable makes others refuse, with workerd's
// message for platform types that do not support serialization.
//
// Known limits of doing this in JavaScript: a Proxy is cloned through its
// traps (V8 refuses it), and a length-tracking view over a resizable buffer
// comes back with a fixed length.

import { DOMException } from './dom-exception.ts';

export interface StructuredSerializeOptions {
  transfer?: unknown[];
}

/** Builds the clone of a registered platform object; `cloneValue` clones a
 *  nested value within the same operation (keeping shared references). */
export type CloneFunction<T extends object> = (value: T, cloneValue: (inner: unknown) => unknown) => object;

const registry = new Map<object, CloneFunction<object>>();

/** Makes instances of `ctor` (and of its subclasses unless they register
 *  their own) cloneable through `clone`. */
export function registerCloneable<T extends object>(
  ctor: abstract new (...args: never[]) => T,
  clone: CloneFunction<T>,
): void {
  registry.set(ctor.prototype as object, clone as CloneFunction<object>);
}

/** Makes structuredClone refuse instances of `ctor` (Event, Request, ...). */
export function registerUncloneable(ctor: abstract new (...args: never[]) => object, typeName = ctor.name): void {
  registry.set(ctor.prototype as object, () => {
    throw dataCloneError(
      `Could not serialize object of type "${typeName}". This type does not support serialization.`,
    );
  });
}

function dataCloneError(message: string): DOMException {
  return new DOMException(message, 'DataCloneError');
}

// How V8 names a value in "... could not be cloned.".
function describe(value: unknown): string {
  if (typeof value === 'function') return Function.prototype.toString.call(value);
  if (typeof value === 'symbol') return value.toString();
  const tag = Object.prototype.toString.call(value);
  if (tag === '[object Symbol]') return tag;
  let name = 'Object';
  try {
    const ctor = (Object.getPrototypeOf(value) as { constructor?: unknown } | null)?.constructor;
    if (typeof ctor === 'function' && ctor.name) name = ctor.name;
  } catch {
    // Keep "Object" for exotic prototypes.
  }
  return `#<${name}>`;
}

// Brand checks: each built-in method throws unless `value` really is one.
function hasBrand(check: (this: unknown) => unknown, value: unknown): boolean {
  try {
    check.call(value);
    return true;
  } catch {
    return false;
  }
}

const getter = (proto: object, key: PropertyKey) => Object.getOwnPropertyDescriptor(proto, key)!.get!;
const mapSize = getter(Map.prototype, 'size');
const setSize = getter(Set.prototype, 'size');
const arrayBufferByteLength = getter(ArrayBuffer.prototype, 'byteLength');
const regExpSource = getter(RegExp.prototype, 'source');
const regExpFlags = getter(RegExp.prototype, 'flags');
const typedArrayProto = Object.getPrototypeOf(Uint8Array.prototype) as object;
const typedArrayName = getter(typedArrayProto, Symbol.toStringTag);
const typedArrayBuffer = getter(typedArrayProto, 'buffer');
const typedArrayByteOffset = getter(typedArrayProto, 'byteOffset');
const typedArrayLength = getter(typedArrayProto, 'length');
const dataViewBuffer = getter(DataView.prototype, 'buffer');
const dataViewByteOffset = getter(DataView.prototype, 'byteOffset');
const dataViewByteLength = getter(DataView.prototype, 'byteLength');

const TYPED_ARRAYS: Record<string, new (buffer: ArrayBuffer, byteOffset: number, length: number) => ArrayBufferView> = {
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array,
};
// Float16Array is newer than our lib typings; use it where the engine has it.
const float16 = (globalThis as Record<string, unknown>).Float16Array;
if (typeof float16 === 'function') TYPED_ARRAYS.Float16Array = float16 as (typeof TYPED_ARRAYS)[string];

// Error constructors a clone may have; any other name comes back as "Error".
const ERROR_TYPES: Record<string, ErrorConstructor> = {
  Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError,
};

interface ResizableBuffer extends ArrayBuffer {
  readonly resizable: boolean;
  readonly maxByteLength: number;
  readonly detached: boolean;
}

function copyArrayBuffer(buffer: ArrayBuffer): ArrayBuffer {
  const source = buffer as ResizableBuffer;
  if (source.detached) throw dataCloneError('An ArrayBuffer is detached and could not be cloned.');
  const length = arrayBufferByteLength.call(buffer) as number;
  if (!source.resizable) return buffer.slice(0);
  const ctor = ArrayBuffer as unknown as new (length: number, options: { maxByteLength: number }) => ArrayBuffer;
  const copy = new ctor(length, { maxByteLength: source.maxByteLength });
  new Uint8Array(copy).set(new Uint8Array(buffer, 0, length));
  return copy;
}

function defineValue(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: false, configurable: true });
}

class Cloner {
  // Source object -> its clone, for shared references and cycles.
  memory = new Map<object, unknown>();

  clone(value: unknown): unknown {
    if (value === null) return null;
    const kind = typeof value;
    if (kind !== 'object') {
      if (kind === 'function' || kind === 'symbol') throw dataCloneError(`${describe(value)} could not be cloned.`);
      return value; // undefined, boolean, number, bigint, string
    }
    const object = value as object;
    const seen = this.memory.get(object);
    if (seen !== undefined) return seen;

    if (Array.isArray(object)) return this.cloneProperties(object, new Array(object.length));

    const registered = this.findRegistered(object);
    if (registered) {
      const result = registered(object, (inner) => this.clone(inner));
      this.memory.set(object, result);
      return result;
    }

    const tag = Object.prototype.toString.call(object).slice(8, -1);
    const result = this.cloneBuiltin(object, tag);
    if (result !== NOT_BUILTIN) return result;
    if (tag === 'Error') return this.cloneError(object as Error);
    if (UNCLONEABLE_TAGS.has(tag) && isUncloneable(object, tag)) {
      throw dataCloneError(`${describe(object)} could not be cloned.`);
    }
    return this.cloneProperties(object, {});
  }

  findRegistered(object: object): CloneFunction<object> | undefined {
    if (registry.size === 0) return undefined;
    for (let proto = Object.getPrototypeOf(object); proto !== null && proto !== Object.prototype; ) {
      const clone = registry.get(proto);
      if (clone) return clone;
      proto = Object.getPrototypeOf(proto);
    }
    return undefined;
  }

  // Built-ins with internal slots; NOT_BUILTIN when `object` has none of them
  // (its tag may also be a user's Symbol.toStringTag, hence the brand checks).
  cloneBuiltin(object: object, tag: string): unknown {
    const remember = <T>(clone: T): T => {
      this.memory.set(object, clone);
      return clone;
    };
    switch (tag) {
      case 'Boolean':
        if (hasBrand(Boolean.prototype.valueOf, object)) return remember(Object(Boolean.prototype.valueOf.call(object)));
        break;
      case 'Number':
        if (hasBrand(Number.prototype.valueOf, object)) return remember(Object(Number.prototype.valueOf.call(object)));
        break;
      case 'String':
        if (hasBrand(String.prototype.valueOf, object)) return remember(Object(String.prototype.valueOf.call(object)));
        break;
      case 'BigInt':
        if (hasBrand(BigInt.prototype.valueOf, object)) return remember(Object(BigInt.prototype.valueOf.call(object)));
        break;
      case 'Date':
        if (hasBrand(Date.prototype.getTime, object)) return remember(new Date(Date.prototype.getTime.call(object)));
        break;
      case 'RegExp':
        if (hasBrand(regExpSource, object)) {
          // A new RegExp starts with lastIndex 0, as the spec wants.
          return remember(new RegExp(regExpSource.call(object) as string, regExpFlags.call(object) as string));
        }
        break;
      case 'ArrayBuffer':
        if (hasBrand(arrayBufferByteLength, object)) return remember(copyArrayBuffer(object as ArrayBuffer));
        break;
      case 'SharedArrayBuffer':
        // Same agent: the clone shares the memory; JS can only express that
        // by handing back the same object.
        if (typeof SharedArrayBuffer === 'function' && object instanceof SharedArrayBuffer) return remember(object);
        break;
      case 'DataView':
        if (hasBrand(dataViewBuffer, object)) {
          const buffer = this.clone(dataViewBuffer.call(object)) as ArrayBuffer;
          return remember(
            new DataView(buffer, dataViewByteOffset.call(object) as number, dataViewByteLength.call(object) as number),
          );
        }
        break;
      case 'Map':
        if (hasBrand(mapSize, object)) {
          const clone = remember(new Map());
          // Copy the entries first: cloning may run getters that mutate the map.
          const entries = [...Map.prototype.entries.call(object)];
          for (const [key, entryValue] of entries) clone.set(this.clone(key), this.clone(entryValue));
          return clone;
        }
        break;
      case 'Set':
        if (hasBrand(setSize, object)) {
          const clone = remember(new Set());
          const members = [...Set.prototype.values.call(object)];
          for (const member of members) clone.add(this.clone(member));
          return clone;
        }
        break;
      default:
        if (ArrayBuffer.isView(object)) {
          const name = typedArrayName.call(object) as string | undefined;
          const ctor = name === undefined ? undefined : TYPED_ARRAYS[name];
          if (ctor) {
            const buffer = this.clone(typedArrayBuffer.call(object)) as ArrayBuffer;
            return remember(
              new ctor(buffer, typedArrayByteOffset.call(object) as number, typedArrayLength.call(object) as number),
            );
          }
        }
    }
    return NOT_BUILTIN;
  }

  cloneError(error: Error): Error {
    if (error instanceof DOMException) {
      const clone = new DOMException(error.message, error.name);
      this.memory.set(error, clone);
      copyStack(error, clone);
      return clone;
    }
    const name = String(error.name);
    const ctor = Object.prototype.hasOwnProperty.call(ERROR_TYPES, name) ? ERROR_TYPES[name]! : Error;
    const clone = new ctor();
    this.memory.set(error, clone);
    const message = Object.getOwnPropertyDescriptor(error, 'message');
    if (message && 'value' in message) defineValue(clone, 'message', String(message.value));
    copyStack(error, clone);
    if (Object.prototype.hasOwnProperty.call(error, 'cause')) defineValue(clone, 'cause', this.clone(error.cause));
    return clone;
  }

  // Own enumerable string keys, read with Get (getters run; their values are
  // copied as data properties). Array holes stay holes.
  cloneProperties<T extends object>(source: object, target: T): T {
    this.memory.set(source, target);
    const record = target as Record<string, unknown>;
    for (const key of Object.keys(source)) {
      if (!Object.prototype.hasOwnProperty.call(source, key)) continue; // deleted by an earlier getter
      const value = this.clone((source as Record<string, unknown>)[key]);
      if (key === '__proto__') defineOwn(target, key, value);
      else record[key] = value;
    }
    return target;
  }
}

const NOT_BUILTIN = Symbol('not a built-in');

function defineOwn(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}

function copyStack(from: Error, to: Error): void {
  const stack = from.stack;
  if (typeof stack === 'string') defineValue(to, 'stack', stack);
}

// Objects with internal slots that cannot be serialized.
const UNCLONEABLE_TAGS = new Set([
  'WeakMap', 'WeakSet', 'WeakRef', 'FinalizationRegistry', 'Promise', 'Symbol',
  'Generator', 'AsyncGenerator',
]);

function isUncloneable(object: object, tag: string): boolean {
  switch (tag) {
    case 'WeakMap':
      return hasBrand(function (this: unknown) { WeakMap.prototype.has.call(this as WeakMap<object, unknown>, {}); }, object);
    case 'WeakSet':
      return hasBrand(function (this: unknown) { WeakSet.prototype.has.call(this as WeakSet<object>, {}); }, object);
    case 'Promise':
      return hasBrand(function (this: unknown) { Promise.prototype.then.call(this as Promise<unknown>, undefined); }, object);
    case 'Symbol':
      return hasBrand(Symbol.prototype.valueOf, object);
    default:
      // WeakRef, FinalizationRegistry and generators are only cloneable if
      // the tag is a user's fake; those have an ordinary object prototype.
      return Object.getPrototypeOf(object) !== Object.prototype;
  }
}

function transferList(options: unknown): ArrayBuffer[] {
  if (options == null) return [];
  if (typeof options !== 'object' && typeof options !== 'function') {
    throw new TypeError(
      "Failed to execute 'structuredClone' on 'ServiceWorkerGlobalScope': parameter 2 is not of type 'StructuredCloneOptions'.",
    );
  }
  const transfer = (options as StructuredSerializeOptions).transfer;
  if (transfer === undefined) return [];
  if (!Array.isArray(transfer)) {
    throw new TypeError(
      "Incorrect type for the 'transfer' field on 'StructuredCloneOptions': the provided value is not of type 'Array'.",
    );
  }
  const buffers = new Set<ArrayBuffer>();
  for (const item of transfer) {
    // workerd accepts a view and transfers its buffer.
    const buffer: unknown = ArrayBuffer.isView(item) ? item.buffer : item;
    if (!(buffer instanceof ArrayBuffer)) throw new TypeError('Object is not transferable');
    buffers.add(buffer);
  }
  return [...buffers];
}

export function structuredClone<T>(value: T, options?: StructuredSerializeOptions): T {
  if (arguments.length === 0) {
    throw new TypeError(
      "Failed to execute 'structuredClone' on 'ServiceWorkerGlobalScope': parameter 1 is not of type 'Value'.",
    );
  }
  const transfer = transferList(options);
  const cloner = new Cloner();
  // Transferred buffers are cloned by copying, and the originals detached
  // only once the whole value has been cloned: if cloning throws, nothing
  // has been detached (as with the spec's serialize-then-transfer order).
  for (const buffer of transfer) {
    if (!(buffer as ResizableBuffer).detached) cloner.memory.set(buffer, copyArrayBuffer(buffer));
  }
  const result = cloner.clone(value) as T;
  for (const buffer of transfer) {
    if (!(buffer as ResizableBuffer).detached) (buffer as unknown as { transfer(length: number): ArrayBuffer }).transfer(0);
  }
  return result;
}
