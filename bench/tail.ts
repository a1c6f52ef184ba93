// Live-tail overhead: requests/s of the hello worker under `flarelet dev` with 10 tail clients
// attached, against the same process with none, measured by wrk in alternating runs (none, tails,
// none, tails…) so that both see the same machine. The target is a ratio of at least 0.85.
//
//   bin/node24 --no-node-snapshot bench/tail.ts [--duration S] [--rounds N] [--connections N]
//                                               [--clients N] [--tail-rate N…]
//
// Each configuration of `--tail-rate` (events/s per tail before it samples; default: 200, the
// platform's default, and 1000000, which never samples so every client gets every event) runs in
// its own flarelet process. The tail clients are WebSocket clients in this process that speak the
// tail protocol (create over REST, subprotocol trace-v1, {"debug": false}) and count what they get.
// The report goes to stdout, progress to stderr; raw figures to $TMPDIR/flarelet-tail-bench.json.
import { writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import {
  cpuTimeMs, fmt, freePort, HELLO_BODY, HELLO_WORKER, httpRequest, loadAverage, log, machineBusyMs, median,
  runWrk, startFlareletDev, stopAll, table, tempDir, wrkAvailable,
} from './lib.ts';
import type { WrkSettings } from './lib.ts';

interface Options {
  wrk: WrkSettings;
  warmupS: number;
  rounds: number;
  clients: number;
  tailRates: number[];
}

interface TailClient {
  id: string;
  messages: number;
  bytes: number;
  notices: number;
  close(): Promise<void>;
}

interface Run {
  tails: number;
  round: number;
  requestsPerSec: number;
  requests: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  serverCpuPercent: number;
  /** server CPU time per request, µs: steadier than req/s on a shared machine */
  serverCpuUsPerRequest: number;
  otherCpuPercent: number;
  loadAverage: number;
  /** per client: messages received during the measured run */
  messagesPerClient: number[];
  /** events the platform dropped for these clients (sampling, slow client), from its tail listing */
  dropped: { sampling: number; backpressure: number };
}

interface ConfigResult {
  tailRate: number;
  runs: Run[];
  /** medians over the rounds */
  none: number;
  withTails: number;
  ratio: number;
  cpuUsPerRequestNone: number;
  cpuUsPerRequestWithTails: number;
}

async function api(apiPort: number, method: string, path: string, body?: unknown): Promise<any> {
  const res = await httpRequest(`http://127.0.0.1:${apiPort}/client/v4/accounts/bench/workers/scripts/hello${path}`, {
    method,
    body: body === undefined ? undefined : JSON.stringify(body),
    timeoutMs: 10_000,
  });
  const envelope = JSON.parse(res.text);
  if (!envelope.success) throw new Error(`${method} ${path}: ${res.status} ${res.text}`);
  return envelope.result;
}

async function attachClient(apiPort: number): Promise<TailClient> {
  const { id, url } = await api(apiPort, 'POST', '/tails', { filters: [] });
  const ws = new WebSocket(url, 'trace-v1', { perMessageDeflate: false });
  const client: TailClient = {
    id,
    messages: 0,
    bytes: 0,
    notices: 0,
    close: () => new Promise<void>((resolve) => {
      if (ws.readyState === WebSocket.CLOSED) { resolve(); return; }
      ws.once('close', () => resolve());
      ws.close(1000);
    }),
  };
  ws.on('message', (data: Buffer) => {
    client.messages++;
    client.bytes += data.length;
    // Notices are the only messages whose event has a "type"; a cheap look instead of a parse.
    if (data.includes('"type":"overload')) client.notices++;
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => { ws.send(JSON.stringify({ debug: false })); resolve(); });
    ws.once('error', reject);
  });
  return client;
}

