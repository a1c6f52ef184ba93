// One tail session: what one client gets. Events of its worker pass its filters, then its sampler,
// then wait in a bounded send queue until the client's connection takes them. The worker never
// waits for a client: `offer` only queues, and a client that reads too slowly loses events (each
// one reported through `onDropped`) instead of growing memory or slowing the worker down.
import type { TraceEvent } from '../../protocol/trace.ts';
import { blockingFilter } from './filters.ts';
import type { TailFilter } from './filters.ts';
import { markFilteredOut, noticeEvent } from './notices.ts';
import { OverloadSampler } from './sampler.ts';
import type { SamplingNotice } from './sampler.ts';

/** The client's connection, as the session sees it (a WebSocket in production, a fake in unit tests). */
export interface TailTransport {
  /** Sends one text message (UTF-8 bytes); `done` runs once it has been handed to the operating system, or failed. */
  send(message: Buffer, done: (error?: Error) => void): void;
  /** Runs `sends` so that the messages it sends leave in as few writes as possible (ws: a corked socket). */
  batch(sends: () => void): void;
}

export interface SendBufferLimits {
  /** messages waiting for the client, at most (default 1000) */
  maxQueuedMessages: number;
  /** bytes of waiting messages, at most (default 8 MiB) */
  maxQueuedBytes: number;
  /** bytes handed to the connection and not yet written out, at most (default 1 MiB) */
  maxInFlightBytes: number;
}

export const DEFAULT_SEND_BUFFER: SendBufferLimits = {
  maxQueuedMessages: 1000,
  maxQueuedBytes: 8 * 1024 * 1024,
  maxInFlightBytes: 1024 * 1024,
};

export interface TailSessionStats {
  /** messages (events and notices) written to the client */
  delivered: number;
  /** events held back by the filters (not counted as dropped: the client asked for that) */
  filteredOut: number;
  /** events left out by sampling mode */
  droppedSampling: number;
  /** events lost because the client read too slowly (send queue full) or went away with events queued */
  droppedBackpressure: number;
}

export interface TailSessionOptions {
  scriptName: string;
  filters: readonly TailFilter[];
  /** events per second before the session samples */
  eventsPerSecond: number;
  /** told of every event the session drops (sampling or back-pressure) */
  onDropped: (count: number) => void;
  buffer?: Partial<SendBufferLimits>;
  now?: () => number;
  random?: () => number;
  /** runs the flush after the current event-loop turn (default setImmediate) */
  schedule?: (flush: () => void) => void;
}

interface QueuedMessage {
  bytes: Buffer;
  /** a trace event (counted when lost), not a notice */
  isEvent: boolean;
}

export class TailSession {
  readonly scriptName: string;
  readonly filters: readonly TailFilter[];
  readonly stats: TailSessionStats = { delivered: 0, filteredOut: 0, droppedSampling: 0, droppedBackpressure: 0 };
  /** Set by the client's first frame `{"debug": true}`: filtered-out events are sent too, marked. */
  debug = false;

  readonly #limits: SendBufferLimits;
  readonly #onDropped: (count: number) => void;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #schedule: (flush: () => void) => void;
  readonly #sampler: OverloadSampler;
  #samplingTimer: NodeJS.Timeout | undefined;
  #transport: TailTransport | null = null;
  #queue: QueuedMessage[] = [];
  #queueHead = 0;
  #queuedBytes = 0;
  #inFlightBytes = 0;
  #flushScheduled = false;

