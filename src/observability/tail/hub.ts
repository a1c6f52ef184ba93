// The tail hub: the live tails of every worker. A tail is created over the REST API (with its
// filters), then one client connects to it; the hub hands each trace event of a worker to that
// worker's sessions. A tail ends when its client disconnects, when it is deleted, when it expires,
// or when nobody connects to it in time. At most `maxPerWorker` tails per worker (the seeds: 10).
import { randomUUID } from 'node:crypto';
import type { TraceEvent } from '../../protocol/trace.ts';
import type { TailFilter } from './filters.ts';
import { TailSession } from './session.ts';
import type { SendBufferLimits, TailTransport } from './session.ts';

export const MAX_TAILS_PER_WORKER = 10;
/** Like Cloudflare's: a tail lasts six hours from its creation. */
export const TAIL_LIFETIME_MS = 6 * 60 * 60 * 1000;
/** A tail nobody connects to within a minute of its creation is removed (its slot is freed). */
export const CONNECT_GRACE_MS = 60 * 1000;

/** How the hub ends a client's connection (a WebSocket close code and reason). */
export interface TailConnection extends TailTransport {
  close(code: number, reason: string): void;
}

export interface TailRecord {
  id: string;
  scriptName: string;
  /** where the client connects (ws://…) */
  url: string;
  createdAt: number;
  expiresAt: number;
  session: TailSession;
}

export class TailLimitError extends Error {
  constructor(scriptName: string, max: number) {
    super(`Too many tails: ${scriptName} already has ${max} tail clients, the most a Worker can have. End one (DELETE …/tails/<id> or stop its client) and try again.`);
    this.name = 'TailLimitError';
  }
}

export interface TailHubOptions {
  /** events per second per session before it samples */
  eventsPerSecond: number;
  /** told of every event a session drops */
  onDropped: (scriptName: string, count: number) => void;
  maxPerWorker?: number;
  lifetimeMs?: number;
  connectGraceMs?: number;
  buffer?: Partial<SendBufferLimits>;
  now?: () => number;
  random?: () => number;
}

interface LiveTail extends TailRecord {
  connection: TailConnection | null;
  timers: NodeJS.Timeout[];
}

export type ConnectResult = 'connected' | 'unknown' | 'busy';

export class TailHub {
  readonly #options: TailHubOptions;
  readonly #byId = new Map<string, LiveTail>();
  readonly #byWorker = new Map<string, Set<LiveTail>>();
  /** Drops not yet reported, per worker: reported once per event-loop turn, not once per event. */
  readonly #pendingDrops = new Map<string, number>();
  #dropReportScheduled = false;

  constructor(options: TailHubOptions) {
    this.#options = options;
  }

  get #now(): number {
    return (this.#options.now ?? Date.now)();
  }

  /** Creates a tail of `scriptName`; `urlFor(id)` gives the address its client connects to. */
  create(scriptName: string, filters: readonly TailFilter[], urlFor: (id: string) => string): TailRecord {
    const max = this.#options.maxPerWorker ?? MAX_TAILS_PER_WORKER;
    const tails = this.#byWorker.get(scriptName);
    if (tails !== undefined && tails.size >= max) throw new TailLimitError(scriptName, max);
    const id = randomUUID().replaceAll('-', '');
    const createdAt = this.#now;
    const lifetime = this.#options.lifetimeMs ?? TAIL_LIFETIME_MS;
    const session = new TailSession({
      scriptName,
      filters,
      eventsPerSecond: this.#options.eventsPerSecond,
      onDropped: (count) => this.#countDropped(scriptName, count),
      buffer: this.#options.buffer,
      now: this.#options.now,
      random: this.#options.random,
    });
    const tail: LiveTail = { id, scriptName, url: urlFor(id), createdAt, expiresAt: createdAt + lifetime, session, connection: null, timers: [] };
    tail.timers.push(
      setTimeout(() => this.#end(tail, 1000, 'Tail expired. Create a new one to keep tailing.'), lifetime).unref(),
      setTimeout(() => { if (tail.connection === null) this.#end(tail, 1000, 'Nobody connected to this tail in time.'); }, this.#options.connectGraceMs ?? CONNECT_GRACE_MS).unref(),
    );
    this.#byId.set(id, tail);
    if (tails === undefined) this.#byWorker.set(scriptName, new Set([tail]));
    else tails.add(tail);
    return tail;
  }

  get(id: string): TailRecord | undefined {
    return this.#byId.get(id);
  }

  list(scriptName: string): TailRecord[] {
    return [...(this.#byWorker.get(scriptName) ?? [])];
  }

  /** Ends a tail of `scriptName` (its client is closed with 1000); false when there is no such tail. */
  delete(scriptName: string, id: string): boolean {
    const tail = this.#byId.get(id);
    if (tail === undefined || tail.scriptName !== scriptName) return false;
    this.#end(tail, 1000, 'Tail deleted.');
    return true;
  }

  /** A client connected to tail `id`. Only one client per tail. */
  connect(id: string, connection: TailConnection): ConnectResult {
    const tail = this.#byId.get(id);
    if (tail === undefined) return 'unknown';
    if (tail.connection !== null) return 'busy';
    tail.connection = connection;
    tail.session.attach(connection);
    return 'connected';
  }

  /** The client of tail `id` went away: the tail ends with it (its client creates a new one to resume). */
  disconnected(id: string, connection: TailConnection): void {
    const tail = this.#byId.get(id);
    if (tail !== undefined && tail.connection === connection) this.#end(tail, null, '');
  }

  /** Hands a finished invocation's trace event to the sessions tailing its worker. */
  publish(event: TraceEvent): void {
    const tails = this.#byWorker.get(event.scriptName ?? '');
    if (tails === undefined) return;
    // Serialised once, on demand, and the same bytes go to every session.
    let json: Buffer | undefined;
    const serialized = () => (json ??= Buffer.from(JSON.stringify(event)));
    for (const tail of tails) tail.session.offer(event, serialized);
  }

  /** Ends every tail (e.g. at shutdown: 1001, so that clients know to come back). */
  closeAll(code: number, reason: string): void {
    for (const tail of [...this.#byId.values()]) this.#end(tail, code, reason);
  }

  #countDropped(scriptName: string, count: number): void {
    this.#pendingDrops.set(scriptName, (this.#pendingDrops.get(scriptName) ?? 0) + count);
    if (this.#dropReportScheduled) return;
    this.#dropReportScheduled = true;
    setImmediate(() => this.reportDrops());
  }

  /** Reports the drops counted so far (also called at shutdown, so that none goes unreported). */
  reportDrops(): void {
    this.#dropReportScheduled = false;
    const pending = [...this.#pendingDrops];
    this.#pendingDrops.clear();
    for (const [scriptName, count] of pending) this.#options.onDropped(scriptName, count);
  }

  get size(): number {
    return this.#byId.size;
  }

  #end(tail: LiveTail, code: number | null, reason: string): void {
    if (this.#byId.get(tail.id) !== tail) return;
    this.#byId.delete(tail.id);
    const tails = this.#byWorker.get(tail.scriptName);
    tails?.delete(tail);
    if (tails?.size === 0) this.#byWorker.delete(tail.scriptName);
    for (const timer of tail.timers) clearTimeout(timer);
    tail.session.detach();
    const connection = tail.connection;
    tail.connection = null;
    if (connection !== null && code !== null) connection.close(code, reason);
  }
}
