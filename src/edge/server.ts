// The HTTP front for workers: routes a request to its worker by Host, guards the loop limit,
// runs the invocation and streams its response (or the origin's, or an error page) back.
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SubrequestInit } from '../protocol/bridge.ts';
import type { HostInvocation, ResponseBody, ResponseHead } from '../runtime/host-invocation.ts';
import type { WorkerIsolate } from '../runtime/worker-isolate.ts';
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

/** One worker as the edge serves it; the worker itself may be missing while its code is broken. */
export interface WorkerSlot {
  name: string;
  worker: WorkerIsolate | null;
  /** Why the worker could not be loaded (answered as 1101 until fixed). */
  loadError: string | null;
  origin: URL | null;
}

export interface EdgeOptions {
  port: number;
  hostname: string;
  cf?: CfConfig;
}

const NULL_BODY_STATUS = new Set([101, 204, 205, 304]);
const UNSAFE_RESPONSE_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive']);

export class EdgeServer {
  readonly server: http.Server;
  private readonly slots = new Map<string, WorkerSlot>();
  private readonly options: EdgeOptions;
  private readonly cf: CfConfig;

  constructor(options: EdgeOptions) {
    this.options = options;
    this.cf = options.cf ?? DEFAULT_CF;
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
    const host = (hostHeader ?? '').toLowerCase().replace(/:\d+$/, '');
    const match = /^([a-z0-9_-]+)\.localhost$/.exec(host);
    if (match) {
      const slot = this.slots.get(match[1]);
      if (slot) return slot;
    }
    if (this.slots.size === 1) return this.slots.values().next().value;
    return undefined;
  }

  /** Whether a URL's host is served by this edge (then a subrequest to it is a worker-to-worker call). */
  private isOwnHost(url: URL): boolean {
    const port = url.port || (url.protocol === 'https:' ? '443' : '80');
    if (port !== String(this.port)) return false;
    const host = url.hostname;
    return host === 'localhost' || host.endsWith('.localhost') || host === this.options.hostname || host.startsWith('127.') || host === '[::1]';
  }

  private sendError(res: ServerResponse, code: ErrorCodeNumber, rayId: string): void {
    if (res.headersSent) { res.destroy(); return; }
    const req = res.req;
    const page = renderErrorPage(code, { accept: req.headers.accept, rayId, host: req.headers.host ?? this.options.hostname, timestamp: new Date() });
    const body = page.body;
    const headers: Record<string, string | number> = { 'content-type': page.contentType, 'content-length': Buffer.byteLength(body), 'cf-ray': rayId };
    res.writeHead(ERROR_CODES[code].status, headers);
    res.end(body);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const colo = String(this.cf.edge.colo ?? 'LCL');
    const rayId = newRayId(colo);
    const slot = this.route(req.headers.host);
    if (!slot) { this.sendError(res, 1022, rayId); return; }
    const viaHeader = req.headers['cf-ew-via'];
    const remaining = typeof viaHeader === 'string' && /^\d+$/.test(viaHeader) ? Number(viaHeader) : LOOP_LIMIT;
    if (remaining <= 0) { this.sendError(res, 1019, rayId); return; }
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
        failure: () => {
          this.sendError(res, 1101, rayId);
          finish(ERROR_CODES[1101].status);
        },
      },
    );
    inv.loopBudget = remaining;
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
   * Subrequests to this edge itself: a fetch to the worker's own host goes to its origin (as on
   * Cloudflare); any call that reaches a worker again carries CF-EW-Via with one invocation less.
   */
  prepareSubrequest(slot: WorkerSlot, inv: HostInvocation, init: SubrequestInit): SubrequestInit {
    let url: URL;
    try { url = new URL(init.url); } catch { return init; }
    if (!this.isOwnHost(url)) return init;
    const target = this.route(url.host);
    if (target === slot && slot.origin) {
      return { ...init, url: new URL(url.pathname + url.search, slot.origin).toString() };
    }
    const headers = init.headers.filter((_, i, all) => (i % 2 === 0 ? all[i] : all[i - 1]).toLowerCase() !== 'cf-ew-via');
    headers.push('cf-ew-via', String(inv.loopBudget - 1));
    return { ...init, headers };
  }
}
