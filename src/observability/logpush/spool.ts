// The on-disk queue of one logpush job: events wait here, in order, until the destination has
// them. Layout of the job's folder:
//   <first seq, 16 digits>.ndjson   append-only segments, one event (its JSON) per line; an event's
//                                   sequence number is its segment's first seq plus its line index
//   committed                       {"seq": N}: every event before N was delivered (or dropped)
// Events get their sequence number when their line is safely written, so numbers have no gaps.
//
// Durability (the fsync policy): appends are grouped — everything published while the previous
// write was in flight goes out in one write() — and each group is fdatasync'd before its events
// count as spooled. A crash loses at most the group being written. The committed offset is
// replaced atomically (write a temporary file, rename) but not fsync'd: after a power loss it may
// step back, which re-sends a few events (at-least-once), never skips any.
//
// Failures never throw at the producer: a write that fails (disk full, read-only) drops its group,
// reports it through onDrop and warns once per episode; the next write starts a fresh segment so a
// half-written line can never be read back. Retention and the size cap delete whole segments,
// oldest first, and report the undelivered events they held.
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';

export interface SpoolOptions {
  /** a segment is closed once it holds this many bytes (default 8 MiB) */
  segmentMaxBytes?: number;
  /** …or once it is this old (default 1 h), so retention can delete old events segment by segment */
  segmentMaxAgeMs?: number;
  /** events accepted but not yet written, at most (default 32 MiB); past it new events are dropped */
  maxPendingBytes?: number;
  /** bytes on disk at most (default 1 GiB); past it the oldest segments are dropped */
  maxSpoolBytes?: number;
  /** fdatasync each write group (default true) */
  fsync?: boolean;
  /** events that will never be delivered (their JSON lines), with the reason */
  onDrop?: (lines: string[], reason: 'spool' | 'retention' | 'capacity') => void;
  /** a problem worth one line on stderr */
  onWarn?: (message: string) => void;
  now?: () => number;
}

/** Where the next unread event is: its number, and the byte offset of its line in its segment. */
export interface Position {
  seq: number;
  /** first seq of the segment holding it (or the segment to come when it is not written yet) */
  segment: number;
  offset: number;
}

export interface SpoolEntry {
  seq: number;
  line: string;
  /** the position right after this entry: commit it once the entry is delivered */
  end: Position;
}

interface Segment {
  first: number;
  count: number;
  /** bytes of complete lines (what a reader may read) */
  bytes: number;
  /** last write, ms since the epoch */
  writtenAt: number;
  createdAt: number;
}

const SEGMENT_NAME = /^(\d{16})\.ndjson$/;
const COMMITTED = 'committed';
const READ_CHUNK = 256 * 1024;

export const segmentFileName = (first: number) => `${String(first).padStart(16, '0')}.ndjson`;

export class Spool {
  readonly dir: string;
  private readonly segmentMaxBytes: number;
  private readonly segmentMaxAgeMs: number;
  private readonly maxPendingBytes: number;
  private readonly maxSpoolBytes: number;
  private readonly fsync: boolean;
  private readonly onDrop: NonNullable<SpoolOptions['onDrop']>;
  private readonly onWarn: NonNullable<SpoolOptions['onWarn']>;
  private readonly now: () => number;

  private segments: Segment[] = [];
  private nextSeq = 0;
  private committed: Position = { seq: 0, segment: 0, offset: 0 };
  private pending: string[] = [];
  private pendingBytes = 0;
  /** the segment being appended to, with its open handle; null until the first write */
  private active: { segment: Segment; handle: FileHandle } | null = null;
  private writing: Promise<void> | null = null;
  private flushScheduled = false;
  private opened: Promise<void> | null = null;
  private closed = false;
  private failing = false;
  private committedWrite: Promise<void> | null = null;
  private committedDirty = false;
  private readonly writeListeners = new Set<() => void>();

