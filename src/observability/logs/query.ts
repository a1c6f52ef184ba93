// The log query model: what the telemetry query API accepts (Cloudflare's Workers Observability
// body), checked and normalised into a LogQuery that a store executes. Every mistake becomes a
// QueryError with a documented code and a message that names the offending part.
import { KeyError, resolveKey } from './keys.ts';
import type { KeyType, ResolvedKey } from './keys.ts';

/** Error codes of the logs API (docs/logs.md). 10026 is Cloudflare's; the rest Flarelet's. */
export const LOGS_ERROR = {
  /** the request body is not JSON */
  unparseable: 10026,
  /** the body is JSON but not a valid query (timeframe, view, limit, calculations…) */
  invalidQuery: 10451,
  /** a filter names an operation that does not exist */
  unknownOperation: 10452,
  /** a filter, calculation, group or order names a key no row can have */
  badKey: 10453,
  /** a regex filter or needle does not compile */
  badRegex: 10454,
  /** a filter value is missing or does not fit its key or operation */
  badValue: 10455,
  /** the log store could not be opened (the API answers 503) */
  unavailable: 10456,
} as const;

export class QueryError extends Error {
  readonly code: number;
  readonly status: number;
  /** the message without the part that says where (for callers that locate it themselves) */
  readonly detail: string;
  constructor(code: number, message: string, status = 400, detail = message) {
    super(message);
    this.name = 'QueryError';
    this.code = code;
    this.status = status;
    this.detail = detail;
  }
}

/** A QueryError about `where` (e.g. `parameters.filters[0]`). */
function fail(code: number, where: string, detail: string): QueryError {
  return new QueryError(code, `${where}: ${detail}`, 400, detail);
}

export const OPERATIONS = [
  'eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'includes', 'not_includes', 'starts_with', 'ends_with', 'regex', 'exists', 'is_null', 'in', 'not_in',
] as const;
export type Operation = (typeof OPERATIONS)[number];

// Spellings folded to lower case without "_" or spaces, so `NOT_INCLUDES`, `notIncludes`,
// `doesNotInclude` and `not includes` are one operation.
const SPELLINGS: Record<string, Operation> = {
  '=': 'eq', '==': 'eq', eq: 'eq', equals: 'eq',
  '!=': 'neq', '<>': 'neq', neq: 'neq', notequals: 'neq',
  '>': 'gt', gt: 'gt', '>=': 'gte', gte: 'gte', '<': 'lt', lt: 'lt', '<=': 'lte', lte: 'lte',
  includes: 'includes', contains: 'includes',
  notincludes: 'not_includes', doesnotinclude: 'not_includes', notcontains: 'not_includes',
  startswith: 'starts_with', endswith: 'ends_with',
  regex: 'regex', matchregex: 'regex', matches: 'regex',
  exists: 'exists', isnotnull: 'exists',
  isnull: 'is_null', doesnotexist: 'is_null', notexists: 'is_null',
  in: 'in', notin: 'not_in',
};

/** The operation a spelling means (case-insensitive), or undefined. */
export function normalizeOperation(spelling: unknown): Operation | undefined {
  if (typeof spelling !== 'string') return undefined;
  return SPELLINGS[spelling.toLowerCase().replace(/[_\s]/g, '')];
}

/** Operations that take no value. */
export const VALUELESS: ReadonlySet<Operation> = new Set(['exists', 'is_null']);
/** Operations that take a list. */
export const LIST_OPERATIONS: ReadonlySet<Operation> = new Set(['in', 'not_in']);
/** Operations whose value is text to look for, whatever the key's type. */
export const TEXT_OPERATIONS: ReadonlySet<Operation> = new Set(['includes', 'not_includes', 'starts_with', 'ends_with', 'regex']);

export type Scalar = string | number | boolean;

export interface FilterLeaf {
  kind: 'filter';
  key: string;
  operation: Operation;
  type: KeyType;
  value?: Scalar | Scalar[];
}

export interface FilterGroup {
  kind: 'group';
  filterCombination: 'and' | 'or';
  filters: FilterNode[];
  /** Flarelet's extension for NOT: the group matches where its filters do not. */
  negate?: boolean;
}

export type FilterNode = FilterLeaf | FilterGroup;

/** A checked filter: its key resolved, its value converted to what the key holds. */
export type CheckedLeaf = FilterLeaf & { resolved: ResolvedKey };
export type CheckedGroup = { kind: 'group'; filterCombination: 'and' | 'or'; filters: CheckedNode[]; negate: boolean };
export type CheckedNode = CheckedLeaf | CheckedGroup;

export type View = 'events' | 'invocations' | 'calculations';