  constructor(options: TailSessionOptions) {
    this.scriptName = options.scriptName;
    this.filters = options.filters;
    this.#limits = { ...DEFAULT_SEND_BUFFER, ...options.buffer };
    this.#onDropped = options.onDropped;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.#schedule = options.schedule ?? ((flush) => { setImmediate(flush); });
    this.#sampler = new OverloadSampler({
      limit: options.eventsPerSecond,
      now: this.#now,
      random: this.#random,
      onNotice: (notice) => this.#onSamplingNotice(notice),
    });
  }

  get connected(): boolean {
    return this.#transport !== null;
  }

  get sampling(): boolean {
    return this.#sampler.sampling;
  }

  /** Messages waiting in the send queue. */
  get queued(): number {
    return this.#queue.length - this.#queueHead;
  }

  attach(transport: TailTransport): void {
    this.#transport = transport;
  }

  /** The client is gone: whatever was still queued for it is lost (and reported). */
  detach(): void {
    this.#transport = null;
    clearInterval(this.#samplingTimer);
    this.#samplingTimer = undefined;
    let lost = 0;
    for (let i = this.#queueHead; i < this.#queue.length; i++) if (this.#queue[i].isEvent) lost++;
    this.#queue = [];
    this.#queueHead = 0;
    this.#queuedBytes = 0;
    this.#drop('backpressure', lost);
  }

  /**
   * One trace event of the worker. `serialized` gives its JSON as UTF-8 (computed once per event and
   * shared by every session). Never blocks and never throws for a slow client.
   */
  offer(event: TraceEvent, serialized: () => Buffer): void {
    if (this.#transport === null) return;
    const blocker = blockingFilter(this.filters, event, this.#random);
    if (blocker !== null && !this.debug) {
      this.stats.filteredOut++;
      return;
    }
    if (!this.#sampler.offer()) {
      this.#drop('sampling', 1);
      return;
    }
    this.#enqueue(blocker === null ? serialized() : markFilteredOut(serialized(), blocker.message), true);
  }

  #onSamplingNotice(notice: SamplingNotice): void {
    if (notice === 'overload') {
      // While sampling, the window is also closed by a timer so that the end of sampling is
      // announced even when the events stop coming.
      this.#samplingTimer ??= setInterval(() => this.#sampler.tick(), 250);
      this.#samplingTimer.unref();
    } else {
      clearInterval(this.#samplingTimer);
      this.#samplingTimer = undefined;
    }
    if (this.#transport !== null) this.#enqueue(Buffer.from(JSON.stringify(noticeEvent(notice, this.scriptName, this.#now()))), false);
  }

  #drop(kind: 'sampling' | 'backpressure', count: number): void {
    if (count === 0) return;
    if (kind === 'sampling') this.stats.droppedSampling += count;
    else this.stats.droppedBackpressure += count;
    this.#onDropped(count);
  }

  #enqueue(bytes: Buffer, isEvent: boolean): void {
    // Notices are never dropped: they are rare and tell the client what is happening.
    if (isEvent && (this.queued >= this.#limits.maxQueuedMessages || this.#queuedBytes + bytes.length > this.#limits.maxQueuedBytes)) {
      this.#drop('backpressure', 1);
      return;
    }
    this.#queue.push({ bytes, isEvent });
    this.#queuedBytes += bytes.length;
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    this.#schedule(() => this.#flush());
  }

  /** Hands queued messages to the connection, as long as it keeps up (in-flight bound). */
  #flush(): void {
    this.#flushScheduled = false;
    const transport = this.#transport;
    if (transport === null || this.queued === 0 || this.#inFlightBytes >= this.#limits.maxInFlightBytes) return;
    transport.batch(() => {
      while (this.queued > 0 && this.#inFlightBytes < this.#limits.maxInFlightBytes && this.#transport === transport) {
        const message = this.#queue[this.#queueHead++];
        const size = message.bytes.length;
        this.#queuedBytes -= size;
        this.#inFlightBytes += size;
        transport.send(message.bytes, (error) => {
          this.#inFlightBytes -= size;
          if (error === undefined || error === null) this.stats.delivered++;
          else if (message.isEvent) this.#drop('backpressure', 1);
          if (this.queued > 0) this.#scheduleFlush();
        });
      }
    });
    this.#compactQueue();
  }

  #compactQueue(): void {
    if (this.#queueHead === this.#queue.length) {
      this.#queue = [];
      this.#queueHead = 0;
    } else if (this.#queueHead > 1024 && this.#queueHead * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#queueHead);
      this.#queueHead = 0;
    }
  }
}
