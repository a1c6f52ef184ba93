// What the platform's API features (tail, logs, metrics, logpush) are given when a process
// starts them: the API server to register endpoints on, the trace bus to consume, the workers
// the process serves, and a folder for state that must survive a restart.
import type { WorkerConfig } from '../config/wrangler.ts';
import type { TraceBus } from '../observability/bus.ts';
import type { ApiServer } from './api-server.ts';

export interface PlatformWorker {
  name: string;
  observability: WorkerConfig['observability'];
}

export interface PlatformSettings {
  /** days a log row is kept in the log store (default 7) */
  logRetentionDays: number;
  /** events per second a tail session may receive before it switches to sampling (default 200) */
  tailEventsPerSecond: number;
  /** HTTP endpoints that receive NDJSON+gzip batches of trace events (logpush jobs made at start) */
  logpushUrls: string[];
  /** OTLP/HTTP logs endpoints (…/v1/logs) */
  otlpUrls: string[];
}

export interface PlatformContext {
  api: ApiServer;
  bus: TraceBus;
  /** The workers this process serves, as of now. */
  workers(): PlatformWorker[];
  /** Folder for persistent state (log store, logpush spool); created by the caller. */
  stateDir: string;
  settings: PlatformSettings;
}

/** A started platform feature; `close` flushes what it buffers and releases its resources. */
export interface PlatformFeature {
  close(): Promise<void>;
}
