// A logpush job as Cloudflare's Logpush API describes it (`POST/GET/PUT/DELETE
// /accounts/:account/logpush/jobs[/:id]`), and the checks a job body goes through. Field names,
// defaults and the JSON shape follow Cloudflare's; the limits of the upload fields are Flarelet's
// own (local destinations want small, quick batches; see docs/logpush.md).
import { DATASET, DATASET_FIELDS, isDatasetField } from './dataset.ts';
import { DestinationError, parseDestination } from './destination.ts';

export type OutputType = 'ndjson' | 'otlp';

export interface OutputOptions {
  field_names?: string[];
  /** Flarelet extension: `otlp` sends OTLP/HTTP logs (JSON) instead of Cloudflare's NDJSON */
  output_type?: OutputType;
  sample_rate?: number;
  timestamp_format?: 'unixnano' | 'unix' | 'rfc3339';
  'CVE-2021-44228'?: boolean;
}

export interface LogpushJob {
  id: number;
  dataset: typeof DATASET;
  enabled: boolean;
  name: string | null;
  logpull_options: string | null;
  output_options: OutputOptions | null;
  destination_conf: string;
  last_complete: string | null;
  last_error: string | null;
  error_message: string | null;
  frequency: 'high' | 'low';
  kind: '';
  max_upload_bytes: number | null;
  max_upload_records: number | null;
  max_upload_interval_seconds: number | null;
}

/** Where a job comes from: the REST API, or a --logpush / --otlp flag of this run. */
export type JobSource = 'api' | 'cli';

export interface StoredJob extends LogpushJob {
  source: JobSource;
}

export const DEFAULT_MAX_UPLOAD_RECORDS = 1000;
export const DEFAULT_MAX_UPLOAD_BYTES = 5_000_000;
export const DEFAULT_MAX_UPLOAD_INTERVAL_SECONDS = 1;
export const LIMITS = {
  records: { min: 1, max: 1_000_000 },
  bytes: { min: 1024, max: 1_000_000_000 },
  interval: { min: 1, max: 300 },
  destinationLength: 4096,
  nameLength: 512,
};

const NAME = /^[a-zA-Z0-9.-]*$/;
const TIMESTAMP_FORMATS = ['unixnano', 'unix', 'rfc3339'];
const OUTPUT_OPTION_KEYS = new Set(['field_names', 'output_type', 'sample_rate', 'timestamp_format', 'CVE-2021-44228']);
/** Body fields a job accepts; `ownership_challenge` is accepted and ignored (Cloudflare does not need it for HTTP). */
const JOB_KEYS = new Set([
  'name', 'dataset', 'enabled', 'destination_conf', 'logpull_options', 'output_options', 'frequency', 'kind',
  'max_upload_bytes', 'max_upload_records', 'max_upload_interval_seconds', 'filter', 'ownership_challenge',
]);

export class JobInputError extends Error {}

type Body = Record<string, unknown>;

function checkKeys(body: Body): void {
  for (const key of Object.keys(body)) {
    if (!JOB_KEYS.has(key)) throw new JobInputError(`unknown field "${key}"; a job takes ${[...JOB_KEYS].join(', ')}`);
  }
}

function limitField(body: Body, key: string, limits: { min: number; max: number }): number | null | undefined {
  if (!(key in body)) return undefined;
  const value = body[key];
  if (value === null || value === 0) return null;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < limits.min || value > limits.max) {
    throw new JobInputError(`${key} must be an integer from ${limits.min} to ${limits.max} (or 0 / null for the default), got ${JSON.stringify(value)}`);
  }
  return value;
}

function checkDestination(value: unknown): string {
  if (typeof value !== 'string' || value === '') throw new JobInputError('destination_conf is required: the URL logs are sent to');
  if (value.length > LIMITS.destinationLength) throw new JobInputError(`destination_conf is longer than ${LIMITS.destinationLength} characters`);
  try {
    parseDestination(value);
  } catch (error) {
    if (error instanceof DestinationError) throw new JobInputError(error.message);
    throw error;
  }
  return value;
}

