// One loaded worker: a V8 isolate with the guest Web APIs and the user's code, and the host side
// of the bridge to it (events in, messages out, host operations, timers, CPU accounting).
// Only this module and guest-bundle.ts touch isolated-vm objects.
import { randomBytes } from 'node:crypto';
import ivm from 'isolated-vm';
import { ActivitySlot, BodyKind, GuestMessage, HostEvent } from '../protocol/bridge.ts';
import type { SubrequestInit } from '../protocol/bridge.ts';
import type { TraceEvent } from '../protocol/trace.ts';
import type { InvocationFacts } from '../observability/bus.ts';
import { TraceBuilder } from '../observability/trace-builder.ts';
import { guestBundle } from './guest-bundle.ts';
import { KeyTable } from './host-crypto.ts';
import { watch } from './cpu-watchdog.ts';
import { performSubrequest, SubrequestError } from './host-fetch.ts';
import { HostInvocation } from './host-invocation.ts';
import type { InvocationTarget, ResponseBody } from './host-invocation.ts';
import type { WorkerSource } from './worker-source.ts';

export const DEFAULT_MEMORY_MB = 128;
export const DEFAULT_STARTUP_CPU_MS = 400;
export const DEFAULT_CPU_LIMIT_MS = 50;
export const DEFAULT_SUBREQUEST_LIMIT = 50;
export const WAIT_UNTIL_LIMIT_MS = 30_000;
export const CPU_LIMIT_MESSAGE = 'Worker exceeded CPU time limit.';
export const MEMORY_LIMIT_MESSAGE = 'Worker has exceeded memory limit.';
export const TOO_MANY_SUBREQUESTS = 'Too many subrequests by single Worker invocation.';
/**
 * Extra wall time a task may run past its invocation's CPU budget before V8 interrupts it. The
 * watchdog normally ends the invocation first (it measures CPU; the interrupt is on wall time);
 * the interrupt guarantees a runaway task stops even when the watchdog is late.
 */
const INTERRUPT_GRACE_MS = 20;
const ENTROPY_CHUNK = 16 * 1024;

export interface WorkerOptions {
  name: string;
  source: WorkerSource;
  /** Bindings: service workers see them as globals, module workers in `env`. */
  bindings: Record<string, unknown>;
  memoryMb?: number;
  startupCpuMs?: number;
  /** CPU budget of one invocation (spec §8: 50 ms) */
  cpuLimitMs?: number;
  /** subrequests one invocation may make (spec §8: 50) */
  subrequestLimit?: number;
  /** bytes a body may buffer in text()/arrayBuffer()/… (default: the guest's, 128 MiB) */
  bufferingLimitBytes?: number;
  /** The isolate died (memory limit); in-flight invocations have been answered with 1102. */
  onDeath?(reason: string): void;
  /** Called once per invocation with its trace event. */
  onTrace(event: TraceEvent, facts: InvocationFacts): void;
  /** Console output that belongs to no invocation (top-level scope, or after an invocation ended). */
  onStrayLog?(level: string, message: unknown[]): void;
  /** Lets the edge redirect, annotate or refuse a subrequest (own host → origin, loop counting, blocked hosts). */
  prepareSubrequest?(init: SubrequestInit, invocation: HostInvocation): SubrequestInit | SubrequestRefusal;
}

/**
 * A subrequest the platform does not let through: either the fetch throws (and an uncaught
 * throw becomes the error page `code`), or it resolves with the error page as its response.
 */
export type SubrequestRefusal =
  | { refuse: 'throw'; code: 1021; name: string; message: string }
  | { refuse: 'respond'; code: number; status: number; headers: string[]; body: Uint8Array };

export interface IncomingRequest {
  method: string;
  url: string;
  /** flat [name, value, …] as received */
  headers: string[];
  body: AsyncIterable<Uint8Array> | null;
  cf: Record<string, unknown>;
}

/** A worker whose code could not be loaded (syntax error, top-level throw, startup limit). */
export class WorkerLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkerLoadError';
  }
}

interface HostStream { next(): Promise<Uint8Array | null>; cancel(): void }

