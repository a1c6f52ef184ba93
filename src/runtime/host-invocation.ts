// One invocation as the host sees it: where the response goes, its trace, its clocks. It is
// finished when both the guest says nothing of it is left to run and the response is over
// (sent, failed, or abandoned by the client); only then is its trace event emitted.
import { TraceBuilder } from '../observability/trace-builder.ts';
import type { Outcome, TraceEvent } from '../protocol/trace.ts';

export type ResponseBody =
  | { kind: 'none' }
  | { kind: 'bytes'; bytes: Uint8Array }
  | { kind: 'stream'; read(): Promise<Uint8Array | null>; cancel(reason: string): void };

export interface ResponseHead {
  status: number;
  statusText: string;
  /** flat [name, value, …]; set-cookie entries kept apart */
  headers: string[];
}

/** What the edge does with the outcome of the handler. */
export interface InvocationTarget {
  response(head: ResponseHead, body: ResponseBody): void;
  /** The worker did not answer (fall-through) or asked for pass-through on exception. */
  passThrough(): void;
  /**
   * No response will come: an uncaught exception (1101), a resource limit (1102), or a refused
   * subrequest whose error escaped the handler (its own code).
   */
  failure(message: string, code: number): void;
}

export class HostInvocation {
  readonly id: number;
  readonly trace: TraceBuilder;
  readonly startedAt = performance.now();
  target: InvocationTarget;
  status: number | undefined;
  private guestDone = false;
  private responseOver = false;
  private clientGone = false;
  private streamDisconnected = false;
  private threw = false;
  private finished = false;
  private subrequests = 0;
  cpuShareStart = 0;
  /** CPU the watchdog saw this invocation burn alone (one long task), in ns */
  exclusiveCpuNs = 0;
  /** the interrupt timeout (ms) of the latest event posted for it */
  lastTimeoutMs = Infinity;
  cpuExceeded = false;
  /** the edge was told there will be no response (failure) */
  failed = false;
  /** a subrequest the platform refused by throwing: if that error escapes, its page is the answer */
  refusal: { code: number; message: string } | undefined;
  private limitOutcome: Outcome | undefined;
  /** Invocations this request chain may still cause (CF-EW-Via), set by the edge. */
  loopBudget = 16;
  /** Host (and port) the client asked for, lower case: the worker's own route. */
  requestHost = '';
  /** host stream id of the incoming request body (0 = none) */
  bodyStreamId = 0;
  /** The request id (cf-ray) the edge gave the request. */
  rayId = '';
  private readonly onFinish: (inv: HostInvocation) => TraceEvent | void;
  waitUntilTimer: NodeJS.Timeout | undefined;

  constructor(id: number, trace: TraceBuilder, target: InvocationTarget, onFinish: (inv: HostInvocation) => TraceEvent | void) {
    this.id = id;
    this.trace = trace;
    this.target = target;
    this.onFinish = onFinish;
  }

  get isFinished(): boolean { return this.finished; }
  get hasResponded(): boolean { return this.status !== undefined; }
  countSubrequest(): number { return ++this.subrequests; }
  get subrequestCount(): number { return this.subrequests; }

  markException(): void { this.threw = true; }

  /** The guest has nothing left to run for this invocation. */
  guestFinished(outcomeHint: string): void {
    if (outcomeHint === 'exception') this.threw = true;
    this.guestDone = true;
    this.maybeFinish();
  }

  /** The response has been written completely (or could not be). */
  responseFinished(status: number): void {
    this.status = status;
    this.responseOver = true;
    this.maybeFinish();
  }

  /** The client went away; before the response → canceled, while streaming → responseStreamDisconnected. */
  clientDisconnected(): void {
    if (this.responseOver) return;
    if (this.status === undefined) this.clientGone = true;
    else this.streamDisconnected = true;
    this.responseOver = true;
    this.maybeFinish();
  }

  /** A resource limit ended the invocation (exceededCpu, exceededMemory) or the runtime failed. */
  setLimitOutcome(outcome: Outcome): void { this.limitOutcome ??= outcome; }

  outcome(): Outcome {
    if (this.limitOutcome) return this.limitOutcome;
    if (this.clientGone) return 'canceled';
    if (this.threw) return 'exception';
    if (this.streamDisconnected) return 'responseStreamDisconnected';
    return 'ok';
  }

  get waitingForGuest(): boolean { return !this.guestDone; }
  get responseIsOver(): boolean { return this.responseOver; }

  forceFinish(): void {
    this.guestDone = true;
    this.responseOver = true;
    this.maybeFinish();
  }

  private maybeFinish(): void {
    if (this.finished || !this.guestDone || !this.responseOver) return;
    this.finished = true;
    if (this.waitUntilTimer) clearTimeout(this.waitUntilTimer);
    this.onFinish(this);
  }
}
