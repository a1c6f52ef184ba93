// Redaction of the request a trace carries (tail, persisted logs, logpush), following workerd
// (api/trace.c++ for headers, redactUrl in api/util.c++ for URLs). Workers see the raw request;
// only the copies that leave for observability are redacted.

const REDACTED = 'REDACTED';

/** Header names whose values never leave: the cookies, and anything that smells of a credential. */
function isSecretHeader(lowerName: string): boolean {
  return (
    lowerName === 'cookie' ||
    lowerName === 'set-cookie' ||
    lowerName.includes('auth') ||
    lowerName.includes('jwt') ||
    lowerName.includes('key') ||
    lowerName.includes('secret') ||
    lowerName.includes('token')
  );
}

/**
 * Headers as traces show them: names lower-cased and sorted (a Headers object iterates in that
 * order, and so does Cloudflare's output), repeated headers joined with ", ", secret values
 * replaced by "REDACTED".
 * Accepts `[name, value]` pairs or a flat `[name, value, name, value, ...]` list (Node's rawHeaders).
 */
export function redactHeaders(list: readonly (readonly [string, string])[] | readonly string[]): Record<string, string> {
  const combined = new Map<string, string>();
  for (const [name, value] of toPairs(list)) {
    const lowerName = name.toLowerCase();
    const previous = combined.get(lowerName);
    combined.set(lowerName, previous === undefined ? value : `${previous}, ${value}`);
  }
  const names = [...combined.keys()].sort();
  // Object.fromEntries defines own properties, so a header called "__proto__" stays a header.
  return Object.fromEntries(
    names.map((name) => [name, isSecretHeader(name) ? REDACTED : (combined.get(name) as string)]),
  );
}

function toPairs(list: readonly (readonly [string, string])[] | readonly string[]): (readonly [string, string])[] {
  if (list.length === 0 || typeof list[0] !== 'string') return list as (readonly [string, string])[];
  const flat = list as readonly string[];
  const pairs: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) pairs.push([flat[i]!, flat[i + 1]!]);
  return pairs;
}

// URL redaction works on "spans": maximal runs of [A-Za-z0-9+_-]. '+', '-' and '_' appear in
// both base64 alphabets and in GUID-style hex ids, so they are part of a span; '/', '=' and
// everything else end it.

function isSpanChar(code: number): boolean {
  return isDigit(code) || isUpper(code) || isLower(code) || isSeparator(code);
}
function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}
function isUpper(code: number): boolean {
  return code >= 0x41 && code <= 0x5a;
}
function isLower(code: number): boolean {
  return code >= 0x61 && code <= 0x7a;
}
function isSeparator(code: number): boolean {
  return code === 0x2b || code === 0x2d || code === 0x5f; // + - _
}
function isHex(code: number): boolean {
  return isDigit(code) || (code >= 0x41 && code <= 0x46) || (code >= 0x61 && code <= 0x66);
}

/**
 * The URL with every span that looks like an identifier or a secret replaced by "REDACTED":
 *   - 32 or more hex digits and nothing else but separators (hex ids, GUIDs, hashes);
 *   - 21 or more characters with at least two digits, two upper- and two lower-case letters
 *     (base64 tokens);
 *   - 13 to 19 digits, separators ignored, passing the Luhn check (payment card numbers).
 */
export function redactUrl(url: string): string {
  let out = '';
  let spanStart = 0;
  for (let i = 0; i <= url.length; i++) {
    if (i < url.length && isSpanChar(url.charCodeAt(i))) continue;
    const span = url.slice(spanStart, i);
    out += shouldRedactSpan(span) ? REDACTED : span;
    if (i < url.length) out += url[i];
    spanStart = i + 1;
  }
  return out;
}

function shouldRedactSpan(span: string): boolean {
  let hexDigits = 0;
  let sawNonHex = false;
  let digits = 0;
  let upper = 0;
  let lower = 0;
  for (let i = 0; i < span.length; i++) {
    const code = span.charCodeAt(i);
    if (isHex(code)) hexDigits++;
    else if (!isSeparator(code)) sawNonHex = true;
    if (isDigit(code)) digits++;
    else if (isUpper(code)) upper++;
    else if (isLower(code)) lower++;
  }
  const isHexId = hexDigits >= 32 && !sawNonHex;
  const isProbablyBase64Id = span.length >= 21 && digits >= 2 && upper >= 2 && lower >= 2;
  return isHexId || isProbablyBase64Id || isLuhnCardNumber(span);
}

/** 13–19 digits (separators ignored) whose Luhn checksum is valid. */
function isLuhnCardNumber(span: string): boolean {
  let digitCount = 0;
  let sum = 0;
  let double = false;
  for (let i = span.length - 1; i >= 0; i--) {
    const code = span.charCodeAt(i);
    if (isSeparator(code)) continue;
    if (!isDigit(code)) return false;
    let digit = code - 0x30;
    if (double) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
    digitCount++;
    double = !double;
  }
  return digitCount >= 13 && digitCount <= 19 && sum % 10 === 0;
}