async function measure(url: string, pid: number, settings: WrkSettings) {
  const load = loadAverage();
  const busy0 = machineBusyMs();
  const cpu0 = cpuTimeMs(pid);
  const wrk = await runWrk(url, settings);
  const cpuMs = cpuTimeMs(pid) - cpu0;
  const busyMs = machineBusyMs() - busy0;
  const perCore = (ms: number) => (ms / (wrk.durationS * 1000)) * 100;
  return {
    wrk,
    serverCpuPercent: perCore(cpuMs),
    serverCpuUsPerRequest: wrk.requests > 0 ? (cpuMs * 1000) / wrk.requests : NaN,
    otherCpuPercent: Math.max(0, perCore(busyMs - cpuMs - wrk.wrkCpuMs)),
    loadAverage: load,
  };
}

async function benchConfig(tailRate: number, options: Options): Promise<ConfigResult> {
  const dir = await tempDir('flarelet-tail-bench-');
  await writeFile(join(dir.path, 'hello.js'), HELLO_WORKER);
  const apiPort = await freePort();
  const server = await startFlareletDev(['hello.js'], {
    cwd: dir.path,
    extraArgs: ['--api-port', String(apiPort), '--tail-rate', String(tailRate), '--persist-to', join(dir.path, 'state')],
  });
  const url = `${server.url}/`;
  try {
    const check = await httpRequest(url, { timeoutMs: 10_000 });
    if (check.status !== 200 || check.text !== HELLO_BODY) throw new Error(`flarelet answered ${check.status} ${check.text.slice(0, 200)}`);
    log(`  --tail-rate ${tailRate}: warm-up ${options.warmupS} s…`);
    await runWrk(url, { ...options.wrk, durationS: options.warmupS });
    const runs: Run[] = [];
    for (let round = 1; round <= options.rounds; round++) {
      for (const tails of [0, options.clients]) {
        const clients: TailClient[] = [];
        for (let i = 0; i < tails; i++) clients.push(await attachClient(apiPort));
        log(`  --tail-rate ${tailRate}, round ${round}: ${tails} tail clients, measuring ${options.wrk.durationS} s…`);
        const m = await measure(url, server.pid, options.wrk);
        const listing: any[] = tails > 0 ? await api(apiPort, 'GET', '/tails') : [];
        // Let the last queued messages arrive before counting.
        await new Promise((resolve) => setTimeout(resolve, 500));
        const dropped = { sampling: 0, backpressure: 0 };
        for (const tail of listing) {
          dropped.sampling += tail.dropped.sampling;
          dropped.backpressure += tail.dropped.backpressure;
        }
        runs.push({
          tails,
          round,
          requestsPerSec: m.wrk.requestsPerSec,
          requests: m.wrk.requests,
          p50Ms: m.wrk.latencyMs.p50,
          p99Ms: m.wrk.latencyMs.p99,
          errors: m.wrk.non2xx + m.wrk.socketErrors.connect + m.wrk.socketErrors.read + m.wrk.socketErrors.write + m.wrk.socketErrors.timeout,
          serverCpuPercent: m.serverCpuPercent,
          serverCpuUsPerRequest: m.serverCpuUsPerRequest,
          otherCpuPercent: m.otherCpuPercent,
          loadAverage: m.loadAverage,
          messagesPerClient: clients.map((c) => c.messages),
          dropped,
        });
        await Promise.all(clients.map((c) => c.close()));
      }
    }
    const none = median(runs.filter((r) => r.tails === 0).map((r) => r.requestsPerSec));
    const withTails = median(runs.filter((r) => r.tails > 0).map((r) => r.requestsPerSec));
    const cpuUsPerRequestNone = median(runs.filter((r) => r.tails === 0).map((r) => r.serverCpuUsPerRequest));
    const cpuUsPerRequestWithTails = median(runs.filter((r) => r.tails > 0).map((r) => r.serverCpuUsPerRequest));
    return { tailRate, runs, none, withTails, ratio: withTails / none, cpuUsPerRequestNone, cpuUsPerRequestWithTails };
  } finally {
    await server.stop();
    await dir.remove();
  }
}

