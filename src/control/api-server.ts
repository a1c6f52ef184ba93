// The platform's own endpoints, on a port of their own so that a worker owns every path of the
// edge port. Answers in Cloudflare's v4 envelope; the endpoints themselves grow with the platform.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type ApiRoute = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => boolean | Promise<boolean>;

export function sendEnvelope(res: http.ServerResponse, status: number, result: unknown, errors: { code: number; message: string }[] = []): void {
  const body = JSON.stringify({ success: errors.length === 0, errors, messages: [], result });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export class ApiServer {
  readonly server: http.Server;
  private readonly routes: ApiRoute[] = [];

  constructor() {
    this.server = http.createServer((req, res) => { void this.handle(req, res); });
  }

  addRoute(route: ApiRoute): void { this.routes.push(route); }

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
    return new Promise((resolve) => { this.server.close(() => resolve()); this.server.closeAllConnections(); });
  }
}
