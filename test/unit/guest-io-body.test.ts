// Bodies as I/O objects (owned by the request that made them), the global-scope rule for making
// them, and the buffering limit of whole-body reads. Requests are simulated by setting the
// current invocation id; behaviour and texts were measured on workerd.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReadableStream } from 'web-streams-polyfill';
import { BODY_USED_MESSAGE, takeBodyForTransfer } from '../../src/guest/body.ts';
import { DEFAULT_BUFFERING_LIMIT, EXCEEDED_MESSAGE, WOULD_EXCEED_MESSAGE, setBufferingLimit } from '../../src/guest/buffering-limit.ts';
import { CROSS_REQUEST_MESSAGE, GLOBAL_SCOPE_MESSAGE, enforceGlobalScopeRule } from '../../src/guest/io-context.ts';
import { internalStreamFacts, markInternalStream } from '../../src/guest/internal-streams.ts';
import { Request, createIncomingRequest } from '../../src/guest/request.ts';
import { Response, createIncomingResponse } from '../../src/guest/response.ts';
import { as } from '../support/invocation-context.ts';

const SOURCE = { name: 'Error', message: `${CROSS_REQUEST_MESSAGE} (I/O type: ReadableStreamSource>)` };
const WOULD = { name: 'TypeError', message: WOULD_EXCEED_MESSAGE };
const EXCEEDED = { name: 'TypeError', message: EXCEEDED_MESSAGE };
const GLOBAL = { name: 'Error', message: GLOBAL_SCOPE_MESSAGE };
const enc = new TextEncoder();


/** Runs `fn` with a small buffering limit. */
async function withLimit(bytes: number, fn: () => Promise<void>): Promise<void> {
  setBufferingLimit(bytes);
  try { await fn(); } finally { setBufferingLimit(DEFAULT_BUFFERING_LIMIT); }
}

/** A stream like the host feeds: internal, of request `owner`, chunk by chunk on pull. */
function hostLikeStream(owner: number, chunks: string[], pulls: { count: number } = { count: 0 }): ReadableStream<Uint8Array> {
  const queue = chunks.map((c) => enc.encode(c));
  const stream = new ReadableStream<Uint8Array>({
    type: 'bytes',
    pull(controller) {
      pulls.count++;
      const next = queue.shift();
      if (next) controller.enqueue(next);
      else { controller.close(); controller.byobRequest?.respond(0); }
    },
  });
  markInternalStream(stream, owner, null);
  return stream;
}

function jsStreamOf(...chunks: string[]): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({ start(c) { for (const chunk of chunks) c.enqueue(enc.encode(chunk)); c.close(); } });
}

// --- cross-request ----------------------------------------------------------------------------

test("reading another request's buffered body fails and leaves it used and locked, as on workerd", async () => {
  const response = as(1, () => new Response('secret'));
  await assert.rejects(as(2, () => response.text()), SOURCE);
  assert.equal(response.bodyUsed, true);
  await assert.rejects(as(1, () => response.text()), { name: 'TypeError', message: BODY_USED_MESSAGE });
  assert.equal(response.body!.locked, true);
});

test('every whole-body method refuses a foreign body', async () => {
  for (const method of ['text', 'json', 'arrayBuffer', 'bytes', 'blob', 'formData'] as const) {
    const response = as(1, () => new Response('a=1', { headers: { 'content-type': 'application/x-www-form-urlencoded' } }));
    await assert.rejects(as(2, () => response[method]()), SOURCE, method);
  }
});

test('the body stream made later from a foreign buffered body still belongs to its request', async () => {
  const response = as(1, () => new Response('secret'));
  const body = as(2, () => response.body!);
  assert.deepEqual(internalStreamFacts(body), { owner: 1, length: 6 });
  await assert.rejects(as(2, () => body.getReader().read()), SOURCE);
  const other = as(1, () => new Response('secret'));
  await assert.rejects(as(2, () => new Response(other.body).text()), SOURCE);
});

test('clone() of a foreign body throws; the owner clones and reads both copies', async () => {
  const response = as(1, () => new Response('twice'));
  assert.throws(() => as(2, () => response.clone()), SOURCE);
  const copy = as(1, () => response.clone());
  assert.equal(await as(1, () => copy.text()), 'twice');
  assert.equal(await as(1, () => response.text()), 'twice');
  const streamed = as(1, () => new Response(hostLikeStream(1, ['a', 'b'])));
  assert.throws(() => as(2, () => streamed.clone()), SOURCE);
});

