// Cross-request I/O and the body buffering limit, through a real `flarelet dev` process.
// Every expected text, I/O type name and client status was first measured on workerd with the
// same fixtures (test/fixtures/io/); workerd answers an uncaught error with a bare 500 where
// Cloudflare (and Flarelet) serve the 1101 page.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request as rawRequest } from 'node:http';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import { httpRequest, startFlarelet } from '../support/flarelet.ts';
import type { FlareletHandle, HttpResult, TraceEvent } from '../support/flarelet.ts';

const CROSS_REQUEST =
  'Cannot perform I/O on behalf of a different request. I/O objects (such as streams, request/response bodies, ' +
  "and others) created in the context of one request handler cannot be accessed from a different request's " +
  'handler. This is a limitation of Cloudflare Workers which allows us to improve overall performance.';
const SOURCE = `${CROSS_REQUEST} (I/O type: ReadableStreamSource>)`;
const CANCELER = `${CROSS_REQUEST} (I/O type: Canceler)`;
const GLOBAL_SCOPE =
  'Disallowed operation called within global scope. Asynchronous I/O (ex: fetch() or connect()), setting a ' +
  'timeout, and generating random values are not allowed within global scope. To fix this error, perform this ' +
  'operation within a handler. https://developers.cloudflare.com/workers/runtime-apis/handlers/';
const BODY_USED = 'Body has already been used. It can only be used once. Use tee() first if you need to read it twice.';
const WOULD_EXCEED = 'Memory limit would be exceeded before EOF.';
const EXCEEDED = 'Memory limit exceeded before EOF.';
const MIB = 1024 * 1024;
// The default buffering limit (128 MiB): a body must stay below it.
const LIMIT = 128 * MIB;

const ORIGIN_SECRET = 'secret subrequest body of /hold';

let flarelet: FlareletHandle;
let origin: Server;
let originUrl = '';

/** The local origin: /secret answers a small body; /huge announces 2^27 bytes and sends three. */
function startOrigin(): Promise<void> {
  origin = createServer((req, res) => {
    if (req.url === '/huge') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(LIMIT) });
      res.write('abc');
      return; // the rest never comes; the worker must refuse before waiting for it
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(ORIGIN_SECRET);
  });
  return new Promise((done) => origin.listen(0, '127.0.0.1', () => {
    const addr = origin.address();
    originUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    done();
  }));
}

before(async () => {
  await startOrigin();
  flarelet = await startFlarelet({
    entries: [
      'test/fixtures/io/cached-response.js',
      'test/fixtures/io/cross-request.js',
      'test/fixtures/io/global-scope.js',
      'test/fixtures/io/global-scope-throws.js',
      'test/fixtures/io/buffering.js',
    ],
    // Bodies near the 128 MiB buffering limit must fit in the isolate (its bytes live in the
    // isolate's heap) and take more than the default 50 ms of CPU to copy.
    args: ['--var', `ORIGIN=${originUrl}`, '--memory-mb', '768', '--cpu-ms', '30000'],
  });
});

after(async () => {
  await flarelet?.stop();
  origin.closeAllConnections();
  await new Promise((done) => origin.close(done));
});

function get(worker: string, path: string, init: { method?: string; body?: string } = {}): Promise<HttpResult> {
  return httpRequest(`${flarelet.url}${path}`, {
    ...init,
    headers: { host: `${worker}.localhost:${flarelet.port}` },
    timeoutMs: 30000,
  });
}

