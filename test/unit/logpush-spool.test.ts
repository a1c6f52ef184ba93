// The logpush spool on a real temporary folder: order and sequence numbers, segments and the
// committed offset, recovery after a restart (also from a line cut by a crash), retention and the
// size cap (drops reported), and a disk that refuses writes (drops reported, one warning, no throw).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { segmentFileName, Spool } from '../../src/observability/logpush/spool.ts';
import type { SpoolOptions } from '../../src/observability/logpush/spool.ts';

const root = mkdtempSync(path.join(tmpdir(), 'flarelet-spool-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => path.join(root, `s${n++}`);

function recorder() {
  const drops: { lines: string[]; reason: string }[] = [];
  const warnings: string[] = [];
  const options: SpoolOptions = { onDrop: (lines, reason) => drops.push({ lines, reason }), onWarn: (m) => warnings.push(m) };
  return { drops, warnings, options };
}

const line = (i: number) => JSON.stringify({ scriptName: 'w', n: i, pad: 'x'.repeat(i % 7) });
const segmentsIn = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.ndjson')).sort();

test('events come back in order with gapless sequence numbers; peek does not consume, commit does', async () => {
  const dir = freshDir();
  const spool = new Spool(dir);
  await spool.open();
  for (let i = 0; i < 10; i++) spool.append(line(i));
  await spool.flush();
  assert.equal(spool.unsent, 10);
  const first = await spool.peek(4, 1 << 20);
  assert.deepEqual(first.map((e) => e.seq), [0, 1, 2, 3]);
  assert.deepEqual(first.map((e) => JSON.parse(e.line).n), [0, 1, 2, 3]);
  assert.deepEqual((await spool.peek(4, 1 << 20)).map((e) => e.seq), [0, 1, 2, 3], 'peeking again gives the same');
  await spool.commit(first[3]!.end);
  assert.equal(spool.unsent, 6);
  const rest = await spool.peek(100, 1 << 20);
  assert.deepEqual(rest.map((e) => JSON.parse(e.line).n), [4, 5, 6, 7, 8, 9]);
  await spool.commit(rest[5]!.end);
  assert.equal(spool.unsent, 0);
  assert.deepEqual(await spool.peek(10, 1 << 20), []);
  await spool.close();
  assert.deepEqual(JSON.parse(readFileSync(path.join(dir, 'committed'), 'utf8')), { seq: 10 });
});

test('peek honours the byte limit but always returns at least one event', async () => {
  const spool = new Spool(freshDir());
  const big = JSON.stringify({ scriptName: 'w', blob: 'y'.repeat(5000) });
  spool.append(big);
  spool.append(line(1));
  await spool.flush();
  const entries = await spool.peek(10, 100);
  assert.equal(entries.length, 1);
  assert.equal(entries[0]!.line, big);
  const both = await spool.peek(10, 1 << 20);
  assert.equal(both.length, 2);
  await spool.close();
});

test('segments rotate by size; delivered segments are deleted; reading crosses segment boundaries', async () => {
  const dir = freshDir();
  const spool = new Spool(dir, { segmentMaxBytes: 200 });
  for (let i = 0; i < 30; i++) {
    spool.append(line(i));
    await spool.flush(); // one write group per event, so rotation can happen between any two
  }
  const files = segmentsIn(dir);
  assert.ok(files.length > 3, `several segments: ${files}`);
  assert.equal(files[0], segmentFileName(0));
  const all = await spool.peek(100, 1 << 20);
  assert.deepEqual(all.map((e) => JSON.parse(e.line).n), Array.from({ length: 30 }, (_, i) => i));
  await spool.commit(all[19]!.end);
  const left = segmentsIn(dir);
  assert.ok(left.length < files.length, 'fully delivered segments are gone');
  assert.ok(Number(left[0]!.slice(0, 16)) <= 20, 'the segment holding event 20 stays');
  assert.deepEqual((await spool.peek(100, 1 << 20)).map((e) => e.seq), Array.from({ length: 10 }, (_, i) => 20 + i));
  await spool.close();
});

test('after a restart, undelivered events are still there, in order, and delivered ones are not', async () => {
  const dir = freshDir();
  const a = new Spool(dir, { segmentMaxBytes: 300 });
  for (let i = 0; i < 12; i++) a.append(line(i));
  await a.flush();
  for (let i = 12; i < 20; i++) a.append(line(i));
  await a.flush();
  const sent = await a.peek(7, 1 << 20);
  await a.commit(sent[6]!.end);
  await a.close();

  const b = new Spool(dir, { segmentMaxBytes: 300 });
  await b.open();
  assert.equal(b.unsent, 13);
  assert.equal(b.committedSeq, 7);
  const entries = await b.peek(100, 1 << 20);
  assert.deepEqual(entries.map((e) => JSON.parse(e.line).n), Array.from({ length: 13 }, (_, i) => 7 + i));
  assert.deepEqual(entries.map((e) => e.seq), Array.from({ length: 13 }, (_, i) => 7 + i));
  b.append(line(20));
  await b.flush();
  const more = await b.peek(100, 1 << 20);
  assert.equal(more.at(-1)!.seq, 20, 'new events continue the numbering');
  assert.equal(JSON.parse(more.at(-1)!.line).n, 20);
  await b.close();
});

test('a line cut by a crash is discarded on recovery; whole lines before it survive', async () => {
  const dir = freshDir();
  const a = new Spool(dir);
  for (let i = 0; i < 3; i++) a.append(line(i));
  await a.close();
  const file = path.join(dir, segmentFileName(0));
  appendFileSync(file, '{"scriptName":"w","n":3,"cut-he');
  const b = new Spool(dir);
  await b.open();
  assert.equal(b.unsent, 3);
  assert.ok(readFileSync(file, 'utf8').endsWith('\n'), 'the torn tail was cut off');
  b.append(line(3));
  await b.flush();
  assert.deepEqual((await b.peek(10, 1 << 20)).map((e) => JSON.parse(e.line).n), [0, 1, 2, 3]);
  await b.close();
});

test('a missing committed file means nothing was delivered; a committed offset past the data is kept', async () => {
  const dir = freshDir();
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, segmentFileName(5)), `${line(5)}\n${line(6)}\n`);
  const a = new Spool(dir);
  await a.open();
  assert.equal(a.committedSeq, 5, 'starts at the first segment kept');
  assert.equal(a.unsent, 2);
  await a.close();
  const other = freshDir();
  mkdirSync(other, { recursive: true });
  writeFileSync(path.join(other, 'committed'), '{"seq":42}\n');
  const b = new Spool(other);
  b.append(line(0));
  await b.flush();
  const entries = await b.peek(10, 1 << 20);
  assert.equal(entries[0]!.seq, 42);
  await b.close();
});

