// Compiles the checked query model to SQLite SQL over the log store's schema (sqlite-store.ts):
// `events e` (one row per log row, hot fields typed) LEFT JOIN `invocations i` (the invocation's
// $workers JSON). Values are always bound parameters; keys come from the key catalogue only.
import type { HotField, ResolvedKey } from './keys.ts';
import { QUANTILES } from './query.ts';
import type { Calculation, CheckedGroup, CheckedLeaf, CheckedNode, Needle, Scalar } from './query.ts';

export type Param = string | number | null;

/** A piece of SQL with its parameters, in order; `join` says it reads `i` (invocations). */
export interface Sql {
  sql: string;
  params: Param[];
  join: boolean;
}

function isSql(value: unknown): value is Sql {
  return value !== null && typeof value === 'object' && 'sql' in value && 'params' in value;
}

/** Tagged template: interpolated Sql pieces are spliced in, anything else becomes a parameter. */
export function sql(strings: TemplateStringsArray, ...values: (Sql | Param)[]): Sql {
  let text = strings[0];
  const params: Param[] = [];
  let join = false;
  values.forEach((value, i) => {
    if (isSql(value)) {
      text += value.sql;
      params.push(...value.params);
      join ||= value.join;
    } else {
      text += '?';
      params.push(value);
    }
    text += strings[i + 1];
  });
  return { sql: text, params, join };
}

export function raw(text: string, join = false): Sql {
  return { sql: text, params: [], join };
}

export function joinSql(parts: Sql[], separator: string): Sql {
  return {
    sql: parts.map((p) => p.sql).join(separator),
    params: parts.flatMap((p) => p.params),
    join: parts.some((p) => p.join),
  };
}

const INVOCATION_ROW = `e.type = 'cf-worker-event'`;

const FIELDS: Record<HotField, Sql> = {
  id: raw(`printf('%012x%012x', e.ts, e.id)`),
  timestamp: raw('e.ts'),
  type: raw('e.type'),
  level: raw('e.level'),
  message: raw('e.message'),
  error: raw('e.error'),
  scriptName: raw('e.script'),
  requestId: raw('e.request_id'),
  outcome: raw('e.outcome'),
  eventType: raw('e.event_type'),
  method: raw('e.method'),
  status: raw('e.status'),
  cpuTimeMs: raw('e.cpu'),
  wallTimeMs: raw('e.wall'),
  rowStatusCode: raw(`(CASE WHEN ${INVOCATION_ROW} THEN e.status END)`),
  rowUrl: raw(`(CASE WHEN ${INVOCATION_ROW} THEN i.url END)`, true),
  url: raw('i.url', true),
  path: raw('i.path', true),
  trigger: raw('i.trigger', true),
  scriptVersionId: raw('i.version', true),
  truncated: raw('i.truncated', true),
};

/** A JSON path for json_extract: `$."event"."request"."headers"."user-agent"`, digits index arrays. */
export function jsonPath(path: string[]): string {
  return `$${path.map((part) => (/^\d+$/.test(part) ? `[${part}]` : `."${part}"`)).join('')}`;
}

/** The SQL expression of a key's value (NULL where a row does not have it). */
export function keySql(key: ResolvedKey): Sql {
  if (key.kind === 'field') return FIELDS[key.field];
  if (key.kind === 'workers') return { sql: 'json_extract(i.workers, ?)', params: [jsonPath(key.path)], join: true };
  return { sql: 'json_extract(e.source, ?)', params: [jsonPath(key.path)], join: false };
}

/** SQLite has no booleans: true and false are stored (and compared) as 1 and 0. */
function bind(value: Scalar): Param {
  return typeof value === 'boolean' ? (value ? 1 : 0) : value;
}

function list(values: Scalar[]): Sql {
  return joinSql(values.map((v) => sql`${bind(v)}`), ', ');
}

/** Rows of the invocations whose request id matches: found through the invocations' index. */
function byRequestId(condition: Sql): Sql {
  return sql`e.inv IN (SELECT id FROM invocations WHERE ${condition})`;
}

