// Reads a worker's wrangler.toml / wrangler.json / wrangler.jsonc and checks the fields Flarelet
// uses. Every problem names the file and the field, and nothing is guessed silently.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseJsonc, printParseErrorCode } from 'jsonc-parser';
import type { ParseError } from 'jsonc-parser';
import { parse as parseToml } from 'smol-toml';

export const CONFIG_FILE_NAMES = ['wrangler.json', 'wrangler.jsonc', 'wrangler.toml'];

export interface WorkerConfig {
  /** The file it came from. */
  path: string;
  name?: string;
  /** Entry point, resolved against the config file's folder. */
  main?: string;
  compatibilityDate?: string;
  compatibilityFlags: string[];
  vars: Record<string, unknown>;
  limits: { cpuMs?: number; subrequests?: number; memoryMb?: number; startupMs?: number };
  observability: {
    enabled?: boolean;
    headSamplingRate?: number;
    /** [observability.logs] invocation_logs: write the invocation row (default true) */
    invocationLogs?: boolean;
    /** [observability.logs] persist: keep logs in the log store (default true) */
    persist?: boolean;
  };
}

export class ConfigError extends Error {
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'ConfigError';
  }
}

/** The config file in `dir`, if any (json before jsonc before toml, as wrangler prefers). */
export function findConfig(dir: string): string | undefined {
  for (const name of CONFIG_FILE_NAMES) {
    const candidate = path.join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

function parseFile(file: string): Record<string, unknown> {
  const text = readFileSync(file, 'utf8');
  if (file.endsWith('.toml')) {
    try {
      return parseToml(text) as Record<string, unknown>;
    } catch (error) {
      throw new ConfigError(file, (error as Error).message);
    }
  }
  const errors: ParseError[] = [];
  const value = parseJsonc(text, errors, { allowTrailingComma: true });
  if (errors.length) {
    const first = errors[0];
    const before = text.slice(0, first.offset);
    const line = before.split('\n').length;
    const column = first.offset - before.lastIndexOf('\n');
    throw new ConfigError(file, `${printParseErrorCode(first.error)} at line ${line}, column ${column}`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(file, 'the top level must be an object');
  return value as Record<string, unknown>;
}

/** Worker names as Cloudflare accepts them. */
export const WORKER_NAME = /^[a-z0-9](?:[a-z0-9-_]{0,61}[a-z0-9])?$/;

export function loadWorkerConfig(file: string): WorkerConfig {
  const raw = parseFile(file);
  const dir = path.dirname(file);
  const fail = (message: string): never => { throw new ConfigError(file, message); };
  const config: WorkerConfig = { path: file, compatibilityFlags: [], vars: {}, limits: {}, observability: {} };

  if (raw.name !== undefined) {
    if (typeof raw.name !== 'string' || !WORKER_NAME.test(raw.name)) {
      fail(`"name" must be a worker name of lowercase letters, digits, "-" and "_" (got ${JSON.stringify(raw.name)})`);
    }
    config.name = raw.name as string;
  }
  if (raw.main !== undefined) {
    if (typeof raw.main !== 'string' || !raw.main) fail('"main" must be a path to the entry file');
    config.main = path.resolve(dir, raw.main as string);
  }
  if (raw.compatibility_date !== undefined) {
    if (typeof raw.compatibility_date !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(raw.compatibility_date)) {
      fail('"compatibility_date" must be a date like "2024-09-23"');
    }
    config.compatibilityDate = raw.compatibility_date as string;
  }
  if (raw.compatibility_flags !== undefined) {
    if (!Array.isArray(raw.compatibility_flags) || raw.compatibility_flags.some((f) => typeof f !== 'string')) {
      fail('"compatibility_flags" must be an array of strings');
    }
    config.compatibilityFlags = raw.compatibility_flags as string[];
  }
  if (raw.vars !== undefined) {
    if (!raw.vars || typeof raw.vars !== 'object' || Array.isArray(raw.vars)) fail('"vars" must be a table of names and values');
    config.vars = { ...(raw.vars as Record<string, unknown>) };
  }
  if (raw.limits !== undefined) {
    const limits = raw.limits as Record<string, unknown>;
    if (!limits || typeof limits !== 'object') fail('"limits" must be a table');
    if (limits.cpu_ms !== undefined) {
      if (typeof limits.cpu_ms !== 'number' || !(limits.cpu_ms > 0)) fail('"limits.cpu_ms" must be a positive number of milliseconds');
      config.limits.cpuMs = limits.cpu_ms as number;
    }
    if (limits.subrequests !== undefined) {
      if (!Number.isInteger(limits.subrequests) || !((limits.subrequests as number) > 0)) fail('"limits.subrequests" must be a positive whole number');
      config.limits.subrequests = limits.subrequests as number;
    }
  }
  if (raw.observability !== undefined) {
    const o = raw.observability as Record<string, unknown>;
    if (!o || typeof o !== 'object') fail('"observability" must be a table');
    if (o.enabled !== undefined) config.observability.enabled = Boolean(o.enabled);
    if (o.head_sampling_rate !== undefined) {
      const rate = o.head_sampling_rate;
      if (typeof rate !== 'number' || rate < 0 || rate > 1) fail('"observability.head_sampling_rate" must be a value between 0 and 1.');
      config.observability.headSamplingRate = rate as number;
    }
    if (o.logs !== undefined) {
      const logs = o.logs as Record<string, unknown>;
      if (!logs || typeof logs !== 'object' || Array.isArray(logs)) fail('"observability.logs" must be a table');
      if (logs.enabled !== undefined) config.observability.enabled = Boolean(logs.enabled);
      if (logs.invocation_logs !== undefined) config.observability.invocationLogs = Boolean(logs.invocation_logs);
      if (logs.persist !== undefined) config.observability.persist = Boolean(logs.persist);
      if (logs.head_sampling_rate !== undefined) {
        const rate = logs.head_sampling_rate;
        if (typeof rate !== 'number' || rate < 0 || rate > 1) fail('"observability.logs.head_sampling_rate" must be a value between 0 and 1.');
        config.observability.headSamplingRate = rate as number;
      }
    }
  }
  return config;
}
