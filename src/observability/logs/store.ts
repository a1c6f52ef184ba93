// The log store as the rest of the platform sees it: a small asynchronous interface, so that the
// embedded SQLite store (run on a thread of its own) can be joined by a PostgreSQL one later.
import type { TraceEvent } from '../../protocol/trace.ts';
import type { KeyType, ResolvedKey } from './keys.ts';
import type { LogQuery, ViewResult } from './query.ts';

/** One finished invocation to store; `invocationRow` false leaves out its `cf-worker-event` row. */
export interface StoreWriteItem {
  event: TraceEvent;
  invocationRow: boolean;
}

export interface WriteOutcome {
  /** rows stored */
  stored: number;
  /** rows that could not be stored, by worker name ('' for events without one) */
  failed: Record<string, number>;
  /** why rows failed (the first reason) */
  error?: string;
}

export interface KeyInfo {
  key: string;
  type: KeyType;
  /** ms since the epoch */
  lastSeenAt: number;
}

export interface KeysRequest {
  /** only keys containing this text (case-insensitive) */
  needle?: string;
  limit: number;
}

export interface ValuesRequest {
  key: ResolvedKey;
  type: KeyType;
  from: number;
  to: number;
  /** only values containing this text (case-insensitive) */
  needle?: string;
  limit: number;
}

export interface ValueInfo {
  dataset: string;
  key: string;
  type: KeyType;
  value: string | number | boolean;
}

export interface LogStore {
  /** Stores a batch in one transaction; never rejects for a storage failure (see WriteOutcome). */
  write(items: StoreWriteItem[]): Promise<WriteOutcome>;
  /** Runs a checked query; rejects with QueryError for what only execution can find. */
  query(query: LogQuery): Promise<ViewResult>;
  keys(request: KeysRequest): Promise<KeyInfo[]>;
  values(request: ValuesRequest): Promise<ValueInfo[]>;
  /** Deletes rows older than `cutoff` (ms) a small chunk at a time, letting writes in between. */
  deleteOlderThan(cutoff: number): Promise<number>;
  close(): Promise<void>;
}
