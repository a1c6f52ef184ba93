// One invocation (one incoming request) as the guest sees it: its response, its waitUntil()
// tasks, and when it is over. The host builds the trace; the guest reports what only it can see.
import { BodyKind, GuestMessage } from '../protocol/bridge.ts';
import { takeBodyForTransfer } from './body.ts';
import { emitLog } from './console.ts';
import { headersToList } from './headers.ts';
import { dropOpsOf, sendToHost } from './host.ts';
import { Response, readResponseHead } from './response.ts';
import { registerOutgoingStream } from './stream-bridge.ts';
import { cancelTimersOf } from './timers.ts';

export const WAIT_UNTIL_TIMEOUT_WARNING =
  'waitUntil() tasks did not complete within the allowed time after invocation end and have been cancelled.';
export const INCORRECT_RESPONSE_TYPE = "Incorrect type for Promise: the Promise did not resolve to 'Response'.";

export class Invocation {
  readonly id: number;
  /** A response (or pass-through, or failure) has been handed to the host. */
  responded = false;
  passThroughOnException = false;
  pendingWaitUntil = 0;
  /** The response body is still being streamed to the host. */
  streamingBody = false;
  threw = false;
  finished = false;
  /** A hang check is under way (see hang.ts). */
  watchingForHang = false;
  requestBodyUsed: () => boolean = () => false;
  abort: (reason: unknown) => void = () => {};

  constructor(id: number) { this.id = id; }

  respond(value: unknown): void {
    if (this.responded) return;
    if (!(value instanceof Response)) {
      this.fail(new TypeError(INCORRECT_RESPONSE_TYPE));
      return;
    }
    let head: ReturnType<typeof readResponseHead>;
    let headers: string[];
    let body: ReturnType<typeof takeBodyForTransfer>;
    try {
      head = readResponseHead(value);
      headers = headersToList(head.headers);
      body = takeBodyForTransfer(value);
    } catch (error) {
      this.fail(error);
      return;
    }
    this.responded = true;
    if (body.kind === 'stream') {
      this.streamingBody = true;
      const streamId = registerOutgoingStream(body.stream, this.id, () => { this.streamingBody = false; this.maybeFinish(); });
      sendToHost(GuestMessage.Respond, this.id, head.status, head.statusText, headers, BodyKind.Stream, streamId);
      return;
    }
    // Most invocations end with their response: say so in the same message (one crossing less).
    const endsNow = this.pendingWaitUntil === 0;
    if (endsNow) this.markFinished();
    sendToHost(
      GuestMessage.Respond, this.id, head.status, head.statusText, headers,
      body.kind === 'bytes' ? BodyKind.Bytes : BodyKind.None, body.kind === 'bytes' ? body.bytes : null,
      endsNow ? this.outcomeHint() : undefined,
    );
  }

  /** An uncaught exception ended the handler before it produced a response. */
  fail(error: unknown): void {
    this.reportException(error);
    if (this.responded) return;
    this.responded = true;
    if (this.passThroughOnException && !this.requestBodyUsed()) {
      sendToHost(GuestMessage.PassThrough, this.id);
    } else {
      sendToHost(GuestMessage.Failed, this.id, describe(error).message);
    }
    this.maybeFinish();
  }

  /** No handler responded: the request goes to the origin unchanged. */
  fallThrough(): void {
    if (this.responded) return;
    this.responded = true;
    sendToHost(GuestMessage.PassThrough, this.id);
    this.maybeFinish();
  }

  /** The handler read the request body yet did not respond: it cannot be forwarded (500). */
  reportConsumedBody(text: string): void {
    if (this.responded) return;
    emitLog(this.id, 'error', [text]);
    this.responded = true;
    sendToHost(GuestMessage.Respond, this.id, 500, 'Internal Server Error', [], BodyKind.None, null);
    this.maybeFinish();
  }

  reportException(error: unknown): void {
    this.threw = true;
    const { name, message, stack } = describe(error);
    sendToHost(GuestMessage.Exception, this.id, name, message, stack, Date.now());
  }

  waitUntil(promise: unknown): void {
    if (this.finished) return;
    this.pendingWaitUntil++;
    Promise.resolve(promise).then(
      () => { this.pendingWaitUntil--; this.maybeFinish(); },
      (error) => { this.reportException(error); this.pendingWaitUntil--; this.maybeFinish(); },
    );
  }

  warn(text: string): void {
    emitLog(this.id, 'warn', [text]);
  }

  maybeFinish(): void {
    if (this.finished || !this.responded || this.streamingBody || this.pendingWaitUntil > 0) return;
    this.finish();
  }

  finish(): void {
    if (this.finished) return;
    this.markFinished();
    sendToHost(GuestMessage.Done, this.id, this.outcomeHint());
  }

  /** The host ended this invocation (CPU limit): drop its timers and operations, say nothing more. */
  cancel(): void {
    if (this.finished) return;
    this.responded = true;
    this.markFinished();
    dropOpsOf(this.id);
  }

  private markFinished(): void {
    this.finished = true;
    invocations.delete(this.id);
    // Work the invocation left behind is cancelled once it is over, as on Cloudflare.
    cancelTimersOf(this.id);
  }

  private outcomeHint(): 'ok' | 'exception' {
    return this.threw ? 'exception' : 'ok';
  }
}

export const invocations = new Map<number, Invocation>();

export function describe(error: unknown): { name: string; message: string; stack: string | undefined } {
  if (error instanceof Error || (error !== null && typeof error === 'object' && 'message' in error)) {
    const e = error as { name?: unknown; message?: unknown; stack?: unknown };
    let name = 'Error';
    let message = '';
    let stack: string | undefined;
    try { name = typeof e.name === 'string' && e.name ? e.name : 'Error'; } catch { /* hostile getter */ }
    try { message = String(e.message); } catch { /* hostile getter */ }
    try { stack = typeof e.stack === 'string' ? e.stack : undefined; } catch { /* hostile getter */ }
    return { name, message, stack };
  }
  let message: string;
  try { message = String(error); } catch { message = '[object]'; }
  return { name: 'Error', message, stack: undefined };
}