function leafSql(leaf: CheckedLeaf): Sql {
  const x = keySql(leaf.resolved);
  const v = leaf.value;
  const one = (): Param => bind(v as Scalar);
  // Request ids are indexed once per invocation (see the schema), not per row.
  if (leaf.resolved.kind === 'field' && leaf.resolved.field === 'requestId') {
    if (leaf.operation === 'eq') return byRequestId(sql`request_id = ${one()}`);
    if (leaf.operation === 'in') return byRequestId(sql`request_id IN (${list(v as Scalar[])})`);
  }
  switch (leaf.operation) {
    case 'eq': return sql`${x} = ${one()}`;
    // A row without the key differs from any value: it matches neq, not_includes and not_in.
    case 'neq': return sql`${x} IS NOT ${one()}`;
    case 'gt': return sql`${x} > ${one()}`;
    case 'gte': return sql`${x} >= ${one()}`;
    case 'lt': return sql`${x} < ${one()}`;
    case 'lte': return sql`${x} <= ${one()}`;
    case 'includes': return sql`instr(${x}, ${one()}) > 0`;
    case 'not_includes': return sql`(${x} IS NULL OR instr(${x}, ${one()}) = 0)`;
    case 'starts_with':
      return v === '' ? sql`${x} IS NOT NULL` : sql`substr(${x}, 1, length(${one()})) = ${one()}`;
    case 'ends_with':
      return v === '' ? sql`${x} IS NOT NULL` : sql`substr(${x}, -length(${one()})) = ${one()}`;
    case 'regex': return sql`flarelet_regexp(${one()}, '', ${x})`;
    case 'exists': return sql`${x} IS NOT NULL`;
    case 'is_null': return sql`${x} IS NULL`;
    case 'in': return sql`${x} IN (${list(v as Scalar[])})`;
    case 'not_in': return sql`(${x} IS NULL OR ${x} NOT IN (${list(v as Scalar[])}))`;
  }
}

function nodeSql(node: CheckedNode): Sql {
  if (node.kind === 'filter') return leafSql(node);
  return groupSql(node);
}

/** A filter group; an empty group matches every row. */
export function groupSql(group: CheckedGroup): Sql {
  const inner = group.filters.length === 0
    ? raw('1')
    : joinSql(group.filters.map((f) => sql`(${nodeSql(f)})`), group.filterCombination === 'and' ? ' AND ' : ' OR ');
  // NULL (a comparison with a missing key) counts as false before it is negated.
  return group.negate ? sql`NOT coalesce((${inner}), 0)` : inner;
}

/** FTS5 phrase syntax: the text in double quotes, quotes doubled. */
function phrase(text: string): string {
  return `"${text.replace(/"/g, '""')}"`;
}

/**
 * Full-text search over row messages. The trigram index finds substrings of 3+ characters,
 * case-insensitively; shorter needles and case-sensitive ones are checked on the text itself.
 */
export function needleSql(needle: Needle): Sql {
  if (needle.isRegex) return sql`flarelet_regexp(${needle.value}, ${needle.matchCase ? '' : 'i'}, e.message)`;
  if ([...needle.value].length >= 3) {
    const indexed = sql`e.id IN (SELECT rowid FROM events_fts WHERE events_fts MATCH ${phrase(needle.value)})`;
    return needle.matchCase ? sql`${indexed} AND instr(e.message, ${needle.value}) > 0` : indexed;
  }
  return needle.matchCase ? sql`instr(e.message, ${needle.value}) > 0` : sql`instr(lower(e.message), lower(${needle.value})) > 0`;
}

/** The aggregate expression of a calculation. */
export function calculationSql(calculation: Calculation): Sql {
  const x = calculation.key ? keySql(calculation.key) : null;
  switch (calculation.operator) {
    case 'count': return x ? sql`count(${x})` : raw('count(*)');
    case 'uniq': return sql`count(DISTINCT ${x!})`;
    case 'min': return sql`min(${x!})`;
    case 'max': return sql`max(${x!})`;
    case 'sum': return sql`sum(${x!})`;
    case 'avg': return sql`avg(${x!})`;
    case 'stddev': return sql`flarelet_stddev(${x!})`;
    case 'variance': return sql`flarelet_variance(${x!})`;
    default: return sql`flarelet_quantile(${x!}, ${QUANTILES[calculation.operator]!})`;
  }
}