/** The trace event of the request whose URL ends with `pathAndQuery` (they arrive when it ends). */
async function traceOf(worker: string, pathAndQuery: string): Promise<TraceEvent> {
  const url = `http://${worker}.localhost:${flarelet.port}${pathAndQuery}`;
  const deadline = Date.now() + 20000;
  for (;;) {
    const event = flarelet.events.find((e) => e.event?.request?.url === url);
    if (event) return event;
    if (Date.now() > deadline) {
      throw new Error(`no trace event for ${url}; got ${flarelet.events.map((e) => e.event?.request?.url).join(', ')}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

function exceptionsOf(event: TraceEvent): { name: string; message: string }[] {
  return (event.exceptions as { name: string; message: string }[]).map(({ name, message }) => ({ name, message }));
}

async function pollUntil(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// ---------------------------------------------------------------------------------------------

describe('cross-request I/O', () => {
  test("the docs' example: a cached Response returned by an overlapping request fails (1101), the first request still sends it", async () => {
    const first = get('cached-response', '/?ms=3000&n=first');
    await pollUntil(async () => (await get('cached-response', '/status')).text === 'cached', 'the first request to cache its Response');

    const second = await get('cached-response', '/?n=second');
    assert.equal(second.status, 500);
    assert.equal(second.text, 'error code: 1101');
    const secondTrace = await traceOf('cached-response', '/?n=second');
    assert.equal(secondTrace.outcome, 'exception');
    assert.equal(secondTrace.event.response.status, 500);
    assert.deepEqual(exceptionsOf(secondTrace), [{ name: 'Error', message: SOURCE }]);

    // The failed attempt left the body alone: its owner sends it.
    const firstResult = await first;
    assert.equal(firstResult.status, 200);
    assert.equal(firstResult.text, 'Hello, world!');
    const firstTrace = await traceOf('cached-response', '/?ms=3000&n=first');
    assert.equal(firstTrace.outcome, 'ok');
    assert.deepEqual(firstTrace.exceptions, []);

    // Once sent, the cached Response is used up: the next request fails as on workerd.
    const third = await get('cached-response', '/?n=third');
    assert.equal(third.status, 500);
    assert.deepEqual(exceptionsOf(await traceOf('cached-response', '/?n=third')), [{ name: 'TypeError', message: BODY_USED }]);
  });

  let holdId = 0;
  /** Starts POST /hold (its objects get a fresh id) and resolves once they are held. */
  async function hold(ms: number): Promise<{ done: Promise<HttpResult> }> {
    const id = String(++holdId);
    const done = get('cross-request', `/hold?id=${id}&ms=${ms}`, { method: 'POST', body: 'secret request body of /hold' });
    await pollUntil(async () => (await get('cross-request', '/status')).text === id, `/hold?id=${id}`);
    return { done };
  }

  test('a cached request body read by another request while its own is running: 1101, nothing leaks', async () => {
    const held = await hold(2000);
    const use = await get('cross-request', '/use?what=request-text&n=1');
    assert.equal(use.status, 500);
    assert.equal(use.text, 'error code: 1101');
    assert.doesNotMatch(use.text, /secret/);
    const trace = await traceOf('cross-request', '/use?what=request-text&n=1');
    assert.equal(trace.outcome, 'exception');
    assert.equal(trace.event.response.status, 500);
    assert.deepEqual(exceptionsOf(trace), [{ name: 'Error', message: SOURCE }]);
    assert.equal((await held.done).status, 200);
  });

  test('a stream and a subrequest body of a running request, read by another request, are refused', async () => {
    const held = await hold(2000);
    for (const what of ['stream-read', 'subrequest-text', 'reader-read']) {
      const use = await get('cross-request', `/use?what=${what}&catch=1`);
      assert.equal(use.status, 200, what);
      assert.equal(use.text, `Error: ${SOURCE}`, what);
    }
    assert.equal((await held.done).text, 'held');
  });

  // After the holding request ended its objects are just as foreign (measured on workerd).
  const refusals: [string, string][] = [
    ['request-text', SOURCE],
    ['request-body-read', SOURCE],
    ['request-proxy', SOURCE],
    ['response-text', SOURCE],
    ['response-clone', SOURCE],
    ['stream-read', SOURCE],
    ['stream-for-await', SOURCE],
    ['reader-read', SOURCE],
    ['reader-cancel', CANCELER],
    ['reader-release', CANCELER],
    ['subrequest-text', SOURCE],
  ];
  for (const [what, message] of refusals) {
    test(`${what} on an ended request's object: ${/\(I\/O type: .*\)$/.exec(message)![0]}`, async () => {
      const held = await hold(0);
      await held.done;
      const use = await get('cross-request', `/use?what=${what}&catch=1`);
      assert.equal(use.status, 200);
      assert.equal(use.text, `Error: ${message}`);
    });
  }

  test("returning another request's Response or its body stream: 1101 with the cross-request error", async () => {
    for (const what of ['return-response', 'return-body']) {
      const held = await hold(0);
      await held.done;
      const use = await get('cross-request', `/use?what=${what}&h=${holdId}`);
      assert.equal(use.status, 500, what);
      assert.equal(use.text, 'error code: 1101', what);
      assert.doesNotMatch(use.text, /secret/);
      assert.deepEqual(exceptionsOf(await traceOf('cross-request', `/use?what=${what}&h=${holdId}`)), [{ name: 'Error', message: SOURCE }]);
    }
  });

  test('JavaScript streams made by one request may be read by another, as on workerd', async () => {
    const held = await hold(2000);
    assert.equal((await get('cross-request', '/use?what=js-stream-text')).text, 'js stream of /hold');
    assert.equal((await get('cross-request', '/use?what=transform-read')).text, 'written by /hold');
    await held.done;
  });

  test('the top-level scope may not make a body, a redirect or a JSON response; streams and empty ones are fine', async () => {
    const res = await get('global-scope', '/');
    assert.equal(res.status, 200);
    assert.deepEqual(res.text.split('\n'), [
      'new Response(): ok',
      'new Response(null): ok',
      'new Response(stream): ok',
      'Response.error(): ok',
      'new Request(url): ok',
      'new ReadableStream(): ok',
      'new TransformStream(): ok',
      `new Response('text'): Error: ${GLOBAL_SCOPE}`,
      `new Response(bytes): Error: ${GLOBAL_SCOPE}`,
      `Response.json(): Error: ${GLOBAL_SCOPE}`,
      `Response.redirect(): Error: ${GLOBAL_SCOPE}`,
      `new Request(url, {body}): Error: ${GLOBAL_SCOPE}`,
    ]);
    // A JavaScript stream made at top level belongs to no request.
    assert.equal((await get('global-scope', '/shared')).text, 'top-level stream');
  });

  test('a worker that makes a body in its top-level scope does not load', async () => {
    const res = await get('global-scope-throws', '/');
    assert.equal(res.status, 500);
    assert.equal(res.text, 'error code: 1101');
    assert.match(flarelet.stderr(), /Uncaught Error: Disallowed operation called within global scope\./);
  });
});

