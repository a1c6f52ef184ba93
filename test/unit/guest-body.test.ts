// Blob, File, FormData, multipart and the Body mixin (through Response, its simplest user).
// Expected error texts are workerd's, checked against workerd itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReadableStream } from 'web-streams-polyfill';
import { Blob, File, createFile } from '../../src/guest/blob.ts';
import {
  FormData, parseFormData, parseMultipart, parseUrlencoded, serializeMultipart, parseMimeType, serializeMimeType,
} from '../../src/guest/form-data.ts';
import { takeBodyForTransfer, BODY_USED_MESSAGE } from '../../src/guest/body.ts';
import { Response } from '../../src/guest/response.ts';

const enc = new globalThis.TextEncoder();
const typeError = (message: string) => ({ name: 'TypeError', message });

function streamOf(...chunks: unknown[]): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(c) {
      for (const chunk of chunks) c.enqueue(chunk as Uint8Array);
      c.close();
    },
  });
}

// --- Blob / File -------------------------------------------------------------------------------

test('Blob concatenates strings, buffers, views and blobs', async () => {
  const b = new Blob(['hé', new Uint8Array([33]).buffer, new Uint8Array([0, 63, 0]).subarray(1, 2), new Blob(['z'])],
    { type: 'Text/X' });
  assert.equal(b.size, 6);
  assert.equal(b.type, 'text/x');
  assert.equal(await b.text(), 'hé!?z');
  assert.deepEqual(await b.bytes(), new Uint8Array([0x68, 0xc3, 0xa9, 33, 63, 0x7a]));
  assert.equal((await b.arrayBuffer()).byteLength, 6);
  assert.equal(await new Blob([1, null, {}] as never).text(), '1null[object Object]');
});

test('Blob.slice follows workerd (negative and fractional bounds, type normalised)', async () => {
  const b = new Blob(['hello', new Uint8Array([33])], { type: 'TEXT/X' });
  const s = b.slice(-3, undefined, 'A/B');
  assert.equal(s.size, 3);
  assert.equal(s.type, 'a/b');
  assert.equal(await s.text(), 'lo!');
  assert.equal(await new Blob(['abcdef']).slice(1.7, -1.2).text(), 'bcde');
  assert.equal(new Blob(['abc']).slice(2, 1).size, 0);
});

test('Blob copies on the way out, so callers cannot change it', async () => {
  const b = new Blob(['abc']);
  const bytes = await b.bytes();
  bytes[0] = 0;
  assert.equal(await b.text(), 'abc');
  const chunks: Uint8Array[] = [];
  for await (const chunk of b.stream() as unknown as AsyncIterable<Uint8Array>) chunks.push(chunk);
  assert.equal(Buffer.concat(chunks).toString(), 'abc');
  assert.equal(await b.text(), 'abc');
});

test('Blob type rules and constructor errors', () => {
  assert.equal(new Blob([], { type: 'aé' }).type, '');
  assert.equal(new Blob([], { type: 'a\u0019' }).type, '');
  assert.throws(() => new Blob('abc' as never), typeError(
    "Failed to construct 'Blob': constructor parameter 1 is not of type 'Array'."));
  assert.throws(() => new Blob(['a'], { endings: 'native' }),
    { name: 'Error', message: "The 'endings' field on 'Options' is not implemented." });
});

test('File has name and lastModified', () => {
  const f = new File(['ab'], 'n.txt', { type: 't/x', lastModified: 5 });
  assert.deepEqual([f.name, f.size, f.type, f.lastModified, f instanceof Blob], ['n.txt', 2, 't/x', 5, true]);
  assert.equal(Object.prototype.toString.call(f), '[object File]');
  assert.equal(new File([], 'a', { lastModified: NaN }).lastModified, 0);
  assert.ok(Math.abs(new File([], 'a').lastModified - Date.now()) < 1000);
  assert.throws(() => new (File as unknown as new (p: unknown) => File)(['ab']), typeError(
    "Failed to construct 'File': constructor parameter 2 is not of type 'string'."));
});

