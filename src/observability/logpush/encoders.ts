// Turns a run of trace events into one request body for a destination. A batch is bounded by
// the job's uncompressed byte limit: `add` refuses an event that would cross it (unless the batch
// is still empty: one event always fits, however large), and the caller sends what it has.
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { TraceEvent } from '../../protocol/trace.ts';
import { datasetRecord, selectFields } from './dataset.ts';
import { otlpLogRecords, otlpPayload } from './otlp.ts';
import type { OtlpLogRecord } from './otlp.ts';

const gzipAsync = promisify(gzip);

export interface EncodedBatch {
  body: Buffer;
  headers: Record<string, string>;
  /** trace events in the batch */
  events: number;
  /** size before compression */
  uncompressedBytes: number;
}

export interface BatchEncoder {
  add(event: TraceEvent): boolean;
  readonly events: number;
  finish(): Promise<EncodedBatch>;
}

export interface NdjsonOptions {
  maxBytes: number;
  /** dataset fields to send; null for all */
  fieldNames: readonly string[] | null;
  /** Cloudflare's CVE-2021-44228 option: write every `${` as `x{` */
  redactCve202144228: boolean;
}

/** Cloudflare Logpush's HTTP body: one JSON record per line, each line ending in \n, gzipped. */
export class NdjsonEncoder implements BatchEncoder {
  private readonly lines: string[] = [];
  private bytes = 0;
  private readonly options: NdjsonOptions;

  constructor(options: NdjsonOptions) {
    this.options = options;
  }

  get events(): number { return this.lines.length; }

  add(event: TraceEvent): boolean {
    let line = JSON.stringify(selectFields(datasetRecord(event), this.options.fieldNames));
    if (this.options.redactCve202144228) line = line.replaceAll('${', 'x{');
    const size = Buffer.byteLength(line) + 1;
    if (this.lines.length > 0 && this.bytes + size > this.options.maxBytes) return false;
    this.lines.push(line);
    this.bytes += size;
    return true;
  }

  async finish(): Promise<EncodedBatch> {
    const text = this.lines.length === 0 ? '' : `${this.lines.join('\n')}\n`;
    return {
      body: await gzipAsync(text),
      headers: { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' },
      events: this.lines.length,
      uncompressedBytes: this.bytes,
    };
  }
}

/** OTLP/HTTP logs in the JSON encoding: one ExportLogsServiceRequest per batch. */
export class OtlpEncoder implements BatchEncoder {
  private readonly groups: { scriptName: string; records: OtlpLogRecord[] }[] = [];
  private count = 0;
  private bytes = 0;
  private readonly maxBytes: number;
  private readonly version: string;

  constructor(options: { maxBytes: number; version: string }) {
    this.maxBytes = options.maxBytes;
    this.version = options.version;
  }

  get events(): number { return this.count; }

  add(event: TraceEvent): boolean {
    const records = otlpLogRecords(event);
    // Each record's JSON plus a comma: the payload's size to within its small fixed envelope.
    let size = 0;
    for (const record of records) size += Buffer.byteLength(JSON.stringify(record)) + 1;
    if (this.count > 0 && this.bytes + size > this.maxBytes) return false;
    const scriptName = event.scriptName ?? '';
    let group = this.groups.find((g) => g.scriptName === scriptName);
    if (!group) this.groups.push((group = { scriptName, records: [] }));
    group.records.push(...records);
    this.count++;
    this.bytes += size;
    return true;
  }

  async finish(): Promise<EncodedBatch> {
    const text = JSON.stringify(otlpPayload(this.groups, this.version));
    return {
      body: Buffer.from(text),
      headers: { 'content-type': 'application/json' },
      events: this.count,
      uncompressedBytes: Buffer.byteLength(text),
    };
  }
}