  constructor(dir: string, options: SpoolOptions = {}) {
    this.dir = dir;
    this.segmentMaxBytes = options.segmentMaxBytes ?? 8 * 1024 * 1024;
    this.segmentMaxAgeMs = options.segmentMaxAgeMs ?? 60 * 60 * 1000;
    this.maxPendingBytes = options.maxPendingBytes ?? 32 * 1024 * 1024;
    this.maxSpoolBytes = options.maxSpoolBytes ?? 1024 * 1024 * 1024;
    this.fsync = options.fsync ?? true;
    this.onDrop = options.onDrop ?? (() => {});
    this.onWarn = options.onWarn ?? (() => {});
    this.now = options.now ?? Date.now;
  }

  /** Reads the folder: segments, the committed offset; cuts a torn last line. Appends may come before it finishes. */
  open(): Promise<void> {
    this.opened ??= this.recover().catch((error: Error) => {
      // A folder we cannot read or create: the spool runs empty and every write reports its drop.
      this.warn(`logpush spool ${this.dir} cannot be opened (${error.message}); this job's events are dropped and counted in /metrics`);
    });
    return this.opened;
  }

  /** Accepts one event's JSON line; never blocks and never throws. */
  append(line: string): void {
    if (this.closed) {
      this.onDrop([line], 'spool');
      return;
    }
    const size = Buffer.byteLength(line) + 1;
    if (this.pendingBytes + size > this.maxPendingBytes) {
      this.warn(`logpush spool ${this.dir}: the disk does not keep up; dropping events`);
      this.onDrop([line], 'spool');
      return;
    }
    this.pending.push(line);
    this.pendingBytes += size;
    this.scheduleFlush();
  }

  /** Resolves once every line appended so far is written (or dropped). */
  async flush(): Promise<void> {
    await this.open();
    while (this.pending.length > 0 || this.writing) {
      if (!this.writing) this.startWriting();
      await this.writing;
    }
  }

  /** Events written and not yet committed. */
  get unsent(): number {
    return this.nextSeq - this.committed.seq;
  }

  /** Bytes of those events on disk. */
  get unsentBytes(): number {
    let bytes = 0;
    for (const segment of this.segments) {
      if (segment.first + segment.count <= this.committed.seq) continue;
      bytes += segment.first === this.committed.segment ? segment.bytes - this.committed.offset : segment.bytes;
    }
    return Math.max(0, bytes);
  }

  /** Bytes of every segment on disk. */
  get diskBytes(): number {
    return this.segments.reduce((sum, s) => sum + s.bytes, 0);
  }

  get committedSeq(): number {
    return this.committed.seq;
  }

  get writtenSeq(): number {
    return this.nextSeq;
  }

  /** Calls `listener` after every successful write; returns its remover. */
  onWrite(listener: () => void): () => void {
    this.writeListeners.add(listener);
    return () => { this.writeListeners.delete(listener); };
  }

