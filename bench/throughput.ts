// Hello-world throughput: the same hello worker served by a bare node:http server (Node 24),
// workerd, and `flarelet dev --format json` (trace capture on, stdout to /dev/null), each loaded
// by wrk in turn (warm-up, then the measured run), never two servers under load at once.
import { readdirSync } from 'node:fs';
import { copyFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWorkerd } from '../test/support/workerd.ts';
import { formatProfile, summarizeProfile } from './cpu-profile.ts';
import type { ProfileSummary } from './cpu-profile.ts';
import {
  cpuTimeMs, fmt, freePort, HELLO_BODY, HELLO_WORKER, httpRequest, loadAverage, log, machineBusyMs, median, NODE24,
  onCleanup, pidListeningOn, procExe, ROOT, runWrk, spawnChild, startFlareletDev, table, tempDir, threadCpuMs, waitForHttp,
} from './lib.ts';
import type { WrkResult, WrkSettings } from './lib.ts';

export interface ThroughputOptions {
  wrk: WrkSettings;
  warmupS: number;
  /** rounds of (node:http, workerd, flarelet); figures are the medians over rounds */
  rounds: number;
  /** also run flarelet once more under node --cpu-prof and summarise the profile */
  cpuProfile: boolean;
}

type ServerName = 'node:http' | 'workerd' | 'flarelet';
const SERVERS: ServerName[] = ['node:http', 'workerd', 'flarelet'];

export interface ServerRun {
  server: ServerName;
  round: number;
  pid: number | null;
  wrk: WrkResult & { wrkCpuMs: number };
  /** CPU time of the server process (all threads) during the measured run, % of one core */
  serverCpuPercent: number | null;
  /** server CPU time per request, µs */
  serverCpuUsPerRequest: number | null;
  /** CPU of the server's busiest thread, % of one core (near 100% = that thread is the bottleneck) */
  busiestThread: { name: string; cpuPercent: number } | null;
  /** wrk's own CPU, % of one core */
  wrkCpuPercent: number;
  /** CPU the rest of the machine used meanwhile (busy − server − wrk), % of one core: interference */
  otherCpuPercent: number | null;
  /** 1-minute load average before the measured run */
  loadAverage: number;
}

export interface ServerSummary {
  server: ServerName;
  /** medians over the rounds */
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  errors: number;
  serverCpuPercent: number | null;
  serverCpuUsPerRequest: number | null;
  busiestThreadCpuPercent: number | null;
  otherCpuPercent: number | null;
}

export interface ThroughputResult {
  settings: ThroughputOptions;
  runs: ServerRun[];
  summary: ServerSummary[];
  ratios: { flareletVsWorkerd: number; flareletVsNode: number; workerdVsNode: number };
  profile?: ProfileSummary;
}

interface Served { url: string; pid: number | null; stop(): Promise<void> }

async function serveNode(): Promise<Served> {
  const port = await freePort();
  const child = spawnChild(NODE24, [join(ROOT, 'bench', 'node-hello-server.ts'), String(port)]);
  await waitForHttp(port, 15_000, child.alive).catch(async (error) => {
    await child.stop();
    throw new Error(`node:http baseline did not start: ${(error as Error).message}\n${child.output()}`);
  });
  return { url: `http://127.0.0.1:${port}/`, pid: child.pid, stop: child.stop };
}

async function serveWorkerd(): Promise<Served> {
  const handle = await startWorkerd({ script: HELLO_WORKER, format: 'module' });
  const stop = onCleanup(() => handle.stop());
  return { url: `${handle.url}/`, pid: pidListeningOn(handle.port), stop };
}

async function serveFlarelet(env?: NodeJS.ProcessEnv): Promise<Served> {
  const dir = await tempDir('flarelet-bench-');
  await writeFile(join(dir.path, 'hello.js'), HELLO_WORKER);
  const child = await startFlareletDev(['hello.js'], { cwd: dir.path, env });
  if (!/node/.test(procExe(child.pid))) log(`  note: flarelet pid ${child.pid} runs ${procExe(child.pid)}, not node`);
  return {
    url: `${child.url}/`,
    pid: child.pid,
    stop: async () => { await child.stop(); await dir.remove(); },
  };
}

