// Request and Response as the guest sees them. Expected texts and behaviours were checked by
// running the same code on workerd (compatibility date 2025-06-01).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReadableStream } from 'web-streams-polyfill';
import { Request, createIncomingRequest } from '../../src/guest/request.ts';
import { Response, createIncomingResponse } from '../../src/guest/response.ts';
import { takeBodyForTransfer, BODY_USED_MESSAGE } from '../../src/guest/body.ts';
import { headersToList } from '../../src/guest/headers.ts';

const typeError = (message: string) => ({ name: 'TypeError', message });
const rangeError = (message: string) => ({ name: 'RangeError', message });

function streamOf(text: string): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new TextEncoder().encode(text));
      c.close();
    },
  });
}

// --- Request -----------------------------------------------------------------------------------

test('Request defaults match workerd', () => {
  const r = new Request('HTTP://X.com/a b?c d#e f');
  assert.equal(r.url, 'http://x.com/a%20b?c%20d#e%20f');
  assert.equal(r.method, 'GET');
  assert.equal(r.redirect, 'follow');
  assert.equal(r.fetcher, null);
  assert.equal(r.integrity, '');
  assert.equal(r.keepalive, false);
  assert.equal(r.cache, undefined);
  assert.equal(r.cf, undefined);
  assert.equal(r.body, null);
  assert.equal(r.bodyUsed, false);
  assert.equal(r.signal.aborted, false);
  assert.equal(r.signal, r.signal);
  assert.equal(Object.prototype.toString.call(r), '[object Request]');
  r.headers.set('a', 'b'); // headers of a constructed Request are mutable
});

test('Request URL and method validation', () => {
  assert.throws(() => new Request('/foo'), typeError('Invalid URL: /foo'));
  assert.throws(() => new Request('http://'), typeError('Invalid URL: http://'));
  assert.equal(new Request('http://x/', { method: 'patch' }).method, 'PATCH');
  assert.equal(new Request('http://x/', { method: 'propfind' }).method, 'PROPFIND');
  assert.equal(new Request('http://x/', { method: 'get' }).method, 'GET');
  assert.throws(() => new Request('http://x/', { method: 'FOO' }), typeError('Invalid HTTP method string: FOO'));
  assert.throws(() => new Request('http://x/', { method: 'foo' }), typeError('Invalid HTTP method string: foo'));
  assert.throws(() => new Request('http://x/', { method: 'CONNECT' }), typeError('Invalid HTTP method string: CONNECT'));
});

test('Request init errors carry workerd\'s texts', () => {
  const u = 'http://x/';
  assert.throws(() => new Request(u, { body: 'x' }), typeError('Request with a GET or HEAD method cannot have a body.'));
  assert.throws(() => new Request(u, { method: 'HEAD', body: 'x' }), typeError('Request with a GET or HEAD method cannot have a body.'));
  assert.equal(new Request(u, { body: null }).body, null);
  for (const redirect of ['error', 'foo']) {
    assert.throws(() => new Request(u, { redirect }), typeError(
      'Invalid redirect value, must be one of "follow" or "manual" ("error" won\'t be implemented since it does not make sense at the edge; use "manual" and check the response status code).'));
  }
  assert.equal(new Request(u, { redirect: 'manual' }).redirect, 'manual');
  assert.throws(() => new Request(u, { integrity: 'sha' }), typeError(
    'Subrequest integrity checking is not implemented. The integrity option must be either undefined or an empty string.'));
  assert.equal(new Request(u, { cache: 'no-store' }).cache, 'no-store');
  assert.throws(() => new Request(u, { cache: 'no-cache' }), typeError('Unsupported cache mode: no-cache'));
  for (const cf of ['abc', null]) {
    assert.throws(() => new Request(u, { cf: cf as never }), typeError(
      "Incorrect type for the 'cf' field on 'RequestInitializerDict': the provided value is not of type 'Object'."));
  }
});

test('Request cf is deep-copied once and then stable', () => {
  const cf = { a: { b: 1 } };
  const r = new Request('http://x/', { cf });
  assert.deepEqual(r.cf, cf);
  assert.notEqual(r.cf, cf);
  assert.equal(r.cf, r.cf);
});

test('Request body content types and reading', async () => {
  const r = new Request('http://x/', { method: 'POST', body: 'hello' });
  assert.equal(r.headers.get('content-type'), 'text/plain;charset=UTF-8');
  assert.equal(await r.text(), 'hello');
  assert.equal(r.bodyUsed, true);
  await assert.rejects(r.text(), typeError(BODY_USED_MESSAGE));
});

