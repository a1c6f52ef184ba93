// Starts `bin/flarelet dev` as a real child process (edge and API on free loopback ports,
// --format json) and collects the trace events it prints on stdout, one JSON object per line.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { request as httpRequestRaw } from 'node:http';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { connect, createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const flareletBin = resolve(projectRoot, 'bin', 'flarelet');

export type TraceEvent = Record<string, any>;

export interface FlareletOptions {
  entries: string[];
  args?: string[];
  cwd?: string;
  /** how long to wait for the edge port to answer (default 30 s) */
  startTimeoutMs?: number;
  /** the executable to run instead of bin/flarelet (to test this harness itself) */
  bin?: string;
}

export interface FlareletHandle {
  url: string;
  port: number;
  apiPort: number;
  /** parsed JSON lines from stdout, in arrival order */
  events: TraceEvent[];
  /** stdout lines that were not a JSON object (the CLI must print none in --format json) */
  strayStdout: string[];
  waitForEvents(n: number, timeoutMs: number): Promise<TraceEvent[]>;
  stderr(): string;
  stop(): Promise<void>;
}

/** A port nobody listens on right now (bound on 127.0.0.1 port 0, then released). */
export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => done(port));
    });
  });
}

/**
 * Resolves once `port` speaks HTTP. It sends a malformed request line, so an HTTP server answers
 * (with 400) without routing anything to a worker: probing leaves no trace event behind.
 */
export async function waitForHttp(port: number, timeoutMs: number, isAlive: () => boolean = () => true): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive()) throw new Error('process exited before its port answered');
    const answered = await new Promise<boolean>((done) => {
      const sock = connect(port, '127.0.0.1');
      let data = '';
      const timer = setTimeout(() => {
        sock.destroy();
        done(false);
      }, 1000);
      sock.setEncoding('latin1');
      sock.on('connect', () => sock.write('PROBE\r\n\r\n'));
      sock.on('data', (chunk: string) => {
        data += chunk;
        if (data.length >= 5) {
          clearTimeout(timer);
          sock.destroy();
          done(data.startsWith('HTTP/'));
        }
      });
      sock.on('error', () => {
        clearTimeout(timer);
        done(false);
      });
      sock.on('close', () => {
        clearTimeout(timer);
        done(data.startsWith('HTTP/'));
      });
    });
    if (answered) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`port ${port} did not answer HTTP within ${timeoutMs} ms`);
}

export async function startFlarelet(options: FlareletOptions): Promise<FlareletHandle> {
  const port = await freePort();
  let apiPort = await freePort();
  while (apiPort === port) apiPort = await freePort();
  const extra = options.args ?? [];
  // Each process gets its own state folder (log store, logpush spool) unless the test picks one.
  const stateDir = extra.includes('--persist-to') ? null : mkdtempSync(join(tmpdir(), 'flarelet-state-'));
  const argv = [
    'dev',
    ...options.entries,
    ...extra,
    ...(stateDir ? ['--persist-to', stateDir] : []),
    '--port',
    String(port),
    '--api-port',
    String(apiPort),
    '--format',
    'json',
  ];
  const child = spawn(options.bin ?? flareletBin, argv, {
    cwd: options.cwd ?? projectRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
  });
  let alive = true;
  const exited = new Promise<void>((done) => child.once('exit', () => ((alive = false), done())));
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));

  const events: TraceEvent[] = [];
  const strayStdout: string[] = [];
  const waiters = new Set<() => void>();
  let pending = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl).replace(/\r$/, '');
      pending = pending.slice(nl + 1);
      if (line === '') continue;
      try {
        const value = JSON.parse(line);
        if (value && typeof value === 'object' && !Array.isArray(value)) events.push(value);
        else strayStdout.push(line);
      } catch {
        strayStdout.push(line);
      }
    }
    for (const wake of [...waiters]) wake();
  });

  const stop = async () => {
    if (!alive) {
      if (stateDir) rmSync(stateDir, { recursive: true, force: true });
      return;
    }
    child.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (alive) child.kill('SIGKILL');
    }, 5000);
    await exited;
    clearTimeout(timer);
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  };

  const waitForEvents = (n: number, timeoutMs: number) =>
    new Promise<TraceEvent[]>((done, fail) => {
      const check = () => {
        if (events.length >= n) {
          cleanup();
          done(events.slice(0, n));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        fail(
          new Error(
            `expected ${n} trace events within ${timeoutMs} ms, got ${events.length}:\n` +
              JSON.stringify(events, null, 2) +
              `\nstray stdout: ${JSON.stringify(strayStdout)}\nstderr:\n${stderr}`,
          ),
        );
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });

  try {
    await waitForHttp(port, options.startTimeoutMs ?? 30000, () => alive);
  } catch (err) {
    await stop();
    throw new Error(`flarelet ${argv.join(' ')} did not start: ${(err as Error).message}\nstderr:\n${stderr}`);
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    apiPort,
    events,
    strayStdout,
    waitForEvents,
    stderr: () => stderr,
    stop,
  };
}

export interface HttpResult {
  status: number;
  statusText: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

/**
 * One HTTP/1.1 request with node:http (so a Host header can be chosen and every set-cookie is
 * seen), no redirects followed, body read in full; bounded by `timeoutMs` (default 15 s).
 */
export function httpRequest(
  url: string,
  init: { method?: string; headers?: OutgoingHttpHeaders; body?: string | Buffer; timeoutMs?: number } = {},
): Promise<HttpResult> {
  return new Promise((done, fail) => {
    const req = httpRequestRaw(url, { method: init.method ?? 'GET', headers: init.headers ?? {}, agent: false });
    req.setTimeout(init.timeoutMs ?? 15000, () => req.destroy(new Error(`request to ${url} timed out`)));
    req.on('error', fail);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', fail);
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        done({
          status: res.statusCode ?? 0,
          statusText: res.statusMessage ?? '',
          headers: res.headers,
          body,
          text: body.toString('utf8'),
        });
      });
    });
    req.end(init.body);
  });
}
