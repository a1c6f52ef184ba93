// The embedded log store: one SQLite file (node:sqlite, WAL). Synchronous by nature; the
// platform runs it on a thread of its own (store-thread.ts), tests and benchmarks call it directly.
//
// Schema. `events` has one row per log row with the fields queries filter on most as typed
// columns (worker, outcome, level, time, error), indexed for the common queries, across
// workers and within one (`flarelet logs` always names its worker);
// `invocations` keeps each invocation's `$workers` document once, however many rows it has,
// and its request id (indexed there, once per invocation: request ids arrive in random order,
// and an index of them per row cost two thirds of the write throughput; rows reach their
// invocation through `events(inv)`, which only ever grows at its end);
// `events_fts` is a trigram full-text index of the messages (substring search for the needle);
// `keys` remembers the keys seen, for the keys endpoint.
import { DatabaseSync } from 'node:sqlite';
import type { StatementSync } from 'node:sqlite';
import { FIXED_KEYS, resolveKey } from './keys.ts';
import type { KeyType } from './keys.ts';
import { DATASET, invocationOf, rowsOf } from './rows.ts';
import type { InvocationRecord, LogRow } from './rows.ts';
import { LOGS_ERROR, QueryError } from './query.ts';
import type { AggregateResult, Calculation, CalculationResult, GroupValue, Having, LogEvent, LogQuery, Scalar, SeriesPoint, ViewResult } from './query.ts';
import { calculationSql, groupSql, joinSql, keySql, needleSql, raw, sql } from './sqlite-sql.ts';
import type { Param, Sql } from './sqlite-sql.ts';
import type { KeyInfo, KeysRequest, StoreWriteItem, ValueInfo, ValuesRequest, WriteOutcome } from './store.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS invocations (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ts INTEGER NOT NULL,
  url TEXT,
  path TEXT,
  trigger TEXT NOT NULL,
  version TEXT,
  truncated INTEGER NOT NULL,
  request_id TEXT NOT NULL,
  workers TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS invocations_ts ON invocations(ts);