test('new Request(request) takes the body; the old one reads as used', async () => {
  const old = new Request('http://x/', { method: 'POST', body: 'abc', headers: { 'x-a': '1' } });
  const next = new Request(old, { headers: { 'x-b': '2' } });
  assert.equal(old.bodyUsed, true);
  assert.equal(next.method, 'POST');
  assert.equal(next.headers.get('x-b'), '2');
  assert.equal(next.headers.get('x-a'), null);
  assert.equal(await next.text(), 'abc');
  await assert.rejects(old.text(), typeError(BODY_USED_MESSAGE));
  assert.throws(() => new Request(old), typeError('Cannot reconstruct a Request with a used body.'));

  const post = new Request('http://x/', { method: 'POST', body: 'abc' });
  assert.throws(() => new Request(post, { method: 'GET' }), typeError('Request with a GET or HEAD method cannot have a body.'));
  // A new body in init replaces the old one and leaves the old request untouched.
  const source = new Request('http://x/', { method: 'PUT', body: 'old' });
  const replaced = new Request(source, { body: 'new' });
  assert.equal(await replaced.text(), 'new');
  assert.equal(await source.text(), 'old');
  // A streamed body moves too.
  const streamed = new Request('http://x/', { method: 'POST', body: streamOf('s') });
  assert.equal(await new Request(streamed).text(), 's');
  assert.equal(streamed.bodyUsed, true);
});

test('Request.clone tees the body and keeps the header guard', async () => {
  const r = new Request('http://x/', { method: 'POST', body: 'abc', cf: { a: 1 } });
  const c = r.clone();
  assert.equal(await r.text(), 'abc');
  assert.equal(await c.text(), 'abc');
  assert.deepEqual(c.cf, { a: 1 });
  assert.notEqual(c.cf, r.cf);
  const used = new Request('http://x/', { method: 'POST', body: 'x' });
  await used.text();
  assert.throws(() => used.clone(), typeError('This ReadableStream is currently locked to a reader,'));
});

test('createIncomingRequest: immutable headers, host-fed body, no re-validation', async () => {
  const controller = new AbortController();
  const r = createIncomingRequest({
    url: 'http://localhost/p?q',
    method: 'POST',
    headersList: ['Content-Type', 'text/plain', 'X-Foo', 'bar'],
    body: streamOf('payload'),
    cf: { colo: 'LOC' },
    signal: controller.signal as never,
  });
  assert.equal(r.url, 'http://localhost/p?q');
  assert.equal(r.method, 'POST');
  assert.equal(r.redirect, 'manual');
  assert.deepEqual(r.cf, { colo: 'LOC' });
  assert.equal(r.signal, controller.signal);
  assert.equal(r.headers.get('x-foo'), 'bar');
  assert.throws(() => r.headers.set('x', 'y'), typeError("Can't modify immutable headers."));
  assert.throws(() => r.clone().headers.set('x', 'y'), typeError("Can't modify immutable headers."));
  new Request(r).headers.set('x', 'y'); // a rebuilt request gets mutable headers
  const bytesBody = createIncomingRequest({ url: 'http://a/', method: 'PUT', headersList: [], body: new Uint8Array([104, 105]) });
  assert.equal(await bytesBody.text(), 'hi');
  const none = createIncomingRequest({ url: 'http://a/', method: 'GET', headersList: [], body: null });
  assert.equal(none.body, null);
});

test('createIncomingRequest reads like Node\'s Request for the same input', async () => {
  const ours = createIncomingRequest({ url: 'http://a/x', method: 'POST', headersList: ['B', '2', 'a', '1'], body: streamOf('{"k":1}') });
  const node = new globalThis.Request('http://a/x', { method: 'POST', headers: [['B', '2'], ['a', '1']], body: '{"k":1}' });
  assert.deepEqual([...ours.headers], [...node.headers].filter(([k]) => k !== 'content-type'));
  assert.deepEqual(await ours.json(), await node.json());
});

// --- Response ----------------------------------------------------------------------------------

test('Response defaults match workerd', () => {
  const r = new Response('x');
  assert.equal(r.status, 200);
  assert.equal(r.statusText, '');
  assert.equal(r.ok, true);
  assert.equal(r.redirected, false);
  assert.equal(r.type, 'default');
  assert.equal(r.url, '');
  assert.equal(r.webSocket, null);
  assert.equal(r.cf, undefined);
  assert.equal(r.headers.get('content-type'), 'text/plain;charset=UTF-8');
  r.headers.set('a', 'b');
  assert.equal(new Response(null, { status: 200.5 }).status, 200);
  assert.equal(new Response(null, { status: 404 }).ok, false);
  assert.deepEqual(new Response('', { cf: { a: 1 } }).cf, { a: 1 });
});

