// Web APIs inside the isolate. Each fixture in test/fixtures/apis/ exercises some APIs and answers
// JSON; where the answer is deterministic the same script also runs on workerd (Cloudflare's real
// runtime) and the two answers must match (differential). One flarelet process serves every
// fixture; requests pick a worker with the Host header `<name>.localhost:PORT`.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createServer, request as rawRequest } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, httpRequest, projectRoot, startFlarelet } from '../support/flarelet.ts';
import type { FlareletHandle, HttpResult, TraceEvent } from '../support/flarelet.ts';
import { startWorkerd } from '../support/workerd.ts';
import type { WorkerdHandle } from '../support/workerd.ts';

const fixtures = join(projectRoot, 'test', 'fixtures', 'apis');
const fixture = (name: string) => readFile(join(fixtures, name), 'utf8');

// ---------------------------------------------------------------------------------------------
// a local origin for subrequests

const COOKIES = ['a=1; Path=/', 'b=2; HttpOnly', 'c=3; Expires=Wed, 21 Oct 2026 07:28:00 GMT'];

function readAll(req: IncomingMessage): Promise<Buffer> {
  return new Promise((done, fail) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => done(Buffer.concat(chunks)));
    req.on('error', fail);
  });
}

async function startUpstream(): Promise<{ url: string; server: Server; rawBodies: { length: number; sha256: string }[] }> {
  const rawBodies: { length: number; sha256: string }[] = [];
  const server = createServer(async (req, res) => {
    const body = await readAll(req);
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/echo') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          method: req.method,
          url: req.url,
          xTest: req.headers['x-test'] ?? null,
          contentType: req.headers['content-type'] ?? null,
          body: body.toString('utf8'),
        }),
      );
    } else if (path === '/raw') {
      const sha256 = createHash('sha256').update(body).digest('hex');
      rawBodies.push({ length: body.length, sha256 });
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-length': String(body.length) });
      res.end(body);
    } else if (path === '/cookies') {
      res.writeHead(200, { 'content-type': 'text/plain', 'set-cookie': COOKIES });
      res.end('cookies');
    } else if (path === '/hop1') {
      res.writeHead(302, { location: '/hop2' });
      res.end();
    } else if (path === '/hop2') {
      res.writeHead(307, { location: '/final' });
      res.end();
    } else if (path === '/final') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('landed');
    } else {
      res.writeHead(404);
      res.end('no such path');
    }
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return { url: `http://127.0.0.1:${port}`, server, rawBodies };
}

// ---------------------------------------------------------------------------------------------
// helpers

function json(res: HttpResult, what: string): any {
  assert.equal(res.status, 200, `${what}: status (body ${res.text.slice(0, 500)})`);
  assert.match(String(res.headers['content-type']), /^application\/json/, `${what}: content-type`);
  return JSON.parse(res.text);
}

