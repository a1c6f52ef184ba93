// Turns the arguments of one console call into what a trace log records.
// Runs inside the isolate: ECMAScript built-ins only. Follows workerd's Worker::handleLog:
//   - null, undefined, numbers, booleans, strings, arrays, objects whose prototype is
//     Object.prototype or null, and anything with a callable `toJSON` → JSON.stringify
//     (a result of `undefined` becomes null);
//   - every other value → its string conversion (`"Error: x"`, `"[object Map]"`, `"1"` for 1n);
//   - anything that throws on the way (cycles, BigInt inside JSON, symbols, hostile getters,
//     toString or proxy traps) → {}.
// The joined JSON text `[a, b, ...]` is what counts against the per-invocation log budget.
// User code can hand us anything, so nothing in here may throw.

import type { ErrorInfo } from '../protocol/trace.ts';

export interface SerializedConsoleArgs {
  /** One JSON-compatible value per argument. */
  message: unknown[];
  /** Present only if some argument was an Error: one slot per argument, null for the others. */
  errorInfo?: (ErrorInfo | null)[];
  /** UTF-8 byte length of the message serialised as `[arg0, arg1, ...]`. */
  size: number;
}

// Captured when the guest bundle loads, before any user code runs, so a script that later
// replaces globals or prototype methods (String.prototype.startsWith, Array.prototype.push...)
// can neither make this module throw nor steer what it records.
const apply = Reflect.apply;
const stringify = JSON.stringify;
const parse = JSON.parse;
const getPrototypeOf = Object.getPrototypeOf;
const objectPrototype = Object.prototype;
const isArray = Array.isArray;
const toStr = String;
const strSlice = String.prototype.slice;
const strStartsWith = String.prototype.startsWith;
const strCharCodeAt = String.prototype.charCodeAt;
const isError: (value: unknown) => boolean =
  typeof (Error as { isError?: unknown }).isError === 'function'
    ? (Error as unknown as { isError: (value: unknown) => boolean }).isError
    : (value) => value instanceof Error;

const slice = (text: string, start: number): string => apply(strSlice, text, [start]);
const startsWith = (text: string, prefix: string): boolean => apply(strStartsWith, text, [prefix]);
const charCodeAt = (text: string, index: number): number => apply(strCharCodeAt, text, [index]);
const defineProperty = Reflect.defineProperty;

/** `array[index] = value` that cannot hit a setter planted on Array.prototype or Object.prototype. */
function setElement<T>(array: T[], index: number, value: T): void {
  defineProperty(array, index, {
    __proto__: null,
    value,
    writable: true,
    enumerable: true,
    configurable: true,
  } as PropertyDescriptor);
}

export function serializeConsoleArgs(args: unknown[]): SerializedConsoleArgs {
  try {
    const count = args.length;
    // Built as text, the way workerd does, so the budget counts exactly these bytes.
    let text = '[';
    for (let i = 0; i < count; i++) {
      if (i > 0) text += ', ';
      text += argToJson(args[i]);
    }
    text += ']';
    // Parsing our own JSON text yields a plain, inert copy (no getters, no prototypes), and
    // JSON.parse builds its arrays without consulting setters user code may have planted.
    const message = parse(text) as unknown[];
    const size = utf8Length(text);
    const errorInfo = collectErrorInfo(args, count);
    return errorInfo === undefined ? { message, size } : { message, errorInfo, size };
  } catch {
    // Only reachable if `args` itself is hostile (a proxy with throwing traps, say).
    return { message: [], size: 2 };
  }
}

/** The JSON text recorded for one argument; never throws. */
function argToJson(arg: unknown): string {
  try {
    if (shouldSerialiseAsJson(arg)) {
      const json = stringify(arg);
      return json === undefined ? 'null' : json;
    }
    // Symbols cannot be converted to strings implicitly; workerd's ToString throws for them.
    if (typeof arg === 'symbol') return '{}';
    return stringify(toStr(arg));
  } catch {
    return '{}';
  }
}

function shouldSerialiseAsJson(arg: unknown): boolean {
  if (arg === null || arg === undefined) return true;
  const type = typeof arg;
  if (type === 'number' || type === 'boolean' || type === 'string') return true;
  if (type !== 'object' && type !== 'function') return false; // bigint, symbol
  if (isArray(arg)) return true;
  const proto = getPrototypeOf(arg);
  if (proto === objectPrototype || proto === null) return true;
  return typeof (arg as { toJSON?: unknown }).toJSON === 'function';
}

/** errorInfo slots for the arguments that are native Errors, or undefined when there are none. */
function collectErrorInfo(args: unknown[], count: number): (ErrorInfo | null)[] | undefined {
  let slots: (ErrorInfo | null)[] | undefined;
  for (let i = 0; i < count; i++) {
    let info: ErrorInfo | null = null;
    try {
      if (isError(args[i])) info = describeError(args[i] as object);
    } catch {
      // Best effort, like workerd: an Error whose properties throw still appears in `message`.
    }
    if (info === null) continue;
    if (slots === undefined) {
      slots = [];
      for (let j = 0; j < count; j++) setElement(slots, j, null);
    }
    setElement(slots, i, info);
  }
  return slots;
}

/**
 * name, message and stack of an Error the way workerd reports them (getErrorInfoForTrace):
 * name defaults to "Error", a missing message falls back to the error's string form, and the
 * stack loses its leading `Name: message` so the two are not recorded twice.
 */
function describeError(error: object): ErrorInfo {
  const fields = error as { name?: unknown; message?: unknown; stack?: unknown };
  const rawName = fields.name;
  const rawMessage = fields.message;
  const rawStack = fields.stack;
  const name = rawName === undefined ? 'Error' : toStr(rawName);
  const message = rawMessage === undefined ? toStr(error) : toStr(rawMessage);
  if (rawStack === undefined) return { name, message };
  let stack = toStr(rawStack);
  if (startsWith(stack, name)) {
    stack = slice(stack, name.length);
    if (startsWith(stack, ': ')) stack = slice(stack, 2);
  }
  if (startsWith(stack, message)) {
    stack = slice(stack, message.length);
    if (startsWith(stack, '\n')) stack = slice(stack, 1);
  }
  return stack.length > 0 ? { name, message, stack } : { name, message };
}

/** Bytes the string takes in UTF-8 (no TextEncoder in a bare isolate). */
function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = charCodeAt(text, i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = charCodeAt(text, i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3; // a lone surrogate is encoded as U+FFFD
    } else bytes += 3;
  }
  return bytes;
}
