// A job's `destination_conf` for HTTP destinations, read the way Cloudflare reads it: the URL to
// POST to, where every `header_<Name>=<value>` query parameter becomes the request header
// `<Name>: <value>` (and is taken out of the URL); other query parameters stay in the URL.

export interface HttpDestination {
  url: URL;
  headers: Record<string, string>;
}

export class DestinationError extends Error {}

const HEADER_PREFIX = 'header_';
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Headers that describe the body or the connection: the sender sets them, the user cannot. */
const RESERVED = new Set(['content-length', 'content-encoding', 'transfer-encoding', 'host', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer']);

export function parseDestination(conf: string): HttpDestination {
  let url: URL;
  try {
    url = new URL(conf);
  } catch {
    throw new DestinationError(`destination_conf is not a URL: ${JSON.stringify(conf)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new DestinationError(`destination_conf: only http:// and https:// destinations are supported, got ${url.protocol}//…`);
  }
  if (url.username || url.password) {
    throw new DestinationError('destination_conf: credentials in the URL are not sent; use header_Authorization=… instead');
  }
  const headers: Record<string, string> = {};
  for (const [key, value] of [...url.searchParams]) {
    if (!key.toLowerCase().startsWith(HEADER_PREFIX)) continue;
    const name = key.slice(HEADER_PREFIX.length);
    if (!TOKEN.test(name)) throw new DestinationError(`destination_conf: "${key}" does not name a valid HTTP header`);
    if (RESERVED.has(name.toLowerCase())) throw new DestinationError(`destination_conf: the header ${name} is set by Flarelet and cannot be given`);
    if (/[\r\n\0]/.test(value)) throw new DestinationError(`destination_conf: the value of ${key} contains a line break or NUL`);
    const lower = name.toLowerCase();
    headers[lower] = lower in headers ? `${headers[lower]}, ${value}` : value;
  }
  for (const key of [...url.searchParams.keys()]) if (key.toLowerCase().startsWith(HEADER_PREFIX)) url.searchParams.delete(key);
  url.hash = '';
  return { url, headers };
}

/** destination_conf with header values hidden, for error messages and metrics. */
export function describeDestination(conf: string): string {
  try {
    const { url } = parseDestination(conf);
    return url.origin + url.pathname;
  } catch {
    return '(invalid destination)';
  }
}