function hostStreamFromIterable(iterable: AsyncIterable<Uint8Array>): HostStream {
  const iterator = iterable[Symbol.asyncIterator]();
  return {
    async next() {
      const { done, value } = await iterator.next();
      return done ? null : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    },
    cancel() { iterator.return?.().catch(() => {}); },
  };
}

function hostStreamFromWeb(stream: ReadableStream<Uint8Array>): HostStream {
  const reader = stream.getReader();
  return {
    async next() {
      const { done, value } = await reader.read();
      return done ? null : value;
    },
    cancel() { reader.cancel().catch(() => {}); },
  };
}

function errorForGuest(error: unknown): { name: string; message: string; domException?: boolean } {
  if (error instanceof SubrequestError) return { name: error.name, message: error.message };
  const e = error as { name?: string; message?: string } | undefined;
  const domException = typeof DOMException !== 'undefined' && error instanceof DOMException;
  return { name: e?.name ?? 'Error', message: e?.message ?? String(error), domException };
}

/** Describes an error thrown while loading user code the way Cloudflare reports it. */
function describeLoadError(error: unknown): string {
  const e = error as { name?: string; message?: string; stack?: string };
  const head = `Uncaught ${e?.name ?? 'Error'}: ${e?.message ?? String(error)}`;
  const frames = (e?.stack ?? '').split('\n').filter((l) => /^\s+at /.test(l)).slice(0, 3);
  return frames.length ? `${head}\n${frames.join('\n')}` : head;
}

export class WorkerIsolate {
  readonly name: string;
  readonly format: WorkerSource['format'];
  private readonly isolate: ivm.Isolate;
  private readonly context: ivm.Context;
  private readonly options: WorkerOptions;
  private onHostEvent!: ivm.Reference<(...args: unknown[]) => void>;
  private readonly invocations = new Map<number, HostInvocation>();
  private readonly timers = new Map<number, { handle: NodeJS.Timeout; invId: number }>();
  private readonly hostStreams = new Map<number, HostStream>();
  private readonly pulls = new Map<number, { resolve(c: Uint8Array | null): void; reject(e: Error): void; invId: number }>();
  private readonly keys = new KeyTable();
  private readonly subrequestAborts = new Map<number, AbortController>();
  private nextInvocationId = 1;
  private nextHostStreamId = 1;
  private disposed = false;
  // CPU accounting: isolate CPU time is shared equally among the invocations active at the time
  // ("processor sharing"); exact when one request runs at a time.
  private lastCpuNs = 0;
  private cpuSharePerInvocationNs = 0;
  private activeCount = 0;
  /** CPU the watchdog charged to one invocation alone since the last share update. */
  private exclusivePendingNs = 0;
  // What the watchdog saw at its previous tick.
  private tickCpuNs = 0;
  private tickWallNs = 0;
  private tickEventSeq = -1;
  /** wall ns since which one task has kept the isolate busy (0 = not busy) */
  private busySinceNs = 0;
  /** Written by the guest: the running invocation and a count of events started. */
  private readonly activity: Int32Array;
  private readonly cpuLimitNs: number;
  /** The script's handler problem found at load (e.g. no fetch listener), or null. */
  handlerProblem: string | null = null;

  private constructor(isolate: ivm.Isolate, context: ivm.Context, options: WorkerOptions) {
    this.isolate = isolate;
    this.context = context;
    this.options = options;
    this.name = options.name;
    this.format = options.source.format;
    this.activity = new Int32Array(new SharedArrayBuffer(8));
    this.cpuLimitNs = (options.cpuLimitMs ?? DEFAULT_CPU_LIMIT_MS) * 1e6;
  }

  static async create(options: WorkerOptions): Promise<WorkerIsolate> {
    const bundle = await guestBundle();
    const isolate = new ivm.Isolate({ memoryLimit: options.memoryMb ?? DEFAULT_MEMORY_MB });
    try {
      const context = await isolate.createContext();
      const worker = new WorkerIsolate(isolate, context, options);
      await worker.installGuest(bundle.code, bundle.cachedData);
      await worker.loadUserCode();
      return worker;
    } catch (error) {
      if (!isolate.isDisposed) isolate.dispose();
      throw error;
    }
  }

