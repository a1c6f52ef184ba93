// Shared helpers of the benchmarks: spawning and always stopping child processes, running wrk
// and reading its report, per-process CPU time and RSS from /proc, and small statistics.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, httpRequest, waitForHttp } from '../test/support/flarelet.ts';

export { freePort, httpRequest, waitForHttp };

export const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
export const FLARELET_BIN = join(ROOT, 'bin', 'flarelet');
export const NODE24 = join(ROOT, 'bin', 'node24');

/** The hello worker every runtime serves (module syntax). */
export const HELLO_WORKER = `export default { fetch() { return new Response('Hello worker!') } }\n`;
export const HELLO_BODY = 'Hello worker!';

// ---------------------------------------------------------------------------------------------
// Cleanup: everything started registers a stop function; run.ts calls stopAll() in `finally` and
// on SIGINT/SIGTERM, so no server or temp dir outlives the benchmark.

const cleanups = new Set<() => Promise<void>>();

/** Registers a cleanup; returns a function that runs it (once) and unregisters it. */
export function onCleanup(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  const run = () => {
    cleanups.delete(run);
    done ??= fn().catch(() => {});
    return done;
  };
  cleanups.add(run);
  return run;
}

export async function stopAll(): Promise<void> {
  await Promise.all([...cleanups].map((fn) => fn()));
}

/** A temporary directory removed at cleanup (or earlier through the returned remove()). */
export async function tempDir(prefix: string): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  const remove = onCleanup(() => rm(path, { recursive: true, force: true }));
  return { path, remove };
}

export interface Child {
  pid: number;
  proc: ChildProcess;
  alive(): boolean;
  /** stderr (and stdout when piped), last 64 KiB */
  output(): string;
  exited: Promise<void>;
  /** SIGTERM, SIGKILL after 5 s; resolves once the process is gone. */
  stop(): Promise<void>;
}

/**
 * Spawns a process whose stdout goes to /dev/null ('ignore') or is collected ('pipe'); stderr is
 * always collected. The process is stopped at cleanup if not before.
 */
export function spawnChild(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; stdout?: 'ignore' | 'pipe' } = {},
): Child {
  const proc = spawn(command, args, {
    cwd: options.cwd ?? ROOT,
    env: options.env ?? process.env,
    stdio: ['ignore', options.stdout ?? 'ignore', 'pipe'],
  });
  let output = '';
  const collect = (s: string) => {
    output += s;
    if (output.length > 65536) output = output.slice(-65536);
  };
  proc.stderr!.setEncoding('utf8').on('data', collect);
  proc.stdout?.setEncoding('utf8').on('data', collect);
  let alive = proc.pid !== undefined;
  const exited = new Promise<void>((done) => {
    proc.once('exit', () => ((alive = false), done()));
    proc.once('error', (err) => ((alive = false), collect(`spawn error: ${err.message}\n`), done()));
  });
  const stop = onCleanup(async () => {
    if (!alive) return;
    proc.kill('SIGTERM');
    const timer = setTimeout(() => alive && proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  });
  return { pid: proc.pid ?? -1, proc, alive: () => alive, output: () => output, exited, stop };
}

/** Starts `bin/flarelet dev` on free loopback ports with trace output as JSON lines. */
export async function startFlareletDev(
  entries: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; stdout?: 'ignore' | 'pipe'; startTimeoutMs?: number; extraArgs?: string[] } = {},
): Promise<Child & { port: number; url: string; startMs: number }> {
  const port = await freePort();
  let apiPort = await freePort();
  while (apiPort === port) apiPort = await freePort();
  // Benchmarks send far more than the default 1,000 requests per minute (burst limit, 1015).
  const args = ['dev', ...entries, '--port', String(port), '--api-port', String(apiPort), '--format', 'json', '--burst-limit', 'off', ...(options.extraArgs ?? [])];
  const started = performance.now();
  const child = spawnChild(FLARELET_BIN, args, { cwd: options.cwd, env: options.env, stdout: options.stdout ?? 'ignore' });
  try {
    await waitForHttp(port, options.startTimeoutMs ?? 60_000, child.alive);
  } catch (error) {
    await child.stop();
    throw new Error(`flarelet dev did not start: ${(error as Error).message}\n${child.output()}`);
  }
  return { ...child, port, url: `http://127.0.0.1:${port}`, startMs: performance.now() - started };
}

// ---------------------------------------------------------------------------------------------
// wrk

export interface WrkSettings {
  threads: number;
  connections: number;
  durationS: number;
}

export interface WrkResult {
  requestsPerSec: number;
  requests: number;
  durationS: number;
  latencyMs: { avg: number; p50: number; p75: number; p90: number; p99: number; max: number };
  non2xx: number;
  socketErrors: { connect: number; read: number; write: number; timeout: number };
  raw: string;
}

function toMs(value: string, unit: string): number {
  const n = Number(value);
  switch (unit) {
    case 'us': return n / 1000;
    case 'ms': return n;
    case 's': return n * 1000;
    case 'm': return n * 60_000;
    case 'h': return n * 3_600_000;
    default: return NaN;
  }
}