function checkOutputOptions(value: unknown): OutputOptions | null {
  if (value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) throw new JobInputError('output_options must be an object');
  const options = value as Record<string, unknown>;
  for (const key of Object.keys(options)) {
    if (!OUTPUT_OPTION_KEYS.has(key)) {
      throw new JobInputError(`output_options.${key} is not supported; Flarelet supports ${[...OUTPUT_OPTION_KEYS].join(', ')}`);
    }
  }
  const out: OutputOptions = {};
  if (options.field_names !== undefined && options.field_names !== null) {
    const names = options.field_names;
    if (!Array.isArray(names) || names.length === 0 || !names.every((n) => typeof n === 'string')) {
      throw new JobInputError('output_options.field_names must be a non-empty list of field names');
    }
    const unknown = names.filter((n) => !isDatasetField(n));
    if (unknown.length > 0) {
      throw new JobInputError(`output_options.field_names: ${unknown.join(', ')} not in ${DATASET}; its fields are ${DATASET_FIELDS.join(', ')}`);
    }
    out.field_names = [...new Set(names as string[])];
  }
  if (options.output_type !== undefined && options.output_type !== null) {
    if (options.output_type !== 'ndjson' && options.output_type !== 'otlp') {
      throw new JobInputError(`output_options.output_type must be "ndjson" or "otlp", got ${JSON.stringify(options.output_type)}`);
    }
    out.output_type = options.output_type;
  }
  if (options.sample_rate !== undefined && options.sample_rate !== null) {
    const rate = options.sample_rate;
    if (typeof rate !== 'number' || !(rate > 0 && rate <= 1)) {
      throw new JobInputError(`output_options.sample_rate must be a number above 0 and at most 1, got ${JSON.stringify(rate)}`);
    }
    out.sample_rate = rate;
  }
  if (options.timestamp_format !== undefined && options.timestamp_format !== null) {
    if (!TIMESTAMP_FORMATS.includes(options.timestamp_format as string)) {
      throw new JobInputError(`output_options.timestamp_format must be one of ${TIMESTAMP_FORMATS.join(', ')}`);
    }
    out.timestamp_format = options.timestamp_format as OutputOptions['timestamp_format'];
  }
  if (options['CVE-2021-44228'] !== undefined && options['CVE-2021-44228'] !== null) {
    if (typeof options['CVE-2021-44228'] !== 'boolean') throw new JobInputError('output_options.CVE-2021-44228 must be true or false');
    out['CVE-2021-44228'] = options['CVE-2021-44228'];
  }
  return out;
}