  /**
   * The oldest uncommitted events, in order: at most `maxRecords`, and no more than `maxBytes` of
   * lines (one entry always, however long). Reading does not consume: commit does.
   */
  async peek(maxRecords: number, maxBytes: number): Promise<SpoolEntry[]> {
    await this.open();
    const entries: SpoolEntry[] = [];
    let pos = { ...this.committed };
    let bytes = 0;
    while (entries.length < maxRecords && pos.seq < this.nextSeq) {
      const segment = this.segmentOf(pos.seq);
      if (!segment) break;
      if (segment.first !== pos.segment) pos = { seq: pos.seq, segment: segment.first, offset: await this.offsetOf(segment, pos.seq) };
      const file = path.join(this.dir, segmentFileName(segment.first));
      let chunkSize = Math.min(READ_CHUNK, segment.bytes - pos.offset);
      let text: string | null = null;
      while (chunkSize > 0) {
        let buffer: Buffer;
        try {
          buffer = await readRange(file, pos.offset, chunkSize);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || entries.length > 0) throw error;
          // Someone deleted the segment: its events are lost; say so and read on.
          await this.loseSegment(segment);
          return this.peek(maxRecords, maxBytes);
        }
        const lastNewline = buffer.lastIndexOf(10);
        if (lastNewline >= 0) {
          text = buffer.subarray(0, lastNewline + 1).toString('utf8');
          break;
        }
        if (chunkSize >= segment.bytes - pos.offset) break;
        chunkSize = Math.min(chunkSize * 2, segment.bytes - pos.offset);
      }
      if (text === null) break;
      let start = 0;
      let stop = false;
      while (start < text.length) {
        const newline = text.indexOf('\n', start);
        if (newline < 0) break;
        const line = text.slice(start, newline);
        const lineBytes = Buffer.byteLength(line) + 1;
        if (entries.length >= maxRecords || (entries.length > 0 && bytes + lineBytes > maxBytes)) {
          stop = true;
          break;
        }
        bytes += lineBytes;
        const seq = pos.seq;
        pos = { seq: seq + 1, segment: segment.first, offset: pos.offset + lineBytes };
        entries.push({ seq, line, end: { ...pos } });
        start = newline + 1;
        if (pos.seq >= segment.first + segment.count) break;
      }
      if (stop) break;
    }
    return entries;
  }

  /** Marks everything before `position` delivered; deletes segments left with nothing to send. */
  async commit(position: Position): Promise<void> {
    if (position.seq <= this.committed.seq) return;
    this.committed = { ...position };
    await this.deleteConsumedSegments();
    await this.persistCommitted();
  }

  /**
   * Applies retention (segments whose last write is older than `retentionMs`) and the size cap;
   * reports the undelivered events of every segment it deletes. Returns how many it dropped.
   */
  async expire(retentionMs: number): Promise<number> {
    await this.open();
    const cutoff = this.now() - retentionMs;
    let dropped = 0;
    for (;;) {
      const oldest = this.segments[0];
      if (!oldest) break;
      const isActive = this.active?.segment === oldest;
      const tooOld = oldest.writtenAt < cutoff;
      const tooBig = this.diskBytes > this.maxSpoolBytes && this.segments.length > 1;
      if (!tooOld && !tooBig) break;
      if (isActive) {
        // A write in flight means the segment is fresh; otherwise close it before deleting it.
        if (this.writing) break;
        await this.closeActive();
      }
      const lines = await this.unsentLinesOf(oldest);
      dropped += lines.length;
      this.segments.shift();
      await unlink(path.join(this.dir, segmentFileName(oldest.first))).catch(() => {});
      const end = oldest.first + oldest.count;
      if (this.committed.seq < end) {
        const next = this.segments[0];
        this.committed = { seq: end, segment: next ? next.first : end, offset: 0 };
        this.committedDirty = true;
      }
      if (lines.length > 0) this.onDrop(lines, tooOld ? 'retention' : 'capacity');
    }
    if (this.committedDirty) await this.persistCommitted();
    return dropped;
  }

  /** A segment whose file is gone: report its undelivered events (their content is unknown) and move past it. */
  private async loseSegment(segment: Segment): Promise<void> {
    const end = segment.first + segment.count;
    const lost = end - Math.max(segment.first, this.committed.seq);
    if (this.active?.segment === segment) await this.closeActive();
    this.segments = this.segments.filter((s) => s !== segment);
    if (this.committed.seq < end) {
      const next = this.segments.find((s) => s.first >= end);
      this.committed = { seq: end, segment: next ? next.first : end, offset: 0 };
      await this.persistCommitted();
    }
    this.warn(`logpush spool ${this.dir}: segment ${segmentFileName(segment.first)} disappeared; ${lost} event(s) lost`);
    if (lost > 0) this.onDrop(new Array(lost).fill(''), 'spool');
  }

  /** Writes what is pending, closes files and records the committed offset. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    await this.closeActive();
    await this.persistCommitted();
    if (this.committedWrite) await this.committedWrite;
  }

  /** Closes and deletes the folder (the job is gone). */
  async destroy(): Promise<void> {
    await this.close();
    await rm(this.dir, { recursive: true, force: true });
  }

  // ---- recovery ----

  private async recover(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const names = (await readdir(this.dir)).filter((n) => SEGMENT_NAME.test(n)).sort();
    let committedSeq = 0;
    try {
      const parsed = JSON.parse(await readFile(path.join(this.dir, COMMITTED), 'utf8'));
      if (Number.isSafeInteger(parsed?.seq) && parsed.seq >= 0) committedSeq = parsed.seq;
    } catch { /* no committed file yet: nothing was delivered */ }
    const segments: Segment[] = [];
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      const first = Number(SEGMENT_NAME.exec(name)![1]);
      const file = path.join(this.dir, name);
      const info = await stat(file);
      const nextFirst = i + 1 < names.length ? Number(SEGMENT_NAME.exec(names[i + 1]!)![1]) : null;
      let count: number;
      let bytes: number;
      if (nextFirst === null) {
        // The last segment may end in a line cut by a crash: keep whole lines only.
        const data = await readFile(file);
        const end = data.lastIndexOf(10) + 1;
        count = 0;
        for (let at = data.indexOf(10); at >= 0 && at < end; at = data.indexOf(10, at + 1)) count++;
        bytes = end;
        if (end < data.length) {
          const handle = await open(file, 'r+');
          try { await handle.truncate(end); } finally { await handle.close(); }
        }
      } else {
        count = nextFirst - first;
        bytes = info.size;
      }
      segments.push({ first, count, bytes, writtenAt: info.mtimeMs, createdAt: info.mtimeMs });
    }
    // Appends that arrived while we were reading are still pending: nothing was written yet.
    this.segments = segments.filter((s) => s.count > 0 || s === segments[segments.length - 1]);
    const last = this.segments[this.segments.length - 1];
    this.nextSeq = Math.max(committedSeq, last ? last.first + last.count : 0);
    const firstKept = this.segments[0]?.first ?? this.nextSeq;
    const seq = Math.min(this.nextSeq, Math.max(committedSeq, firstKept));
    const holder = this.segmentOf(seq);
    this.committed = { seq, segment: holder ? holder.first : seq, offset: holder ? await this.offsetOf(holder, seq) : 0 };
    if (seq !== committedSeq) this.committedDirty = true;
    await this.deleteConsumedSegments();
  }

  // ---- writing ----

  private scheduleFlush(): void {
    if (this.flushScheduled || this.writing) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      if (!this.writing && this.pending.length > 0) this.startWriting();
    });
  }

  private startWriting(): void {
    this.writing = this.writeLoop().finally(() => {
      this.writing = null;
      if (this.pending.length > 0) this.scheduleFlush();
    });
  }

  private async writeLoop(): Promise<void> {
    await this.open();
    while (this.pending.length > 0) {
      const lines = this.pending;
      this.pending = [];
      this.pendingBytes = 0;
      const buffer = Buffer.from(`${lines.join('\n')}\n`);
      let segment: Segment | null = null;
      try {
        const active = await this.activeFor(buffer.length);
        segment = active.segment;
        await active.handle.write(buffer, 0, buffer.length, null);
        if (this.fsync) await active.handle.datasync();
      } catch (error) {
        await this.abandonActive(segment);
        this.warn(`logpush spool ${this.dir}: cannot write (${(error as Error).message}); events are dropped and counted in /metrics until writing works again`);
        this.onDrop(lines, 'spool');
        continue;
      }
      segment.count += lines.length;
      segment.bytes += buffer.length;
      segment.writtenAt = this.now();
      this.nextSeq += lines.length;
      if (this.failing) {
        this.failing = false;
        this.onWarn(`logpush spool ${this.dir}: writing again`);
      }
      for (const listener of [...this.writeListeners]) listener();
    }
  }

  /** The segment to append `size` bytes to: the open one, or a new one when it is full or old. */
  private async activeFor(size: number): Promise<{ segment: Segment; handle: FileHandle }> {
    const now = this.now();
    if (this.active) {
      const { segment } = this.active;
      const full = segment.bytes > 0 && segment.bytes + size > this.segmentMaxBytes;
      const old = now - segment.createdAt >= this.segmentMaxAgeMs;
      if (!full && !old) return this.active;
      await this.closeActive();
    }
    // Never append to a segment found at start: its tail may be a cut line, and starting anew
    // keeps the "one write group is whole or absent" rule simple.
    const first = this.nextSeq;
    const file = path.join(this.dir, segmentFileName(first));
    const handle = await open(file, 'w');
    const segment: Segment = { first, count: 0, bytes: 0, writtenAt: now, createdAt: now };
    // An empty leftover segment with the same first seq (a failed write) is replaced by this one.
    this.segments = this.segments.filter((s) => s.first !== first);
    this.segments.push(segment);
    this.active = { segment, handle };
    return this.active;
  }

  /** After a failed write: cut the segment back to its last whole line and stop appending to it. */
  private async abandonActive(segment: Segment | null): Promise<void> {
    const active = this.active;
    this.active = null;
    if (!active) return;
    try { await active.handle.truncate(active.segment.bytes); } catch { /* readers stop at segment.bytes anyway */ }
    try { await active.handle.close(); } catch { /* nothing more to do */ }
    if (segment && segment.count === 0) {
      this.segments = this.segments.filter((s) => s !== segment);
      await unlink(path.join(this.dir, segmentFileName(segment.first))).catch(() => {});
    }
  }

  private async closeActive(): Promise<void> {
    const active = this.active;
    this.active = null;
    if (active) await active.handle.close().catch(() => {});
  }

  // ---- reading and bookkeeping ----

  private segmentOf(seq: number): Segment | undefined {
    return this.segments.find((s) => seq >= s.first && seq < s.first + s.count);
  }

  /** Byte offset of event `seq` in its segment (reads the segment up to it). */
  private async offsetOf(segment: Segment, seq: number): Promise<number> {
    const skip = seq - segment.first;
    if (skip <= 0) return 0;
    const file = path.join(this.dir, segmentFileName(segment.first));
    let offset = 0;
    let seen = 0;
    while (seen < skip && offset < segment.bytes) {
      const buffer = await readRange(file, offset, Math.min(READ_CHUNK, segment.bytes - offset));
      if (buffer.length === 0) break;
      let at = 0;
      let consumed = 0;
      while (seen < skip) {
        const newline = buffer.indexOf(10, at);
        if (newline < 0) break;
        seen++;
        at = newline + 1;
        consumed = at;
      }
      if (consumed === 0) break;
      offset += consumed;
    }
    return offset;
  }

  /** The lines of `segment` not committed yet. */
  private async unsentLinesOf(segment: Segment): Promise<string[]> {
    const end = segment.first + segment.count;
    if (this.committed.seq >= end) return [];
    let data: string;
    try {
      data = (await readFile(path.join(this.dir, segmentFileName(segment.first)))).subarray(0, segment.bytes).toString('utf8');
    } catch {
      // Unreadable: still count what is lost.
      return new Array(end - Math.max(segment.first, this.committed.seq)).fill('');
    }
    const lines = data.split('\n').slice(0, segment.count);
    return lines.slice(Math.max(0, this.committed.seq - segment.first));
  }

  private async deleteConsumedSegments(): Promise<void> {
    while (this.segments.length > 0) {
      const oldest = this.segments[0]!;
      if (oldest.first + oldest.count > this.committed.seq) break;
      // The segment being appended to stays, even when everything in it was delivered.
      if (this.active?.segment === oldest) break;
      this.segments.shift();
      await unlink(path.join(this.dir, segmentFileName(oldest.first))).catch(() => {});
    }
  }

  /** Writes the committed offset (atomically); concurrent calls coalesce. */
  private persistCommitted(): Promise<void> {
    this.committedDirty = true;
    if (this.committedWrite) return this.committedWrite.then(() => (this.committedDirty ? this.persistCommitted() : undefined));
    this.committedDirty = false;
    const seq = this.committed.seq;
    const target = path.join(this.dir, COMMITTED);
    const temporary = `${target}.tmp`;
    this.committedWrite = writeFile(temporary, `${JSON.stringify({ seq })}\n`)
      .then(() => rename(temporary, target))
      .catch((error: Error) => {
        this.warn(`logpush spool ${this.dir}: cannot record the delivered offset (${error.message}); some events may be sent again after a restart`);
      })
      .finally(() => { this.committedWrite = null; });
    return this.committedWrite;
  }

  private warn(message: string): void {
    if (this.failing) return;
    this.failing = true;
    this.onWarn(message);
  }
}

/** Reads `length` bytes at `offset` (fewer at the end of the file). */
async function readRange(file: string, offset: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  const handle = await open(file, 'r');
  try {
    const { bytesRead } = await handle.read(buffer, 0, length, offset);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}
