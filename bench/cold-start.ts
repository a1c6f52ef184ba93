// Cold start: how long a new worker takes from its file to its first response.
// - In process, with the runtime's API: loadWorkerSource (esbuild) → WorkerIsolate.create (isolate,
//   guest Web APIs, user code) → invoke → response, over many fresh workers after one warm-up
//   (the warm-up also builds the guest bundle and its code cache, once per process).
// - End to end: spawn `bin/flarelet dev x.js` until the first HTTP 200, against workerd
//   (spawn until its first 200) as the baseline.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startWorkerd } from '../test/support/workerd.ts';
import type { ResponseBody } from '../src/runtime/host-invocation.ts';
import type { HostInvocation } from '../src/runtime/host-invocation.ts';
import { WorkerIsolate } from '../src/runtime/worker-isolate.ts';
import type { IncomingRequest } from '../src/runtime/worker-isolate.ts';
import { loadWorkerSource } from '../src/runtime/worker-source.ts';
import {
  fmt, FLARELET_BIN, freePort, HELLO_BODY, HELLO_WORKER, httpRequest, log, median, onCleanup, percentile, sleep,
  spawnChild, table, tempDir, withTimeout,
} from './lib.ts';

export interface ColdStartOptions {
  /** fresh workers measured in process (after one warm-up) */
  workers: number;
  /** CLI and workerd starts measured end to end */
  processStarts: number;
}

export interface InProcessSample { sourceMs: number; createMs: number; firstResponseMs: number; totalMs: number }

export interface ColdStartResult {
  settings: ColdStartOptions;
  inProcess: {
    warmup: InProcessSample;
    samples: InProcessSample[];
    totalMs: { median: number; p95: number; min: number; max: number };
    phaseMedianMs: { source: number; create: number; firstResponse: number };
  };
  endToEnd: {
    flareletMs: number[];
    workerdMs: number[];
    flareletMedianMs: number;
    workerdMedianMs: number;
    ratio: number;
  };
}

/** The hello worker, made distinct per file. */
const workerCode = (i: number) => `// cold-start worker ${i}\n${HELLO_WORKER}`;

async function readBody(body: ResponseBody): Promise<string> {
  if (body.kind === 'none') return '';
  if (body.kind === 'bytes') return Buffer.from(body.bytes).toString('utf8');
  const chunks: Uint8Array[] = [];
  for (let c = await body.read(); c !== null; c = await body.read()) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

async function coldStartOnce(entry: string, name: string): Promise<InProcessSample> {
  const request: IncomingRequest = {
    method: 'GET',
    url: `http://${name}.localhost/`,
    headers: ['host', `${name}.localhost`, 'user-agent', 'flarelet-bench'],
    body: null,
    cf: {},
  };
  let traced!: () => void;
  const traceDone = new Promise<void>((r) => (traced = r));

  const t0 = performance.now();
  const source = await loadWorkerSource(entry);
  const t1 = performance.now();
  const worker = await WorkerIsolate.create({ name, source, bindings: {}, onTrace: () => traced() });
  try {
    const t2 = performance.now();
    let inv: HostInvocation | undefined;
    const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
      inv = worker.invoke(request, {
        response: (head, body) => { readBody(body).then((text) => resolve({ status: head.status, text }), reject); },
        passThrough: () => reject(new Error('the worker passed the request through')),
        failure: (message) => reject(new Error(`the worker failed: ${message}`)),
      });
    });
    const { status, text } = await withTimeout(answer, 10_000, 'first response');
    const t3 = performance.now();
    if (status !== 200 || !text.startsWith(HELLO_BODY)) throw new Error(`worker answered ${status} ${JSON.stringify(text)}`);
    worker.responseOver(inv!, status);
    await withTimeout(traceDone, 10_000, 'trace event');
    return { sourceMs: t1 - t0, createMs: t2 - t1, firstResponseMs: t3 - t2, totalMs: t3 - t0 };
  } finally {
    worker.dispose();
  }
}

/** Polls GET url until it answers 200 (connection refused while the server starts). */
async function untilOk(url: string, alive: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!alive()) throw new Error('the process exited before answering');
    try {
      const res = await httpRequest(url, { timeoutMs: 5000 });
      if (res.status === 200) return;
    } catch { /* not listening yet */ }
    await sleep(5);
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
}