export interface Needle {
  value: string;
  isRegex: boolean;
  matchCase: boolean;
}

export const CALCULATION_OPERATORS = [
  'count', 'uniq', 'min', 'max', 'sum', 'avg', 'median', 'p001', 'p01', 'p05', 'p10', 'p25', 'p75', 'p90', 'p95', 'p99', 'p999', 'stddev', 'variance',
] as const;
export type CalculationOperator = (typeof CALCULATION_OPERATORS)[number];

/** The quantile each percentile operator computes. */
export const QUANTILES: Partial<Record<CalculationOperator, number>> = {
  median: 0.5, p001: 0.001, p01: 0.01, p05: 0.05, p10: 0.1, p25: 0.25, p75: 0.75, p90: 0.9, p95: 0.95, p99: 0.99, p999: 0.999,
};

export interface Calculation {
  operator: CalculationOperator;
  key?: ResolvedKey;
  keyType?: KeyType;
  alias?: string;
  /** how results name it: `count`, `avg($workers.wallTimeMs)` */
  name: string;
}

export interface GroupBy {
  key: ResolvedKey;
  type: KeyType;
}

export type HavingOperation = 'eq' | 'neq' | 'gt' | 'gte' | 'lt' | 'lte';

export interface Having {
  /** a calculation's alias or name */
  key: string;
  operation: HavingOperation;
  value: number;
}

export interface LogQuery {
  view: View;
  from: number;
  to: number;
  limit: number;
  /** cursor: the `$metadata.id` of the last row of the previous page */
  offset?: string;
  filter: CheckedGroup;
  needle: Needle | null;
  calculations: Calculation[];
  groupBys: GroupBy[];
  havings: Having[];
  /** events view: a key (default timestamp); calculations view: a calculation */
  orderBy: { value: string; order: 'asc' | 'desc' } | null;
  /** calculations view: time buckets of each series */
  granularity: number;
  ignoreSeries: boolean;
  /** the body's parameters as received, echoed in `run.query.parameters` */
  parameters: Record<string, unknown>;
  queryId: string | null;
}

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 10_000;
export const DEFAULT_GRANULARITY = 60;
const MAX_FILTER_DEPTH = 8;
const MAX_FILTERS = 200;

/** Shape of `$metadata.id`: 12 hex digits of the timestamp, then 12 of the row number. */
export const EVENT_ID = /^[0-9a-f]{24}$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function invalid(message: string): QueryError {
  return new QueryError(LOGS_ERROR.invalidQuery, message);
}

function keyOf(key: unknown, where: string): ResolvedKey {
  try {
    return resolveKey(key as string);
  } catch (error) {
    if (error instanceof KeyError) throw fail(LOGS_ERROR.badKey, where, error.message);
    throw error;
  }
}

function isScalar(value: unknown): value is Scalar {
  return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean';
}

function typeOf(value: unknown): KeyType {
  return typeof value === 'number' ? 'number' : typeof value === 'boolean' ? 'boolean' : 'string';
}

/** Converts `value` to `type`, or says why it cannot. */
function convert(value: Scalar, type: KeyType, where: string): Scalar {
  if (type === 'string') return String(value);
  if (type === 'number') {
    const n = typeof value === 'number' ? value : typeof value === 'boolean' ? Number(value) : value.trim() === '' ? NaN : Number(value);
    if (!Number.isFinite(n)) throw fail(LOGS_ERROR.badValue, where, `${JSON.stringify(value)} is not a number`);
    return n;
  }
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 1) return true;
  if (value === 'false' || value === 0) return false;
  throw fail(LOGS_ERROR.badValue, where, `${JSON.stringify(value)} is not true or false`);
}

/** Compiles a regex as the store will (JavaScript syntax), or throws 10454. */
export function checkRegex(pattern: string, flags: string, where: string): void {
  try {
    new RegExp(pattern, flags);
  } catch (error) {
    throw fail(LOGS_ERROR.badRegex, where, `invalid regular expression ${JSON.stringify(pattern)}: ${(error as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /, '')}`);
  }
}

