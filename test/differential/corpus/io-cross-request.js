/* differential
{
  "requests": [
    {"method": "POST", "path": "/setup?for=request-text", "body": "request body of /setup", "expect": {"status": 200, "body": "held"}},
    {"path": "/use?what=request-text", "expect": {"status": 200, "body": "Error: Cannot perform I/O on behalf of a different request. I/O objects (such as streams, request/response bodies, and others) created in the context of one request handler cannot be accessed from a different request's handler. This is a limitation of Cloudflare Workers which allows us to improve overall performance. (I/O type: ReadableStreamSource>)"}},
    {"method": "POST", "path": "/setup?for=request-body-read", "body": "request body of /setup", "expect": {"status": 200, "body": "held"}},
    {"path": "/use?what=request-body-read", "expect": {"status": 200, "body": "Error: Cannot perform I/O on behalf of a different request. I/O objects (such as streams, request/response bodies, and others) created in the context of one request handler cannot be accessed from a different request's handler. This is a limitation of Cloudflare Workers which allows us to improve overall performance. (I/O type: ReadableStreamSource>)"}},
    {"method": "POST", "path": "/setup?for=request-proxy", "body": "request body of /setup", "expect": {"status": 200, "body": "held"}},
    {"path": "/use?what=request-proxy", "expect": {"status": 200, "body": "Error: Cannot perform I/O on behalf of a different request. I/O objects (such as streams, request/response bodies, and others) created in the context of one request handler cannot be accessed from a different request's handler. This is a limitation of Cloudflare Workers which allows us to improve overall performance. (I/O type: ReadableStreamSource>)"}},
    {"method": "POST", "path": "/setup?for=request-reconstruct", "body": "request body of /setup", "expect": {"status": 200, "body": "held"}},
    {"path": "/use?what=request-reconstruct", "expect": {"status": 200, "body": "Error: Cannot perform I/O on behalf of a different request. I/O objects (such as streams, request/response bodies, and others) created in the context of one request handler cannot be accessed from a different request's handler. This is a limitation of Cloudflare Workers which allows us to improve overall performance. (I/O type: ReadableStreamSource>)"}},
    {"method": "POST", "path": "/setup?for=response-text", "body": "request body of /setup", "expect": {"status": 200, "body": "held"}},
    {"path": "/use?what=response-text", "expect": {"status": 200, "body": "Error: Cannot perform I/O on behalf of a different request. I/O objects (such as streams, request/response bodies, and others) created in the context of one request handler cannot be accessed from a different request's handler. This is a limitation of Cloudflare Workers which allows us to improve overall performance. (I/O type: ReadableStreamSource>)"}},
    {"method": "POST", "path": "/setup?for=response-json", "body": "request body of /setup", "expect": {"status": 200, "body": "held"}},
    {"path": "/use?what=response-json", "expect": {"status": 200, "body": "Error: Cannot perform I/O on behalf of a different request. I/O objects (such as streams, request/response bodies, and others) created in the context of one request handler cannot be accessed from a different request's handler. This is a limitation of Cloudflare Workers which allows us to improve overall performance. (I/O type: ReadableStreamSource>)"}},
    {"method": "POST", "path": "/setup?for=response-clone", "body": "request body of /setup", "expect": {"status": 200, "body": "held"}},
    {"path": "/use?what=response-clone", "expect": {"status": 200, "body": "Error: Cannot perform I/O on behalf of a different request. I/O objects (such as streams, request/response bodies, and others) created in the context of one request handler cannot be accessed from a different request's handler. This is a limitation of Cloudflare Workers which allows us to improve overall performance. (I/O type: ReadableStreamSource>)"}},
    {"method": "POST", "path": "/setup?for=response-body-getter", "body": "request body of /setup", "expect": {"status": 200, "body": "held"}},
    {"path": "/use?what=response-body-getter", "expect": {"status": 200, "body": "ok ReadableStream"}},
    {"method": "POST", "path": "/setup?for=stream-read", "body": "request body of /setup", "expect": {"status": 200, "body": "held"}},
    {"path": "/use?what=stream-read", "expect": {"status": 200, "body": "Error: Cannot perform I/O on behalf of a different request. I/O objects (such as streams, request/response bodies, and others) created in the context of one request handler cannot be accessed from a different request's handler. This is a limitation of Cloudflare Workers which allows us to improve overall performance. (I/O type: ReadableStreamSource>)"}},
    {"method": "POST", "path": "/setup?for=stream-tee", "body": "request body of /setup", "expect": {"status": 200, "body": "held"}},
    {"path": "/use?what=stream-tee", "expect": {"status": 200, "body": "Error: Cannot perform I/O on behalf of a different request. I/O objects (such as streams, request/response bodies, and others) created in the context of one request handler cannot be accessed from a different request's handler. This is a limitation of Cloudflare Workers which allows us to improve overall performance. (I/O type: ReadableStreamSource>)"}},
    {"method": "POST", "path": "/setup?for=stream-cancel", "body": "request body of /setup", "expect": {"status": 200, "body": "held"}},
    {"path": "/use?what=stream-cancel", "expect": {"status": 200, "body": "Error: Cannot perform I/O on behalf of a different request. I/O objects (such as streams, request/response bodies, and others) created in the context of one request handler cannot be accessed from a different request's handler. This is a limitation of Cloudflare Workers which allows us to improve overall performance. (I/O type: ReadableStreamSource>)"}},
    {"method": "POST", "path": "/setup?for=stream-pipe-to", "body": "request body of /setup", "expect": {"status": 200, "body": "held"}},
    {"path": "/use?what=stream-pipe-to", "expect": {"status": 200, "body": "Error: Cannot perform I/O on behalf of a different request. I/O objects (such as streams, request/response bodies, and others) created in the context of one request handler cannot be accessed from a different request's handler. This is a limitation of Cloudflare Workers which allows us to improve overall performance. (I/O type: ReadableStreamSource>)"}},
    {"method": "POST", "path": "/setup?for=stream-for-await", "body": "request body of /setup", "expect": {"status": 200, "body": "held"}},
    {"path": "/use?what=stream-for-await", "expect": {"status": 200, "body": "Error: Cannot perform I/O on behalf of a different request. I/O objects (such as streams, request/response bodies, and others) created in the context of one request handler cannot be accessed from a different request's handler. This is a limitation of Cloudflare Workers which allows us to improve overall performance. (I/O type: ReadableStreamSource>)"}},
    {"method": "POST", "path": "/setup?for=reader-read", "body": "request body of /setup", "expect": {"status": 200, "body": "held"}},
    {"path": "/use?what=reader-read", "expect": {"status": 200, "body": "Error: Cannot perform I/O on behalf of a different request. I/O objects (such as streams, request/response bodies, and others) created in the context of one request handler cannot be accessed from a different request's handler. This is a limitation of Cloudflare Workers which allows us to improve overall performance. (I/O type: ReadableStreamSource>)"}},
    {"method": "POST", "path": "/setup?for=reader-cancel", "body": "request body of /setup", "expect": {"status": 200, "body": "held"}},
    {"path": "/use?what=reader-cancel", "expect": {"status": 200, "body": "Error: Cannot perform I/O on behalf of a different request. I/O objects (such as streams, request/response bodies, and others) created in the context of one request handler cannot be accessed from a different request's handler. This is a limitation of Cloudflare Workers which allows us to improve overall performance. (I/O type: Canceler)"}},
    {"method": "POST", "path": "/setup?for=reader-release", "body": "request body of /setup", "expect": {"status": 200, "body": "held"}},
    {"path": "/use?what=reader-release", "expect": {"status": 200, "body": "Error: Cannot perform I/O on behalf of a different request. I/O objects (such as streams, request/response bodies, and others) created in the context of one request handler cannot be accessed from a different request's handler. This is a limitation of Cloudflare Workers which allows us to improve overall performance. (I/O type: Canceler)"}},
    {"method": "POST", "path": "/setup?for=js-stream-text", "body": "request body of /setup", "expect": {"status": 200, "body": "held"}},
    {"path": "/use?what=js-stream-text", "expect": {"status": 200, "body": "js stream of /setup"}},
    {"method": "POST", "path": "/setup?for=transform-read", "body": "request body of /setup", "expect": {"status": 200, "body": "held"}},
    {"path": "/use?what=transform-read", "expect": {"status": 200, "body": "written by /setup"}},
    {"method": "POST", "path": "/setup?for=headers-and-status", "body": "request body of /setup", "expect": {"status": 200, "body": "held"}},
    {"path": "/use?what=headers-and-status", "expect": {"status": 200, "body": "text/plain;charset=UTF-8 200"}},
    {"method": "POST", "path": "/setup?for=return-response", "body": "x", "expect": {"status": 200, "body": "held"}},
    {"path": "/use?what=return-response", "compare": "status", "expect": {"status": 500}},
    {"method": "POST", "path": "/setup?for=return-body", "body": "x", "expect": {"status": 200, "body": "held"}},
    {"path": "/use?what=return-body", "compare": "status", "expect": {"status": 500}},
    {"method": "POST", "path": "/setup?for=after-failure", "body": "x", "expect": {"status": 200, "body": "held"}},
    {"path": "/use?what=response-text", "expect": {"status": 200, "body": "Error: Cannot perform I/O on behalf of a different request. I/O objects (such as streams, request/response bodies, and others) created in the context of one request handler cannot be accessed from a different request's handler. This is a limitation of Cloudflare Workers which allows us to improve overall performance. (I/O type: ReadableStreamSource>)"}},
    {"path": "/use?what=after-failure", "expect": {"status": 200, "body": "bodyUsed=true locked=true TypeError: Body has already been used. It can only be used once. Use tee() first if you need to read it twice."}}
  ]
}
*/
// I/O objects of one request used by the next one (after the first ended): bodies, the runtime's
// byte streams and their readers are refused with the cross-request error and its I/O type;
// JavaScript streams, headers and status are not I/O. Each /setup makes a fresh set of objects.
let held = null;
const enc = new TextEncoder();