CREATE INDEX IF NOT EXISTS invocations_request ON invocations(request_id);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ts INTEGER NOT NULL,
  inv INTEGER NOT NULL,
  type TEXT NOT NULL,
  level TEXT NOT NULL,
  script TEXT NOT NULL,
  outcome TEXT NOT NULL,
  request_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  method TEXT,
  status INTEGER,
  cpu INTEGER NOT NULL,
  wall INTEGER NOT NULL,
  message TEXT NOT NULL,
  error TEXT,
  source TEXT
);
CREATE INDEX IF NOT EXISTS events_ts ON events(ts);
CREATE INDEX IF NOT EXISTS events_script_ts ON events(script, ts);
CREATE INDEX IF NOT EXISTS events_outcome_ts ON events(outcome, ts);
CREATE INDEX IF NOT EXISTS events_level_ts ON events(level, ts);
CREATE INDEX IF NOT EXISTS events_script_outcome_ts ON events(script, outcome, ts);
CREATE INDEX IF NOT EXISTS events_script_level_ts ON events(script, level, ts);
CREATE INDEX IF NOT EXISTS events_inv ON events(inv);
CREATE INDEX IF NOT EXISTS events_error_ts ON events(ts) WHERE error IS NOT NULL;
CREATE VIRTUAL TABLE IF NOT EXISTS events_fts USING fts5(message, content='', contentless_delete=1, tokenize='trigram');
CREATE TABLE IF NOT EXISTS keys (key TEXT PRIMARY KEY, type TEXT NOT NULL, last_seen INTEGER NOT NULL) WITHOUT ROWID;
`;

/** Kept in the file (PRAGMA user_version): a newer schema is refused rather than misread. */
const SCHEMA_VERSION = 1;

/** Rows deleted per retention step: small, so a writer never waits long for the lock. */
export const DELETE_CHUNK_ROWS = 2000;

/**
 * Invocations outlive their rows by this much: a row's time is when it was logged, which can be
 * after its invocation started, so the `$workers` document stays until its last row is gone.
 */
const INVOCATION_GRACE_MS = 60 * 60 * 1000;

/** Distinct dynamic keys remembered (headers, cf fields, structured log fields). */
const MAX_KEYS = 5000;
/** A key's last-seen time is written at most this often. */
const KEY_REFRESH_MS = 60_000;
const KEY_DEPTH = 6;

/** Rows written between two refreshes of the planner's statistics. */
const ANALYZE_EVERY_ROWS = 200_000;

export interface SqliteLogStoreOptions {
  /** Caps the file at this many pages (tests use it to simulate a full disk). */
  maxPageCount?: number;
}

interface EventRow {
  id: number;
  ts: number;
  type: string;
  level: string;
  script: string;
  outcome: string;
  request_id: string;
  event_type: string;
  status: number | null;
  cpu: number;
  wall: number;
  message: string;
  error: string | null;
  source: string | null;
  url: string | null;
  trigger: string | null;
  workers: string | null;
}

/** `$metadata.id`: 12 hex digits of the row's time, 12 of its number (sortable, and a cursor). */
export function eventId(ts: number, id: number): string {
  return `${Math.max(0, ts).toString(16).padStart(12, '0')}${id.toString(16).padStart(12, '0')}`;
}

function parseEventId(id: string): { ts: number; id: number } {
  return { ts: parseInt(id.slice(0, 12), 16), id: parseInt(id.slice(12), 16) };
}

// ---------------------------------------------------------------------------------------------
// Functions SQLite calls back

const regexCache = new Map<string, RegExp>();

function regexFor(pattern: string, flags: string): RegExp {
  const cacheKey = `${flags}/${pattern}`;
  let regex = regexCache.get(cacheKey);
  if (!regex) {
    if (regexCache.size > 200) regexCache.clear();
    regex = new RegExp(pattern, flags);
    regexCache.set(cacheKey, regex);
  }
  return regex;
}

interface QuantileState {
  values: number[];
  q: number;
}

/** Linear interpolation between the two nearest ranks (the common "type 7" definition). */
export function quantile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const position = (sorted.length - 1) * q;
  const low = Math.floor(position);
  const high = Math.ceil(position);
  return sorted[low] + (sorted[high] - sorted[low]) * (position - low);
}

interface MomentState {
  n: number;
  mean: number;
  m2: number;
}

function registerFunctions(db: DatabaseSync): void {
  db.function('flarelet_regexp', { deterministic: true }, (pattern, flags, value) => {
    if (value === null || value === undefined) return 0;
    return regexFor(String(pattern), String(flags)).test(String(value)) ? 1 : 0;
  });
  db.aggregate('flarelet_quantile', {
    start: () => ({ values: [], q: 0.5 }) as QuantileState,
    step: (state: QuantileState, value: unknown, q: unknown) => {
      const n = typeof value === 'bigint' ? Number(value) : value;
      if (typeof n === 'number' && Number.isFinite(n)) state.values.push(n);
      state.q = Number(q);
      return state;
    },
    result: (state: QuantileState) => quantile(state.values.sort((a, b) => a - b), state.q),
  } as never);
  // Population variance (Welford's method) and its square root.
  const moments = {
    start: () => ({ n: 0, mean: 0, m2: 0 }) as MomentState,
    step: (state: MomentState, value: unknown) => {
      const x = typeof value === 'bigint' ? Number(value) : value;
      if (typeof x !== 'number' || !Number.isFinite(x)) return state;
      state.n++;
      const delta = x - state.mean;
      state.mean += delta / state.n;
      state.m2 += delta * (x - state.mean);
      return state;
    },
  };
  db.aggregate('flarelet_variance', { ...moments, result: (s: MomentState) => (s.n === 0 ? null : s.m2 / s.n) } as never);
  db.aggregate('flarelet_stddev', { ...moments, result: (s: MomentState) => (s.n === 0 ? null : Math.sqrt(s.m2 / s.n)) } as never);
}

// ---------------------------------------------------------------------------------------------

function typeOfValue(value: unknown): KeyType {
  return typeof value === 'number' ? 'number' : typeof value === 'boolean' ? 'boolean' : 'string';
}

/** Adds the keys of a JSON value (objects walked, arrays and scalars are leaves) to `into`. */
function collectKeys(prefix: string, value: unknown, depth: number, into: Map<string, KeyType>): void {
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && depth < KEY_DEPTH) {
    for (const [name, child] of Object.entries(value)) {
      if (name.includes('.') || name === '') continue;
      collectKeys(prefix ? `${prefix}.${name}` : name, child, depth + 1, into);
    }
    return;
  }
  if (prefix && value !== null && value !== undefined) into.set(prefix, typeOfValue(value));
}

export class SqliteLogStore {
  readonly path: string;
  private readonly db: DatabaseSync;
  private readonly insertInvocation: StatementSync;
  private readonly insertEvent: StatementSync;
  private readonly insertFts: StatementSync;
  private readonly upsertKey: StatementSync;
  private readonly knownKeys = new Map<string, number>();
  private rowsSinceAnalyze = 0;

  private constructor(path: string, db: DatabaseSync) {
    this.path = path;
    this.db = db;
    this.insertInvocation = db.prepare('INSERT INTO invocations (ts, url, path, trigger, version, truncated, request_id, workers) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    this.insertEvent = db.prepare(
      'INSERT INTO events (ts, inv, type, level, script, outcome, request_id, event_type, method, status, cpu, wall, message, error, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.insertFts = db.prepare('INSERT INTO events_fts (rowid, message) VALUES (?, ?)');
    this.upsertKey = db.prepare(
      'INSERT INTO keys (key, type, last_seen) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET type = excluded.type, last_seen = max(last_seen, excluded.last_seen)',
    );
    for (const row of db.prepare('SELECT key, last_seen FROM keys').all() as { key: string; last_seen: number }[]) {
      this.knownKeys.set(row.key, row.last_seen);
    }
  }

  /** Opens (creating if needed) the store at `path`; throws if the file cannot be opened. */
  static open(path: string, options: SqliteLogStoreOptions = {}): SqliteLogStore {
    const db = new DatabaseSync(path);
    try {
      db.exec('PRAGMA busy_timeout = 5000');
      db.exec('PRAGMA journal_mode = WAL');
      db.exec('PRAGMA synchronous = NORMAL');
      db.exec('PRAGMA temp_store = MEMORY');
      db.exec('PRAGMA cache_size = -32768');
      // Reads through a memory map instead of read() calls, and a checkpoint every ~40 MB of
      // WAL instead of every 4 MB: together about a third more rows written per second.
      db.exec('PRAGMA mmap_size = 268435456');
      db.exec('PRAGMA wal_autocheckpoint = 10000');
      if (options.maxPageCount !== undefined) db.exec(`PRAGMA max_page_count = ${Math.floor(options.maxPageCount)}`);
      const version = (db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version;
      if (version > SCHEMA_VERSION) throw new Error(`${path} was written by a newer Flarelet (log store schema ${version}; this one knows ${SCHEMA_VERSION})`);
      db.exec(SCHEMA);
      db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
      registerFunctions(db);
      db.exec('PRAGMA analysis_limit = 1000');
      db.exec('PRAGMA optimize = 0x10002');
      return new SqliteLogStore(path, db);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  close(): void {
    try {
      this.db.exec('PRAGMA optimize');
    } catch { /* a store that cannot write cannot optimise either */ }
    this.db.close();
  }

  // -------------------------------------------------------------------------------------------
  // Writing

  /** Stores a batch in one transaction. A failure (disk full, read-only file) stores nothing. */
  write(items: StoreWriteItem[]): WriteOutcome {
    const failed: Record<string, number> = {};
    const prepared: { invocation: InvocationRecord; rows: LogRow[] }[] = [];
    let firstError: string | undefined;
    for (const item of items) {
      try {
        const invocation = invocationOf(item.event);
        prepared.push({ invocation, rows: rowsOf(item.event, invocation, item.invocationRow) });
      } catch (error) {
        // A trace event that cannot be read is one item lost, not the batch.
        const name = item.event?.scriptName ?? '';
        failed[name] = (failed[name] ?? 0) + 1 + (item.event?.logs?.length ?? 0) + (item.event?.exceptions?.length ?? 0);
        firstError ??= `unreadable trace event: ${(error as Error).message}`;
      }
    }
    let stored = 0;
    const keys = new Map<string, KeyType>();
    const now = Date.now();
    try {
      this.db.exec('BEGIN IMMEDIATE');
      for (const { invocation: inv, rows } of prepared) {
        if (rows.length === 0) continue;
        const invId = Number(this.insertInvocation.run(inv.timestamp, inv.url, inv.path, inv.trigger, inv.scriptVersionId, inv.truncated ? 1 : 0, inv.requestId, JSON.stringify(inv.workers)).lastInsertRowid);
        for (const row of rows) {
          const id = this.insertEvent.run(
            row.timestamp, invId, row.type, row.level, inv.scriptName, inv.outcome, inv.requestId, inv.eventType, inv.method, inv.status,
            inv.cpuTimeMs, inv.wallTimeMs, row.message, row.error, row.source ? JSON.stringify(row.source) : null,
          ).lastInsertRowid;
          this.insertFts.run(id, row.message);
          if (row.source && this.knownKeys.size < MAX_KEYS) collectKeys('', row.source, 0, keys);
          stored++;
        }
        if (this.knownKeys.size < MAX_KEYS && inv.workers.event) collectKeys('$workers.event', inv.workers.event, 1, keys);
      }
      for (const [key, type] of keys) {
        const seen = this.knownKeys.get(key);
        if (seen !== undefined && now - seen < KEY_REFRESH_MS) continue;
        if (seen === undefined && this.knownKeys.size >= MAX_KEYS) continue;
        this.upsertKey.run(key, type, now);
        this.knownKeys.set(key, now);
      }
      this.db.exec('COMMIT');
    } catch (error) {
      try { this.db.exec('ROLLBACK'); } catch { /* nothing to roll back */ }
      // The keys remembered in this transaction were not written after all.
      for (const key of keys.keys()) this.knownKeys.delete(key);
      for (const { invocation, rows } of prepared) failed[invocation.scriptName] = (failed[invocation.scriptName] ?? 0) + rows.length;
      return { stored: 0, failed, error: (error as Error).message };
    }
    this.rowsSinceAnalyze += stored;
    if (this.rowsSinceAnalyze >= ANALYZE_EVERY_ROWS) {
      this.rowsSinceAnalyze = 0;
      // Keeps the planner's picture of the indexes current (which index suits which filter).
      try { this.db.exec('PRAGMA optimize = 0x10002'); } catch { /* retried next time */ }
    }
    return { stored, failed, ...(firstError ? { error: firstError } : {}) };
  }

  // -------------------------------------------------------------------------------------------
  // Retention

  /** Deletes up to `chunk` rows (and spent invocations) older than `cutoff`; returns how many. */
  deleteChunk(cutoff: number, chunk = DELETE_CHUNK_ROWS): number {
    const ids = (this.db.prepare('SELECT id FROM events WHERE ts < ? ORDER BY ts LIMIT ?').all(cutoff, chunk) as { id: number }[]).map((r) => r.id);
    let deleted = 0;
    this.db.exec('BEGIN IMMEDIATE');
    try {
      if (ids.length > 0) {
        const list = JSON.stringify(ids);
        this.db.prepare('DELETE FROM events_fts WHERE rowid IN (SELECT value FROM json_each(?))').run(list);
        deleted += Number(this.db.prepare('DELETE FROM events WHERE id IN (SELECT value FROM json_each(?))').run(list).changes);
      }
      if (ids.length < chunk) {
        deleted += Number(
          this.db.prepare('DELETE FROM invocations WHERE id IN (SELECT id FROM invocations WHERE ts < ? ORDER BY ts LIMIT ?)').run(cutoff - INVOCATION_GRACE_MS, chunk).changes,
        );
      }
      this.db.exec('COMMIT');
    } catch (error) {
      try { this.db.exec('ROLLBACK'); } catch { /* nothing to roll back */ }
      throw error;
    }
    return deleted;
  }

  // -------------------------------------------------------------------------------------------
  // Queries

  private all(statement: Sql): unknown[] {
    return this.db.prepare(statement.sql).all(...(statement.params as Param[]));
  }

  /** The WHERE clause of a query: its timeframe, filters and needle. */
  private where(query: LogQuery): Sql {
    const parts: Sql[] = [sql`e.ts >= ${query.from}`, sql`e.ts <= ${query.to}`];
    if (query.filter.filters.length > 0 || query.filter.negate) parts.push(sql`(${groupSql(query.filter)})`);
    if (query.needle) parts.push(sql`(${needleSql(query.needle)})`);
    return joinSql(parts, ' AND ');
  }

  private from(join: boolean): Sql {
    return raw(join ? 'events e LEFT JOIN invocations i ON i.id = e.inv' : 'events e');
  }

  query(query: LogQuery): ViewResult {
    const started = performance.now();
    try {
      const result = query.view === 'calculations' ? this.calculations(query) : query.view === 'invocations' ? this.invocations(query) : this.events(query);
      result.statistics.elapsed = (performance.now() - started) / 1000;
      return result;
    } catch (error) {
      if (error instanceof QueryError) throw error;
      // The model was checked before; what is left is a failure of the store itself.
      throw new QueryError(LOGS_ERROR.unavailable, `the log store could not run the query: ${(error as Error).message}`, 500);
    }
  }

  private static readonly COLUMNS = raw(
    'e.id, e.ts, e.type, e.level, e.script, e.outcome, e.request_id, e.event_type, e.status, e.cpu, e.wall, e.message, e.error, e.source, i.url, i.trigger, i.workers',
    true,
  );

  private events(query: LogQuery): ViewResult {
    const where = this.where(query);
    const ordered = query.orderBy && query.orderBy.value !== 'timestamp' ? query.orderBy : null;
    const descending = (query.orderBy?.order ?? 'desc') === 'desc';
    const direction = descending ? 'DESC' : 'ASC';
    let page = where;
    if (query.offset) {
      if (ordered) throw new QueryError(LOGS_ERROR.invalidQuery, '"offset" works with the default order (by timestamp) only');
      const cursor = parseEventId(query.offset);
      page = descending ? sql`${where} AND (e.ts, e.id) < (${cursor.ts}, ${cursor.id})` : sql`${where} AND (e.ts, e.id) > (${cursor.ts}, ${cursor.id})`;
    }
    const order = ordered
      ? sql`${keySql(resolveKey(ordered.value))} ${raw(direction)}, e.ts ${raw(direction)}, e.id ${raw(direction)}`
      : raw(`e.ts ${direction}, e.id ${direction}`);
    const rows = this.all(sql`SELECT ${SqliteLogStore.COLUMNS} FROM ${this.from(true)} WHERE ${page} ORDER BY ${order} LIMIT ${query.limit}`) as EventRow[];
    const countRow = this.all(sql`SELECT count(*) AS n FROM ${this.from(where.join)} WHERE ${where}`)[0] as { n: number };
    const { events, bytes } = toEvents(rows);
    return {
      statistics: { elapsed: 0, rows_read: Number(countRow.n), bytes_read: bytes },
      events: { events, count: Number(countRow.n), fields: fieldsOf(events) },
    };
  }

  private invocations(query: LogQuery): ViewResult {
    const where = this.where(query);
    const statement = sql`SELECT e.inv AS inv FROM ${this.from(where.join)} WHERE ${where} ORDER BY e.ts DESC, e.id DESC`;
    const found: number[] = [];
    const seen = new Set<number>();
    let matched = 0;
    // Walk matches newest first and stop at `limit` distinct invocations.
    for (const row of this.db.prepare(statement.sql).iterate(...(statement.params as Param[])) as Iterable<{ inv: number }>) {
      matched++;
      if (seen.has(row.inv)) continue;
      seen.add(row.inv);
      found.push(row.inv);
      if (found.length >= query.limit) break;
    }
    const invocations: Record<string, LogEvent[]> = {};
    let bytes = 0;
    if (found.length > 0) {
      // Every row of each invocation found, in time order, keyed by request id (newest first).
      const rows = this.all(sql`SELECT e.inv AS inv, ${SqliteLogStore.COLUMNS} FROM ${this.from(true)} WHERE e.inv IN (SELECT value FROM json_each(${JSON.stringify(found)})) ORDER BY e.ts ASC, e.id ASC`) as (EventRow & { inv: number })[];
      const converted = toEvents(rows);
      bytes = converted.bytes;
      const byInvocation = new Map<number, LogEvent[]>(found.map((inv) => [inv, []]));
      rows.forEach((row, i) => byInvocation.get(row.inv)?.push(converted.events[i]));
      for (const events of byInvocation.values()) {
        const requestId = events[0]?.$metadata.requestId as string | undefined;
        if (requestId !== undefined) (invocations[requestId] ??= []).push(...events);
      }
    }
    return { statistics: { elapsed: 0, rows_read: matched, bytes_read: bytes }, invocations };
  }

  private calculations(query: LogQuery): ViewResult {
    const where = this.where(query);
    const groupExprs = query.groupBys.map((g) => keySql(g.key));
    const calcExprs = query.calculations.map(calculationSql);
    const join = where.join || groupExprs.some((g) => g.join) || calcExprs.some((c) => c.join);
    const groupColumns = groupExprs.map((g, i) => sql`${g} AS g${raw(String(i))}`);
    const calcColumns = calcExprs.map((c, i) => sql`${c} AS c${raw(String(i))}`);
    const groupBy = query.groupBys.map((_, i) => `g${i}`);

    const aggregateRows = this.all(
      sql`SELECT ${joinSql([...groupColumns, raw('count(*) AS n'), ...calcColumns], ', ')} FROM ${this.from(join)} WHERE ${where}${raw(groupBy.length ? ` GROUP BY ${groupBy.join(', ')}` : '')}`,
    ) as Record<string, unknown>[];
    const spanSeconds = Math.max(0, (query.to - query.from) / 1000);
    const groupsOf = (row: Record<string, unknown>): GroupValue[] =>
      query.groupBys.map((g, i) => ({ key: g.key.key, value: (row[`g${i}`] ?? null) as Scalar | null }));
    const groupId = (row: Record<string, unknown>): string => JSON.stringify(query.groupBys.map((_, i) => row[`g${i}`] ?? null));

    // With no match and no grouping SQLite still returns one row (count 0): keep it, like an empty chart.
    let kept = aggregateRows.filter((row) => query.groupBys.length === 0 || Number(row.n) > 0);
    kept = kept.filter((row) => query.havings.every((h) => havingHolds(h, row, query.calculations)));
    const orderIndex = query.orderBy ? findCalculation(query.calculations, query.orderBy.value) : 0;
    const descending = (query.orderBy?.order ?? 'desc') === 'desc';
    kept.sort((a, b) => {
      const x = Number(a[`c${orderIndex}`] ?? -Infinity);
      const y = Number(b[`c${orderIndex}`] ?? -Infinity);
      return descending ? y - x : x - y;
    });
    kept = kept.slice(0, query.limit);
    const keptIds = new Set(kept.map(groupId));

    const seriesByCalc: Map<number, Map<number, SeriesPoint[]>> = new Map(query.calculations.map((_, i) => [i, new Map()]));
    const bucketMs = Math.max(1, Math.ceil((query.to - query.from + 1) / query.granularity));
    if (!query.ignoreSeries && kept.length > 0) {
      const seriesRows = this.all(
        sql`SELECT ${joinSql([...groupColumns, sql`CAST((e.ts - ${query.from}) / ${bucketMs} AS INTEGER) AS b`, raw('count(*) AS n'), raw('min(e.ts) AS first'), raw('max(e.ts) AS last'), ...calcColumns], ', ')} FROM ${this.from(join)} WHERE ${where} GROUP BY ${raw([...groupBy, 'b'].join(', '))}`,
      ) as Record<string, unknown>[];
      for (const row of seriesRows) {
        if (!keptIds.has(groupId(row))) continue;
        const bucket = Number(row.b);
        query.calculations.forEach((_, i) => {
          const buckets = seriesByCalc.get(i)!;
          if (!buckets.has(bucket)) buckets.set(bucket, []);
          buckets.get(bucket)!.push({
            count: Number(row.n),
            interval: bucketMs / 1000,
            sampleInterval: 1,
            value: numeric(row[`c${i}`]),
            ...(query.groupBys.length ? { groups: groupsOf(row) } : {}),
            firstSeen: new Date(Number(row.first)).toISOString(),
            lastSeen: new Date(Number(row.last)).toISOString(),
          });
        });
      }
    }
    let matched = 0;
    for (const row of aggregateRows) matched += Number(row.n);
    const calculations: CalculationResult[] = query.calculations.map((calculation, i) => ({
      calculation: calculation.name,
      ...(calculation.alias ? { alias: calculation.alias } : {}),
      aggregates: kept.map((row): AggregateResult => ({
        count: Number(row.n),
        interval: spanSeconds,
        sampleInterval: 1,
        value: numeric(row[`c${i}`]),
        ...(query.groupBys.length ? { groups: groupsOf(row) } : {}),
      })),
      series: [...seriesByCalc.get(i)!.entries()]
        .sort(([a], [b]) => a - b)
        .map(([bucket, data]) => ({ time: new Date(query.from + bucket * bucketMs).toISOString(), data })),
    }));
    return { statistics: { elapsed: 0, rows_read: matched, bytes_read: 0 }, calculations };
  }

  keys(request: KeysRequest): KeyInfo[] {
    const newest = this.db.prepare('SELECT max(ts) AS ts FROM events').get() as { ts: number | null };
    const out = new Map<string, KeyInfo>();
    if (newest.ts !== null) for (const fixed of FIXED_KEYS) out.set(fixed.key, { key: fixed.key, type: fixed.type, lastSeenAt: newest.ts });
    for (const row of this.db.prepare('SELECT key, type, last_seen FROM keys').all() as { key: string; type: KeyType; last_seen: number }[]) {
      if (!out.has(row.key)) out.set(row.key, { key: row.key, type: row.type, lastSeenAt: row.last_seen });
    }
    const needle = request.needle?.toLowerCase();
    return [...out.values()]
      .filter((k) => !needle || k.key.toLowerCase().includes(needle))
      .sort((a, b) => a.key.localeCompare(b.key))
      .slice(0, request.limit);
  }

  values(request: ValuesRequest): ValueInfo[] {
    const x = keySql(request.key);
    const parts: Sql[] = [sql`e.ts >= ${request.from}`, sql`e.ts <= ${request.to}`, sql`${x} IS NOT NULL`];
    if (request.needle) parts.push(sql`instr(lower(${x}), lower(${request.needle})) > 0`);
    const where = joinSql(parts, ' AND ');
    const rows = this.all(sql`SELECT ${x} AS v, count(*) AS n FROM ${this.from(where.join || x.join)} WHERE ${where} GROUP BY v ORDER BY n DESC LIMIT ${request.limit}`) as { v: unknown }[];
    return rows.map((row) => ({
      dataset: DATASET,
      key: request.key.key,
      type: request.type,
      value: request.type === 'boolean' ? Boolean(row.v) : (row.v as string | number),
    }));
  }
}

function numeric(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

function findCalculation(calculations: Calculation[], name: string): number {
  const i = calculations.findIndex((c) => c.alias === name || c.name === name || c.operator === name);
  return i < 0 ? 0 : i;
}

function havingHolds(having: Having, row: Record<string, unknown>, calculations: Calculation[]): boolean {
  const value = numeric(row[`c${findCalculation(calculations, having.key)}`]);
  if (value === null) return false;
  switch (having.operation) {
    case 'eq': return value === having.value;
    case 'neq': return value !== having.value;
    case 'gt': return value > having.value;
    case 'gte': return value >= having.value;
    case 'lt': return value < having.value;
    case 'lte': return value <= having.value;
  }
}

/** Stored rows → the API's events (one `$workers` object per invocation, shared by its rows). */
function toEvents(rows: EventRow[]): { events: LogEvent[]; bytes: number } {
  const workersByText = new Map<string, Record<string, unknown>>();
  let bytes = 0;
  const events = rows.map((row): LogEvent => {
    bytes += row.message.length + (row.source?.length ?? 0) + (row.workers?.length ?? 0);
    let workers: Record<string, unknown>;
    if (row.workers) {
      workers = workersByText.get(row.workers) ?? JSON.parse(row.workers);
      workersByText.set(row.workers, workers);
    } else {
      // Its invocation was already removed by retention: the typed columns still tell the facts.
      workers = { eventType: row.event_type, outcome: row.outcome, requestId: row.request_id, scriptName: row.script, cpuTimeMs: row.cpu, wallTimeMs: row.wall };
    }
    const invocationRow = row.type === 'cf-worker-event';
    const metadata: Record<string, unknown> = {
      id: eventId(row.ts, row.id),
      requestId: row.request_id,
      ...(row.trigger ? { trigger: row.trigger } : {}),
      service: row.script,
      level: row.level,
      ...(row.error !== null ? { error: row.error } : {}),
      message: row.message,
      type: row.type,
      origin: row.event_type,
      ...(invocationRow && row.url ? { url: row.url } : {}),
      ...(invocationRow && row.status !== null ? { statusCode: row.status } : {}),
    };
    return { $metadata: metadata, $workers: workers, dataset: DATASET, source: row.source ? JSON.parse(row.source) : {}, timestamp: row.ts };
  });
  return { events, bytes };
}

/** The keys the returned events have, with their types (the API's `fields`). */
function fieldsOf(events: LogEvent[]): { key: string; type: string }[] {
  const keys = new Map<string, KeyType>();
  const seenWorkers = new Set<object>();
  for (const event of events) {
    collectKeys('$metadata', event.$metadata, 1, keys);
    if (!seenWorkers.has(event.$workers)) {
      seenWorkers.add(event.$workers);
      collectKeys('$workers', event.$workers, 1, keys);
    }
    collectKeys('', event.source, 0, keys);
  }
  return [...keys.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([key, type]) => ({ key, type }));
}