function positive(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!(n > 0) || !Number.isFinite(n)) throw new Error(`--${name} must be a positive number, got ${value}`);
  return n;
}

function report(results: ConfigResult[], options: Options): string {
  const rows = [['tail-rate', 'tails', 'round', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'server CPU %', 'µs CPU/req', 'other CPU %', 'msgs/client (min–max)', 'dropped (sampling / slow)']];
  for (const r of results) {
    for (const run of r.runs) {
      const msgs = run.messagesPerClient;
      rows.push([
        String(r.tailRate), String(run.tails), String(run.round), fmt(run.requestsPerSec, 0), fmt(run.p50Ms, 2), fmt(run.p99Ms, 2),
        String(run.errors), fmt(run.serverCpuPercent, 0), fmt(run.serverCpuUsPerRequest, 1), fmt(run.otherCpuPercent, 0),
        msgs.length ? `${Math.min(...msgs)}–${Math.max(...msgs)}` : '-',
        run.tails ? `${run.dropped.sampling} / ${run.dropped.backpressure}` : '-',
      ]);
    }
  }
  const lines = [
    `Live-tail overhead: hello worker, wrk -t${options.wrk.threads} -c${options.wrk.connections} -d${options.wrk.durationS}s, ${options.clients} tail clients, ${options.rounds} round(s)`,
    '',
    table(rows),
    '',
  ];
  for (const r of results) {
    lines.push(
      `--tail-rate ${r.tailRate}: ${fmt(r.withTails, 0)} req/s with ${options.clients} tails vs ${fmt(r.none, 0)} without → ratio ${fmt(r.ratio, 2)} ` +
        `(target ≥ 0.85: ${r.ratio >= 0.85 ? 'met' : 'NOT met'}); server CPU per request ${fmt(r.cpuUsPerRequestWithTails, 1)} µs vs ${fmt(r.cpuUsPerRequestNone, 1)} µs ` +
        `→ CPU ratio ${fmt(r.cpuUsPerRequestNone / r.cpuUsPerRequestWithTails, 2)}`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string' }, rounds: { type: 'string' }, connections: { type: 'string' },
      clients: { type: 'string' }, 'tail-rate': { type: 'string', multiple: true }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write('Usage: bin/node24 --no-node-snapshot bench/tail.ts [--duration S (8)] [--rounds N (2)] [--connections N (50)] [--clients N (10)] [--tail-rate N (200 and 1000000; repeatable)]\n');
    return;
  }
  if (!wrkAvailable()) throw new Error('wrk is not installed (Debian: apt-get install wrk)');
  const options: Options = {
    wrk: { threads: 1, connections: positive(values.connections, 50, 'connections'), durationS: positive(values.duration, 8, 'duration') },
    warmupS: 2,
    rounds: positive(values.rounds, 2, 'rounds'),
    clients: positive(values.clients, 10, 'clients'),
    tailRates: (values['tail-rate'] ?? ['200', '1000000']).map((v) => positive(v, 200, 'tail-rate')),
  };
  const results: ConfigResult[] = [];
  for (const rate of options.tailRates) results.push(await benchConfig(rate, options));
  process.stdout.write(`${report(results, options)}\n`);
  const raw = join(tmpdir(), 'flarelet-tail-bench.json');
  writeFileSync(raw, `${JSON.stringify({ options, results, at: new Date().toISOString() }, null, 2)}\n`);
  log(`raw figures: ${raw}`);
}

const stopOnSignal = () => { void stopAll().then(() => process.exit(130)); };
process.once('SIGINT', stopOnSignal);
process.once('SIGTERM', stopOnSignal);
main().then(
  () => stopAll(),
  async (error: unknown) => {
    process.stderr.write(`bench/tail: ${(error as Error)?.stack ?? String(error)}\n`);
    await stopAll();
    process.exitCode = 1;
  },
);