// --- FormData ----------------------------------------------------------------------------------

test('FormData append/set/get/getAll/has/delete and Blob→File conversion', () => {
  const fd = new FormData();
  fd.append('a', new Blob(['x'], { type: 'text/q' }));
  fd.append('b', new File(['x'], 'q'), 'r');
  const same = new File(['y'], 'keep');
  fd.append('c', same);
  fd.append('d', 'one');
  fd.append('d', 'two');
  fd.append('e', 'x', 'ignored-for-strings');
  const a = fd.get('a') as File;
  assert.ok(a instanceof File);
  assert.equal(a.name, 'a'); // workerd names it after the field, not "blob"
  assert.equal(a.type, 'text/q');
  assert.equal((fd.get('b') as File).name, 'r');
  assert.equal(fd.get('c'), same);
  assert.deepEqual(fd.getAll('d'), ['one', 'two']);
  assert.equal(fd.get('e'), 'x');
  assert.equal(fd.get('nope'), null);
  fd.set('d', 'three');
  assert.deepEqual([...fd.keys()], ['a', 'b', 'c', 'd', 'e']);
  assert.deepEqual(fd.getAll('d'), ['three']);
  fd.delete('d');
  assert.equal(fd.has('d'), false);
  assert.throws(() => (fd.append as (n: string) => void)('x'), typeError(
    "Failed to execute 'append' on 'FormData': parameter 2 is not of type 'File or Blob or string'."));
});

test('serializeMultipart produces workerd\'s exact layout and escaping', () => {
  const fd = new FormData();
  fd.append('a"\n', 'x\r\ny');
  fd.append('f', new File(['hi'], 'a"b\n.txt', { type: 'text/x' }));
  fd.append('g', new Blob(['z']));
  const { bytes, contentType } = serializeMultipart(fd, 'BOUND');
  assert.equal(contentType, 'multipart/form-data; boundary=BOUND');
  assert.equal(Buffer.from(bytes).toString(),
    '--BOUND\r\nContent-Disposition: form-data; name="a%22%0A"\r\n\r\nx\r\ny\r\n' +
    '--BOUND\r\nContent-Disposition: form-data; name="f"; filename="a%22b%0A.txt"\r\nContent-Type: text/x\r\n\r\nhi\r\n' +
    '--BOUND\r\nContent-Disposition: form-data; name="g"; filename="g"\r\nContent-Type: application/octet-stream\r\n\r\nz\r\n' +
    '--BOUND--');
  const bad = new FormData();
  bad.append('a\\', 'x');
  assert.throws(() => serializeMultipart(bad), typeError("Name or filename can't end with backslash"));
  assert.match(serializeMultipart(new FormData()).contentType, /^multipart\/form-data; boundary=[0-9a-f]{32}$/);
});

test('multipart round trip keeps binary files intact', async () => {
  const binary = new Uint8Array(256);
  for (let i = 0; i < 256; i++) binary[i] = i;
  const fd = new FormData();
  fd.append('text', 'héllo\r\nworld');
  fd.append('bin', new File([binary], 'b.bin', { type: 'application/x-bin' }));
  const { bytes, contentType } = serializeMultipart(fd);
  const back = parseMultipart(bytes, contentType);
  assert.equal(back.get('text'), 'héllo\r\nworld');
  const file = back.get('bin') as File;
  assert.equal(file.name, 'b.bin');
  assert.equal(file.type, 'application/x-bin');
  assert.deepEqual(await file.bytes(), binary);
});

