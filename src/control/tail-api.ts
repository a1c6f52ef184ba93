// The live-tail API on the API port, as the real `wrangler tail` speaks it:
//   POST   /client/v4/accounts/:account/workers/scripts/:name/tails       {"filters":[…]} → {id, url, expires_at}
//   GET    /client/v4/accounts/:account/workers/scripts/:name/tails       the worker's tails
//   GET    /client/v4/accounts/:account/workers/scripts/:name/tails/:id   one tail with its counters (Flarelet's own)
//   DELETE /client/v4/accounts/:account/workers/scripts/:name/tails/:id
//   WebSocket /tails/:id, subprotocol trace-v1: first frame {"debug": bool}, then one JSON trace event per message.
// `wrangler tail` makes no other API call when it is given CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID
// (no membership or script lookup; only a worker *route* as argument makes it look up zones, which a
// local platform has none of). The account id is not checked: this platform has one account.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { normalizeIp, parseTailFilters, TailFilterError } from '../observability/tail/filters.ts';
import { TailHub, TailLimitError } from '../observability/tail/hub.ts';
import { LenientClientSocket } from '../observability/tail/lenient-socket.ts';
import type { TailConnection, TailHubOptions, TailRecord } from '../observability/tail/hub.ts';
import { sendEnvelope } from './api-server.ts';
import { readJsonBody } from './json-body.ts';
import type { PlatformContext, PlatformFeature } from './platform-context.ts';

export const TRACE_PROTOCOL = 'trace-v1';
const TAILS_PATH = /^\/client\/v4\/accounts\/[^/]+\/workers\/scripts\/([^/]+)\/tails(?:\/([^/]+))?\/?$/;
const SOCKET_PATH = /^\/tails\/([^/]+)$/;
const MAX_BODY_BYTES = 64 * 1024;

// Error codes (Cloudflare's where it has one for the case; otherwise Flarelet decides, see docs/tail.md).
const WORKER_NOT_FOUND = { code: 10007, message: 'This Worker does not exist on your account.' };
const BAD_BODY = 10026;
const TOO_MANY_TAILS = 10057;
const NOT_FOUND = 7003;
const METHOD_NOT_ALLOWED = 7001;
const TAIL_TAKEN = 10058;
const BAD_SUBPROTOCOL = 10059;

/** Options for tests and embedders; `flarelet dev` uses the defaults. */
export type TailApiOptions = Partial<Omit<TailHubOptions, 'onDropped' | 'eventsPerSecond'>>;

export interface TailFeature extends PlatformFeature {
  hub: TailHub;
}

export async function attachTail(ctx: PlatformContext): Promise<PlatformFeature> {
  return startTailApi(ctx);
}

