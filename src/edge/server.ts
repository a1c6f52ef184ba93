// The HTTP front for workers: routes a request to its worker by Host, guards the loop limit,
// runs the invocation and streams its response (or the origin's, or an error page) back.
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SubrequestInit } from '../protocol/bridge.ts';
import type { HostInvocation, ResponseBody, ResponseHead } from '../runtime/host-invocation.ts';
import type { SubrequestRefusal, WorkerIsolate } from '../runtime/worker-isolate.ts';
import { BlockedHosts } from './blocked-hosts.ts';
import { buildCf, DEFAULT_CF } from './cf.ts';
import type { CfConfig } from './cf.ts';
import { ERROR_CODES } from './error-codes.ts';
import { renderErrorPage } from './error-page.ts';
import type { ErrorCodeNumber } from './error-codes.ts';
import { forwardToOrigin } from './origin.ts';
import { hasBody, trackBody } from './request-body.ts';
import { newRayId } from './ray-id.ts';

/** Invocations one request chain may still make (Cloudflare's loop limit, CF-EW-Via). */
export const LOOP_LIMIT = 16;
export const NO_ORIGIN_MESSAGE =
  'No fetch handler called respondWith() and this Worker has no origin to forward the request to.';
/** Compatibility flag that lets a worker fetch another worker of its zone (otherwise 1042). */
export const STRICTLY_PUBLIC_FLAG = 'global_fetch_strictly_public';

/** One worker as the edge serves it; the worker itself may be missing while its code is broken. */
export interface WorkerSlot {
  name: string;
  worker: WorkerIsolate | null;
  /** Why the worker could not be loaded (answered as 1101 until fixed). */
  loadError: string | null;
  origin: URL | null;
  compatibilityFlags?: string[];
  /** Turned off by the operator: answered with 1103. */
  disabled?: boolean;
  /** Set while a fresh isolate replaces one that died; requests wait for it. */
  restarting?: Promise<void> | null;
}

export interface EdgeOptions {
  port: number;
  hostname: string;
  cf?: CfConfig;
  /** Hosts workers may not fetch (1021); default: link-local and cloud metadata addresses. */
  blockedHosts?: BlockedHosts;
  /** Other ports of this platform (the API port): fetching them is fetching the platform (1024). */
  platformPorts?: () => number[];
  /** Per-request admission (burst and daily limits): a refusal is answered with its error page. */
  admit?(slot: WorkerSlot): { code: ErrorCodeNumber; retryAfterSeconds?: number } | null;
}

const NULL_BODY_STATUS = new Set([101, 204, 205, 304]);
// Framing is the edge's job, and cf-ray names this response (a worker may return a response it
// fetched, which carries the cf-ray of that other request).
const UNSAFE_RESPONSE_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'cf-ray']);

export class EdgeServer {
  readonly server: http.Server;
  private readonly slots = new Map<string, WorkerSlot>();
  private readonly options: EdgeOptions;
  private readonly cf: CfConfig;
  private readonly blockedHosts: BlockedHosts;

  constructor(options: EdgeOptions) {
    this.options = options;
    this.cf = options.cf ?? DEFAULT_CF;
    this.blockedHosts = options.blockedHosts ?? new BlockedHosts();
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 65_000;
  }