test('retention deletes whole segments whose last write is too old and reports their undelivered events', async () => {
  const dir = freshDir();
  let now = Date.UTC(2026, 0, 1);
  const { drops, options } = recorder();
  const spool = new Spool(dir, { ...options, now: () => now, segmentMaxAgeMs: 60_000 });
  for (let i = 0; i < 4; i++) spool.append(line(i));
  await spool.flush();
  const delivered = await spool.peek(1, 1 << 20);
  await spool.commit(delivered[0]!.end);
  now += 2 * 60 * 60 * 1000; // two hours later: the first segment is closed (1 min max age)
  for (let i = 4; i < 6; i++) spool.append(line(i));
  await spool.flush();
  assert.equal(await spool.expire(60 * 60 * 1000), 3);
  assert.deepEqual(drops.map((d) => [d.reason, d.lines.map((l) => JSON.parse(l).n)]), [['retention', [1, 2, 3]]]);
  assert.equal(spool.committedSeq, 4);
  assert.deepEqual((await spool.peek(10, 1 << 20)).map((e) => JSON.parse(e.line).n), [4, 5]);
  assert.equal(await spool.expire(60 * 60 * 1000), 0, 'young events are kept');
  await spool.close();
  const reopened = new Spool(dir);
  await reopened.open();
  assert.equal(reopened.committedSeq, 4, 'the move past dropped events was recorded');
  await reopened.close();
});