// ---------------------------------------------------------------------------------------------

/**
 * Sends the head of a request announcing `contentLength` bytes and only `start` of them, then
 * reads the response (the worker must answer without waiting for the rest).
 */
function partialUpload(path: string, contentLength: number, start: string, contentType = 'text/plain'): Promise<{ status: number; text: string }> {
  return new Promise((done, fail) => {
    const socket = connect(flarelet.port, '127.0.0.1');
    const timer = setTimeout(() => { socket.destroy(); fail(new Error(`no answer to ${path}`)); }, 20000);
    let data = Buffer.alloc(0);
    socket.on('connect', () => {
      socket.write(
        `POST ${path} HTTP/1.1\r\nHost: buffering.localhost:${flarelet.port}\r\nContent-Type: ${contentType}\r\n` +
        `Content-Length: ${contentLength}\r\nConnection: close\r\n\r\n${start}`,
      );
    });
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      const end = data.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = data.subarray(0, end).toString('latin1');
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? NaN);
      const body = data.subarray(end + 4);
      if (body.length < length) return;
      clearTimeout(timer);
      socket.destroy();
      done({ status: Number(head.split(' ')[1]), text: body.subarray(0, length).toString('utf8') });
    });
    socket.on('error', (error) => { clearTimeout(timer); fail(error); });
  });
}

/** Sends `total` bytes chunked (1 MiB at a time); stops sending once the answer came. */
function chunkedUpload(path: string, total: number): Promise<{ status: number; text: string }> {
  return new Promise((done, fail) => {
    const req = rawRequest(`${flarelet.url}${path}`, {
      method: 'POST',
      agent: false,
      headers: { host: `buffering.localhost:${flarelet.port}`, 'transfer-encoding': 'chunked' },
    });
    req.setTimeout(30000, () => req.destroy(new Error(`no answer to ${path}`)));
    let answered = false;
    req.on('error', (error) => { if (!answered) fail(error); });
    req.on('response', (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => { done({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }); req.destroy(); });
    });
    const chunk = Buffer.alloc(MIB, 0x61);
    let sent = 0;
    const pump = (): void => {
      while (sent < total && !answered) {
        sent += chunk.length;
        if (!req.write(chunk)) { req.once('drain', pump); return; }
      }
      if (!answered) req.end();
    };
    pump();
  });
}

