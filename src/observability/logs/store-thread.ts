// Runs the SQLite log store on a worker thread. node:sqlite is synchronous: a batch insert or a
// query over a million rows would otherwise stall the event loop that serves the workers. The
// thread owns the one connection; the main thread talks to it through a LogStore that posts
// messages. Requests are served one at a time, in order; retention deletes in small chunks and
// yields between them so writes and queries are never held up by a long delete.
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { QueryError } from './query.ts';
import type { LogQuery, ViewResult } from './query.ts';
import { SqliteLogStore } from './sqlite-store.ts';
import type { SqliteLogStoreOptions } from './sqlite-store.ts';
import type { KeyInfo, KeysRequest, LogStore, StoreWriteItem, ValueInfo, ValuesRequest, WriteOutcome } from './store.ts';

const ROLE = 'flarelet-log-store';

type Operation =
  | { op: 'write'; items: StoreWriteItem[] }
  | { op: 'query'; query: LogQuery }
  | { op: 'keys'; request: KeysRequest }
  | { op: 'values'; request: ValuesRequest }
  | { op: 'delete'; cutoff: number }
  | { op: 'close' };

type Request = Operation & { id: number };

interface SerializedError {
  name: string;
  message: string;
  code?: number;
  status?: number;
  detail?: string;
}

type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: SerializedError };

type Startup = { op: 'ready' } | { op: 'failed'; message: string };

function serialize(error: unknown): SerializedError {
  if (error instanceof QueryError) return { name: error.name, message: error.message, code: error.code, status: error.status, detail: error.detail };
  return { name: (error as Error)?.name ?? 'Error', message: (error as Error)?.message ?? String(error) };
}

function revive(error: SerializedError): Error {
  if (error.name === 'QueryError' && error.code !== undefined) return new QueryError(error.code, error.message, error.status, error.detail);
  const revived = new Error(error.message);
  revived.name = error.name;
  return revived;
}

const yieldToMessages = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Deletes rows older than `cutoff` chunk by chunk, yielding between chunks. */
export async function deleteInChunks(store: SqliteLogStore, cutoff: number): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = store.deleteChunk(cutoff);
    total += deleted;
    if (deleted === 0) return total;
    await yieldToMessages();
  }
}

// ---------------------------------------------------------------------------------------------
// Thread side

function serve(): void {
  const port = parentPort!;
  const { path, options } = workerData as { path: string; options: SqliteLogStoreOptions };
  let store: SqliteLogStore;
  try {
    store = SqliteLogStore.open(path, options);
  } catch (error) {
    port.postMessage({ op: 'failed', message: (error as Error).message } satisfies Startup);
    return;
  }
  port.postMessage({ op: 'ready' } satisfies Startup);
  let closed = false;
  port.on('message', async (request: Request) => {
    let reply: Reply;
    try {
      if (closed) throw new Error('the log store is closed');
      let result: unknown;
      switch (request.op) {
        case 'write': result = store.write(request.items); break;
        case 'query': result = store.query(request.query); break;
        case 'keys': result = store.keys(request.request); break;
        case 'values': result = store.values(request.request); break;
        case 'delete': result = await deleteInChunks(store, request.cutoff); break;
        case 'close':
          closed = true;
          store.close();
          result = null;
          break;
      }
      reply = { id: request.id, ok: true, result };
    } catch (error) {
      reply = { id: request.id, ok: false, error: serialize(error) };
    }
    port.postMessage(reply);
    if (closed) port.close();
  });
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === ROLE) serve();

// ---------------------------------------------------------------------------------------------
// Main-thread side

class ThreadedLogStore implements LogStore {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private nextId = 1;
  private dead: Error | null = null;

  constructor(worker: Worker) {
    this.worker = worker;
    worker.on('message', (reply: Reply) => {
      const waiter = this.pending.get(reply.id);
      if (!waiter) return;
      this.pending.delete(reply.id);
      if (this.pending.size === 0) worker.unref();
      if (reply.ok) waiter.resolve(reply.result);
      else waiter.reject(revive(reply.error));
    });
    const fail = (error: Error) => {
      this.dead ??= error;
      for (const waiter of this.pending.values()) waiter.reject(this.dead);
      this.pending.clear();
    };
    worker.on('error', (error) => fail(new Error(`the log store thread failed: ${error.message}`)));
    worker.on('exit', () => fail(new Error('the log store thread has stopped')));
  }

  private call<T>(request: Operation): Promise<T> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      // Referenced while an answer is awaited, so the process waits for it; idle, it does not.
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.worker.postMessage({ ...request, id });
    });
  }

  write(items: StoreWriteItem[]): Promise<WriteOutcome> { return this.call({ op: 'write', items }); }
  query(query: LogQuery): Promise<ViewResult> { return this.call({ op: 'query', query }); }
  keys(request: KeysRequest): Promise<KeyInfo[]> { return this.call({ op: 'keys', request }); }
  values(request: ValuesRequest): Promise<ValueInfo[]> { return this.call({ op: 'values', request }); }
  deleteOlderThan(cutoff: number): Promise<number> { return this.call({ op: 'delete', cutoff }); }

  async close(): Promise<void> {
    if (this.dead) return;
    try {
      await this.call({ op: 'close' });
    } finally {
      await this.worker.terminate();
    }
  }
}

/** Starts the store's thread and opens the file; rejects with the reason it cannot be opened. */
export function openThreadedLogStore(path: string, options: SqliteLogStoreOptions = {}): Promise<LogStore> {
  const worker = new Worker(new URL(import.meta.url), {
    workerData: { role: ROLE, path, options },
    // node:sqlite warns that it is experimental; that is not news to the person running dev.
    execArgv: ['--disable-warning=ExperimentalWarning'],
  });
  return new Promise((resolve, reject) => {
    const onExit = (code: number) => reject(new Error(`the log store thread exited (code ${code}) before opening ${path}`));
    const onError = (error: Error) => reject(error);
    worker.once('exit', onExit);
    worker.once('error', onError);
    worker.once('message', (startup: Startup) => {
      worker.off('exit', onExit);
      worker.off('error', onError);
      if (startup.op === 'ready') {
        // Idle, the thread must not keep a process alive on its own.
        worker.unref();
        resolve(new ThreadedLogStore(worker));
      } else {
        void worker.terminate();
        reject(new Error(startup.message));
      }
    });
  });
}