test("sending another request's body is refused and leaves it intact for its owner", async () => {
  const buffered = as(1, () => new Response('keep me'));
  assert.throws(() => as(2, () => takeBodyForTransfer(buffered)), SOURCE);
  assert.equal(buffered.bodyUsed, false);
  const taken = as(1, () => takeBodyForTransfer(buffered));
  assert.equal(taken.kind, 'bytes');

  const fed = as(1, () => new Response(hostLikeStream(1, ['x'])));
  assert.throws(() => as(2, () => takeBodyForTransfer(fed)), SOURCE);
  assert.equal(as(1, () => takeBodyForTransfer(fed)).kind, 'stream');
});

test('new Request(otherRequest) refuses a foreign body; new Request(url, otherRequest) does not', async () => {
  const original = as(1, () => new Request('https://example.com/', { method: 'POST', body: 'payload' }));
  assert.throws(() => as(2, () => new Request(original)), SOURCE);
  assert.equal(original.bodyUsed, false);
  const reused = as(2, () => new Request('https://example.com/other', original));
  await assert.rejects(as(2, () => reused.text()), SOURCE);
  const moved = as(1, () => new Request(new Request('https://example.com/', { method: 'POST', body: 'mine' })));
  assert.equal(await as(1, () => moved.text()), 'mine');
});

test("an incoming request's host-fed body is its invocation's I/O", async () => {
  const request = as(7, () => createIncomingRequest({
    url: 'https://example.com/', method: 'POST', headersList: ['content-type', 'text/plain'], body: hostLikeStream(7, ['hi']),
  }));
  await assert.rejects(as(8, () => request.text()), SOURCE);
  const again = as(7, () => createIncomingRequest({
    url: 'https://example.com/', method: 'POST', headersList: [], body: hostLikeStream(7, ['h', 'i']),
  }));
  assert.equal(await as(7, () => again.text()), 'hi');
});

test("a body of the worker's own JavaScript stream may be read by any request", async () => {
  const response = as(1, () => new Response(jsStreamOf('shared ', 'data')));
  assert.equal(await as(2, () => response.text()), 'shared data');
  const returned = as(1, () => new Response(jsStreamOf('x')));
  assert.equal(as(2, () => takeBodyForTransfer(returned)).kind, 'stream');
});

test('a body-less Response may be used and sent by any request', async () => {
  const empty = as(1, () => new Response(null, { status: 204 }));
  assert.equal(await as(2, () => empty.text()), '');
  assert.equal(as(2, () => empty.clone()).status, 204);
  assert.equal(as(2, () => takeBodyForTransfer(empty)).kind, 'none');
});

// --- the top-level scope ----------------------------------------------------------------------

test('with the global-scope rule on, only a request handler makes a body, a redirect or JSON', () => {
  enforceGlobalScopeRule();
  try {
    assert.throws(() => new Response('x'), GLOBAL);
    assert.throws(() => new Response(''), GLOBAL);
    assert.throws(() => new Response(new Uint8Array([1])), GLOBAL);
    assert.throws(() => new Response(new URLSearchParams('a=1')), GLOBAL);
    assert.throws(() => Response.json({}), GLOBAL);
    assert.throws(() => Response.redirect('https://example.com/'), GLOBAL);
    assert.throws(() => new Request('https://example.com/', { method: 'POST', body: 'x' }), GLOBAL);
    // A status error is found before the body is made (as on workerd).
    assert.throws(() => new Response('x', { status: 42 }), RangeError);
    for (const make of [
      () => new Response(), () => new Response(null), () => new Response(undefined, { status: 204 }),
      () => new Response(new ReadableStream()), () => Response.error(), () => new Request('https://example.com/'),
      () => new Request('https://example.com/', { method: 'POST', body: new ReadableStream() }),
    ]) assert.doesNotThrow(make);
    assert.doesNotThrow(() => as(1, () => new Response('inside a handler')));
    assert.doesNotThrow(() => as(1, () => Response.redirect('https://example.com/')));
  } finally {
    enforceGlobalScopeRule(false);
  }
});

// --- the buffering limit ----------------------------------------------------------------------