describe('body buffering limit (default 128 MiB)', () => {
  test('an incoming body whose Content-Length reaches the limit is refused before it is sent: 1101, TypeError', async () => {
    const res = await partialUpload('/request?n=uncaught', LIMIT, 'abc');
    assert.equal(res.status, 500);
    assert.equal(res.text, 'error code: 1101');
    const trace = await traceOf('buffering', '/request?n=uncaught');
    assert.equal(trace.outcome, 'exception');
    assert.equal(trace.event.response.status, 500);
    assert.deepEqual(exceptionsOf(trace), [{ name: 'TypeError', message: WOULD_EXCEED }]);
  });

  test('every whole-body method refuses it the same way', async () => {
    for (const method of ['text', 'json', 'arrayBuffer', 'bytes', 'blob', 'formData']) {
      const res = await partialUpload(`/request?catch=1&method=${method}`, LIMIT + 1, 'a=1', 'application/x-www-form-urlencoded');
      assert.equal(res.status, 200, method);
      assert.equal(res.text, `TypeError: ${WOULD_EXCEED}`, method);
    }
  });

  test('a subrequest response with a Content-Length at the limit is refused before it is read', async () => {
    const caught = await get('buffering', '/subrequest?path=/huge&catch=1');
    assert.equal(caught.text, `TypeError: ${WOULD_EXCEED}`);
    const uncaught = await get('buffering', '/subrequest?path=/huge&method=arrayBuffer');
    assert.equal(uncaught.status, 500);
    assert.deepEqual(exceptionsOf(await traceOf('buffering', '/subrequest?path=/huge&method=arrayBuffer')), [
      { name: 'TypeError', message: WOULD_EXCEED },
    ]);
  });

  test('a chunked body fails once what was read reaches the limit: 1101, TypeError "exceeded"', async () => {
    const res = await chunkedUpload('/request?method=arrayBuffer&n=chunked', LIMIT + MIB);
    assert.equal(res.status, 500);
    assert.equal(res.text, 'error code: 1101');
    assert.deepEqual(exceptionsOf(await traceOf('buffering', '/request?method=arrayBuffer&n=chunked')), [
      { name: 'TypeError', message: EXCEEDED },
    ]);
  });

  test('bodies below the limit are read whole', async () => {
    const chunked = await chunkedUpload('/request?method=arrayBuffer&catch=1', 4 * MIB);
    assert.equal(chunked.text, `ok ${4 * MIB}`);
    const announced = await httpRequest(`${flarelet.url}/request?method=text&catch=1`, {
      method: 'POST',
      headers: { host: `buffering.localhost:${flarelet.port}` },
      body: Buffer.alloc(3 * MIB, 0x62),
      timeoutMs: 30000,
    });
    assert.equal(announced.text, `ok ${3 * MIB}`);
  });

  test("a worker's own JavaScript stream may reach the limit but not pass it", async () => {
    assert.equal((await get('buffering', `/js-stream?catch=1&bytes=${LIMIT}`)).text, `ok ${LIMIT}`);
    assert.equal((await get('buffering', `/js-stream?catch=1&bytes=${LIMIT + 1}`)).text, `TypeError: ${EXCEEDED}`);
  });

  test('a buffered body of limit bytes would exceed it', async () => {
    const res = await get('buffering', `/buffered?catch=1&method=arrayBuffer&bytes=${LIMIT}`);
    assert.equal(res.text, `TypeError: ${WOULD_EXCEED}`);
  });

  test('the worker keeps serving after all of that', async () => {
    const res = await partialUpload('/request?catch=1', 5, 'hello');
    assert.equal(res.text, 'ok 5');
  });
});
