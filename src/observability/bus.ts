// The trace bus: every finished invocation's trace event goes through here to its consumers
// (dev output, live tail, log store, metrics, logpush). Consumers must not block: each one
// buffers or drops on its own, and reports every event it drops so that nothing is lost
// silently (the metrics count the reports).
import type { TraceEvent } from '../protocol/trace.ts';

/** What the host knows of an invocation beyond its trace event (not part of the wire format). */
export interface InvocationFacts {
  /** subrequests (fetch calls) the invocation made */
  subrequests: number;
}

export type TraceListener = (event: TraceEvent, facts: InvocationFacts) => void;
export type DropListener = (scriptName: string, consumer: string, count: number) => void;

export class TraceBus {
  private readonly listeners = new Set<TraceListener>();
  private readonly dropListeners = new Set<DropListener>();

  subscribe(listener: TraceListener): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  publish(event: TraceEvent, facts: InvocationFacts = { subrequests: 0 }): void {
    for (const listener of this.listeners) {
      try {
        listener(event, facts);
      } catch (error) {
        // One faulty consumer must not starve the others or the worker that produced the event.
        process.emitWarning(`trace consumer failed: ${(error as Error)?.message ?? String(error)}`);
      }
    }
  }

  /** A consumer (e.g. `tail`, `logs`, `logpush`) dropped `count` events of a worker. */
  reportDropped(scriptName: string, consumer: string, count: number): void {
    for (const listener of this.dropListeners) listener(scriptName, consumer, count);
  }

  onDropped(listener: DropListener): () => void {
    this.dropListeners.add(listener);
    return () => { this.dropListeners.delete(listener); };
  }
}