export function startTailApi(ctx: PlatformContext, options: TailApiOptions = {}): TailFeature {
  const hub = new TailHub({
    ...options,
    eventsPerSecond: ctx.settings.tailEventsPerSecond,
    onDropped: (scriptName, count) => ctx.bus.reportDropped(scriptName, 'tail', count),
  });
  const unsubscribe = ctx.bus.subscribe((event) => hub.publish(event));
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: 64 * 1024,
    handleProtocols: (protocols) => (protocols.has(TRACE_PROTOCOL) ? TRACE_PROTOCOL : false),
  });
  const sockets = new Set<WebSocket>();

  ctx.api.addRoute((req, res, url) => {
    const match = TAILS_PATH.exec(url.pathname);
    if (!match) return false;
    return handleRest(req, res, decodeURIComponent(match[1]), match[2] === undefined ? undefined : decodeURIComponent(match[2]));
  });

  async function handleRest(req: IncomingMessage, res: ServerResponse, scriptName: string, id: string | undefined): Promise<boolean> {
    if (!ctx.workers().some((worker) => worker.name === scriptName)) {
      sendEnvelope(res, 404, null, [WORKER_NOT_FOUND]);
      return true;
    }
    if (id === undefined) {
      if (req.method === 'GET') {
        sendEnvelope(res, 200, hub.list(scriptName).map(describe));
      } else if (req.method === 'POST') {
        await create(req, res, scriptName);
      } else {
        sendEnvelope(res, 405, null, [{ code: METHOD_NOT_ALLOWED, message: `${req.method} is not allowed here; use GET or POST` }]);
      }
      return true;
    }
    const tail = hub.get(id);
    if (tail === undefined || tail.scriptName !== scriptName) {
      sendEnvelope(res, 404, null, [{ code: NOT_FOUND, message: `Tail ${id} does not exist on ${scriptName} (it ended, expired or never existed).` }]);
    } else if (req.method === 'DELETE') {
      hub.delete(scriptName, id);
      sendEnvelope(res, 200, null);
    } else if (req.method === 'GET') {
      sendEnvelope(res, 200, describe(tail));
    } else {
      sendEnvelope(res, 405, null, [{ code: METHOD_NOT_ALLOWED, message: `${req.method} is not allowed here; use GET or DELETE` }]);
    }
    return true;
  }

  async function create(req: IncomingMessage, res: ServerResponse, scriptName: string): Promise<void> {
    let body: unknown;
    try {
      body = await readJsonBody(req, MAX_BODY_BYTES);
    } catch (error) {
      const message = (error as Error).message.replace(/^the request body/, 'The request body');
      sendEnvelope(res, 400, null, [{ code: BAD_BODY, message: `${message}; expected {"filters": [...]}.` }]);
      return;
    }
    let tail: TailRecord;
    try {
      // "self" is the address this request came from: the tail client's own IP.
      const filters = parseTailFilters(body, { selfIp: normalizeIp(req.socket.remoteAddress ?? '') });
      // The client reaches the WebSocket the way it reached this API (the Host it used).
      const local = req.socket.localAddress ?? '127.0.0.1';
      const host = req.headers.host ?? `${local.includes(':') ? `[${local}]` : local}:${req.socket.localPort}`;
      tail = hub.create(scriptName, filters, (newId) => `ws://${host}/tails/${newId}`);
    } catch (error) {
      if (error instanceof TailFilterError) {
        sendEnvelope(res, 400, null, [{ code: BAD_BODY, message: `Invalid tail filter: ${error.message}` }]);
        return;
      }
      if (error instanceof TailLimitError) {
        sendEnvelope(res, 429, null, [{ code: TOO_MANY_TAILS, message: error.message }]);
        return;
      }
      throw error;
    }
    sendEnvelope(res, 200, { id: tail.id, url: tail.url, expires_at: new Date(tail.expiresAt).toISOString() });
  }

  ctx.api.addUpgrade((req, socket, head, url) => {
    const match = SOCKET_PATH.exec(url.pathname);
    if (!match) return false;
    const id = decodeURIComponent(match[1]);
    const tail = hub.get(id);
    if (tail === undefined) {
      refuse(socket, 404, NOT_FOUND, `Tail ${id} does not exist: it ended, expired or never existed. Create a new tail (POST /client/v4/accounts/:account/workers/scripts/:name/tails).`);
      return true;
    }
    if (tail.session.connected) {
      refuse(socket, 409, TAIL_TAKEN, `Tail ${id} already has a client; create a tail per client.`);
      return true;
    }
    const offered = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    if (!offered.includes(TRACE_PROTOCOL)) {
      refuse(socket, 400, BAD_SUBPROTOCOL, `A tail speaks the WebSocket subprotocol ${TRACE_PROTOCOL}: send Sec-WebSocket-Protocol: ${TRACE_PROTOCOL}.`);
      return true;
    }
    // wrangler's first frame is unmasked: ws reads the client's bytes through a lenient adapter.
    const lenient = new LenientClientSocket(socket, head);
    if ('setNoDelay' in socket) (socket as Socket).setNoDelay(true);
    wss.handleUpgrade(req, lenient, Buffer.alloc(0), (ws) => accept(id, ws, lenient));
    return true;
  });

  function accept(id: string, ws: WebSocket, socket: Duplex): void {
    const connection: TailConnection = {
      send: (message, done) => ws.send(message, { binary: false }, done),
      // Several messages per event-loop turn leave in one write instead of one write each.
      batch: (sends) => {
        socket.cork();
        try { sends(); } finally { socket.uncork(); }
      },
      close: (code, reason) => ws.close(code, reason),
    };
    const result = hub.connect(id, connection);
    if (result !== 'connected') {
      // Lost a race with another client (or the tail ended during the handshake).
      ws.close(1008, result === 'busy' ? 'This tail already has a client.' : 'This tail no longer exists.');
      return;
    }
    sockets.add(ws);
    ws.on('message', (data, isBinary) => {
      // The client's frames set debug mode: wrangler sends {"debug": bool} once, right after opening.
      const debug = parseDebugFrame(isBinary ? null : data.toString());
      if (debug === null) {
        ws.close(1007, 'Expected a JSON text frame {"debug": true|false}.');
        return;
      }
      const tail = hub.get(id);
      if (tail !== undefined) tail.session.debug = debug;
    });
    ws.on('close', () => {
      sockets.delete(ws);
      hub.disconnected(id, connection);
    });
    ws.on('error', () => { /* 'close' follows */ });
  }

  // The API server cannot finish closing while upgraded sockets stay open, and it is closed before
  // the platform features are: so the tails end as the server starts closing.
  ctx.api.onClose(() => { if (sockets.size > 0) closeSockets(); });

  function closeSockets(): void {
    hub.closeAll(1001, 'Flarelet is shutting down.');
    for (const ws of sockets) {
      // A client that does not answer the close handshake is cut off.
      setTimeout(() => ws.terminate(), 1000).unref();
    }
  }

  return {
    hub,
    async close() {
      unsubscribe();
      closeSockets();
      const deadline = Date.now() + 1500;
      while (sockets.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      for (const ws of sockets) ws.terminate();
      wss.close();
      hub.reportDrops();
    },
  };
}

/** A tail as the API lists it: Cloudflare's fields, then Flarelet's own. */
function describe(tail: TailRecord): Record<string, unknown> {
  const { session } = tail;
  return {
    id: tail.id,
    url: tail.url,
    expires_at: new Date(tail.expiresAt).toISOString(),
    created_on: new Date(tail.createdAt).toISOString(),
    connected: session.connected,
    debug: session.debug,
    sampling: session.sampling,
    filters: session.filters.map((filter) => filter.message),
    delivered: session.stats.delivered,
    filtered_out: session.stats.filteredOut,
    dropped: { sampling: session.stats.droppedSampling, backpressure: session.stats.droppedBackpressure },
    queued: session.queued,
  };
}

/** `true`/`false` from a `{"debug": bool}` frame, or null when the frame is not one. */
export function parseDebugFrame(text: string | null): boolean | null {
  if (text === null) return null;
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
    const debug = (value as { debug?: unknown }).debug;
    if (debug === undefined) return false;
    return typeof debug === 'boolean' ? debug : null;
  } catch {
    return null;
  }
}

/** Answers a WebSocket upgrade with an HTTP error (the client sees the status and the JSON reason). */
function refuse(socket: Duplex, status: number, code: number, message: string): void {
  const body = JSON.stringify({ success: false, errors: [{ code, message }], messages: [], result: null });
  const reason = status === 404 ? 'Not Found' : status === 409 ? 'Conflict' : 'Bad Request';
  socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}
