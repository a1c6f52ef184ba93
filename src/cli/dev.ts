// `flarelet dev`: serves one or more workers locally, prints each invocation's trace (pretty, or
// JSON lines), and reloads a worker when one of its files changes. A worker that fails to load
// is reported and answered with 1101 until its file is fixed; the process keeps running.
import { mkdirSync, watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import path from 'node:path';
import { ConfigError, findConfig, loadWorkerConfig, WORKER_NAME } from '../config/wrangler.ts';
import type { WorkerConfig } from '../config/wrangler.ts';
import { ApiServer, sendEnvelope } from '../control/api-server.ts';
import { attachWorkerSwitches } from '../control/workers-api.ts';
import { DEFAULT_CF } from '../edge/cf.ts';
import { EdgeServer } from '../edge/server.ts';
import type { WorkerSlot } from '../edge/server.ts';
import { TraceBus } from '../observability/bus.ts';
import { connectedLine, formatPretty } from '../observability/pretty.ts';
import type { TraceEvent } from '../protocol/trace.ts';
import { WAIT_UNTIL_LIMIT_MS, WorkerIsolate } from '../runtime/worker-isolate.ts';
import { loadWorkerSource } from '../runtime/worker-source.ts';
import type { WorkerSource } from '../runtime/worker-source.ts';
import { BlockedHosts } from '../edge/blocked-hosts.ts';
import { DEFAULT_REQUEST_LIMITS, parseLimit, PLAN_REQUEST_LIMITS, RequestLimits } from '../edge/request-limits.ts';
import type { RequestLimitSettings } from '../edge/request-limits.ts';
import { keyValues, parseArgs, portFlag, UsageError } from './args.ts';
import { startPlatform } from './dev-platform.ts';

export const DEV_USAGE = `Usage: flarelet dev [entry…] [options]

Serves workers at http://127.0.0.1:PORT/ and http://<name>.localhost:PORT/.
With no entry, reads wrangler.toml / wrangler.json(c) in the current folder.

Options:
  --port N               edge port for the workers (default 8787)
  --api-port N           port of the platform API and /metrics (default 8788)
  --ip ADDRESS           address to listen on (default 127.0.0.1)
  -c, --config FILE      a wrangler.toml / wrangler.json(c) to serve (repeatable)
  --name NAME            worker name (one worker only)
  --var KEY=VALUE        a text binding (repeatable; overrides the config's vars)
  --origin URL           origin for pass-through and fall-through requests
  --format pretty|json   trace output: wrangler's pretty tail layout, or one JSON event per line
  --memory-mb N          memory limit per isolate (default 128)
  --cpu-ms N             CPU time limit per invocation (default 50; config: limits.cpu_ms)
  --subrequests N        subrequests per invocation (default 50; config: limits.subrequests)
  --startup-cpu-ms N     CPU time limit of the top-level scope (default 400)
  --buffering-limit-mb N bytes a body may buffer (text(), arrayBuffer()…) before the Memory limit errors (default 128)
  --block-host HOST|CIDR a host workers may not fetch (1021), besides link-local and metadata (repeatable)
  --compatibility-flag F a compatibility flag for every worker (repeatable)
  --burst-limit N|off    requests per worker per sliding minute before 1015 (default 1000)
  --daily-limit N|off    requests per worker per UTC day before 1027 (default off)
  --plan free|paid       limit presets: free = 1000/min + 100000/day; paid = no request limits
  --cf KEY=VALUE         request.cf geo field for non-loopback clients (repeatable)
  --colo CODE            request.cf.colo and the Ray ID suffix (default LCL)
  --no-watch             do not reload on file changes
  --persist-to DIR       folder for the log store and the logpush spool (default .flarelet)
  --log-retention-days N days persisted logs are kept (default 7)
  --tail-rate N          events/s per tail session before it samples (default 200)
  --logpush URL          deliver trace events as gzipped NDJSON batches to URL (repeatable)
  --otlp URL             export trace events as OTLP/HTTP logs to URL (repeatable)`;

const FLAGS = {
  port: { type: 'string' }, 'api-port': { type: 'string' }, ip: { type: 'string' },
  config: { type: 'list', short: 'c' }, name: { type: 'string' }, var: { type: 'list' },
  origin: { type: 'string' }, format: { type: 'string' }, 'memory-mb': { type: 'string' },
  cf: { type: 'list' }, colo: { type: 'string' }, 'no-watch': { type: 'boolean' },
  'compatibility-date': { type: 'string' }, help: { type: 'boolean', short: 'h' },
  'persist-to': { type: 'string' }, 'log-retention-days': { type: 'string' }, 'tail-rate': { type: 'string' },
  logpush: { type: 'list' }, otlp: { type: 'list' },
  'cpu-ms': { type: 'string' }, subrequests: { type: 'string' }, 'startup-cpu-ms': { type: 'string' },
  'block-host': { type: 'list' }, 'compatibility-flag': { type: 'list' },
  'burst-limit': { type: 'string' }, 'daily-limit': { type: 'string' }, plan: { type: 'string' },
  'buffering-limit-mb': { type: 'string' },
} as const;

/** Burst and daily request limits from --plan, --burst-limit and --daily-limit. */
function requestLimitSettings(flags: Record<string, unknown>): RequestLimitSettings {
  const plan = flags.plan as string | undefined;
  if (plan !== undefined && plan !== 'free' && plan !== 'paid') throw new UsageError(`--plan must be free or paid, got ${plan}`);
  const base = plan ? PLAN_REQUEST_LIMITS[plan] : DEFAULT_REQUEST_LIMITS;
  const limit = (name: string, fallback: number | null) => {
    if (flags[name] === undefined) return fallback;
    try { return parseLimit(String(flags[name]), `--${name}`); } catch (error) { throw new UsageError((error as Error).message); }
  };
  return { burstPerMinute: limit('burst-limit', base.burstPerMinute), dailyRequests: limit('daily-limit', base.dailyRequests) };
}

function positiveNumberFlag(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!(n > 0) || !Number.isFinite(n)) throw new UsageError(`--${name} must be a positive number, got ${String(value)}`);
  return n;
}

