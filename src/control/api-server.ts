// The platform's own endpoints, on a port of their own so that a worker owns every path of the
// edge port. Answers in Cloudflare's v4 envelope; the endpoints themselves grow with the platform.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';

export type ApiRoute = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => boolean | Promise<boolean>;

/** Takes a WebSocket upgrade request (returns false when the path is not its own). */
export type ApiUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer, url: URL) => boolean;

export function sendEnvelope(res: http.ServerResponse, status: number, result: unknown, errors: { code: number; message: string }[] = []): void {
  const body = JSON.stringify({ success: errors.length === 0, errors, messages: [], result });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export class ApiServer {
  readonly server: http.Server;
  private readonly routes: ApiRoute[] = [];
  private readonly upgrades: ApiUpgrade[] = [];
  private readonly closeHooks: (() => void)[] = [];

  constructor() {
    this.server = http.createServer((req, res) => { void this.handle(req, res); });
    this.server.on('upgrade', (req, socket, head) => this.handleUpgrade(req, socket, head));
  }

  addRoute(route: ApiRoute): void { this.routes.push(route); }
  addUpgrade(upgrade: ApiUpgrade): void { this.upgrades.push(upgrade); }
  /** Runs when the server closes: features end their upgraded sockets (close() waits for them). */
  onClose(hook: () => void): void { this.closeHooks.push(hook); }

  private handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://api.invalid');
    try {
      for (const upgrade of this.upgrades) if (upgrade(req, socket, head, url)) return;
    } catch { /* answered below */ }
    socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://api.invalid');
    try {
      for (const route of this.routes) if (await route(req, res, url)) return;
      sendEnvelope(res, 404, null, [{ code: 7003, message: `No route for ${req.method} ${url.pathname}` }]);
    } catch (error) {
      if (!res.headersSent) sendEnvelope(res, 500, null, [{ code: 10000, message: (error as Error).message }]);
      else res.destroy();
    }
  }

  async listen(port: number, hostname: string): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, hostname, () => { this.server.off('error', reject); resolve(); });
    });
    return (this.server.address() as AddressInfo).port;
  }

  close(): Promise<void> {
    for (const hook of this.closeHooks) hook();
    return new Promise((resolve) => { this.server.close(() => resolve()); this.server.closeAllConnections(); });
  }
}
