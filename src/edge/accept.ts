// Proactive content negotiation on the Accept header (RFC 9110 §12.5.1): which of the media
// types a server can send does the client prefer? Used by the error pages; knows nothing of them.
//
// Rules, in order:
// - Each offer gets the q-value of the most specific media range that matches it
//   (`type/sub;param=v` > `type/sub` > `type/*` > `*/*`); among equally specific ranges the
//   highest q counts. An offer no range matches, or matched with q=0, is not acceptable.
// - The acceptable offer with the highest q wins. On equal q, the one matched by the more
//   specific range wins; then the one whose range the client listed first; then the server's
//   order of offers.
// - A range with parameters matches only offers carrying the same parameters (values compared
//   case-insensitively), so `text/html;charset=utf-8` matches an offer `text/html;charset=utf-8`.
// - Malformed ranges (no `/`, characters outside RFC 9110 tokens, a bad q) are skipped, never
//   thrown: the header comes from the client. A lone `*` counts as `*/*` (old Java clients send it).

export interface MediaRange {
  type: string;
  subtype: string;
  /** media-type parameters before q, names lower-cased */
  params: ReadonlyMap<string, string>;
  q: number;
  /** position in the header, 0-based, among the ranges that parsed */
  order: number;
}

interface Offer {
  type: string;
  subtype: string;
  params: ReadonlyMap<string, string>;
}

/** RFC 9110 `token` characters. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A qvalue, read a little more leniently than RFC 9110 (`.5` and `1.0000` are accepted). */
const QVALUE = /^(?:\d+(?:\.\d*)?|\.\d+)$/;

/** Splits on `sep` outside double-quoted strings (a quoted parameter may contain `,` or `;`). */
function splitOutsideQuotes(text: string, sep: string): string[] {
  const parts: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') {
      quoted = true;
    } else if (c === sep) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

function unquote(value: string): string {
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
    return value.slice(1, -1).replace(/\\(.)/g, '$1');
  }
  return value;
}

/** Parses `type/subtype;name=value…` (no q handling). Returns null when it is not well formed. */
function parseMediaType(text: string): { type: string; subtype: string; params: Map<string, string>; rest: string[] } | null {
  const [head, ...paramParts] = splitOutsideQuotes(text, ';');
  let full = head.trim().toLowerCase();
  if (full === '*') full = '*/*';
  const slash = full.indexOf('/');
  if (slash <= 0) return null;
  const type = full.slice(0, slash);
  const subtype = full.slice(slash + 1);
  if (!TOKEN.test(type) || !TOKEN.test(subtype)) return null;
  if (type === '*' && subtype !== '*') return null;
  return { type, subtype, params: new Map(), rest: paramParts };
}

/**
 * The media ranges of an Accept header, in header order, malformed ones left out. `undefined`
 * or an empty header gives no ranges.
 */
export function parseAccept(header: string | undefined): MediaRange[] {
  if (!header) return [];
  const ranges: MediaRange[] = [];
  for (const part of splitOutsideQuotes(header, ',')) {
    if (part.trim() === '') continue;
    const parsed = parseMediaType(part);
    if (!parsed) continue;
    let q = 1;
    let valid = true;
    for (const raw of parsed.rest) {
      if (raw.trim() === '') continue; // `text/html;;q=1`: an empty parameter is harmless
      const eq = raw.indexOf('=');
      if (eq <= 0) { valid = false; break; }
      const name = raw.slice(0, eq).trim().toLowerCase();
      const value = unquote(raw.slice(eq + 1).trim());
      if (!TOKEN.test(name)) { valid = false; break; }
      if (name === 'q') {
        if (!QVALUE.test(value) || Number(value) > 1) { valid = false; break; }
        q = Number(value);
        // Whatever follows q is an accept-ext, not a media-type parameter (RFC 9110).
        break;
      }
      parsed.params.set(name, value);
    }
    if (!valid) continue;
    ranges.push({ type: parsed.type, subtype: parsed.subtype, params: parsed.params, q, order: ranges.length });
  }
  return ranges;
}

/** How specific a range is when it matches `offer`, or -1 when it does not match. */
function specificity(range: MediaRange, offer: Offer): number {
  let score: number;
  if (range.type === '*') score = 0;
  else if (range.type !== offer.type) return -1;
  else if (range.subtype === '*') score = 1;
  else if (range.subtype !== offer.subtype) return -1;
  else score = 2;
  for (const [name, value] of range.params) {
    const offered = offer.params.get(name);
    if (offered === undefined || offered.toLowerCase() !== value.toLowerCase()) return -1;
  }
  return score + range.params.size;
}

function parseOffer(offer: string): Offer {
  const parsed = parseMediaType(offer);
  if (!parsed || parsed.type === '*' || parsed.subtype === '*') throw new Error(`not a concrete media type: ${offer}`);
  for (const raw of parsed.rest) {
    const eq = raw.indexOf('=');
    if (eq > 0) parsed.params.set(raw.slice(0, eq).trim().toLowerCase(), unquote(raw.slice(eq + 1).trim()));
  }
  return parsed;
}

/** One offer as the client rates it. */
interface Rating { q: number; specificity: number; order: number }

function rate(ranges: readonly MediaRange[], offer: Offer): Rating | null {
  let best: Rating | null = null;
  for (const range of ranges) {
    const s = specificity(range, offer);
    if (s < 0) continue;
    if (!best || s > best.specificity || (s === best.specificity && range.q > best.q)) {
      best = { q: range.q, specificity: s, order: range.order };
    }
  }
  return best;
}

/**
 * Prepares a negotiator over a fixed list of offers (concrete media types, in the server's
 * order of preference; parameters allowed). The returned function gives the index of the
 * preferred offer for an Accept header, or -1 when the header accepts none of them. A missing
 * or empty header (or one where nothing parses) accepts anything: the first offer wins.
 */
export function negotiator(offers: readonly string[]): (accept: string | undefined) => number {
  const parsedOffers = offers.map(parseOffer);
  return (accept) => {
    const ranges = parseAccept(accept);
    if (ranges.length === 0) return parsedOffers.length > 0 ? 0 : -1;
    let bestIndex = -1;
    let best: Rating | null = null;
    for (let i = 0; i < parsedOffers.length; i++) {
      const rating = rate(ranges, parsedOffers[i]);
      if (!rating || rating.q <= 0) continue;
      if (
        !best ||
        rating.q > best.q ||
        (rating.q === best.q && (rating.specificity > best.specificity || (rating.specificity === best.specificity && rating.order < best.order)))
      ) {
        best = rating;
        bestIndex = i;
      }
    }
    return bestIndex;
  };
}
