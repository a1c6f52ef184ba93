// The keys a log query may name, and where each one lives. Store-neutral: a key resolves to a
// logical field (a typed value every store keeps in a column of its own, because queries filter
// on it often) or to a path inside one of the two JSON documents a row carries ($workers of the
// invocation, `source` of a console line). Anything else is a bad key, reported by name.

export type KeyType = 'string' | 'number' | 'boolean';

/** Typed values kept per row (or per invocation) so that filters on them need no JSON. */
export type HotField =
  | 'id'
  | 'timestamp'
  | 'type'
  | 'level'
  | 'message'
  | 'error'
  | 'scriptName'
  | 'requestId'
  | 'outcome'
  | 'eventType'
  | 'method'
  | 'status'
  | 'cpuTimeMs'
  | 'wallTimeMs'
  // present on the invocation row only ($metadata.statusCode / $metadata.url)
  | 'rowStatusCode'
  | 'rowUrl'
  // kept once per invocation
  | 'url'
  | 'path'
  | 'trigger'
  | 'scriptVersionId'
  | 'truncated';

export type ResolvedKey =
  | { key: string; kind: 'field'; field: HotField; type: KeyType }
  | { key: string; kind: 'workers'; path: string[] }
  | { key: string; kind: 'source'; path: string[] };

export class KeyError extends Error {
  /** what is wrong, e.g. `unknown key "$foo"` */
  readonly headline: string;
  /** what would be right */
  readonly detail: string;
  constructor(headline: string, detail = '') {
    super(detail ? `${headline}: ${detail}` : headline);
    this.name = 'KeyError';
    this.headline = headline;
    this.detail = detail;
  }
}

const METADATA: Record<string, [HotField, KeyType]> = {
  id: ['id', 'string'],
  level: ['level', 'string'],
  message: ['message', 'string'],
  error: ['error', 'string'],
  service: ['scriptName', 'string'],
  requestId: ['requestId', 'string'],
  statusCode: ['rowStatusCode', 'number'],
  url: ['rowUrl', 'string'],
  trigger: ['trigger', 'string'],
  origin: ['eventType', 'string'],
  type: ['type', 'string'],
};

const WORKERS: Record<string, [HotField, KeyType]> = {
  scriptName: ['scriptName', 'string'],
  outcome: ['outcome', 'string'],
  eventType: ['eventType', 'string'],
  cpuTimeMs: ['cpuTimeMs', 'number'],
  wallTimeMs: ['wallTimeMs', 'number'],
  requestId: ['requestId', 'string'],
  truncated: ['truncated', 'boolean'],
  'scriptVersion.id': ['scriptVersionId', 'string'],
  'event.request.url': ['url', 'string'],
  'event.request.method': ['method', 'string'],
  'event.request.path': ['path', 'string'],
  'event.response.status': ['status', 'number'],
};

/** `$workers` members that hold nested data (reached through their JSON). */
const WORKERS_JSON_ROOTS = new Set(['event', 'executionModel', 'scriptVersion', 'diagnosticsChannelEvents']);

/** Every fixed key with its type: the keys endpoint lists them even before any row has them. */
export const FIXED_KEYS: { key: string; type: KeyType }[] = [
  { key: 'timestamp', type: 'number' },
  ...Object.entries(METADATA).map(([name, [, type]]) => ({ key: `$metadata.${name}`, type })),
  ...Object.entries(WORKERS).map(([name, [, type]]) => ({ key: `$workers.${name}`, type })),
  { key: '$workers.executionModel', type: 'string' },
];

// A path segment: anything but a dot (the separator), quotes, whitespace or control characters.
const SEGMENT = /^[^.\s"'`\\\u0000-\u001f]+$/;

function segments(key: string, rest: string): string[] {
  const parts = rest.split('.');
  for (const part of parts) {
    if (!SEGMENT.test(part)) throw new KeyError(`malformed key "${key}"`, 'every part between dots must be a non-empty name without quotes or spaces');
  }
  return parts;
}

/** Where `key` lives; throws KeyError for a key no row can have. */
export function resolveKey(key: string): ResolvedKey {
  if (typeof key !== 'string' || key === '') throw new KeyError('a key must be a non-empty string such as "$workers.outcome"');
  if (key.length > 512) throw new KeyError('a key must be at most 512 characters long');
  if (key === 'timestamp') return { key, kind: 'field', field: 'timestamp', type: 'number' };
  if (key.startsWith('$metadata.')) {
    const name = key.slice('$metadata.'.length);
    const known = METADATA[name];
    if (!known) throw new KeyError(`unknown key "${key}"`, `$metadata has ${Object.keys(METADATA).join(', ')}`);
    return { key, kind: 'field', field: known[0], type: known[1] };
  }
  if (key.startsWith('$workers.')) {
    const rest = key.slice('$workers.'.length);
    const known = WORKERS[rest];
    if (known) return { key, kind: 'field', field: known[0], type: known[1] };
    const path = segments(key, rest);
    if (!WORKERS_JSON_ROOTS.has(path[0])) {
      throw new KeyError(`unknown key "${key}"`, `$workers has ${[...Object.keys(WORKERS).filter((k) => !k.includes('.')), ...WORKERS_JSON_ROOTS].join(', ')}`);
    }
    return { key, kind: 'workers', path };
  }
  if (key.startsWith('$')) throw new KeyError(`unknown key "${key}"`, 'keys start with $metadata. or $workers., or name a field of a structured console.log object');
  // A plain name is a field of what a console line logged (console.log({user: 1}) → `user`).
  return { key, kind: 'source', path: segments(key, key) };
}