/** Checks one filter and converts its value to what its key holds. */
export function checkLeaf(raw: Record<string, unknown>, where: string): CheckedLeaf {
  const resolved = keyOf(raw.key, where);
  const operation = normalizeOperation(raw.operation);
  if (!operation) {
    throw fail(LOGS_ERROR.unknownOperation, where, `unknown operation ${JSON.stringify(raw.operation)}; use one of ${OPERATIONS.join(', ')} (or = != > >= < <= EXISTS DOES_NOT_EXIST INCLUDES NOT_INCLUDES STARTS_WITH ENDS_WITH REGEX IS_NULL IN NOT_IN)`);
  }
  if (raw.type !== undefined && raw.type !== 'string' && raw.type !== 'number' && raw.type !== 'boolean') {
    throw fail(LOGS_ERROR.badValue, where, `"type" must be string, number or boolean, got ${JSON.stringify(raw.type)}`);
  }
  const declared = raw.type as KeyType | undefined;
  // A column's own type wins over what the client declared; JSON fields take the declared type.
  const type: KeyType = resolved.kind === 'field' ? resolved.type : (declared ?? typeOf(Array.isArray(raw.value) ? raw.value[0] : raw.value));
  const leaf: CheckedLeaf = { kind: 'filter', key: resolved.key, operation, type, resolved };
  if (VALUELESS.has(operation)) return leaf;
  const where2 = `${where} (${resolved.key} ${operation})`;
  if (LIST_OPERATIONS.has(operation)) {
    let list: unknown[];
    if (Array.isArray(raw.value)) list = raw.value;
    else if (typeof raw.value === 'string') list = raw.value.split(',').map((part) => part.trim());
    else if (isScalar(raw.value)) list = [raw.value];
    else throw fail(LOGS_ERROR.badValue, where2, 'needs a list of values (an array, or text separated by commas)');
    if (list.length === 0) throw fail(LOGS_ERROR.badValue, where2, 'the list of values is empty');
    if (list.length > 1000) throw fail(LOGS_ERROR.badValue, where2, 'at most 1000 values');
    leaf.value = list.map((item) => {
      if (!isScalar(item)) throw fail(LOGS_ERROR.badValue, where2, 'list items must be strings, numbers or booleans');
      return convert(item, type, where2);
    });
    return leaf;
  }
  if (!isScalar(raw.value)) throw fail(LOGS_ERROR.badValue, where2, 'needs a value (a string, number or boolean)');
  if (TEXT_OPERATIONS.has(operation)) {
    leaf.value = String(raw.value);
    if (operation === 'regex') checkRegex(leaf.value, '', where2);
    return leaf;
  }
  leaf.value = convert(raw.value, type, where2);
  return leaf;
}

function checkCombination(value: unknown, where: string): 'and' | 'or' {
  if (value === undefined) return 'and';
  const lower = typeof value === 'string' ? value.toLowerCase() : value;
  if (lower !== 'and' && lower !== 'or') throw invalid(`${where}: "filterCombination" must be "and" or "or", got ${JSON.stringify(value)}`);
  return lower;
}

/** How many more filters a query may have (shared by the whole tree). */
interface FilterBudget {
  left: number;
}

function checkNode(raw: unknown, where: string, depth: number, budget: FilterBudget): CheckedNode {
  if (!isRecord(raw)) throw invalid(`${where}: a filter must be an object`);
  if (--budget.left < 0) throw invalid(`a query may have at most ${MAX_FILTERS} filters`);
  if (raw.kind === 'group' || (raw.kind === undefined && Array.isArray(raw.filters))) {
    if (depth >= MAX_FILTER_DEPTH) throw invalid(`${where}: filter groups nest at most ${MAX_FILTER_DEPTH} deep`);
    return checkGroup(raw, where, depth + 1, budget);
  }
  if (raw.kind !== undefined && raw.kind !== 'filter') throw invalid(`${where}: "kind" must be "filter" or "group", got ${JSON.stringify(raw.kind)}`);
  return checkLeaf(raw, where);
}

function checkGroup(raw: Record<string, unknown>, where: string, depth: number, budget: FilterBudget): CheckedGroup {
  const filters = raw.filters ?? [];
  if (!Array.isArray(filters)) throw invalid(`${where}: "filters" must be an array`);
  return {
    kind: 'group',
    filterCombination: checkCombination(raw.filterCombination, where),
    filters: filters.map((child, i) => checkNode(child, `${where}.filters[${i}]`, depth, budget)),
    negate: raw.negate === true,
  };
}

/** Checks a filter tree in wire form (`{filters, filterCombination}`). */
export function checkFilters(raw: { filters?: unknown; filterCombination?: unknown; negate?: unknown }, where = 'parameters'): CheckedGroup {
  return checkGroup(raw as Record<string, unknown>, where, 0, { left: MAX_FILTERS });
}

function checkNeedle(raw: unknown): Needle | null {
  if (raw === undefined || raw === null) return null;
  if (!isRecord(raw)) throw invalid('parameters.needle must be an object {value, isRegex, matchCase}');
  if (!isScalar(raw.value)) throw new QueryError(LOGS_ERROR.badValue, 'parameters.needle.value must be a string');
  const value = String(raw.value);
  if (value === '') return null;
  const needle = { value, isRegex: raw.isRegex === true, matchCase: raw.matchCase === true };
  if (needle.isRegex) checkRegex(value, needle.matchCase ? '' : 'i', 'parameters.needle');
  return needle;
}

