// Forwards a request to the worker's origin unchanged (pass-through, fall-through) and streams
// the origin's answer back to the client.
import type { IncomingMessage, ServerResponse } from 'node:http';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host']);

export async function forwardToOrigin(origin: URL, req: IncomingMessage, res: ServerResponse, body: AsyncIterable<Uint8Array> | null): Promise<number> {
  const target = new URL(req.url ?? '/', origin);
  const headers: Record<string, string | string[]> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i].toLowerCase();
    if (HOP_BY_HOP.has(name)) continue;
    const value = req.rawHeaders[i + 1];
    const prev = headers[name];
    headers[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  headers.host = target.host;
  // Loaded on first use: importing undici costs ~80 ms of start-up.
  const { request: undiciRequest } = await import('undici');
  const answer = await undiciRequest(target, { method: req.method as never, headers, body: body as never });
  const flat: string[] = [];
  for (const [name, value] of Object.entries(answer.headers)) {
    if (HOP_BY_HOP.has(name) || value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) flat.push(name, v);
    else flat.push(name, value);
  }
  res.writeHead(answer.statusCode, flat);
  for await (const chunk of answer.body) {
    if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve));
  }
  res.end();
  return answer.statusCode;
}