test('Response status, statusText and null-body rules', () => {
  const range = rangeError('Responses may only be constructed with status codes in the range 200 to 599, inclusive.');
  for (const status of [600, 199, 101, 'abc', 65736]) {
    assert.throws(() => new Response(null, { status: status as number }), range);
  }
  assert.throws(() => new Response('x', { status: 204 }), typeError(
    'Response with null body status (101, 204, 205, or 304) cannot have a body.'));
  assert.throws(() => new Response(streamOf(''), { status: 304 }), typeError(
    'Response with null body status (101, 204, 205, or 304) cannot have a body.'));
  assert.equal(new Response('', { status: 204 }).body, null);
  assert.throws(() => new Response('x', { statusText: 'a\nb' }), typeError('Invalid statusText'));
  assert.equal(new Response('x', { statusText: 'é' }).statusText, 'é');
  const ws = {};
  assert.equal(new Response(null, { status: 101, webSocket: ws }).webSocket, ws);
  assert.throws(() => new Response(null, { status: 200, webSocket: ws }),
    rangeError('Responses with a WebSocket must have status code 101.'));
  assert.throws(() => new Response(null, { status: 101, webSocket: ws }).clone(),
    typeError('Cannot clone a response to a WebSocket handshake.'));
  assert.throws(() => new Response('', { cf: 'x' as never }), typeError(
    "Incorrect type for the 'cf' field on 'InitializerDict': the provided value is not of type 'Object'."));
});

test('Response from another Response as init copies its properties', () => {
  const a = new Response('x', { status: 201, statusText: 'hey', headers: { a: '1' } });
  const b = new Response('y', a);
  assert.deepEqual([b.status, b.statusText, b.headers.get('a'), b.headers.get('content-type')],
    [201, 'hey', '1', 'text/plain;charset=UTF-8']);
});

test('Response.redirect', () => {
  const r = Response.redirect('http://x/y', 301);
  assert.deepEqual([r.status, r.headers.get('location'), r.statusText, r.body], [301, 'http://x/y', '', null]);
  assert.equal(Response.redirect('http://x/').status, 302);
  assert.throws(() => r.headers.set('a', 'b'), typeError("Can't modify immutable headers."));
  assert.throws(() => Response.redirect('http://x/', 300), rangeError(
    '300 is not a redirect status code. It must be one of: 301, 302, 303, 307, or 308.'));
  assert.throws(() => Response.redirect('/foo'), typeError('Unable to parse URL: /foo'));
});

test('Response.error and Response.json', async () => {
  const e = Response.error();
  assert.deepEqual([e.status, e.type, e.statusText, e.ok, e.url, e.body], [0, 'error', '', false, '', null]);
  e.headers.set('a', 'b'); // workerd leaves these mutable
  const j = Response.json({ a: 1 }, { status: 201 });
  assert.equal(j.status, 201);
  assert.equal(j.headers.get('content-type'), 'application/json');
  assert.deepEqual(await j.json(), { a: 1 });
  assert.equal(Response.json({}, { headers: { 'content-type': 'x/y' } }).headers.get('content-type'), 'x/y');
  assert.equal(await Response.json(undefined).text(), 'undefined');
  assert.throws(() => Response.json(1n), { name: 'TypeError', message: 'Do not know how to serialize a BigInt' });
});

test('Response.clone and body transfer to the host', async () => {
  const r = new Response('abc', { headers: { 'X-A': '1' } });
  const c = r.clone();
  assert.equal(await c.text(), 'abc');
  const t = takeBodyForTransfer(r);
  assert.equal(t.kind === 'bytes' && new TextDecoder().decode(t.bytes), 'abc');
  assert.deepEqual(headersToList(r.headers), ['x-a', '1', 'content-type', 'text/plain;charset=UTF-8']);
});

test('createIncomingResponse: immutable headers, url list', async () => {
  const r = createIncomingResponse({
    status: 404, statusText: 'Not Found', headersList: ['Content-Type', 'text/html'], body: streamOf('<p>'),
    urlList: ['http://a/', 'http://b/'],
  });
  assert.deepEqual([r.status, r.statusText, r.ok, r.redirected, r.url], [404, 'Not Found', false, true, 'http://b/']);
  assert.throws(() => r.headers.set('a', 'b'), typeError("Can't modify immutable headers."));
  assert.equal(await r.text(), '<p>');
});