function urlList(values: unknown, name: string): string[] {
  return ((values as string[] | undefined) ?? []).map((value) => {
    try { return new URL(value).toString(); } catch { throw new UsageError(`--${name} must be a URL, got ${value}`); }
  });
}

interface WorkerSpec {
  entry: string;
  config: WorkerConfig | null;
  name: string;
  vars: Record<string, unknown>;
}

function specFor(entry: string | undefined, configFile: string | undefined, nameFlag: string | undefined, cliVars: Record<string, string>): WorkerSpec {
  const config = configFile ? loadWorkerConfig(configFile) : null;
  const main = entry ? path.resolve(entry) : config?.main;
  if (!main) {
    throw new UsageError(config ? `${config.path}: "main" is missing: which file is the worker?` : 'no entry given and no wrangler.toml / wrangler.json(c) here');
  }
  const name = config?.name ?? nameFlag ?? path.basename(main).replace(/\.[^.]+$/, '').toLowerCase().replace(/[^a-z0-9_-]/g, '-');
  if (!WORKER_NAME.test(name)) throw new UsageError(`"${name}" is not a valid worker name; pass --name`);
  return { entry: main, config, name, vars: { ...(config?.vars ?? {}), ...cliVars } };
}

function workerSpecs(positional: string[], flags: Record<string, unknown>): WorkerSpec[] {
  const cliVars = keyValues(flags.var, 'var');
  const configs = (flags.config as string[] | undefined) ?? [];
  const nameFlag = flags.name as string | undefined;
  if (nameFlag !== undefined && positional.length + configs.length > 1) throw new UsageError('--name applies to one worker only');
  const specs: WorkerSpec[] = [];
  for (const file of configs) specs.push(specFor(undefined, path.resolve(file), nameFlag, cliVars));
  for (const entry of positional) {
    // An entry's config is the one beside it (wrangler.toml next to the worker).
    specs.push(specFor(entry, findConfig(path.dirname(path.resolve(entry))), nameFlag, cliVars));
  }
  if (specs.length === 0) {
    const configFile = findConfig(process.cwd());
    if (!configFile) throw new UsageError('no entry given and no wrangler.toml / wrangler.json(c) here');
    specs.push(specFor(undefined, configFile, nameFlag, cliVars));
  }
  const names = new Set<string>();
  for (const spec of specs) {
    if (names.has(spec.name)) throw new UsageError(`two workers are named "${spec.name}"`);
    names.add(spec.name);
  }
  return specs;
}