  setSlot(slot: WorkerSlot): void { this.slots.set(slot.name, slot); }
  getSlot(name: string): WorkerSlot | undefined { return this.slots.get(name); }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.hostname, () => { this.server.off('error', reject); resolve(); });
    });
    return (this.server.address() as AddressInfo).port;
  }

  get port(): number { return (this.server.address() as AddressInfo).port; }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  /** `<name>.localhost[:port]` picks a worker; with a single worker every host reaches it. */
  route(hostHeader: string | undefined): WorkerSlot | undefined {
    const named = this.routeByName(hostHeader);
    if (named) return named;
    if (this.slots.size === 1) return this.slots.values().next().value;
    return undefined;
  }

  /** The worker a `<name>.localhost` host names, if any. */
  private routeByName(host: string | undefined): WorkerSlot | undefined {
    const match = /^([a-z0-9_-]+)\.localhost$/.exec((host ?? '').toLowerCase().replace(/:\d+$/, ''));
    return match ? this.slots.get(match[1]) : undefined;
  }

  /** Whether a URL points at this machine on one of the platform's ports. */
  private isPlatformAddress(url: URL): boolean {
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    if (port !== this.port && !(this.options.platformPorts?.() ?? []).includes(port)) return false;
    const host = url.hostname.replace(/^\[|\]$/g, '');
    return host === 'localhost' || host.endsWith('.localhost') || host === this.options.hostname || host.startsWith('127.') ||
      host === '::1' || host === '0.0.0.0' || host === '::';
  }

  private sendError(res: ServerResponse, code: ErrorCodeNumber, rayId: string, extraHeaders: Record<string, string | number> = {}): void {
    if (res.headersSent) { res.destroy(); return; }
    const req = res.req;
    const page = renderErrorPage(code, { accept: req.headers.accept, rayId, host: req.headers.host ?? this.options.hostname, timestamp: new Date() });
    const body = page.body;
    // The body depends on Accept, and an error must not be cached in place of the real answer.
    const headers: Record<string, string | number> = {
      'content-type': page.contentType, 'content-length': Buffer.byteLength(body), 'cf-ray': rayId,
      vary: 'Accept', 'cache-control': 'no-store', ...extraHeaders,
    };
    res.writeHead(ERROR_CODES[code].status, headers);
    res.end(body);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const colo = String(this.cf.edge.colo ?? 'LCL');
    const rayId = newRayId(colo);
    const slot = this.route(req.headers.host);
    if (!slot) { this.sendError(res, 1022, rayId); return; }
    if (slot.disabled) { this.sendError(res, 1103, rayId); return; }
    const viaHeader = req.headers['cf-ew-via'];
    const remaining = typeof viaHeader === 'string' && /^\d+$/.test(viaHeader) ? Number(viaHeader) : LOOP_LIMIT;
    if (remaining <= 0) { this.sendError(res, 1019, rayId); return; }
    const refused = this.options.admit?.(slot) ?? null;
    if (refused) {
      this.sendError(res, refused.code, rayId, refused.retryAfterSeconds ? { 'retry-after': refused.retryAfterSeconds } : {});
      return;
    }
    if (slot.restarting) {
      // The body stays unread in the socket meanwhile (no 'data' listener yet, so nothing flows).
      void slot.restarting.then(() => this.invokeWorker(req, res, slot, rayId, remaining));
      return;
    }
    this.invokeWorker(req, res, slot, rayId, remaining);
  }

  private invokeWorker(req: IncomingMessage, res: ServerResponse, slot: WorkerSlot, rayId: string, remaining: number): void {
    const worker = slot.worker;
    if (!worker || worker.isDisposed) { this.sendError(res, 1101, rayId); return; }

    const body = hasBody(req) ? trackBody(req) : null;
    const headers = req.rawHeaders.slice();
    headers.push('cf-ray', rayId, 'cf-connecting-ip', req.socket.remoteAddress ?? '127.0.0.1');
    const url = `http://${req.headers.host ?? `${this.options.hostname}:${this.port}`}${req.url ?? '/'}`;
    let inv: HostInvocation;
    const finish = (status: number | null) => worker.responseOver(inv, status);

    inv = worker.invoke(
      { method: req.method ?? 'GET', url, headers, body: body?.iterable ?? null, cf: buildCf(this.cf, req) },
      {
        response: (head, responseBody) => {
          this.writeResponse(req, res, head, responseBody, rayId).then(() => finish(head.status), () => finish(null));
        },
        passThrough: () => {
          if (body?.started() || !slot.origin) {
            if (!slot.origin) {
              inv.markException();
              inv.trace.addException({ name: 'Error', message: NO_ORIGIN_MESSAGE }, Date.now());
            }
            this.sendError(res, 1101, rayId);
            finish(ERROR_CODES[1101].status);
            return;
          }
          forwardToOrigin(slot.origin, req, res, body?.iterable ?? null).then(
            (status) => finish(status),
            () => { this.sendError(res, 1101, rayId); finish(ERROR_CODES[1101].status); },
          );
        },
        failure: (_message, code) => {
          const page = (code in ERROR_CODES ? code : 1101) as ErrorCodeNumber;
          this.sendError(res, page, rayId);
          finish(ERROR_CODES[page].status);
        },
      },
    );
    inv.loopBudget = remaining;
    inv.requestHost = (req.headers.host ?? '').toLowerCase();
    inv.rayId = rayId;
    res.on('close', () => {
      if (!res.writableFinished) finish(null);
    });
  }

  private async writeResponse(req: IncomingMessage, res: ServerResponse, head: ResponseHead, body: ResponseBody, rayId: string): Promise<void> {
    if (res.destroyed) { if (body.kind === 'stream') body.cancel('client disconnected'); throw new Error('client gone'); }
    const headers: string[] = [];
    for (let i = 0; i < head.headers.length; i += 2) {
      if (!UNSAFE_RESPONSE_HEADERS.has(head.headers[i])) headers.push(head.headers[i], head.headers[i + 1]);
    }
    headers.push('cf-ray', rayId);
    const noBody = req.method === 'HEAD' || NULL_BODY_STATUS.has(head.status);
    if (body.kind === 'bytes') {
      headers.push('content-length', String(body.bytes.byteLength));
      res.writeHead(head.status, head.statusText || undefined, headers);
      res.end(noBody ? undefined : body.bytes);
      return;
    }
    if (body.kind === 'none') {
      if (!NULL_BODY_STATUS.has(head.status)) headers.push('content-length', '0');
      res.writeHead(head.status, head.statusText || undefined, headers);
      res.end();
      return;
    }
    res.writeHead(head.status, head.statusText || undefined, headers);
    if (noBody) { body.cancel('no body allowed'); res.end(); return; }
    const onClose = () => body.cancel('client disconnected');
    res.once('close', onClose);
    try {
      for (let chunk = await body.read(); chunk !== null; chunk = await body.read()) {
        if (res.destroyed) throw new Error('client gone');
        if (!res.write(chunk)) await new Promise((resolve) => { res.once('drain', resolve); res.once('close', resolve); });
      }
      res.end();
    } catch (error) {
      res.destroy();
      throw error;
    } finally {
      res.off('close', onClose);
    }
  }

  /**
   * Where a worker's subrequest may go:
   * - a blocked host (link-local, cloud metadata, operator's list): the fetch throws, 1021 if
   *   the error escapes the handler;
   * - the worker's own route (the host it was invoked on): its origin, as on Cloudflare;
   * - another worker of the zone: 1042, unless the worker has `global_fetch_strictly_public`,
   *   then that worker is invoked with CF-EW-Via one lower (1019 at 0);
   * - the platform's own address otherwise (edge or API port by IP or localhost): 1024.
   */
  prepareSubrequest(slot: WorkerSlot, inv: HostInvocation, init: SubrequestInit): SubrequestInit | SubrequestRefusal {
    let url: URL;
    try { url = new URL(init.url); } catch { return init; }
    if (this.blockedHosts.isBlocked(url.hostname)) {
      return { refuse: 'throw', code: 1021, name: 'Error', message: `Worker tried to fetch ${url.hostname}, a host it is not allowed to access.` };
    }
    if (!this.isPlatformAddress(url)) return init;
    const ownRoute = url.host.toLowerCase() === inv.requestHost;
    const target = ownRoute ? slot : this.routeByName(url.host);
    if (!target || Number(url.port || 80) !== this.port) return this.errorResponse(1024, init, inv);
    if (target === slot && slot.origin) {
      return { ...init, url: new URL(url.pathname + url.search, slot.origin).toString() };
    }
    if (target !== slot && !(slot.compatibilityFlags ?? []).includes(STRICTLY_PUBLIC_FLAG)) return this.errorResponse(1042, init, inv);
    const headers = init.headers.filter((_, i, all) => (i % 2 === 0 ? all[i] : all[i - 1]).toLowerCase() !== 'cf-ew-via');
    headers.push('cf-ew-via', String(inv.loopBudget - 1));
    return { ...init, headers };
  }

  /**
   * The error page a refused subrequest resolves with, negotiated on the subrequest's Accept. It
   * names the Ray ID of the request that made the subrequest: they are one request chain.
   */
  private errorResponse(code: ErrorCodeNumber, init: SubrequestInit, inv: HostInvocation): SubrequestRefusal {
    let accept: string | undefined;
    for (let i = 0; i < init.headers.length; i += 2) if (init.headers[i].toLowerCase() === 'accept') accept = init.headers[i + 1];
    const rayId = inv.rayId || newRayId(String(this.cf.edge.colo ?? 'LCL'));
    const page = renderErrorPage(code, { accept, rayId, host: new URL(init.url).host, timestamp: new Date() });
    return {
      refuse: 'respond',
      code,
      status: ERROR_CODES[code].status,
      headers: ['content-type', page.contentType, 'cf-ray', rayId],
      body: new TextEncoder().encode(page.body),
    };
  }
}