const uses = {
  'request-text': () => held.request.text(),
  'request-body-read': () => held.request.body.getReader().read(),
  'request-proxy': () => new Request('https://example.com/', held.request).text(),
  'request-reconstruct': () => new Request(held.request),
  'response-text': () => held.response.text(),
  'response-json': () => held.response.json(),
  'response-clone': () => held.response.clone(),
  'response-body-getter': () => `ok ${held.response.body.constructor.name}`,
  'stream-read': () => held.stream.getReader().read(),
  'stream-tee': () => held.stream.tee(),
  'stream-cancel': () => held.stream.cancel(),
  'stream-pipe-to': () => held.stream.pipeTo(new WritableStream()),
  'stream-for-await': async () => { for await (const chunk of held.stream) return chunk; },
  'reader-read': () => held.reader.read(),
  'reader-cancel': () => held.reader.cancel(),
  'reader-release': () => held.reader.releaseLock(),
  'js-stream-text': () => new Response(held.jsStream).text(),
  'transform-read': async () => new TextDecoder().decode((await held.transform.readable.getReader().read()).value),
  'headers-and-status': () => `${held.response.headers.get('content-type')} ${held.response.status}`,
  'return-response': () => held.response,
  'return-body': () => new Response(held.stream),
  'after-failure': async () => {
    let text;
    try { text = await held.response.text(); } catch (error) { text = `${error.name}: ${error.message}`; }
    return `bodyUsed=${held.response.bodyUsed} locked=${held.response.body.locked} ${text}`;
  },
};

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === '/setup') {
      const transform = new TransformStream();
      transform.writable.getWriter().write(enc.encode('written by /setup')).catch(() => {});
      held = {
        request,
        response: new Response('response of /setup'),
        stream: new Response('stream of /setup').body,
        reader: new Response('reader of /setup').body.getReader(),
        jsStream: new ReadableStream({ pull(c) { c.enqueue(enc.encode('js stream of /setup')); c.close(); } }),
        transform,
      };
      return new Response('held');
    }
    const what = url.searchParams.get('what');
    if (what === 'return-response' || what === 'return-body') return uses[what]();
    try {
      const value = await uses[what]();
      if (typeof value === 'string') return new Response(value);
      return new Response(`ok ${Object.prototype.toString.call(value)}`);
    } catch (error) {
      return new Response(`${error.name}: ${error.message}`);
    }
  },
};