const NUMERIC_OPERATORS = new Set<CalculationOperator>(['sum', 'avg', 'median', 'p001', 'p01', 'p05', 'p10', 'p25', 'p75', 'p90', 'p95', 'p99', 'p999', 'stddev', 'variance']);

function checkCalculations(raw: unknown): Calculation[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw invalid('parameters.calculations must be an array');
  return raw.map((item, i) => {
    const where = `parameters.calculations[${i}]`;
    if (!isRecord(item)) throw invalid(`${where} must be an object {operator, key?, alias?}`);
    const spelled = typeof item.operator === 'string' ? item.operator.toLowerCase() : '';
    const operator = (spelled === 'count_distinct' ? 'uniq' : spelled) as CalculationOperator;
    if (!CALCULATION_OPERATORS.includes(operator)) {
      throw invalid(`${where}: unknown operator ${JSON.stringify(item.operator)}; use one of ${CALCULATION_OPERATORS.join(', ')}`);
    }
    const key = item.key === undefined || item.key === '' ? undefined : keyOf(item.key, where);
    if (!key && operator !== 'count') throw invalid(`${where}: ${operator} needs a key`);
    if (key && NUMERIC_OPERATORS.has(operator) && key.kind === 'field' && key.type !== 'number') {
      throw new QueryError(LOGS_ERROR.badKey, `${where}: ${operator} needs a numeric key; ${key.key} holds text`);
    }
    if (item.alias !== undefined && typeof item.alias !== 'string') throw invalid(`${where}: "alias" must be a string`);
    const keyType = item.keyType === 'string' || item.keyType === 'number' || item.keyType === 'boolean' ? item.keyType : undefined;
    return {
      operator,
      key,
      keyType,
      alias: (item.alias as string | undefined) || undefined,
      name: key ? `${operator}(${key.key})` : operator,
    };
  });
}

function checkGroupBys(raw: unknown): GroupBy[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw invalid('parameters.groupBys must be an array');
  if (raw.length > 10) throw invalid('parameters.groupBys: at most 10 groups');
  return raw.map((item, i) => {
    const where = `parameters.groupBys[${i}]`;
    const spec = typeof item === 'string' ? { value: item } : item;
    if (!isRecord(spec)) throw invalid(`${where} must be an object {type, value}`);
    const key = keyOf(spec.value, where);
    const declared = spec.type === 'number' || spec.type === 'boolean' ? spec.type : 'string';
    return { key, type: key.kind === 'field' ? key.type : declared };
  });
}

const HAVING_OPERATIONS = new Set(['eq', 'neq', 'gt', 'gte', 'lt', 'lte']);

function checkHavings(raw: unknown, calculations: Calculation[]): Having[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw invalid('parameters.havings must be an array');
  return raw.map((item, i) => {
    const where = `parameters.havings[${i}]`;
    if (!isRecord(item)) throw invalid(`${where} must be an object {key, operation, value}`);
    const key = String(item.key ?? '');
    if (!calculations.some((c) => c.alias === key || c.name === key || c.operator === key)) {
      throw invalid(`${where}: "${key}" names no calculation of this query`);
    }
    const operation = normalizeOperation(item.operation);
    if (!operation || !HAVING_OPERATIONS.has(operation)) throw new QueryError(LOGS_ERROR.unknownOperation, `${where}: operation must be one of eq neq gt gte lt lte`);
    if (typeof item.value !== 'number' || !Number.isFinite(item.value)) throw new QueryError(LOGS_ERROR.badValue, `${where}: value must be a number`);
    return { key, operation: operation as HavingOperation, value: item.value };
  });
}