export async function runDev(argv: string[]): Promise<void> {
  const { positional, flags } = parseArgs(argv, FLAGS as never);
  if (flags.help) { process.stdout.write(`${DEV_USAGE}\n`); return; }
  const format = (flags.format as string | undefined) ?? 'pretty';
  if (format !== 'pretty' && format !== 'json') throw new UsageError(`--format must be pretty or json, got ${format}`);
  const port = portFlag(flags.port, 'port', 8787);
  const apiPort = portFlag(flags['api-port'], 'api-port', 8788);
  const hostname = (flags.ip as string | undefined) ?? '127.0.0.1';
  const memoryMb = flags['memory-mb'] === undefined ? undefined : Number(flags['memory-mb']);
  if (memoryMb !== undefined && !(memoryMb >= 8)) throw new UsageError('--memory-mb must be a number of at least 8');
  const optionalPositive = (name: string) => (flags[name] === undefined ? undefined : positiveNumberFlag(flags[name], name, 0));
  const cpuMs = optionalPositive('cpu-ms');
  const subrequestLimit = optionalPositive('subrequests');
  const startupMs = optionalPositive('startup-cpu-ms');
  const bufferingMb = optionalPositive('buffering-limit-mb');
  let origin: URL | null = null;
  if (flags.origin !== undefined) {
    try { origin = new URL(flags.origin as string); } catch { throw new UsageError(`--origin must be a URL, got ${String(flags.origin)}`); }
  }
  const cf = { edge: { ...DEFAULT_CF.edge, colo: (flags.colo as string | undefined) ?? 'LCL' }, geo: keyValues(flags.cf, 'cf') };
  const specs = workerSpecs(positional, flags);
  const stateDir = path.resolve((flags['persist-to'] as string | undefined) ?? '.flarelet');
  const settings = {
    logRetentionDays: positiveNumberFlag(flags['log-retention-days'], 'log-retention-days', 7),
    tailEventsPerSecond: positiveNumberFlag(flags['tail-rate'], 'tail-rate', 200),
    logpushUrls: urlList(flags.logpush, 'logpush'),
    otlpUrls: urlList(flags.otlp, 'otlp'),
  };

  const info = (line: string) => process.stderr.write(`${line}\n`);
  // JSON lines are gathered and written once per event-loop turn: one write per busy turn
  // instead of one per request.
  let pendingJson = '';
  const flushJson = () => { const out = pendingJson; pendingJson = ''; process.stdout.write(out); };
  const printTrace = (event: TraceEvent) => {
    if (format === 'json') {
      if (!pendingJson) setImmediate(flushJson);
      pendingJson += `${JSON.stringify(event)}\n`;
      return;
    }
    const { stdout, stderr } = formatPretty(event, { color: Boolean(process.stdout.isTTY) });
    for (const line of stdout) process.stdout.write(`${line}\n`);
    for (const line of stderr) process.stderr.write(`${line}\n`);
  };

  const bus = new TraceBus();
  bus.subscribe(printTrace);
  let blockedHosts: BlockedHosts;
  try {
    blockedHosts = new BlockedHosts((flags['block-host'] as string[] | undefined) ?? []);
  } catch (error) {
    throw new UsageError(`--block-host: ${(error as Error).message}`);
  }
  const requestLimits = requestLimitSettings(flags);
  const limiter = new RequestLimits();
  const api = new ApiServer();
  const edge = new EdgeServer({
    port, hostname, cf, blockedHosts,
    platformPorts: () => [boundApiPort],
    admit: (slot) => {
      const code = limiter.admit(slot.name, requestLimits);
      return code ? { code, retryAfterSeconds: limiter.retryAfterSeconds(slot.name, code, requestLimits) } : null;
    },
  });
  api.addRoute((req, res, url) => {
    if (req.method !== 'GET' || url.pathname !== '/') return false;
    sendEnvelope(res, 200, { workers: specs.map((s) => ({ name: s.name, entry: s.entry, loaded: Boolean(edge.getSlot(s.name)?.worker) })) });
    return true;
  });
  attachWorkerSwitches(api, (name) => edge.getSlot(name));
  const watchers: FSWatcher[] = [];
  let boundApiPort = apiPort;

  function createIsolate(spec: WorkerSpec, slot: WorkerSlot, source: WorkerSource): Promise<WorkerIsolate> {
    const limits = spec.config?.limits ?? {};
    return WorkerIsolate.create({
      name: spec.name,
      source,
      bindings: spec.vars,
      memoryMb: memoryMb ?? limits.memoryMb,
      cpuLimitMs: cpuMs ?? limits.cpuMs,
      subrequestLimit: subrequestLimit ?? limits.subrequests,
      startupCpuMs: startupMs ?? limits.startupMs,
      bufferingLimitBytes: bufferingMb === undefined ? undefined : Math.floor(bufferingMb * 1024 * 1024),
      onTrace: (event, facts) => bus.publish(event, facts),
      onStrayLog: (level, message) => info(`[${spec.name}] (${level}) ${message.map((m) => (typeof m === 'string' ? m : JSON.stringify(m))).join(' ')}`),
      prepareSubrequest: (init, inv) => edge.prepareSubrequest(slot, inv, init),
      // V8 disposed the isolate at its memory limit: the next request gets a fresh one.
      onDeath: (reason) => {
        info(`✘ [${spec.name}] ${reason} A fresh isolate serves the next request.`);
        slot.restarting = createIsolate(spec, slot, source).then(
          (fresh) => { if (slot.worker?.isDisposed) slot.worker = fresh; else fresh.dispose(); },
          (error) => { slot.worker = null; slot.loadError = (error as Error).message; },
        ).finally(() => { slot.restarting = null; });
      },
    });
  }

  async function load(spec: WorkerSpec, slot: WorkerSlot): Promise<string[]> {
    let inputs = [spec.entry];
    slot.compatibilityFlags = [...(spec.config?.compatibilityFlags ?? []), ...((flags['compatibility-flag'] as string[] | undefined) ?? [])];
    try {
      const source = await loadWorkerSource(spec.entry);
      inputs = source.inputs;
      const worker = await createIsolate(spec, slot, source);
      const previous = slot.worker;
      slot.worker = worker;
      slot.loadError = null;
      // Let in-flight invocations of the previous version finish before freeing it.
      if (previous) setTimeout(() => previous.dispose(), WAIT_UNTIL_LIMIT_MS + 5000).unref();
      if (worker.handlerProblem) info(`[${spec.name}] ${worker.handlerProblem}`);
    } catch (error) {
      slot.loadError = (error as Error).message;
      const previous = slot.worker;
      slot.worker = null;
      if (previous) setTimeout(() => previous.dispose(), WAIT_UNTIL_LIMIT_MS + 5000).unref();
      info(`✘ [${spec.name}] ${(error as Error).message}`);
      info(`  ${spec.name} answers with an error (1101) until the file is fixed; watching for changes.`);
    }
    if (spec.config) inputs.push(spec.config.path);
    return inputs;
  }

  function watchFiles(spec: WorkerSpec, slot: WorkerSlot, files: string[]): void {
    let timer: NodeJS.Timeout | undefined;
    let current: FSWatcher[] = [];
    const rewatch = (list: string[]) => {
      for (const w of current) w.close();
      current = [];
      for (const file of new Set(list)) {
        if (file.includes(`${path.sep}node_modules${path.sep}`)) continue;
        try {
          const w = watch(file, () => {
            clearTimeout(timer);
            timer = setTimeout(async () => {
              if (spec.config) {
                try {
                  const fresh = specFor(spec.entry, spec.config.path, undefined, {});
                  spec.vars = { ...fresh.vars, ...keyValues(flags.var, 'var') };
                } catch (error) { info(`✘ ${(error as Error).message}`); }
              }
              info(`↻ [${spec.name}] reloading…`);
              rewatch(await load(spec, slot));
            }, 100);
          });
          current.push(w);
          watchers.push(w);
        } catch { /* a file that vanished is watched again after the next successful build */ }
      }
    };
    rewatch(files);
  }

  try {
    mkdirSync(stateDir, { recursive: true });
  } catch (error) {
    throw new UsageError(`--persist-to: cannot create ${stateDir}: ${(error as Error).message}`);
  }
  const platform = await startPlatform({
    api,
    bus,
    stateDir,
    settings,
    workers: () => specs.map((s) => ({ name: s.name, observability: s.config?.observability ?? {} })),
  });

  info('⎔ Starting local server…');
  for (const spec of specs) {
    const slot: WorkerSlot = { name: spec.name, worker: null, loadError: null, origin };
    edge.setSlot(slot);
    const inputs = await load(spec, slot);
    if (!flags['no-watch']) watchFiles(spec, slot, inputs);
  }
  let edgePort: number;
  try {
    edgePort = await edge.listen();
    boundApiPort = await api.listen(apiPort, hostname);
  } catch (error) {
    throw new UsageError(`cannot listen: ${(error as Error).message}`);
  }
  info(`Ready on http://${hostname}:${edgePort}  (API and /metrics on http://${hostname}:${boundApiPort})`);
  for (const spec of specs) info(`  ${spec.name}  http://${spec.name}.localhost:${edgePort}/`);
  if (format === 'pretty') for (const spec of specs) info(connectedLine(spec.name));

  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  for (const w of watchers) w.close();
  await Promise.all([edge.close(), api.close()]);
  await platform.close();
  if (pendingJson) flushJson();
  for (const spec of specs) edge.getSlot(spec.name)?.worker?.dispose();
}

export { ConfigError };
