// Memory: resident set size per idle worker. `flarelet dev` serves N small distinct workers (each
// answered once), then VmRSS of its node process is read from /proc; the cost of one more worker
// is (RSS_N − RSS_1) / (N − 1). bin/flarelet exec's node, so the spawned pid is the node process.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fmt, httpRequest, log, procExe, procStatus, sleep, startFlareletDev, table, tempDir } from './lib.ts';

export interface MemoryOptions {
  workers: number;
  /** wait after the last first request before reading RSS */
  settleMs: number;
}

export interface MemorySample {
  workers: number;
  /** bytes of the `flarelet dev …` argument list */
  commandLineBytes: number;
  /** spawn → edge port answers (all workers loaded before the port opens) */
  startupMs: number;
  /** first request to every worker, one after another */
  firstRequestsMs: number;
  rssKb: number;
  hwmKb: number;
  threads: number;
}

export interface MemoryResult {
  settings: MemoryOptions;
  one: MemorySample;
  many: MemorySample;
  perWorkerMb: number;
}

const fileName = (i: number) => `w${String(i).padStart(3, '0')}.js`;

/** A small worker that differs from the others by its id and routes a little. */
const workerCode = (i: number) => `// worker ${i} of the memory benchmark
const ID = ${i};
export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname === '/json') return Response.json({ id: ID, path: url.pathname });
    return new Response('worker ' + ID, { headers: { 'x-worker': String(ID) } });
  },
};
`;

async function sample(dir: string, count: number, settleMs: number): Promise<MemorySample> {
  const entries = Array.from({ length: count }, (_, i) => fileName(i + 1));
  const commandLineBytes = ['dev', ...entries].reduce((n, a) => n + Buffer.byteLength(a) + 1, 0);
  log(`  ${count} worker(s): starting flarelet dev…`);
  // 10 minutes at most for loading every worker (the port opens once all are loaded)
  const child = await startFlareletDev(entries, { cwd: dir, startTimeoutMs: 600_000 });
  try {
    const exe = procExe(child.pid);
    if (!/node/.test(exe)) throw new Error(`pid ${child.pid} runs ${exe}, not node: cannot read flarelet's RSS`);
    const t0 = performance.now();
    for (let i = 1; i <= count; i++) {
      const name = fileName(i).replace(/\.js$/, '');
      const res = await httpRequest(`${child.url}/`, { headers: { host: `${name}.localhost:${child.port}` }, timeoutMs: 15_000 });
      if (res.status !== 200 || res.text !== `worker ${i}`) {
        throw new Error(`${name} answered ${res.status} ${JSON.stringify(res.text.slice(0, 200))}\n${child.output()}`);
      }
    }
    const firstRequestsMs = performance.now() - t0;
    await sleep(settleMs);
    return {
      workers: count,
      commandLineBytes,
      startupMs: child.startMs,
      firstRequestsMs,
      rssKb: procStatus(child.pid, 'VmRSS'),
      hwmKb: procStatus(child.pid, 'VmHWM'),
      threads: procStatus(child.pid, 'Threads'),
    };
  } finally {
    await child.stop();
  }
}

export async function benchMemory(options: MemoryOptions): Promise<MemoryResult> {
  const dir = await tempDir('flarelet-mem-');
  try {
    for (let i = 1; i <= options.workers; i++) await writeFile(join(dir.path, fileName(i)), workerCode(i));
    const one = await sample(dir.path, 1, options.settleMs);
    const many = await sample(dir.path, options.workers, options.settleMs);
    return { settings: options, one, many, perWorkerMb: (many.rssKb - one.rssKb) / 1024 / (options.workers - 1) };
  } finally {
    await dir.remove();
  }
}

export function formatMemory(result: MemoryResult): string {
  const row = (s: MemorySample) => [
    String(s.workers),
    fmt(s.rssKb / 1024, 1),
    fmt(s.hwmKb / 1024, 1),
    String(s.threads),
    fmt(s.startupMs / 1000, 2),
    fmt(s.firstRequestsMs, 0),
    String(s.commandLineBytes),
  ];
  return [
    `Memory of idle workers (flarelet dev with N workers, each answered once, VmRSS after ${result.settings.settleMs / 1000} s)`,
    table([
      ['workers', 'RSS MB', 'peak MB', 'threads', 'startup s', '1st reqs ms', 'argv bytes'],
      row(result.one),
      row(result.many),
    ]).replace(/^/gm, '  '),
    `  per idle worker: (RSS${result.many.workers} − RSS1) / ${result.many.workers - 1} = ${fmt(result.perWorkerMb, 2)} MB`,
  ].join('\n');
}
