// Runs the benchmarks and prints a compact report; the raw figures go to bench/results.json
// (overwritten at every run). `npm run bench -- --only throughput|cold-start|memory` runs one.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchColdStart, formatColdStart } from './cold-start.ts';
import { loadAverage, log, machineBusyPercent, ROOT, stopAll, wrkAvailable } from './lib.ts';
import { benchMemory, formatMemory } from './memory.ts';
import { benchThroughput, formatThroughput } from './throughput.ts';

const USAGE = `Usage: npm run bench -- [options]
  --only NAME        throughput, cold-start or memory (default: all three)
  --duration S       seconds of each measured wrk run (default 8; a 2 s warm-up precedes it)
  --connections N    wrk connections (default 50, one wrk thread)
  --rounds N         interleaved throughput rounds, medians reported (default 1)
  --workers N        workers of the memory benchmark (default 200)
  --cold-workers N   fresh workers of the in-process cold start (default 50)
  --cpu-prof         also profile flarelet under load (node --cpu-prof) and list the hot functions`;

/** A mistake in how the benchmarks were invoked: reported without a stack trace. */
class BenchUsageError extends Error {}

const BENCHMARKS = ['throughput', 'cold-start', 'memory'] as const;
type Benchmark = (typeof BENCHMARKS)[number];

function positiveInt(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new BenchUsageError(`--${name} must be a positive integer, got ${value}`);
  return n;
}

function machine(): Record<string, unknown> {
  const cpus = os.cpus();
  const wrk = spawnSync('wrk', ['--version'], { encoding: 'utf8' });
  let workerd = 'unknown';
  try { workerd = (JSON.parse(readFileSync(join(ROOT, 'node_modules', 'workerd', 'package.json'), 'utf8')) as { version: string }).version; } catch { /* not installed */ }
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    workerd,
    wrk: `${wrk.stdout ?? ''}${wrk.stderr ?? ''}`.split('\n')[0].trim(),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      duration: { type: 'string' },
      connections: { type: 'string' },
      rounds: { type: 'string' },
      workers: { type: 'string' },
      'cold-workers': { type: 'string' },
      'cpu-prof': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) { process.stdout.write(`${USAGE}\n`); return; }
  if (values.only !== undefined && !(BENCHMARKS as readonly string[]).includes(values.only)) {
    throw new BenchUsageError(`--only must be one of ${BENCHMARKS.join(', ')}, got ${values.only}`);
  }
  const selected: Benchmark[] = values.only ? [values.only as Benchmark] : [...BENCHMARKS];
  const durationS = positiveInt(values.duration, 8, 'duration');
  const connections = positiveInt(values.connections, 50, 'connections');
  const rounds = positiveInt(values.rounds, 1, 'rounds');
  const memoryWorkers = positiveInt(values.workers, 200, 'workers');
  const coldWorkers = positiveInt(values['cold-workers'], 50, 'cold-workers');
  if (memoryWorkers < 2) throw new BenchUsageError('--workers must be at least 2');

  if (selected.includes('throughput') && !wrkAvailable()) throw new BenchUsageError('wrk is not installed (Debian: apt-get install wrk)');
  if (selected.includes('cold-start') && !process.execArgv.includes('--no-node-snapshot') && !/--no-node-snapshot/.test(process.env.NODE_OPTIONS ?? '')) {
    throw new BenchUsageError('the cold-start benchmark runs isolates in this process: run it with node --no-node-snapshot (npm run bench does)');
  }

  const idleCheck = await machineBusyPercent(1000);
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: machine(),
    loadAverageAtStart: loadAverage(),
    /** % of one core the machine used during 1 s before the benchmarks started */
    machineBusyBeforeStart: idleCheck,
  };
  const report: string[] = [];
  const started = performance.now();
  for (const name of selected) {
    log(`▶ ${name}`);
    if (name === 'throughput') {
      const r = await benchThroughput({ wrk: { threads: 1, connections, durationS }, warmupS: 2, rounds, cpuProfile: Boolean(values['cpu-prof']) });
      results.throughput = r;
      report.push(formatThroughput(r));
    } else if (name === 'cold-start') {
      const r = await benchColdStart({ workers: coldWorkers, processStarts: 5 });
      results.coldStart = r;
      report.push(formatColdStart(r));
    } else {
      const r = await benchMemory({ workers: memoryWorkers, settleMs: 3000 });
      results.memory = r;
      report.push(formatMemory(r));
    }
  }
  results.loadAverageAtEnd = loadAverage();
  const m = results.machine as Record<string, unknown>;
  const busy = idleCheck > 20
    ? `Note: the machine was busy before the benchmarks started (${idleCheck.toFixed(0)}% of one core during 1 s): other work skews the figures.\n\n`
    : '';
  const out = join(ROOT, 'bench', 'results.json');
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(
    `\nFlarelet benchmarks — ${results.date as string} — ${m.cpus as number} × ${m.cpuModel as string}, node ${m.node as string}, workerd ${m.workerd as string}\n\n` +
      busy +
      `${report.join('\n\n')}\n\n` +
      `Raw figures: ${out} (overwritten at every run). Took ${((performance.now() - started) / 1000).toFixed(0)} s.\n`,
  );
}

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    if (stopping) return;
    stopping = true;
    log(`\n${signal}: stopping everything started…`);
    void stopAll().finally(() => process.exit(130));
  });
}

try {
  await main();
} catch (error) {
  const usage = error instanceof BenchUsageError || (error as { code?: string })?.code?.startsWith('ERR_PARSE_ARGS');
  process.stderr.write(`bench: ${usage ? (error as Error).message : ((error as Error)?.stack ?? String(error))}\n`);
  if (usage) process.stderr.write(`\n${USAGE}\n`);
  process.exitCode = 1;
} finally {
  await stopAll();
}
// Child processes and handles are gone; isolated-vm may keep the loop alive, so leave explicitly.
process.exit(process.exitCode ?? 0);