test('parses the multipart body Node itself produces', async () => {
  const nodeForm = new globalThis.FormData();
  nodeForm.append('fi"eld', 'value "quoted"\r\n');
  nodeForm.append('upload', new globalThis.Blob([new Uint8Array([0, 13, 10, 45, 45, 255])], { type: 'image/png' }), 'pic.png');
  const nodeResponse = new globalThis.Response(nodeForm);
  const contentType = nodeResponse.headers.get('content-type')!;
  const bytes = new Uint8Array(await nodeResponse.arrayBuffer());
  const fd = parseFormData(bytes, contentType);
  // Node escapes '"' in names as %22; workerd's parser (and so ours) leaves the escape in place.
  assert.equal(fd.get('fi%22eld'), 'value "quoted"\r\n');
  const file = fd.get('upload') as File;
  assert.equal(file.name, 'pic.png');
  assert.equal(file.type, 'image/png');
  assert.deepEqual(await file.bytes(), new Uint8Array([0, 13, 10, 45, 45, 255]));
});

test('multipart parse errors carry workerd\'s texts', () => {
  const parse = (body: string, ct = 'multipart/form-data; boundary=b') => parseFormData(enc.encode(body), ct);
  assert.throws(() => parse('x', 'multipart/form-data'), typeError(
    "No boundary string in Content-Type header. The multipart/form-data MIME type requires a boundary parameter, e.g. 'Content-Type: multipart/form-data; boundary=\"abcd\"'. See RFC 7578, section 4."));
  assert.throws(() => parse('x'), typeError('No initial boundary string (or you have a truncated message).'));
  assert.throws(() => parse(''), typeError('No initial boundary string (or you have a truncated message).'));
  assert.throws(() => parse('--bX\r\n'), typeError("Boundary string was not succeeded by CRLF, LF, or '--'."));
  assert.throws(() => parse('--b\r\nContent-Disposition: form-data; name="a"\r\n'),
    typeError('No multipart message header termination found.'));
  assert.throws(() => parse('--b\r\nContent-Disposition form-data\r\n\r\nhello\r\n--b--'),
    typeError('FormData part had invalid headers.'));
  assert.throws(() => parse('--b\r\nContent-Type: text/q\r\n\r\nhello\r\n--b--\r\n'),
    typeError('No valid Content-Disposition header found in FormData part.'));
  assert.throws(() => parse('--b\r\nContent-Disposition: attachment; name="a"\r\n\r\nhello\r\n--b--'), typeError(
    'Content-Disposition header for FormData part must have the value "form-data", possibly followed by parameters. Got: "attachment"'));
  assert.throws(() => parse('--b\r\nContent-Disposition: form-data\r\n\r\nhello\r\n--b--\r\n'),
    typeError('Content-Disposition header in FormData part is missing a name.'));
  assert.throws(() => parse('--b\r\nContent-Disposition: form-data; name=a\r\n\r\nhello\r\n--b--'),
    typeError('Content-Disposition header in FormData part is missing a name.'));
  assert.throws(() => parse('--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nhello\r\n'),
    typeError('No subsequent boundary string after multipart message.'));
  assert.throws(() => parse('a=1', 'text/plain'), typeError(
    'Unrecognized Content-Type header value. FormData can only parse the following MIME types: multipart/form-data, application/x-www-form-urlencoded'));
  assert.throws(() => parse('a=1', 'application/x-www-form-urlencoded; charset=latin1'),
    typeError('Non-utf-8 application/x-www-form-urlencoded body.'));
});