test('the size cap drops the oldest segments first and reports them', async () => {
  const { drops, options } = recorder();
  const spool = new Spool(freshDir(), { ...options, segmentMaxBytes: 100, maxSpoolBytes: 250 });
  for (let i = 0; i < 12; i++) {
    spool.append(line(i));
    await spool.flush();
  }
  await spool.expire(24 * 60 * 60 * 1000);
  assert.ok(spool.diskBytes <= 250 + 100, `disk ${spool.diskBytes}`);
  const dropped = drops.flatMap((d) => d.lines.map((l) => JSON.parse(l).n));
  assert.ok(drops.every((d) => d.reason === 'capacity'));
  const kept = (await spool.peek(100, 1 << 20)).map((e) => JSON.parse(e.line).n);
  assert.deepEqual([...dropped, ...kept], Array.from({ length: 12 }, (_, i) => i), 'what is dropped is the oldest, and nothing else is lost');
  await spool.close();
});

test('a folder that cannot be written: events are dropped and reported, one warning, nothing throws', async () => {
  const dir = freshDir();
  writeFileSync(dir, 'a file where the folder should be');
  const { drops, warnings, options } = recorder();
  const spool = new Spool(dir, options);
  for (let i = 0; i < 3; i++) spool.append(line(i));
  await spool.flush();
  spool.append(line(3));
  await spool.flush();
  assert.deepEqual(drops.flatMap((d) => d.lines.map((l) => JSON.parse(l).n)), [0, 1, 2, 3]);
  assert.ok(drops.every((d) => d.reason === 'spool'));
  assert.equal(warnings.length, 1, `one warning: ${warnings.join(' | ')}`);
  assert.equal(spool.unsent, 0);
  await spool.close();
});

test('writes that start failing mid-run drop only their own events; writing resumes when the disk does', async () => {
  const dir = freshDir();
  const { drops, warnings, options } = recorder();
  const spool = new Spool(dir, { ...options, segmentMaxBytes: 1 });
  spool.append(line(0));
  await spool.flush();
  await spool.commit((await spool.peek(1, 1 << 20))[0]!.end);
  // The folder vanishes and a file takes its place: the next segment cannot be created.
  rmSync(dir, { recursive: true });
  writeFileSync(dir, 'blocked');
  spool.append(line(1));
  await spool.flush();
  spool.append(line(2));
  await spool.flush();
  assert.deepEqual(drops.flatMap((d) => d.lines.map((l) => JSON.parse(l).n)), [1, 2]);
  assert.equal(warnings.length, 1);
  rmSync(dir);
  mkdirSync(dir);
  spool.append(line(3));
  await spool.flush();
  assert.equal(warnings.length, 2, 'recovery is said once too');
  assert.match(warnings[1]!, /writing again/);
  const entries = await spool.peek(10, 1 << 20);
  assert.deepEqual(entries.map((e) => JSON.parse(e.line).n), [3]);
  assert.equal(entries[0]!.seq, 1, 'dropped events take no sequence numbers');
  await spool.close();
});

test('more pending than the memory bound: the excess is dropped and reported, the rest is kept', async () => {
  const { drops, options } = recorder();
  const spool = new Spool(freshDir(), { ...options, maxPendingBytes: 200 });
  for (let i = 0; i < 20; i++) spool.append(line(i)); // synchronously: nothing written yet
  await spool.flush();
  const kept = (await spool.peek(100, 1 << 20)).map((e) => JSON.parse(e.line).n);
  const dropped = drops.flatMap((d) => d.lines.map((l) => JSON.parse(l).n));
  assert.ok(kept.length > 0 && dropped.length > 0);
  assert.deepEqual([...kept, ...dropped].sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i));
  await spool.close();
});

test('a segment file deleted behind the spool\'s back: its events are reported lost, the rest still flows', async () => {
  const dir = freshDir();
  const { drops, warnings, options } = recorder();
  const spool = new Spool(dir, { ...options, segmentMaxBytes: 1 });
  for (let i = 0; i < 3; i++) {
    spool.append(line(i));
    await spool.flush();
  }
  rmSync(path.join(dir, segmentFileName(1)));
  const first = await spool.peek(1, 1 << 20);
  assert.deepEqual(first.map((e) => JSON.parse(e.line).n), [0]);
  await spool.commit(first[0]!.end);
  const rest = await spool.peek(10, 1 << 20);
  assert.deepEqual(rest.map((e) => JSON.parse(e.line).n), [2]);
  assert.deepEqual(drops, [{ lines: [''], reason: 'spool' }]);
  assert.equal(warnings.length, 1);
  await spool.close();
});