async function check(url: string, server: string): Promise<void> {
  const res = await httpRequest(url, { timeoutMs: 10_000 });
  if (res.status !== 200 || res.text !== HELLO_BODY) {
    throw new Error(`${server} answered ${res.status} ${JSON.stringify(res.text.slice(0, 200))} instead of 200 ${JSON.stringify(HELLO_BODY)}`);
  }
}

async function load(served: Served, server: ServerName, round: number, options: ThroughputOptions): Promise<ServerRun> {
  await check(served.url, server);
  const tag = options.rounds > 1 ? `${server} (round ${round})` : server;
  log(`  ${tag}: warm-up ${options.warmupS} s…`);
  await runWrk(served.url, { ...options.wrk, durationS: options.warmupS });
  log(`  ${tag}: measuring ${options.wrk.durationS} s…`);
  const loadAvg = loadAverage();
  const busy0 = machineBusyMs();
  const cpu0 = served.pid ? cpuTimeMs(served.pid) : null;
  const threads0 = served.pid ? threadCpuMs(served.pid) : new Map<string, number>();
  const wrk = await runWrk(served.url, options.wrk);
  const cpu1 = served.pid ? cpuTimeMs(served.pid) : null;
  const threads1 = served.pid ? threadCpuMs(served.pid) : new Map<string, number>();
  const busy = machineBusyMs() - busy0;
  const cpuMs = cpu0 !== null && cpu1 !== null ? cpu1 - cpu0 : null;
  const perCore = (ms: number) => (ms / (wrk.durationS * 1000)) * 100;
  let busiestThread: ServerRun['busiestThread'] = null;
  for (const [name, ms] of threads1) {
    const used = perCore(ms - (threads0.get(name) ?? 0));
    if (!busiestThread || used > busiestThread.cpuPercent) busiestThread = { name: name.replace(/^\d+ /, ''), cpuPercent: used };
  }
  return {
    server,
    round,
    pid: served.pid,
    wrk,
    serverCpuPercent: cpuMs === null ? null : perCore(cpuMs),
    serverCpuUsPerRequest: cpuMs === null || wrk.requests === 0 ? null : (cpuMs * 1000) / wrk.requests,
    busiestThread,
    wrkCpuPercent: perCore(wrk.wrkCpuMs),
    otherCpuPercent: cpuMs === null ? null : Math.max(0, perCore(busy - cpuMs - wrk.wrkCpuMs)),
    loadAverage: loadAvg,
  };
}

const starters: Record<ServerName, () => Promise<Served>> = {
  'node:http': serveNode,
  workerd: serveWorkerd,
  flarelet: () => serveFlarelet(),
};

async function measure(server: ServerName, round: number, options: ThroughputOptions): Promise<ServerRun> {
  log(`  ${server}: starting…`);
  const served = await starters[server]();
  try {
    return await load(served, server, round, options);
  } finally {
    await served.stop();
  }
}

function summarize(server: ServerName, runs: ServerRun[]): ServerSummary {
  const mine = runs.filter((r) => r.server === server);
  const med = (f: (r: ServerRun) => number | null) => {
    const xs = mine.map(f).filter((x): x is number => x !== null);
    return xs.length ? median(xs) : null;
  };
  return {
    server,
    requestsPerSec: med((r) => r.wrk.requestsPerSec)!,
    p50Ms: med((r) => r.wrk.latencyMs.p50)!,
    p99Ms: med((r) => r.wrk.latencyMs.p99)!,
    maxMs: Math.max(...mine.map((r) => r.wrk.latencyMs.max)),
    errors: mine.reduce((n, r) => n + r.wrk.non2xx + Object.values(r.wrk.socketErrors).reduce((a, b) => a + b, 0), 0),
    serverCpuPercent: med((r) => r.serverCpuPercent),
    serverCpuUsPerRequest: med((r) => r.serverCpuUsPerRequest),
    busiestThreadCpuPercent: med((r) => r.busiestThread?.cpuPercent ?? null),
    otherCpuPercent: med((r) => r.otherCpuPercent),
  };
}

