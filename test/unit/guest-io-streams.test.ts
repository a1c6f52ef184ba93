// Internal streams (the runtime's byte streams) belong to the request that made them; the
// worker's own JavaScript streams belong to none. Behaviour and texts measured on workerd.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReadableStream, ReadableStreamDefaultReader, TransformStream, WritableStream } from 'web-streams-polyfill';
import { CROSS_REQUEST_MESSAGE } from '../../src/guest/io-context.ts';
import {
  foreignStreamError, internalStreamFacts, internalStreamOfBytes, markInternalStream, setKnownLength,
} from '../../src/guest/internal-streams.ts';
import { as } from '../support/invocation-context.ts';

const SOURCE = { name: 'Error', message: `${CROSS_REQUEST_MESSAGE} (I/O type: ReadableStreamSource>)` };
const CANCELER = { name: 'Error', message: `${CROSS_REQUEST_MESSAGE} (I/O type: Canceler)` };
const enc = new TextEncoder();
const dec = new TextDecoder();


/** An internal stream of request 1 holding `text`. */
function streamOfRequest1(text = 'owned by 1'): ReadableStream<Uint8Array> {
  return as(1, () => internalStreamOfBytes(enc.encode(text), 1));
}

test('web-streams-polyfill still keeps the slots the guards read (_state, _ownerReadableStream)', () => {
  const stream = new ReadableStream();
  assert.equal((stream as unknown as { _state: string })._state, 'readable');
  const reader = stream.getReader();
  assert.equal((reader as unknown as { _ownerReadableStream: unknown })._ownerReadableStream, stream);
  reader.releaseLock();
  assert.equal((reader as unknown as { _ownerReadableStream: unknown })._ownerReadableStream, undefined);
});

test('the wrapped methods keep their names, lengths and attributes; asyncIterator is still values', () => {
  const proto = ReadableStream.prototype as unknown as Record<string | symbol, unknown>;
  assert.equal((proto.tee as () => void).name, 'tee');
  assert.equal((proto.pipeTo as () => void).length, 1);
  assert.equal(proto[Symbol.asyncIterator], proto.values);
  assert.equal(Object.getOwnPropertyDescriptor(ReadableStreamDefaultReader.prototype, 'read')?.enumerable, true);
  assert.equal((ReadableStreamDefaultReader.prototype.read as () => void).name, 'read');
});

test('the owning request reads its internal stream as usual', async () => {
  const stream = streamOfRequest1();
  const chunk = await as(1, () => stream.getReader().read());
  assert.equal(dec.decode(chunk.value), 'owned by 1');
});

test("reading another request's internal stream rejects with the cross-request error", async () => {
  const stream = streamOfRequest1();
  const reader = as(2, () => stream.getReader()); // taking a reader is allowed
  await assert.rejects(as(2, () => reader.read()), SOURCE);
  // The data is still there for its owner.
  assert.equal(dec.decode((await as(1, () => reader.read())).value), 'owned by 1');
});

test('a BYOB read, cancel(), the reader\'s cancel() and releaseLock() are refused with their I/O types', async () => {
  const byob = as(2, () => streamOfRequest1().getReader({ mode: 'byob' }));
  await assert.rejects(as(2, () => byob.read(new Uint8Array(4))), SOURCE);
  await assert.rejects(as(2, () => byob.cancel()), CANCELER);
  assert.throws(() => as(2, () => byob.releaseLock()), CANCELER);
  await assert.rejects(as(2, () => streamOfRequest1().cancel()), SOURCE);
  const reader = as(2, () => streamOfRequest1().getReader());
  await assert.rejects(as(2, () => reader.cancel()), CANCELER);
  assert.throws(() => as(2, () => reader.releaseLock()), CANCELER);
  assert.doesNotThrow(() => as(1, () => reader.releaseLock()));
});

test('tee() throws; pipeTo() rejects and aborts the destination; pipeThrough() yields an errored stream', async () => {
  assert.throws(() => as(2, () => streamOfRequest1().tee()), SOURCE);

  let aborted: unknown = null;
  const sink = new WritableStream({ abort(reason) { aborted = reason; } });
  await assert.rejects(as(2, () => streamOfRequest1().pipeTo(sink)), SOURCE);
  assert.equal((aborted as Error | null)?.message, SOURCE.message);

  const out = as(2, () => streamOfRequest1().pipeThrough(new TransformStream()));
  await assert.rejects(out.getReader().read(), SOURCE);
});

test('async iteration: values() is allowed, next() and return() are refused', async () => {
  const iterator = as(2, () => streamOfRequest1().values());
  await assert.rejects(as(2, () => iterator.next()), SOURCE);
  await assert.rejects(as(2, () => iterator.return!()), CANCELER);
  const own = streamOfRequest1('mine');
  let text = '';
  await as(1, async () => { for await (const chunk of own) text += dec.decode(chunk); });
  assert.equal(text, 'mine');
});

test('a closed or errored internal stream only reports its state, to anyone', async () => {
  const closed = streamOfRequest1();
  await as(1, async () => { const r = closed.getReader(); await r.read(); await r.read(); r.releaseLock(); });
  assert.deepEqual(await as(2, () => closed.getReader().read()), { done: true, value: undefined });
  const errored = as(1, () => new ReadableStream({ start(c) { c.error(new Error('boom')); } }));
  markInternalStream(errored, 1, null);
  await assert.rejects(as(2, () => errored.getReader().read()), { message: 'boom' });
  assert.equal(foreignStreamError(errored, 'Canceler'), null);
});

test("the worker's JavaScript streams are nobody's: any request reads, tees and cancels them", async () => {
  const js = as(1, () => new ReadableStream({ start(c) { c.enqueue('x'); c.close(); } }));
  assert.equal(foreignStreamError(js, 'ReadableStreamSource>'), null);
  const [a, b] = as(2, () => js.tee());
  assert.equal((await as(3, () => a.getReader().read())).value, 'x');
  await as(4, () => b.cancel());
});

test('tee branches of an internal stream are internal, of the same request and length', async () => {
  const stream = streamOfRequest1('twelve bytes');
  const [a, b] = as(1, () => stream.tee());
  assert.deepEqual(internalStreamFacts(a), { owner: 1, length: 12 });
  assert.deepEqual(internalStreamFacts(b), { owner: 1, length: 12 });
  await assert.rejects(as(2, () => a.getReader().read()), SOURCE);
  assert.equal(dec.decode((await as(1, () => b.getReader().read())).value), 'twelve bytes');
});

test('setKnownLength records the length of a host-fed stream, and only of an internal one', () => {
  const fed = new ReadableStream<Uint8Array>({ type: 'bytes' });
  markInternalStream(fed, 5, null);
  setKnownLength(fed, 1234);
  assert.deepEqual(internalStreamFacts(fed), { owner: 5, length: 1234 });
  const js = new ReadableStream();
  setKnownLength(js, 3);
  assert.equal(internalStreamFacts(js), undefined);
});