test('multipart parsing details: quoted boundary, escapes, empty filename, LF-only', async () => {
  const parse = (body: string, ct = 'multipart/form-data; boundary=b') => parseFormData(enc.encode(body), ct);
  assert.deepEqual([...parse('--b c\r\nContent-Disposition: form-data; name="a"\r\n\r\nhello\r\n--b c--',
    'multipart/form-data; boundary="b c"')], [['a', 'hello']]);
  assert.deepEqual([...parse('--b\r\nContent-Disposition: form-data; name="a\\"q%22"\r\n\r\nhello\r\n--b--')],
    [['a"q%22', 'hello']]);
  assert.equal(typeof parse('--b\r\nContent-Disposition: form-data; name="a"; filename=""\r\n\r\nhello\r\n--b--').get('a'), 'string');
  assert.deepEqual([...parse('--b\nContent-Disposition: form-data; name="a"\n\nline\n--b--')], [['a', 'line']]);
  const f = parse('--b\r\nContent-Disposition: form-data; name="f"; filename="x.txt"\r\nContent-Type: text/q\r\n\r\nhello\r\n--b\r\nContent-Disposition: form-data; name="g"\r\n\r\nv\r\n--b--\r\n');
  assert.equal((f.get('f') as File).name, 'x.txt');
  assert.equal(await (f.get('f') as File).text(), 'hello');
  assert.equal(f.get('g'), 'v');
});

test('urlencoded parsing', () => {
  assert.deepEqual([...parseUrlencoded(enc.encode('a=1&b=%20x+y&a=2&c'))], [['a', '1'], ['b', ' x y'], ['a', '2'], ['c', '']]);
});

test('MIME types parse and serialise canonically', () => {
  const m = parseMimeType('Text/Plain; Charset=UTF-8; x="a b"')!;
  assert.equal(serializeMimeType(m), 'text/plain;charset=UTF-8;x="a b"');
  assert.equal(parseMimeType('nonsense'), null);
  assert.equal(parseMimeType('a b/c'), null);
});

// --- Body ---------------------------------------------------------------------------------------

test('a buffered body is read without ever creating a stream', async () => {
  const r = new Response('hello');
  assert.equal(r.bodyUsed, false);
  const t = takeBodyForTransfer(r);
  assert.equal(t.kind, 'bytes');
  assert.equal(t.kind === 'bytes' && Buffer.from(t.bytes).toString(), 'hello');
  assert.equal(r.bodyUsed, true);
  assert.throws(() => takeBodyForTransfer(r), typeError(BODY_USED_MESSAGE));
  assert.deepEqual(takeBodyForTransfer(new Response(null)), { kind: 'none' });
  const s = new Response(streamOf(new Uint8Array([1])));
  const ts = takeBodyForTransfer(s);
  assert.equal(ts.kind, 'stream');
  assert.equal(s.bodyUsed, true);
});

test('text/json/arrayBuffer/bytes/blob read the body once', async () => {
  assert.equal(await new Response('héllo').text(), 'héllo');
  assert.deepEqual(await new Response('{"a":[1]}').json(), { a: [1] });
  assert.deepEqual(new Uint8Array(await new Response(new Uint8Array([1, 2, 3])).arrayBuffer()), new Uint8Array([1, 2, 3]));
  assert.deepEqual(await new Response('ab').bytes(), new Uint8Array([97, 98]));
  const blob = await new Response('x', { headers: { 'content-type': 'Text/Plain; Charset=UTF-8' } }).blob();
  assert.equal(blob.type, 'text/plain;charset=UTF-8');
  assert.equal(await blob.text(), 'x');
  await assert.rejects(new Response('{x').json(), { name: 'SyntaxError' });

  for (const method of ['text', 'arrayBuffer', 'bytes', 'json', 'blob', 'formData'] as const) {
    const r = new Response('x');
    await r.text();
    await assert.rejects(r[method](), typeError(BODY_USED_MESSAGE), method);
  }
  const streamed = new Response(streamOf(enc.encode('ab'), enc.encode('c')));
  assert.equal(await streamed.text(), 'abc');
  await assert.rejects(streamed.text(), typeError(BODY_USED_MESSAGE));
});

test('a null body reads as empty and stays unused', async () => {
  const r = new Response(null);
  assert.equal(r.body, null);
  assert.equal(await r.text(), '');
  assert.equal(r.bodyUsed, false);
});