/** Applies the fields of `body` to `base` (every field optional: PUT semantics, as Cloudflare's). */
function applyFields(base: LogpushJob, body: Body): LogpushJob {
  const job = { ...base };
  if ('name' in body) {
    const name = body.name;
    if (name !== null && (typeof name !== 'string' || !NAME.test(name) || name.length > LIMITS.nameLength)) {
      throw new JobInputError(`name may hold only letters, digits, "-" and "." (at most ${LIMITS.nameLength}), got ${JSON.stringify(name)}`);
    }
    job.name = name === '' ? null : (name as string | null);
  }
  if ('dataset' in body && body.dataset !== DATASET) {
    throw new JobInputError(`dataset ${JSON.stringify(body.dataset)} is not available; Flarelet pushes the ${DATASET} dataset only`);
  }
  if ('enabled' in body) {
    if (typeof body.enabled !== 'boolean') throw new JobInputError('enabled must be true or false');
    job.enabled = body.enabled;
  }
  if ('destination_conf' in body) job.destination_conf = checkDestination(body.destination_conf);
  if ('logpull_options' in body) {
    if (body.logpull_options !== null && body.logpull_options !== '') {
      throw new JobInputError('logpull_options is not supported; choose fields with output_options.field_names');
    }
    job.logpull_options = null;
  }
  if ('output_options' in body) job.output_options = checkOutputOptions(body.output_options);
  if ('frequency' in body) {
    if (body.frequency !== 'high' && body.frequency !== 'low') throw new JobInputError('frequency must be "high" or "low"');
    job.frequency = body.frequency;
  }
  if ('kind' in body && body.kind !== '' && body.kind !== null) {
    throw new JobInputError(`kind ${JSON.stringify(body.kind)} is not supported; leave it empty`);
  }
  if ('filter' in body && body.filter !== null && body.filter !== '') {
    throw new JobInputError('filter is not supported by Flarelet; every event of the dataset is pushed');
  }
  const bytes = limitField(body, 'max_upload_bytes', LIMITS.bytes);
  if (bytes !== undefined) job.max_upload_bytes = bytes;
  const records = limitField(body, 'max_upload_records', LIMITS.records);
  if (records !== undefined) job.max_upload_records = records;
  const interval = limitField(body, 'max_upload_interval_seconds', LIMITS.interval);
  if (interval !== undefined) job.max_upload_interval_seconds = interval;
  return job;
}

function asBody(input: unknown): Body {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new JobInputError('the request body must be a JSON object');
  return input as Body;
}

/** A new job from a create request (id assigned by the caller). Cloudflare's default: disabled. */
export function jobFromCreate(input: unknown, id: number): LogpushJob {
  const body = asBody(input);
  checkKeys(body);
  if (!('destination_conf' in body)) throw new JobInputError('destination_conf is required: the URL logs are sent to');
  if (!('dataset' in body)) throw new JobInputError(`dataset is required; Flarelet offers "${DATASET}"`);
  return applyFields(emptyJob(id, String(body.destination_conf)), body);
}

export function jobFromUpdate(existing: LogpushJob, input: unknown): LogpushJob {
  const body = asBody(input);
  checkKeys(body);
  return applyFields(existing, body);
}

export function emptyJob(id: number, destination: string): LogpushJob {
  return {
    id,
    dataset: DATASET,
    enabled: false,
    name: null,
    logpull_options: null,
    output_options: null,
    destination_conf: destination,
    last_complete: null,
    last_error: null,
    error_message: null,
    frequency: 'high',
    kind: '',
    max_upload_bytes: null,
    max_upload_records: null,
    max_upload_interval_seconds: null,
  };
}

/** The job as the API shows it (Cloudflare's fields, in its order). */
export function publicJob(job: LogpushJob): LogpushJob {
  return {
    id: job.id,
    dataset: job.dataset,
    enabled: job.enabled,
    name: job.name,
    logpull_options: job.logpull_options,
    output_options: job.output_options,
    destination_conf: job.destination_conf,
    last_complete: job.last_complete,
    last_error: job.last_error,
    error_message: job.error_message,
    frequency: job.frequency,
    kind: job.kind,
    max_upload_bytes: job.max_upload_bytes,
    max_upload_records: job.max_upload_records,
    max_upload_interval_seconds: job.max_upload_interval_seconds,
  };
}

/** The batch limits a job runs with (its own, else the defaults). */
export function batchLimits(job: LogpushJob): { maxRecords: number; maxBytes: number; maxDelayMs: number } {
  return {
    maxRecords: job.max_upload_records ?? DEFAULT_MAX_UPLOAD_RECORDS,
    maxBytes: job.max_upload_bytes ?? DEFAULT_MAX_UPLOAD_BYTES,
    maxDelayMs: (job.max_upload_interval_seconds ?? DEFAULT_MAX_UPLOAD_INTERVAL_SECONDS) * 1000,
  };
}

export function outputTypeOf(job: LogpushJob): OutputType {
  return job.output_options?.output_type ?? 'ndjson';
}
