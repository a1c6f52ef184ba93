// One delivery attempt: POST a batch and classify the answer. Retry (the destination may accept
// it later): no connection, a timeout, 408, 429 and every 5xx. Reject (sending the same bytes
// again cannot succeed): every other status outside 2xx, redirects included (they are not
// followed: a log batch is not re-sent to wherever a 3xx points).
import http from 'node:http';
import https from 'node:https';

export type AttemptResult =
  | { kind: 'delivered'; status: number; body: string }
  | { kind: 'retry'; reason: string; retryAfterMs: number | null }
  | { kind: 'rejected'; status: number; reason: string };

const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 4 });
const httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 4 });
/** Enough of a response body to explain an error or read an OTLP partial success. */
const MAX_RESPONSE_BYTES = 64 * 1024;

export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status <= 599);
}

/** Retry-After as a delay in ms (seconds or an HTTP date), or null when absent or unreadable. */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | null {
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - now) : null;
}

export function postBatch(
  url: URL,
  headers: Record<string, string>,
  body: Buffer,
  options: { timeoutMs: number; signal?: AbortSignal },
): Promise<AttemptResult> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (result: AttemptResult) => {
      if (!settled) {
        settled = true;
        resolve(result);
      }
    };
    const transport = url.protocol === 'https:' ? https : http;
    const req = transport.request(url, {
      method: 'POST',
      headers: { ...headers, 'content-length': String(body.length) },
      agent: url.protocol === 'https:' ? httpsAgent : httpAgent,
      signal: options.signal,
    });
    req.setTimeout(options.timeoutMs, () => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
    req.on('error', (error: NodeJS.ErrnoException) => {
      const reason = error.code ? `${error.code}: ${error.message}` : error.message;
      done({ kind: 'retry', reason, retryAfterMs: null });
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        if (size < MAX_RESPONSE_BYTES) chunks.push(chunk);
        size += chunk.length;
      });
      res.on('error', (error) => done({ kind: 'retry', reason: `response broke off: ${error.message}`, retryAfterMs: null }));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        const text = Buffer.concat(chunks).toString('utf8').slice(0, MAX_RESPONSE_BYTES);
        if (status >= 200 && status <= 299) done({ kind: 'delivered', status, body: text });
        else if (isRetryableStatus(status)) {
          const header = res.headers['retry-after'];
          done({ kind: 'retry', reason: `HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ''}`, retryAfterMs: retryAfterMs(Array.isArray(header) ? header[0] : header) });
        } else done({ kind: 'rejected', status, reason: `HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ''}` });
      });
    });
    req.end(body);
  });
}

/**
 * Delay before retry number `attempt` (1, 2, …): `baseMs` doubling up to `maxMs`, with "equal
 * jitter" (a random point in the upper half), so many jobs that failed together do not retry in
 * lockstep yet none retries sooner than half its step.
 */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const step = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return step / 2 + random() * (step / 2);
}