test('.body is created lazily, is stable, and reports use', async () => {
  const r = new Response('abc');
  const body = r.body!;
  assert.equal(r.body, body);
  assert.equal(r.bodyUsed, false);
  const reader = body.getReader();
  assert.equal(r.bodyUsed, false); // locking alone does not use it
  await assert.rejects(r.text(), typeError('This ReadableStream is currently locked to a reader.'));
  const { value } = await reader.read();
  assert.equal(Buffer.from(value!).toString(), 'abc');
  assert.equal(r.bodyUsed, true);
  // After text() on a buffered body, .body is a used, locked stream (as in workerd).
  const t = new Response('x');
  await t.text();
  assert.equal(t.body!.locked, true);
  assert.equal(t.bodyUsed, true);
});

test('a stream chunk that is not bytes is rejected with workerd\'s text', async () => {
  await assert.rejects(new Response(streamOf('str')).text(), typeError('This ReadableStream did not return bytes.'));
});

test('a disturbed or locked stream cannot become a body', async () => {
  const locked = streamOf(new Uint8Array([1]));
  locked.getReader();
  assert.throws(() => new Response(locked), typeError('This ReadableStream is locked to a reader, and cannot be used as a body.'));
  const disturbed = streamOf(new Uint8Array([1]));
  const reader = disturbed.getReader();
  await reader.read();
  reader.releaseLock();
  assert.throws(() => new Response(disturbed), typeError(
    'This ReadableStream is disturbed (has already been read from), and cannot be used as a body.'));
});

test('clone tees streams and shares buffers without aliasing', async () => {
  const r = new Response(streamOf(enc.encode('ab'), enc.encode('cd')));
  const c = r.clone();
  assert.equal(await c.text(), 'abcd');
  assert.equal(await r.text(), 'abcd');
  const b = new Response(new Uint8Array([1, 2]));
  const bc = b.clone();
  const first = await b.bytes();
  first[0] = 9;
  assert.deepEqual(await bc.bytes(), new Uint8Array([1, 2]));
  const used = new Response('x');
  await used.text();
  assert.throws(() => used.clone(), typeError('This ReadableStream is currently locked to a reader,'));
});

test('content types set by body kind, never overriding an explicit one', async () => {
  const fd = new FormData();
  fd.append('a', 'b');
  const ct = (body: unknown, init?: object) => new Response(body as never, init).headers.get('content-type');
  assert.equal(ct('x'), 'text/plain;charset=UTF-8');
  assert.equal(ct(new URLSearchParams('a=1')), 'application/x-www-form-urlencoded;charset=UTF-8');
  assert.equal(ct(new Blob(['a'], { type: 'Text/HTML' })), 'text/html');
  assert.equal(ct(new Blob(['a'])), null);
  assert.equal(ct(new Uint8Array([1])), null);
  assert.match(ct(fd)!, /^multipart\/form-data; boundary=[0-9a-f]{32}$/);
  assert.equal(ct('x', { headers: { 'content-type': 'a/b' } }), 'a/b');
  assert.equal(await new Response({ a: 1 } as never).text(), '[object Object]');
  assert.equal(await new Response(5 as never).text(), '5');
});

test('formData() parses both encodings and needs a Content-Type', async () => {
  const fd = new FormData();
  fd.append('a', 'b');
  fd.append('f', createFile(enc.encode('data'), 'f.txt', 'text/plain'));
  const back = await new Response(fd).formData();
  assert.equal(back.get('a'), 'b');
  assert.equal(await (back.get('f') as File).text(), 'data');
  const url = await new Response(new URLSearchParams('x=1&y=2')).formData();
  assert.deepEqual([...url], [['x', '1'], ['y', '2']]);
  const r = new Response('x');
  r.headers.delete('content-type');
  await assert.rejects(r.formData(), typeError('Parsing a Body as FormData requires a Content-Type header.'));
  await assert.rejects(new Response(null, { headers: { 'content-type': 'multipart/form-data; boundary=b' } }).formData(),
    typeError('No initial boundary string (or you have a truncated message).'));
});