  private async installGuest(code: string, cachedData: ivm.ExternalCopy<ArrayBuffer> | undefined): Promise<void> {
    const global = this.context.global;
    await global.set('__flareletHostSend', new ivm.Callback(
      (kind: number, a: unknown, b: unknown, c: unknown, d: unknown, e: unknown, f: unknown, g: unknown) => this.onGuestMessage(kind, a, b, c, d, e, f, g),
      { ignored: true },
    ));
    await global.set('__flareletHostActivity', new ivm.ExternalCopy(this.activity.buffer).copyInto({ release: true }));
    await global.set('__flareletHostRandom', new ivm.Callback((n: number) => {
      const bytes = randomBytes(Math.min(Math.max(1, n | 0), 1 << 20));
      return new ivm.ExternalCopy(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)).copyInto({ release: true });
    }));
    const script = await this.isolate.compileScript(code, { filename: 'flarelet:guest', cachedData });
    await script.run(this.context);
    script.release();
    const guest = await global.get('__flareletGuest', { reference: true }) as ivm.Reference<Record<string, unknown>>;
    this.onHostEvent = await guest.get('onHostEvent', { reference: true }) as never;
    const configure = await guest.get('configure', { reference: true }) as ivm.Reference<(...a: unknown[]) => void>;
    await configure.apply(undefined, [this.format, JSON.stringify(this.options.bindings)]);
    configure.release();
    if (this.options.bufferingLimitBytes !== undefined) {
      const setLimit = await guest.get('setBufferingLimit', { reference: true }) as ivm.Reference<(n: number) => void>;
      await setLimit.apply(undefined, [this.options.bufferingLimitBytes]);
      setLimit.release();
    }
    this.guestControl = guest;
    await this.context.eval('delete globalThis.__flareletGuest');
    this.post(null, HostEvent.Entropy, this.entropy(), undefined, undefined, undefined, undefined, undefined, true);
  }

  private guestControl!: ivm.Reference<Record<string, unknown>>;

  private entropy(): ArrayBuffer {
    const bytes = randomBytes(ENTROPY_CHUNK);
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
  }

  private async loadUserCode(): Promise<void> {
    const { source } = this.options;
    const timeout = this.options.startupCpuMs ?? DEFAULT_STARTUP_CPU_MS;
    try {
      if (source.format === 'service-worker') {
        const script = await this.isolate.compileScript(source.code, { filename: source.filename });
        await script.run(this.context, { timeout });
        script.release();
      } else {
        const module = await this.isolate.compileModule(source.code, { filename: source.filename });
        await module.instantiate(this.context, (specifier) => {
          throw new Error(`No such module "${specifier}".`);
        });
        await module.evaluate({ timeout });
        const setExports = await this.guestControl.get('setModuleExports', { reference: true }) as ivm.Reference<(ns: unknown) => void>;
        await setExports.apply(undefined, [module.namespace.derefInto()]);
        setExports.release();
      }
    } catch (error) {
      const message = (error as Error)?.message ?? '';
      if (/Script execution timed out/.test(message)) throw new WorkerLoadError('Script startup exceeded CPU time limit.');
      if ((error as Error)?.name === 'SyntaxError' && !(error as Error).stack?.includes(' at ')) {
        throw new WorkerLoadError(`Uncaught SyntaxError: ${message}\n  at ${source.filename}`);
      }
      throw new WorkerLoadError(describeLoadError(error));
    }
    const problem = await this.guestControl.get('handlerProblem', { reference: true }) as ivm.Reference<() => string | null>;
    this.handlerProblem = await problem.apply(undefined, []) as string | null;
    problem.release();
  }

  /**
   * Sends one event into the isolate (one V8 task; its microtasks drain before the next). The
   * task may run for what is left of its invocation's CPU budget (`owner`; null = no invocation,
   * the whole budget) before V8 interrupts it.
   */
  private post(owner: HostInvocation | null | undefined, kind: number, a?: unknown, b?: unknown, c?: unknown, d?: unknown, e?: unknown, f?: unknown, copy = false): void {
    if (this.disposed) return;
    let budgetNs = this.cpuLimitNs;
    if (owner) {
      budgetNs = this.cpuLimitNs - this.cpuNsOf(owner);
      if (budgetNs <= 0 && owner.cpuExceeded === false) { this.exceedCpu(owner); return; }
    }
    const timeout = Math.max(1, Math.ceil(budgetNs / 1e6)) + INTERRUPT_GRACE_MS;
    if (owner) owner.lastTimeoutMs = timeout;
    try {
      const args = [kind, a, b, c, d, e, f] as never[];
      this.onHostEvent.applyIgnored(undefined, args, copy ? { arguments: { copy: true }, timeout } : { timeout });
    } catch (error) {
      this.onIsolateFailure(error);
    }
  }

  /** Shares the isolate's CPU since the last update among the invocations active meanwhile. */
  private advanceCpu(): void {
    // A disposed isolate has no clock any more; its last reading stands.
    const now = this.isolate.isDisposed ? this.lastCpuNs : Number(this.isolate.cpuTime);
    const shared = now - this.lastCpuNs - this.exclusivePendingNs;
    if (this.activeCount > 0 && shared > 0) this.cpuSharePerInvocationNs += shared / this.activeCount;
    this.exclusivePendingNs = 0;
    this.lastCpuNs = now;
  }

  /** CPU charged to an invocation so far: its share of shared time plus what it burnt alone. */
  private cpuNsOf(inv: HostInvocation): number {
    return this.cpuSharePerInvocationNs - inv.cpuShareStart + inv.exclusiveCpuNs;
  }

  /**
   * Called by the watchdog every few ms while invocations are in flight. A task that kept the
   * isolate busy from one tick to the next (no new event started) belongs to the invocation the
   * guest last switched to: that CPU is charged to it alone, so a spinning request does not bill
   * its neighbours. Returns false when there is nothing left to watch.
   */
  checkLimits(): boolean {
    if (this.disposed) return false;
    if (this.isolate.isDisposed) {
      this.onIsolateFailure(new Error(MEMORY_LIMIT_MESSAGE), 'exceededMemory');
      return false;
    }
    const cpu = Number(this.isolate.cpuTime);
    const wall = performance.now() * 1e6;
    const seq = this.activity[ActivitySlot.EventSeq];
    const delta = cpu - this.tickCpuNs;
    const running = this.invocations.get(this.activity[ActivitySlot.Invocation]);
    const busy = delta > (wall - this.tickWallNs) * 0.5;
    if (seq === this.tickEventSeq && busy) {
      if (this.busySinceNs === 0) this.busySinceNs = this.tickWallNs;
      if (running) {
        running.exclusiveCpuNs += delta;
        this.exclusivePendingNs += delta;
      }
    } else {
      this.busySinceNs = busy ? this.tickWallNs : 0;
    }
    this.tickCpuNs = cpu;
    this.tickWallNs = wall;
    this.tickEventSeq = seq;
    this.advanceCpu();
    for (const inv of this.invocations.values()) {
      if (inv.cpuExceeded) continue;
      // Over budget, or its task has run long enough for V8 to have interrupted it.
      const interrupted = inv === running && this.busySinceNs > 0 && (wall - this.busySinceNs) / 1e6 >= inv.lastTimeoutMs;
      if (this.cpuNsOf(inv) >= this.cpuLimitNs || interrupted) this.exceedCpu(inv);
    }
    return this.invocations.size > 0;
  }

  /** Ends an invocation that used up its CPU budget: 1102 if nothing was sent yet. */
  private exceedCpu(inv: HostInvocation): void {
    inv.cpuExceeded = true;
    inv.trace.addException({ name: 'Error', message: CPU_LIMIT_MESSAGE }, Date.now());
    inv.setLimitOutcome('exceededCpu');
    this.post(null, HostEvent.Cancel, inv.id);
    this.abandon(inv, CPU_LIMIT_MESSAGE);
  }

  /** Answers an invocation that cannot go on with 1102 (or cuts its streaming response) and ends it. */
  private abandon(inv: HostInvocation, message: string): void {
    if (!inv.hasResponded && !inv.failed) inv.target.failure(message, 1102);
    for (const [streamId, pull] of this.pulls) {
      if (pull.invId !== inv.id) continue;
      this.pulls.delete(streamId);
      pull.reject(new Error(message));
    }
    for (const [timerId, timer] of this.timers) {
      if (timer.invId !== inv.id) continue;
      clearTimeout(timer.handle);
      this.timers.delete(timerId);
    }
    inv.forceFinish();
  }

  /** Starts an invocation of the worker for one request. */
  invoke(request: IncomingRequest, target: InvocationTarget): HostInvocation {
    const id = this.nextInvocationId++;
    const trace = new TraceBuilder({
      scriptName: this.name,
      eventTimestamp: Date.now(),
      request: { url: request.url, method: request.method, headers: request.headers, cf: request.cf },
    });
    const inv = new HostInvocation(id, trace, target, (done) => this.finishInvocation(done));
    this.invocations.set(id, inv);
    this.advanceCpu();
    inv.cpuShareStart = this.cpuSharePerInvocationNs;
    this.activeCount++;
    watch(this);
    let bodyStream = 0;
    if (request.body) {
      bodyStream = this.nextHostStreamId++;
      this.hostStreams.set(bodyStream, hostStreamFromIterable(request.body));
      inv.bodyStreamId = bodyStream;
    }
    this.post(inv, HostEvent.Request, id, request.method, request.url, request.headers.join('\n'), bodyStream, JSON.stringify(request.cf));
    return inv;
  }

  /** The response of an invocation is over (sent, failed, or abandoned by the client). */
  responseOver(inv: HostInvocation, status: number | null): void {
    if (status === null) {
      if (!inv.hasResponded) this.post(inv, HostEvent.ClientAbort, inv.id);
      inv.clientDisconnected();
    } else {
      inv.responseFinished(status);
    }
    if (!inv.isFinished && inv.waitingForGuest && !inv.waitUntilTimer) {
      inv.waitUntilTimer = setTimeout(() => {
        this.post(inv, HostEvent.WaitUntilTimeout, inv.id);
        // If the guest cannot answer (it is spinning or dead), end the invocation anyway.
        setTimeout(() => inv.forceFinish(), 1000).unref();
      }, WAIT_UNTIL_LIMIT_MS);
      inv.waitUntilTimer.unref();
    }
  }

  private finishInvocation(inv: HostInvocation): void {
    this.advanceCpu();
    // A task V8 interrupted at the budget used all of it, whatever the sampling saw.
    const cpuNs = inv.cpuExceeded ? Math.max(this.cpuNsOf(inv), this.cpuLimitNs) : this.cpuNsOf(inv);
    this.activeCount--;
    this.invocations.delete(inv.id);
    // An incoming body nobody read to the end is let go (the edge drains it off the connection).
    const body = this.hostStreams.get(inv.bodyStreamId);
    if (body) { body.cancel(); this.hostStreams.delete(inv.bodyStreamId); }
    this.subrequestAborts.get(inv.id)?.abort();
    this.subrequestAborts.delete(inv.id);
    const outcome = inv.outcome();
    const event = inv.trace.finish({
      outcome,
      // A canceled invocation's response never reached the client: it has no status.
      status: outcome === 'canceled' ? undefined : inv.status,
      cpuTime: cpuNs / 1e6,
      wallTime: performance.now() - inv.startedAt,
    });
    this.options.onTrace(event, { subrequests: inv.subrequestCount });
  }

  private onGuestMessage(kind: number, a: unknown, b: unknown, c: unknown, d: unknown, e: unknown, f: unknown, g: unknown): void {
    switch (kind) {
      case GuestMessage.Respond: {
        const inv = this.invocations.get(a as number);
        if (!inv) return;
        inv.status = b as number;
        inv.target.response({ status: b as number, statusText: c as string, headers: d as string[] }, this.responseBody(e as number, f, inv.id));
        if (g !== undefined) inv.guestFinished(g as string);
        return;
      }
      case GuestMessage.PassThrough:
        this.invocations.get(a as number)?.target.passThrough();
        return;
      case GuestMessage.Failed: {
        const inv = this.invocations.get(a as number);
        if (!inv) return;
        inv.failed = true;
        // A refused subrequest whose error escaped the handler is answered with its own page.
        const refusal = inv.refusal;
        inv.target.failure(b as string, refusal && refusal.message === b ? refusal.code : 1101);
        return;
      }
      case GuestMessage.HangCheckRequest: {
        const inv = this.invocations.get(a as number);
        if (inv) this.post(inv, HostEvent.HangCheck, inv.id);
        return;
      }
      case GuestMessage.Log: {
        const inv = this.invocations.get(a as number);
        if (inv) inv.trace.addLog(b as never, c as unknown[], d as number, e as never, f as number);
        else this.options.onStrayLog?.(b as string, c as unknown[]);
        return;
      }
      case GuestMessage.Exception: {
        const inv = this.invocations.get(a as number);
        if (inv) {
          inv.markException();
          inv.trace.addException({ name: b as string, message: c as string, stack: d as string | undefined }, e as number);
        } else {
          this.options.onStrayLog?.('error', [`Uncaught ${b as string}: ${c as string}`]);
        }
        return;
      }
      case GuestMessage.Done:
        this.invocations.get(a as number)?.guestFinished(b as string);
        return;
      case GuestMessage.TimerSet: {
        const timerId = a as number;
        const invId = c as number;
        const handle = setTimeout(() => {
          this.timers.delete(timerId);
          this.post(this.invocations.get(invId), HostEvent.Timer, timerId);
        }, b as number);
        handle.unref();
        this.timers.set(timerId, { handle, invId });
        return;
      }
      case GuestMessage.TimerClear:
        clearTimeout(this.timers.get(a as number)?.handle);
        this.timers.delete(a as number);
        return;
      case GuestMessage.Op:
        this.runOp(a as number, b as number, c as string, d as unknown[]);
        return;
      case GuestMessage.Chunk: {
        const pull = this.pulls.get(a as number);
        if (!pull) return;
        this.pulls.delete(a as number);
        if (c !== undefined) pull.reject(new Error(c as string));
        else pull.resolve(b as Uint8Array | null);
        return;
      }
      case GuestMessage.EntropyLow:
        this.post(null, HostEvent.Entropy, this.entropy(), undefined, undefined, undefined, undefined, undefined, true);
        return;
      case GuestMessage.CancelHostStream:
        this.hostStreams.get(a as number)?.cancel();
        this.hostStreams.delete(a as number);
        return;
    }
  }

  /** A guest-produced body, read by pulling one chunk at a time. */
  private pullGuestStream(streamId: number, invId: number): ResponseBody & { kind: 'stream' } {
    return {
      kind: 'stream',
      read: () => new Promise<Uint8Array | null>((resolve, reject) => {
        const inv = this.invocations.get(invId);
        if (inv?.cpuExceeded) { reject(new Error(CPU_LIMIT_MESSAGE)); return; }
        this.pulls.set(streamId, { resolve, reject, invId });
        this.post(inv, HostEvent.Pull, streamId);
      }),
      cancel: (reason: string) => {
        this.pulls.get(streamId)?.resolve(null);
        this.pulls.delete(streamId);
        this.post(this.invocations.get(invId), HostEvent.CancelStream, streamId, reason);
      },
    };
  }

  private responseBody(kind: number, data: unknown, invId: number): ResponseBody {
    if (kind === BodyKind.Bytes) return { kind: 'bytes', bytes: data as Uint8Array };
    if (kind === BodyKind.Stream) return this.pullGuestStream(data as number, invId);
    return { kind: 'none' };
  }

  private runOp(opId: number, invId: number, name: string, args: unknown[]): void {
    let work: Promise<unknown>;
    try {
      work = this.performOp(invId, name, args);
    } catch (error) {
      work = Promise.reject(error);
    }
    work.then(
      (value) => this.post(this.invocations.get(invId), HostEvent.OpResult, opId, true, value, undefined, undefined, undefined, true),
      (error) => this.post(this.invocations.get(invId), HostEvent.OpResult, opId, false, errorForGuest(error), undefined, undefined, undefined, true),
    );
  }

  private async performOp(invId: number, name: string, args: unknown[]): Promise<unknown> {
    switch (name) {
      case 'read': {
        const stream = this.hostStreams.get(args[0] as number);
        if (!stream) return null;
        const chunk = await stream.next();
        if (chunk === null) this.hostStreams.delete(args[0] as number);
        return chunk;
      }
      case 'subtle':
        return this.keys.call(args[0] as string, args.slice(1));
      case 'fetch':
        return this.subrequest(invId, args[0] as SubrequestInit);
      default:
        throw new Error(`Unknown host operation ${name}`);
    }
  }

  private async subrequest(invId: number, init: SubrequestInit): Promise<unknown> {
    const inv = this.invocations.get(invId);
    if (inv) {
      if (inv.countSubrequest() > (this.options.subrequestLimit ?? DEFAULT_SUBREQUEST_LIMIT)) {
        throw new SubrequestError('Error', TOO_MANY_SUBREQUESTS);
      }
      const prepared = this.options.prepareSubrequest ? this.options.prepareSubrequest(init, inv) : init;
      if ('refuse' in prepared) return this.refuseSubrequest(inv, init, prepared);
      init = prepared;
    }
    let body: Uint8Array | AsyncIterable<Uint8Array> | null = null;
    if (init.bodyKind === BodyKind.Bytes) body = init.body as Uint8Array;
    else if (init.bodyKind === BodyKind.Stream) {
      const stream = this.pullGuestStream(init.body as number, invId);
      body = { async *[Symbol.asyncIterator]() { for (let c = await stream.read(); c; c = await stream.read()) yield c; } };
    }
    let abort = this.subrequestAborts.get(invId);
    if (!abort) { abort = new AbortController(); this.subrequestAborts.set(invId, abort); }
    const { result, body: responseBody } = await performSubrequest(init, body, abort.signal);
    let bodyStream = 0;
    if (responseBody) {
      bodyStream = this.nextHostStreamId++;
      this.hostStreams.set(bodyStream, hostStreamFromWeb(responseBody));
    }
    return { ...result, bodyStream };
  }

  /** The platform answers a refused subrequest itself: an error thrown, or an error page. */
  private refuseSubrequest(inv: HostInvocation, init: SubrequestInit, refusal: SubrequestRefusal): unknown {
    if (init.bodyKind === BodyKind.Stream) this.post(inv, HostEvent.CancelStream, init.body, 'subrequest refused');
    if (refusal.refuse === 'throw') {
      inv.refusal = { code: refusal.code, message: refusal.message };
      throw new SubrequestError(refusal.name, refusal.message);
    }
    const bodyStream = this.nextHostStreamId++;
    let sent = false;
    this.hostStreams.set(bodyStream, {
      async next() { if (sent) return null; sent = true; return refusal.body; },
      cancel() {},
    });
    return { status: refusal.status, statusText: '', headers: refusal.headers, url: init.url, redirected: false, bodyStream };
  }

  /**
   * The isolate is gone (V8 disposed it at its memory limit, or the bridge broke): every
   * invocation in flight is answered with 1102 and recorded with the reason; the owner is told
   * so that a fresh isolate serves the next request.
   */
  private onIsolateFailure(error: unknown, outcome: 'exceededMemory' | 'internalError' = 'internalError'): void {
    if (this.disposed) return;
    this.disposed = true;
    const message = outcome === 'exceededMemory' ? MEMORY_LIMIT_MESSAGE : ((error as Error)?.message ?? String(error));
    for (const inv of [...this.invocations.values()]) {
      inv.trace.addException({ name: 'Error', message }, Date.now());
      inv.setLimitOutcome(outcome);
      this.abandon(inv, message);
    }
    this.releaseHostResources();
    this.options.onDeath?.(message);
  }

  private releaseHostResources(): void {
    for (const t of this.timers.values()) clearTimeout(t.handle);
    this.timers.clear();
    for (const s of this.hostStreams.values()) s.cancel();
    this.hostStreams.clear();
    for (const abort of this.subrequestAborts.values()) abort.abort();
    this.subrequestAborts.clear();
  }

  get isDisposed(): boolean { return this.disposed || this.isolate.isDisposed; }

  /** Heap in use by this isolate, in bytes. */
  heapUsed(): number {
    const stats = this.isolate.getHeapStatisticsSync();
    return stats.used_heap_size + stats.externally_allocated_size;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.releaseHostResources();
    try { this.isolate.dispose(); } catch { /* already gone */ }
  }
}