export function parseWrk(raw: string): WrkResult {
  const latency = (label: RegExp) => {
    const m = label.exec(raw);
    return m ? toMs(m[1], m[2]) : NaN;
  };
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(raw);
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m|h)/.exec(raw);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(raw);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(raw);
  if (!rps || !total) throw new Error(`cannot read wrk output:\n${raw}`);
  return {
    requestsPerSec: Number(rps[1]),
    requests: Number(total[1]),
    durationS: toMs(total[2], total[3]) / 1000,
    latencyMs: {
      avg: latency(/Latency\s+([\d.]+)(us|ms|s|m|h)/),
      p50: latency(/\s50%\s+([\d.]+)(us|ms|s|m|h)/),
      p75: latency(/\s75%\s+([\d.]+)(us|ms|s|m|h)/),
      p90: latency(/\s90%\s+([\d.]+)(us|ms|s|m|h)/),
      p99: latency(/\s99%\s+([\d.]+)(us|ms|s|m|h)/),
      max: latency(/Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s|m|h)/),
    },
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    socketErrors: socket
      ? { connect: Number(socket[1]), read: Number(socket[2]), write: Number(socket[3]), timeout: Number(socket[4]) }
      : { connect: 0, read: 0, write: 0, timeout: 0 },
    raw,
  };
}

export function wrkAvailable(): boolean {
  const r = spawnSync('wrk', ['--version'], { encoding: 'utf8' });
  return !r.error;
}

/**
 * Runs wrk once against `url` (killed if it overruns its duration by 30 s). Also reports wrk's own
 * CPU time (sampled from /proc every 100 ms while it runs, so it may miss the last 100 ms).
 */
export async function runWrk(url: string, settings: WrkSettings): Promise<WrkResult & { wrkCpuMs: number }> {
  const args = [`-t${settings.threads}`, `-c${settings.connections}`, `-d${settings.durationS}s`, '--latency', url];
  const child = spawnChild('wrk', args, { stdout: 'pipe' });
  const timer = setTimeout(() => void child.stop(), (settings.durationS + 30) * 1000);
  let wrkCpuMs = 0;
  const poll = setInterval(() => {
    try { wrkCpuMs = cpuTimeMs(child.pid); } catch { /* exited */ }
  }, 100);
  await child.exited;
  clearInterval(poll);
  clearTimeout(timer);
  await child.stop();
  if (child.proc.exitCode !== 0) throw new Error(`wrk ${args.join(' ')} failed (exit ${child.proc.exitCode}):\n${child.output()}`);
  return { ...parseWrk(child.output()), wrkCpuMs };
}

// ---------------------------------------------------------------------------------------------
// /proc

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** CPU time (user + system, all threads) a process has used so far, in ms. */
export function cpuTimeMs(pid: number): number {
  return statCpuMs(`/proc/${pid}/stat`);
}

function statCpuMs(file: string): number {
  const stat = readFileSync(file, 'utf8');
  // Fields after the command name (which is in parentheses and may contain spaces).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / CLOCK_TICKS;
}

/** CPU time per thread of a process, in ms, keyed by "tid name". */
export function threadCpuMs(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[] = [];
  try { tids = readdirSync(`/proc/${pid}/task`); } catch { return out; }
  for (const tid of tids) {
    try {
      const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      out.set(`${tid} ${comm}`, statCpuMs(`/proc/${pid}/task/${tid}/stat`));
    } catch { /* thread ended */ }
  }
  return out;
}

/** CPU time the whole machine has spent busy (all cores, everything but idle and iowait), in ms. */
export function machineBusyMs(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]; // "cpu  user nice system idle iowait irq softirq steal …"
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const busy = f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
  return (busy * 1000) / CLOCK_TICKS;
}

/** How busy the machine is right now: busy CPU over `ms`, in % of one core. */
export async function machineBusyPercent(ms = 1000): Promise<number> {
  const t0 = performance.now();
  const b0 = machineBusyMs();
  await sleep(ms);
  return ((machineBusyMs() - b0) / (performance.now() - t0)) * 100;
}

/** 1-minute load average. */
export function loadAverage(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

/** A /proc/<pid>/status field in kB (VmRSS, VmHWM, Threads, …). */
export function procStatus(pid: number, field: string): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status);
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(m[1]);
}

/** The executable a pid runs (to check that bin/flarelet exec'd node). */
export function procExe(pid: number): string {
  return readlinkSync(`/proc/${pid}/exe`);
}

/** The pid of the process listening on a loopback TCP port (e.g. workerd, whose handle has no pid). */
export function pidListeningOn(port: number): number | null {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try { text = readFileSync(table, 'utf8'); } catch { continue; }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is f[1] ("0100007F:1F90"), state f[3] (0A = LISTEN), inode f[9]
      if (f.length > 9 && f[1].endsWith(`:${hexPort}`) && f[3] === '0A') inodes.add(f[9]);
    }
  }
  if (inodes.size === 0) return null;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try { fds = readdirSync(`/proc/${entry}/fd`); } catch { continue; }
    for (const fd of fds) {
      let target: string;
      try { target = readlinkSync(`/proc/${entry}/fd/${fd}`); } catch { continue; }
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m && inodes.has(m[1])) return Number(entry);
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Statistics and formatting

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  // nearest-rank
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export const median = (values: number[]) => percentile(values, 50);

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function fmt(n: number, digits = 1): string {
  if (!Number.isFinite(n)) return 'n/a';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Pads columns of a small table for the console. */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  '))
    .join('\n');
}

export function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Resolves with `promise` or rejects after `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, fail) => { timer = setTimeout(() => fail(new Error(`${what} took more than ${ms} ms`)), ms); }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