test('a buffered body must stay below the limit: would be exceeded, and the body is used', async () => {
  await withLimit(10, async () => {
    assert.equal(await new Response('123456789').text(), '123456789');
    const tooBig = new Response('1234567890');
    await assert.rejects(tooBig.text(), WOULD);
    assert.equal(tooBig.bodyUsed, true);
    for (const method of ['json', 'arrayBuffer', 'bytes', 'blob'] as const) {
      await assert.rejects(new Response('x'.repeat(11))[method](), WOULD, method);
    }
    const form = new Response('a=1&b=2&c=3', { headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    await assert.rejects(form.formData(), WOULD);
  });
});

test('a null body reads as empty whatever the limit', async () => {
  await withLimit(1, async () => {
    assert.equal(await new Response(null).text(), '');
  });
});

test('an internal stream of unknown length fails once what was read reaches the limit, and is cancelled', async () => {
  await withLimit(10, async () => {
    assert.equal(await new Response(hostLikeStream(0, ['12345', '6789'])).text(), '123456789');
    let cancelled: unknown = null;
    const stream = new ReadableStream<Uint8Array>({
      type: 'bytes',
      pull(c) { c.enqueue(enc.encode('12345')); },
      cancel(reason) { cancelled = reason; },
    });
    markInternalStream(stream, 0, null);
    await assert.rejects(new Response(stream).text(), EXCEEDED);
    assert.equal((cancelled as Error | null)?.message, EXCEEDED_MESSAGE);
  });
});

test("a JavaScript stream may reach the limit but not pass it", async () => {
  await withLimit(10, async () => {
    assert.equal(await new Response(jsStreamOf('12345', '67890')).text(), '1234567890');
    await assert.rejects(new Response(jsStreamOf('12345', '67890', '!')).text(), EXCEEDED);
  });
});

test("an incoming request's Content-Length at the limit is refused before a single read", async () => {
  await withLimit(10, async () => {
    const pulls = { count: 0 };
    const request = createIncomingRequest({
      url: 'https://example.com/', method: 'POST', headersList: ['Content-Length', '10'], body: hostLikeStream(0, ['1234567890'], pulls),
    });
    await assert.rejects(request.arrayBuffer(), WOULD);
    assert.equal(pulls.count, 0);
    assert.equal(request.bodyUsed, true);
    const fits = createIncomingRequest({
      url: 'https://example.com/', method: 'POST', headersList: ['content-length', '9'], body: hostLikeStream(0, ['123456789']),
    });
    assert.equal(await fits.text(), '123456789');
  });
});

test("a subrequest response's Content-Length counts unless a Content-Encoding was decoded", async () => {
  await withLimit(10, async () => {
    const plain = createIncomingResponse({ status: 200, headersList: ['content-length', '20'], body: hostLikeStream(0, ['x']) });
    await assert.rejects(plain.text(), WOULD);
    const gzip = createIncomingResponse({
      status: 200, headersList: ['content-encoding', 'gzip', 'content-length', '20'], body: hostLikeStream(0, ['decoded']),
    });
    assert.equal(await gzip.text(), 'decoded');
  });
});

test('the limit follows a body through new Response(stream) and clone()', async () => {
  await withLimit(10, async () => {
    const request = createIncomingRequest({
      url: 'https://example.com/', method: 'POST', headersList: ['content-length', '12'], body: hostLikeStream(0, ['x']),
    });
    await assert.rejects(new Response(request.body).text(), WOULD);
    const fed = createIncomingResponse({ status: 200, headersList: ['content-length', '11'], body: hostLikeStream(0, ['x']) });
    await assert.rejects(fed.clone().text(), WOULD);
  });
});

test('a large body of known length is read into one buffer, even when the stream lies about it', async () => {
  const MIB = 1024 * 1024;
  const part = 'a'.repeat(MIB / 2);
  const exact = createIncomingResponse({
    status: 200, headersList: ['content-length', String(2 * MIB)], body: hostLikeStream(0, [part, part, part, part]),
  });
  const bytes = new Uint8Array(await exact.arrayBuffer());
  assert.equal(bytes.byteLength, 2 * MIB);
  assert.ok(bytes.every((b) => b === 0x61));
  const short = createIncomingResponse({
    status: 200, headersList: ['content-length', String(2 * MIB)], body: hostLikeStream(0, [part, 'end']),
  });
  const shortText = await short.text();
  assert.equal(shortText.length, MIB / 2 + 3);
  assert.ok(shortText.endsWith('aend'));
  assert.equal(short.bodyUsed, true);
  const long = createIncomingResponse({
    status: 200, headersList: ['content-length', String(MIB)], body: hostLikeStream(0, [part, part, 'extra']),
  });
  const longBytes = new Uint8Array(await long.arrayBuffer());
  assert.equal(longBytes.byteLength, MIB + 5);
  assert.equal(new TextDecoder().decode(longBytes.subarray(MIB)), 'extra');
});
