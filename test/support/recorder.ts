// A node:http server on a free loopback port that records every request it gets and answers
// as the test says: an origin for pass-through tests, a log service for waitUntil tests.
import { createServer } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';

export interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export async function startRecorder(answer: (r: Recorded) => { status: number; headers: Record<string, string>; body: string }) {
  const requests: Recorded[] = [];
  const waiters = new Set<() => void>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rec = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(rec);
      const out = answer(rec);
      res.writeHead(out.status, out.headers);
      res.end(out.body);
      for (const wake of [...waiters]) wake();
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    waitFor(n: number, timeoutMs: number): Promise<Recorded[]> {
      return new Promise((done, fail) => {
        const check = () => {
          if (requests.length >= n) {
            clearTimeout(timer);
            waiters.delete(check);
            done(requests.slice(0, n));
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          fail(new Error(`expected ${n} requests within ${timeoutMs} ms, got ${requests.length}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