/** flarelet once more under --cpu-prof (profiling slows it; its figures are not reported). */
async function profileFlarelet(options: ThroughputOptions): Promise<ProfileSummary> {
  const dir = await tempDir('flarelet-prof-');
  const env = { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --cpu-prof --cpu-prof-dir=${dir.path}`.trim() };
  log('  flarelet under --cpu-prof: starting…');
  const served = await serveFlarelet(env);
  try {
    await check(served.url, 'flarelet');
    await runWrk(served.url, { ...options.wrk, durationS: options.warmupS });
    log(`  flarelet under --cpu-prof: loading ${options.wrk.durationS} s…`);
    await runWrk(served.url, options.wrk);
  } finally {
    await served.stop(); // SIGTERM: flarelet exits normally and node writes the profile
  }
  const files = readdirSync(dir.path).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length === 0) throw new Error('flarelet wrote no .cpuprofile');
  // Keep the profile for inspection (Chrome DevTools, speedscope): copy it out of the temp dir.
  const kept = join(tmpdir(), 'flarelet-bench.cpuprofile');
  await copyFile(join(dir.path, files[0]), kept);
  await dir.remove();
  return summarizeProfile(kept);
}

export async function benchThroughput(options: ThroughputOptions): Promise<ThroughputResult> {
  const runs: ServerRun[] = [];
  // Rounds interleave the servers so that background load, if any, spreads over all of them.
  for (let round = 1; round <= options.rounds; round++) {
    for (const server of SERVERS) runs.push(await measure(server, round, options));
  }
  const summary = SERVERS.map((s) => summarize(s, runs));
  const rps = (s: ServerName) => summary.find((r) => r.server === s)!.requestsPerSec;
  const result: ThroughputResult = {
    settings: options,
    runs,
    summary,
    ratios: {
      flareletVsWorkerd: rps('flarelet') / rps('workerd'),
      flareletVsNode: rps('flarelet') / rps('node:http'),
      workerdVsNode: rps('workerd') / rps('node:http'),
    },
  };
  if (options.cpuProfile) result.profile = await profileFlarelet(options);
  return result;
}

export function formatThroughput(result: ThroughputResult): string {
  const { wrk } = result.settings;
  const rows = [['server', 'req/s', 'p50 ms', 'p99 ms', 'max ms', 'errors', 'server CPU', 'top thread', 'CPU µs/req', 'other CPU']];
  const pct = (x: number | null) => (x === null ? 'n/a' : `${fmt(x, 0)}%`);
  for (const r of result.summary) {
    rows.push([
      r.server,
      fmt(r.requestsPerSec, 0),
      fmt(r.p50Ms, 2),
      fmt(r.p99Ms, 2),
      fmt(r.maxMs, 1),
      String(r.errors),
      pct(r.serverCpuPercent),
      pct(r.busiestThreadCpuPercent),
      r.serverCpuUsPerRequest === null ? 'n/a' : fmt(r.serverCpuUsPerRequest, 1),
      pct(r.otherCpuPercent),
    ]);
  }
  const { ratios } = result;
  const verdict = ratios.flareletVsWorkerd >= 1 ? 'meets' : 'misses';
  const lines = [
    `Hello-world throughput (wrk -t${wrk.threads} -c${wrk.connections} -d${wrk.durationS}s --latency, after a ${result.settings.warmupS} s warm-up each` +
      (result.settings.rounds > 1 ? `; medians of ${result.settings.rounds} interleaved rounds)` : ')'),
    table(rows).replace(/^/gm, '  '),
    '  (CPU in % of one core; "top thread": the server\'s busiest thread; "other CPU": what the rest of the machine used meanwhile —',
    '   well above 0 means the figures are disturbed)',
    `  flarelet / workerd   = ${ratios.flareletVsWorkerd.toFixed(2)}×  (target ≥ 1.00×: ${verdict})`,
    `  flarelet / node:http = ${ratios.flareletVsNode.toFixed(2)}×   workerd / node:http = ${ratios.workerdVsNode.toFixed(2)}×`,
  ];
  if (result.profile) lines.push('', formatProfile(result.profile, 'CPU profile of flarelet under load').replace(/^/gm, '  '));
  return lines.join('\n');
}
