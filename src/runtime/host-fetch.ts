// Subrequests (`fetch` inside a worker) performed by the host with undici. The response body is
// handed back as a stream the guest pulls from, so large bodies are never buffered whole.
import { lookup as dnsLookup } from 'node:dns';
import type { LookupOptions } from 'node:dns';
import type { Dispatcher } from 'undici';
import type { SubrequestInit, SubrequestResult } from '../protocol/bridge.ts';

export const NETWORK_CONNECTION_LOST = 'Network connection lost.';

/**
 * `*.localhost` names are loopback (RFC 6761), which is how workers on this machine are reached
 * (`<name>.localhost`); the system resolver does not always know that, so resolve them here.
 */
function lookupWithLocalhost(hostname: string, options: LookupOptions, callback: (...args: unknown[]) => void): void {
  const host = hostname.toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) {
    if (options.all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
    else callback(null, '127.0.0.1', 4);
    return;
  }
  dnsLookup(hostname, options, callback as never);
}

let dispatcher: Promise<Dispatcher> | undefined;
function subrequestDispatcher(): Promise<Dispatcher> {
  dispatcher ??= import('undici').then(({ Agent }) => new Agent({ connect: { lookup: lookupWithLocalhost as never } }));
  return dispatcher;
}

export interface SubrequestOutcome {
  result: Omit<SubrequestResult, 'bodyStream'>;
  body: ReadableStream<Uint8Array> | null;
}

/** A failure the guest sees as an exception of the given name and message. */
export class SubrequestError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

export async function performSubrequest(
  init: SubrequestInit,
  body: Uint8Array | AsyncIterable<Uint8Array> | null,
  signal: AbortSignal,
): Promise<SubrequestOutcome> {
  let url: URL;
  try {
    url = new URL(init.url);
  } catch {
    throw new SubrequestError('TypeError', `Fetch API cannot load: ${init.url}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new SubrequestError('TypeError', `Fetch API cannot load: ${init.url}`);
  }
  const headers: [string, string][] = [];
  for (let i = 0; i < init.headers.length; i += 2) headers.push([init.headers[i], init.headers[i + 1]]);
  // undici is loaded on the first subrequest: importing it costs ~80 ms of start-up.
  const { fetch: undiciFetch } = await import('undici');
  let response: Awaited<ReturnType<typeof undiciFetch>>;
  try {
    response = await undiciFetch(url, {
      dispatcher: await subrequestDispatcher(),
      method: init.method,
      headers,
      body: body as never,
      duplex: body && !(body instanceof Uint8Array) ? 'half' : undefined,
      redirect: init.redirect === 'manual' ? 'manual' : init.redirect === 'error' ? 'error' : 'follow',
      signal,
    } as never);
  } catch (error) {
    if (signal.aborted) throw new SubrequestError('AbortError', 'The operation was aborted.');
    if (init.redirect === 'error' && String((error as Error)?.cause ?? '').includes('redirect')) {
      throw new SubrequestError('TypeError', 'Fetch API cannot load: redirect mode is "error"');
    }
    throw new SubrequestError('Error', NETWORK_CONNECTION_LOST);
  }
  const flat: string[] = [];
  for (const [name, value] of response.headers) {
    if (name === 'set-cookie') continue;
    flat.push(name, value);
  }
  for (const cookie of response.headers.getSetCookie()) flat.push('set-cookie', cookie);
  return {
    result: { status: response.status, statusText: response.statusText, headers: flat, url: response.url, redirected: response.redirected },
    body: response.body as ReadableStream<Uint8Array> | null,
  };
}