function checkInteger(value: unknown, name: string, min: number, max: number, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Checks a telemetry query body (already parsed from JSON). */
export function parseQueryRequest(body: unknown): LogQuery {
  if (!isRecord(body)) throw invalid('the body must be a JSON object {timeframe, view, limit, parameters}');
  const timeframe = body.timeframe;
  if (!isRecord(timeframe) || typeof timeframe.from !== 'number' || typeof timeframe.to !== 'number' || !Number.isFinite(timeframe.from) || !Number.isFinite(timeframe.to)) {
    throw invalid('"timeframe" must be {from, to}, both in ms since the epoch');
  }
  if (timeframe.from > timeframe.to) throw invalid('"timeframe.from" is after "timeframe.to"');
  const view = body.view ?? 'events';
  if (view !== 'events' && view !== 'invocations' && view !== 'calculations') {
    throw invalid(`"view" must be events, invocations or calculations, got ${JSON.stringify(view)}`);
  }
  const parameters = body.parameters ?? {};
  if (!isRecord(parameters)) throw invalid('"parameters" must be an object');
  if (parameters.datasets !== undefined && (!Array.isArray(parameters.datasets) || parameters.datasets.some((d) => typeof d !== 'string'))) {
    throw invalid('parameters.datasets must be an array of strings');
  }
  const limit = checkInteger(body.limit ?? parameters.limit, 'limit', 1, MAX_LIMIT, DEFAULT_LIMIT);
  const filter = checkFilters(parameters);
  const needle = checkNeedle(parameters.needle);
  const calculations = checkCalculations(parameters.calculations);
  const groupBys = checkGroupBys(parameters.groupBys);
  const havings = checkHavings(parameters.havings, calculations);
  let orderBy: LogQuery['orderBy'] = null;
  if (parameters.orderBy !== undefined) {
    const raw = parameters.orderBy;
    if (!isRecord(raw) || typeof raw.value !== 'string') throw invalid('parameters.orderBy must be {value, order}');
    const order = raw.order === undefined ? 'desc' : String(raw.order).toLowerCase();
    if (order !== 'asc' && order !== 'desc') throw invalid('parameters.orderBy.order must be asc or desc');
    if (view === 'calculations') {
      if (!calculations.some((c) => c.alias === raw.value || c.name === raw.value || c.operator === raw.value)) {
        throw invalid(`parameters.orderBy: "${raw.value}" names no calculation of this query`);
      }
    } else {
      keyOf(raw.value, 'parameters.orderBy');
    }
    orderBy = { value: raw.value, order };
  }
  if (view === 'calculations' && calculations.length === 0) calculations.push({ operator: 'count', name: 'count' });
  let offset: string | undefined;
  if (body.offset !== undefined && body.offset !== null && body.offset !== '') {
    if (typeof body.offset !== 'string' || !EVENT_ID.test(body.offset)) throw invalid('"offset" must be the $metadata.id of a row');
    offset = body.offset;
  }
  return {
    view,
    from: timeframe.from,
    to: timeframe.to,
    limit,
    offset,
    filter,
    needle,
    calculations,
    groupBys,
    havings,
    orderBy,
    granularity: checkInteger(body.granularity, 'granularity', 1, 1000, DEFAULT_GRANULARITY),
    ignoreSeries: body.ignoreSeries === true,
    parameters,
    queryId: typeof body.queryId === 'string' ? body.queryId : null,
  };
}

/** A filter tree in the wire form the API takes (what `flarelet logs` sends). */
export function toWireFilters(group: FilterGroup): { filters: unknown[]; filterCombination: 'and' | 'or' } {
  const node = (n: FilterNode): unknown => {
    if (n.kind === 'filter') {
      const { kind, key, operation, type, value } = n;
      return value === undefined ? { kind, key, operation, type } : { kind, key, operation, type, value };
    }
    return { kind: 'group', filterCombination: n.filterCombination, filters: n.filters.map(node), ...(n.negate ? { negate: true } : {}) };
  };
  if (group.negate) return { filters: [node(group)], filterCombination: 'and' };
  return { filters: group.filters.map(node), filterCombination: group.filterCombination };
}

// ---------------------------------------------------------------------------------------------
// Results (the API's `result`, less `run`, which the API adds)

export interface LogEvent {
  $metadata: Record<string, unknown>;
  $workers: Record<string, unknown>;
  dataset: string;
  source: unknown;
  timestamp: number;
}

export interface QueryStatistics {
  /** seconds the store spent on the query */
  elapsed: number;
  /** rows that matched the filters (the store does not report what it scanned) */
  rows_read: number;
  /** bytes of the rows returned */
  bytes_read: number;
}

export interface GroupValue {
  key: string;
  value: Scalar | null;
}

export interface AggregateResult {
  count: number;
  interval: number;
  sampleInterval: number;
  value: number | null;
  groups?: GroupValue[];
}

export interface SeriesPoint extends AggregateResult {
  firstSeen: string;
  lastSeen: string;
}

export interface CalculationResult {
  calculation: string;
  alias?: string;
  aggregates: AggregateResult[];
  series: { time: string; data: SeriesPoint[] }[];
}

export interface ViewResult {
  statistics: QueryStatistics;
  events?: { events: LogEvent[]; count: number; fields: { key: string; type: string }[] };
  invocations?: Record<string, LogEvent[]>;
  calculations?: CalculationResult[];
}