/** Resolves with the first trace event matching `pred` (events arrive asynchronously). */
async function waitForEvent(f: FlareletHandle, pred: (e: TraceEvent) => boolean, timeoutMs: number): Promise<TraceEvent> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = f.events.find(pred);
    if (found) return found;
    if (Date.now() > deadline) {
      throw new Error(`no matching trace event within ${timeoutMs} ms; events: ${JSON.stringify(f.events, null, 1)}\nstderr:\n${f.stderr()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

const pathOf = (ev: TraceEvent) => new URL(ev.event.request.url).pathname;

/** A multipart body built by Node's own FormData (undici), as a browser would send it. */
async function multipart(): Promise<{ body: Buffer; contentType: string }> {
  const form = new FormData();
  form.append('name', 'ana');
  form.append('name', 'bo');
  form.append('up', new File(['file body'], 'a.txt', { type: 'text/plain' }));
  const req = new Request('http://localhost/', { method: 'POST', body: form });
  return { body: Buffer.from(await req.arrayBuffer()), contentType: req.headers.get('content-type')! };
}

// ---------------------------------------------------------------------------------------------

describe('web APIs inside the isolate', () => {
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let deadUrl: string;
  let f: FlareletHandle;
  let wdApis: WorkerdHandle;
  let wdSub: WorkerdHandle;

  before(async () => {
    upstream = await startUpstream();
    deadUrl = `http://127.0.0.1:${await freePort()}`;
    const vars = { UPSTREAM: upstream.url, DEAD: deadUrl };
    [f, wdApis, wdSub] = await Promise.all([
      startFlarelet({
        entries: ['test/fixtures/apis/web-apis.js', 'test/fixtures/apis/subrequests.js', 'test/fixtures/apis/streaming.js'],
        // Streaming 200 chunks through the polyfilled streams costs more than the default 50 ms
        // of CPU; these tests are about the APIs, limits.test.ts about the limit.
        args: ['--var', `UPSTREAM=${vars.UPSTREAM}`, '--var', `DEAD=${vars.DEAD}`, '--no-watch', '--cpu-ms', '2000'],
      }),
      startWorkerd({ format: 'module', script: await fixture('web-apis.js') }),
      startWorkerd({ format: 'module', script: await fixture('subrequests.js'), vars }),
    ]);
  });
  after(async () => {
    await Promise.all([f?.stop(), wdApis?.stop(), wdSub?.stop()]);
    upstream?.server.closeAllConnections();
    await new Promise<void>((done) => (upstream ? upstream.server.close(() => done()) : done()));
  });

  const at = (worker: string, path: string, init: Parameters<typeof httpRequest>[1] = {}) =>
    httpRequest(`${f.url}${path}`, { ...init, headers: { ...(init.headers ?? {}), host: `${worker}.localhost:${f.port}` } });

  /** The same request to flarelet and to workerd; both answers parsed as JSON. */
  async function both(worker: 'web-apis' | 'subrequests', path: string, init: Parameters<typeof httpRequest>[1] = {}) {
    const wd = worker === 'web-apis' ? wdApis : wdSub;
    const [mine, ref] = await Promise.all([at(worker, path, init), httpRequest(`${wd.url}${path}`, init)]);
    return { mine: json(mine, `flarelet ${path}`), ref: json(ref, `workerd ${path}`) };
  }

  // ---- fetch subrequests ----------------------------------------------------------------------

  test('fetch: method, headers and a request body reach the origin; the JSON answer is read', async () => {
    const { mine, ref } = await both('subrequests', '/method');
    assert.deepEqual(mine, {
      status: 200,
      echo: { method: 'PUT', url: '/echo?x=1', xTest: 'one', contentType: 'text/plain', body: 'hello upstream' },
      type: 'application/json',
    });
    assert.deepEqual(mine, ref);
  });

  test('fetch: a 5 MB POST body streams through the worker to the origin and back intact', async () => {
    const payload = randomBytes(5 * 1024 * 1024);
    const sha = createHash('sha256').update(payload).digest('hex');
    for (const [who, send] of [
      ['workerd', () => httpRequest(`${wdSub.url}/big`, { method: 'POST', body: payload, timeoutMs: 60_000 })],
      ['flarelet', () => at('subrequests', '/big', { method: 'POST', body: payload, timeoutMs: 60_000 })],
    ] as const) {
      const before = upstream.rawBodies.length;
      const res = await send();
      assert.equal(res.status, 200, `${who}: status`);
      assert.equal(res.body.length, payload.length, `${who}: echoed length`);
      assert.equal(createHash('sha256').update(res.body).digest('hex'), sha, `${who}: echoed bytes`);
      assert.equal(res.headers['x-upstream-length'], String(payload.length), `${who}: origin saw the whole body`);
      assert.deepEqual(upstream.rawBodies[before], { length: payload.length, sha256: sha }, `${who}: origin got the same bytes`);
    }
  });

  test('fetch: every set-cookie of the origin is kept apart by getSetCookie()', async () => {
    const { mine, ref } = await both('subrequests', '/cookies');
    assert.deepEqual(mine.cookies, COOKIES);
    assert.equal(mine.joined, COOKIES.join(', '));
    assert.deepEqual(mine, ref);
  });

  test('fetch: redirects are followed by default; redirect: "manual" returns the 3xx', async () => {
    const followed = await both('subrequests', '/redirect');
    assert.deepEqual(followed.mine, { status: 200, redirected: true, path: '/final', body: 'landed' });
    assert.deepEqual(followed.mine, followed.ref);
    const manual = await both('subrequests', '/manual');
    assert.deepEqual(manual.mine, { status: 302, redirected: false, location: '/hop2' });
    assert.deepEqual(manual.mine, manual.ref);
  });

  test('fetch: a refused connection rejects with "Network connection lost."', async () => {
    const { mine, ref } = await both('subrequests', '/refused');
    assert.deepEqual(mine, { name: 'Error', message: 'Network connection lost.' });
    assert.deepEqual(mine, ref);
  });

  // ---- streaming and disconnects ----------------------------------------------------------------

  test('a streamed response arrives incrementally: first bytes long before the last chunk is made', async () => {
    const started = Date.now();
    const { firstAt, endAt, body, firstChunk } = await new Promise<{ firstAt: number; endAt: number; body: string; firstChunk: string }>(
      (done, fail) => {
        const req = rawRequest(`${f.url}/stream`, { headers: { host: `streaming.localhost:${f.port}` }, agent: false });
        req.setTimeout(30_000, () => req.destroy(new Error('stream timed out')));
        req.on('error', fail);
        req.on('response', (res) => {
          let firstAt = 0;
          let firstChunk = '';
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            if (!firstAt) {
              firstAt = Date.now();
              firstChunk = c;
            }
            body += c;
          });
          res.on('end', () => done({ firstAt, endAt: Date.now(), body, firstChunk }));
          res.on('error', fail);
        });
        req.end();
      },
    );
    const lines = body.split('\n').filter(Boolean);
    assert.equal(lines.length, 200, 'all 200 chunks arrive');
    assert.deepEqual(lines, Array.from({ length: 200 }, (_, i) => `chunk ${String(i).padStart(3, '0')}`), 'in order, intact');
    assert.ok(!firstChunk.includes('chunk 199'), 'the first bytes do not wait for the last chunk');
    // 200 chunks with a 10 ms timer between them take ≥ 2 s to produce
    assert.ok(endAt - started >= 1500, `the stream took ${endAt - started} ms`);
    assert.ok(endAt - firstAt >= 1000, `first bytes came ${endAt - firstAt} ms before the end (want ≥ 1000)`);
  });

  test('request.signal aborts when the client disconnects (the worker logs it)', async () => {
    await new Promise<void>((done) => {
      const req = rawRequest(`${f.url}/wait-abort`, { headers: { host: `streaming.localhost:${f.port}` }, agent: false });
      req.on('error', () => done());
      req.on('response', () => done());
      req.end();
      // the worker has started waiting once its first log line is in (the trace comes at the end,
      // so give it a moment), then hang up
      setTimeout(() => {
        req.destroy();
        done();
      }, 700);
    });
    const ev = await waitForEvent(f, (e) => pathOf(e) === '/wait-abort', 10_000);
    const messages = ev.logs.map((l: { message: unknown[] }) => l.message);
    assert.deepEqual(messages[0], ['waiting', false]);
    assert.deepEqual(messages, [
      ['waiting', false],
      ['aborted', 'AbortError', 'The client has disconnected'],
    ]);
    assert.equal(ev.outcome, 'canceled');
  });

  // ---- timers, microtasks ----------------------------------------------------------------------

  test('timers: setTimeout order, clearTimeout, setInterval + clearInterval, queueMicrotask', async () => {
    const { mine, ref } = await both('web-apis', '/timers');
    assert.deepEqual(mine, {
      firstThree: ['sync', 'micro', 'promise'],
      timeouts: ['t0', 't10', 't30'],
      ticks: 3,
      tickEntries: ['tick1', 'tick2', 'tick3'],
      cancelledRan: false,
      timerIdType: 'number',
    });
    assert.deepEqual(mine, ref);
  });

  // ---- crypto ----------------------------------------------------------------------------------

  test('crypto.subtle: digest, HMAC, AES-GCM, ECDSA, exportKey jwk — same answers as workerd', async () => {
    const { mine, ref } = await both('web-apis', '/crypto');
    assert.equal(mine.sha256, 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    assert.equal(mine.sha1, 'a9993e364706816aba3e25717850c26c9cd0d89d');
    assert.equal(mine.hmac, createHmac('sha256', 'secret').update('message').digest('hex'));
    assert.equal(mine.macOk, true);
    assert.equal(mine.macBad, false);
    assert.equal(mine.aes.opened, 'attack at dawn');
    assert.equal(mine.aes.tamperError, 'OperationError');
    assert.deepEqual(mine.ecdsa, {
      sigLength: 64,
      sigOk: true,
      sigBad: false,
      privateType: 'private',
      publicType: 'public',
      jwkKeys: ['crv', 'ext', 'key_ops', 'kty', 'x', 'y'],
      kty: 'EC',
      crv: 'P-256',
      xLength: 43,
    });
    // every operation resolves to an ArrayBuffer (WebCrypto), not a typed array
    assert.deepEqual(mine.resultTypes, {
      digest: '[object ArrayBuffer]',
      sign: '[object ArrayBuffer]',
      encrypt: '[object ArrayBuffer]',
      decrypt: '[object ArrayBuffer]',
      exportRaw: '[object ArrayBuffer]',
    });
    // A JWK's member order is not part of any contract: compare members, not their order.
    const sortKeys = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
    mine.aes.jwk = sortKeys(mine.aes.jwk);
    ref.aes.jwk = sortKeys(ref.aes.jwk);
    assert.deepEqual(mine, ref);
  });

  test('crypto.getRandomValues and randomUUID', async () => {
    const { mine, ref } = await both('web-apis', '/random');
    assert.deepEqual(mine, {
      sameArray: true,
      notAllZero: true,
      u32Length: 4,
      uuidShape: true,
      uuidsDiffer: true,
      tooBig: 'QuotaExceededError',
      floats: 'TypeMismatchError',
    });
    assert.deepEqual(mine, ref);
  });

  // ---- the rest, each compared with workerd -----------------------------------------------------

  const expected: Record<string, unknown> = {
    '/clone': {
      distinct: true,
      cycle: true,
      date: true,
      map: true,
      set: [1, 2],
      bytes: [1, 2, 3],
      arr: [1, 2, { deep: true }],
      fnError: 'DataCloneError',
    },
    '/base64': {
      btoa: 'aGVsbG8sIHdvcmxk',
      atob: 'hello, world',
      binary: 'AP+A',
      roundTrip: true,
      badBtoa: 'InvalidCharacterError',
      badAtob: 'InvalidCharacterError',
    },
    '/navigator': { userAgent: 'Cloudflare-Workers' },
    '/headers': {
      getSetCookie: ['a=1; Path=/', 'b=2'],
      joinedCookie: 'a=1; Path=/, b=2',
      multi: 'one, two',
      entries: [
        ['set-cookie', 'a=1; Path=/'],
        ['set-cookie', 'b=2'],
        ['x-multi', 'one, two'],
      ],
      has: true,
    },
  };
  for (const path of ['/clone', '/base64', '/encoding', '/url', '/abort', '/events', '/blob', '/responses', '/headers', '/navigator']) {
    test(`${path.slice(1)}: same answer as workerd`, async () => {
      const { mine, ref } = await both('web-apis', path);
      if (expected[path]) assert.deepEqual(mine, expected[path]);
      assert.deepEqual(mine, ref);
    });
  }

  test('encoding, URL, AbortController, events, Blob, Response statics: spot checks', async () => {
    const get = async (p: string) => json(await at('web-apis', p), p);
    const enc = await get('/encoding');
    assert.equal(enc.decoded, 'héllo €');
    assert.equal(enc.part, '€');
    assert.deepEqual(enc.into, { read: 3, written: 4 });
    assert.equal(enc.replacement, 'a\ufffdb');
    assert.equal(enc.fatal, 'TypeError');
    const url = await get('/url');
    assert.equal(url.href, 'https://user:pw@example.com:8080/b/c?x=1&y=two&z=a+b%26c#frag');
    assert.equal(url.sorted, 'a=1&a=3&b=2');
    assert.equal(url.relative, 'https://h.test/one/up?q');
    assert.equal(url.idn, 'xn--mnchen-3ya.de');
    assert.equal(url.invalid, true);
    const abort = await get('/abort');
    assert.deepEqual(abort.seen, ['abort', 'onabort']);
    assert.deepEqual(abort.reason, { name: 'AbortError', message: 'The operation was aborted', isDOMException: true });
    assert.equal(abort.custom, 'because');
    assert.deepEqual(abort.timed, { aborted: true, name: 'TimeoutError' });
    const events = await get('/events');
    assert.deepEqual(events.log, ['once', 'ping:true', 'obj:true', 'ping:false', 'obj:true', 'first']);
    assert.equal(events.result, false);
    const blob = await get('/blob');
    assert.equal(blob.text, 'abcd');
    assert.equal(blob.type, 'text/plain');
    assert.equal(blob.sliced, 'bc');
    assert.equal(blob.streamed, 'abcd');
    const responses = await get('/responses');
    assert.deepEqual(responses.json, { status: 201, type: 'application/json', h: 'v', body: '{"a":1}' });
    assert.deepEqual(responses.redirect, { status: 301, location: 'https://example.com/next' });
    assert.deepEqual(responses.error, { type: 'error', status: 0 });
    assert.equal(responses.badRedirect, 'RangeError');
  });

  test('request.formData() parses a multipart POST built by Node\'s FormData', async () => {
    const { body, contentType } = await multipart();
    const init = { method: 'POST', body, headers: { 'content-type': contentType } };
    const { mine, ref } = await both('web-apis', '/formdata', init);
    assert.deepEqual(mine.received, {
      name: ['ana', 'bo'],
      up: [{ file: true, name: 'a.txt', type: 'text/plain', text: 'file body' }],
    });
    assert.deepEqual(mine.built, { a: ['1', '2'], hasB: true, bName: 'b.bin', keys: ['a', 'a', 'b'] });
    assert.deepEqual(mine, ref);
  });

  // ---- bad input ---------------------------------------------------------------------------------

  test('bad input gives the documented errors inside the worker and the host keeps serving', async () => {
    const { mine, ref } = await both('web-apis', '/bad-input', { method: 'POST', body: 'some body' });
    assert.deepEqual(mine.body, {
      name: 'TypeError',
      message: 'Body has already been used. It can only be used once. Use tee() first if you need to read it twice.',
      isTypeError: true,
    });
    assert.equal(mine.used, true);
    assert.equal(mine.header.name, 'TypeError');
    assert.equal(mine.header.message, 'Invalid header name.');
    assert.equal(mine.headerSet.name, 'TypeError');
    assert.equal(mine.url.name, 'TypeError');
    assert.equal(mine.url.message, 'Invalid URL: not a url');
    assert.equal(mine.status.name, 'RangeError');
    assert.equal(mine.status.message, 'Responses may only be constructed with status codes in the range 200 to 599, inclusive.');
    assert.equal(mine.nullBodyStatus.name, 'TypeError');
    assert.deepEqual(mine, ref);

    // uncaught, the same error fails only that request
    const [failed, refFailed] = await Promise.all([at('web-apis', '/uncaught'), httpRequest(`${wdApis.url}/uncaught`)]);
    assert.equal(refFailed.status, 500);
    assert.equal(failed.status, 500);
    assert.equal(failed.text, 'error code: 1101');
    const ev = await waitForEvent(f, (e) => pathOf(e) === '/uncaught', 10_000);
    assert.equal(ev.outcome, 'exception');
    assert.equal(ev.exceptions[0]?.name, 'RangeError');

    const again = json(await at('web-apis', '/navigator'), 'after bad input');
    assert.deepEqual(again, { userAgent: 'Cloudflare-Workers' });
    const other = json(await at('subrequests', '/method'), 'another worker after bad input');
    assert.equal(other.status, 200);
  });
});