async function flareletProcessStart(dir: string): Promise<number> {
  const port = await freePort();
  let apiPort = await freePort();
  while (apiPort === port) apiPort = await freePort();
  const t0 = performance.now();
  const child = spawnChild(FLARELET_BIN, ['dev', 'hello.js', '--port', String(port), '--api-port', String(apiPort), '--format', 'json'], { cwd: dir });
  try {
    await untilOk(`http://127.0.0.1:${port}/`, child.alive, 60_000).catch((error: Error) => {
      throw new Error(`${error.message}\n${child.output()}`);
    });
    return performance.now() - t0;
  } finally {
    await child.stop();
  }
}

async function workerdProcessStart(): Promise<number> {
  const t0 = performance.now();
  const handle = await startWorkerd({ script: HELLO_WORKER, format: 'module' });
  const stop = onCleanup(() => handle.stop());
  try {
    await untilOk(`${handle.url}/`, () => true, 30_000);
    return performance.now() - t0;
  } finally {
    await stop();
  }
}

export async function benchColdStart(options: ColdStartOptions): Promise<ColdStartResult> {
  const dir = await tempDir('flarelet-cold-');
  try {
    for (let i = 0; i <= options.workers; i++) await writeFile(join(dir.path, `cold${i}.js`), workerCode(i));
    await writeFile(join(dir.path, 'hello.js'), HELLO_WORKER);

    log(`  in process: warm-up, then ${options.workers} fresh workers…`);
    const warmup = await coldStartOnce(join(dir.path, 'cold0.js'), 'cold0');
    const samples: InProcessSample[] = [];
    for (let i = 1; i <= options.workers; i++) samples.push(await coldStartOnce(join(dir.path, `cold${i}.js`), `cold${i}`));

    log(`  end to end: ${options.processStarts} × (flarelet dev, workerd) process starts…`);
    const flareletMs: number[] = [];
    const workerdMs: number[] = [];
    for (let i = 0; i < options.processStarts; i++) {
      flareletMs.push(await flareletProcessStart(dir.path));
      workerdMs.push(await workerdProcessStart());
    }
    const totals = samples.map((s) => s.totalMs);
    return {
      settings: options,
      inProcess: {
        warmup,
        samples,
        totalMs: { median: median(totals), p95: percentile(totals, 95), min: Math.min(...totals), max: Math.max(...totals) },
        phaseMedianMs: {
          source: median(samples.map((s) => s.sourceMs)),
          create: median(samples.map((s) => s.createMs)),
          firstResponse: median(samples.map((s) => s.firstResponseMs)),
        },
      },
      endToEnd: {
        flareletMs,
        workerdMs,
        flareletMedianMs: median(flareletMs),
        workerdMedianMs: median(workerdMs),
        ratio: median(flareletMs) / median(workerdMs),
      },
    };
  } finally {
    await dir.remove();
  }
}

export function formatColdStart(result: ColdStartResult): string {
  const { inProcess: p, endToEnd: e } = result;
  const list = (xs: number[]) => xs.map((x) => fmt(x, 0)).join(', ');
  return [
    `Cold start, in process (file → loadWorkerSource → WorkerIsolate.create → first response), ${result.settings.workers} fresh workers after 1 warm-up`,
    table([
      ['', 'median ms', 'p95 ms', 'min ms', 'max ms'],
      ['total', fmt(p.totalMs.median, 2), fmt(p.totalMs.p95, 2), fmt(p.totalMs.min, 2), fmt(p.totalMs.max, 2)],
    ]).replace(/^/gm, '  '),
    `  median by phase: source (esbuild) ${fmt(p.phaseMedianMs.source, 2)} ms, isolate create ${fmt(p.phaseMedianMs.create, 2)} ms, first response ${fmt(p.phaseMedianMs.firstResponse, 2)} ms`,
    `  first worker of the process (warm-up; includes building the guest bundle): ${fmt(p.warmup.totalMs, 1)} ms`,
    `Cold start, end to end (spawn → first HTTP 200), median of ${result.settings.processStarts}`,
    `  flarelet dev x.js: ${fmt(e.flareletMedianMs, 0)} ms  [${list(e.flareletMs)}]`,
    `  workerd serve:     ${fmt(e.workerdMedianMs, 0)} ms  [${list(e.workerdMs)}]`,
    `  flarelet / workerd = ${e.ratio.toFixed(2)}× (time; lower is better)`,
  ].join('\n');
}
