/* differential
{
  "requests": [
    {"path": "/", "expect": {"status": 200, "body": "new Response(): ok\nnew Response(null): ok\nnew Response(undefined, {status: 204}): ok\nnew Response(stream): ok\nResponse.error(): ok\nnew Request(url): ok\nnew Request(url, {method: POST}): ok\nnew Request(url, {body: stream}): ok\nnew Request(new Request(url)): ok\nnew ReadableStream(): ok\nnew TransformStream(): ok\nnew WritableStream(): ok\nnew Blob(): ok\nnew Headers(): ok\nnew Response('text'): Error: Disallowed operation called within global scope. Asynchronous I/O (ex: fetch() or connect()), setting a timeout, and generating random values are not allowed within global scope. To fix this error, perform this operation within a handler. https://developers.cloudflare.com/workers/runtime-apis/handlers/\nnew Response(''): Error: Disallowed operation called within global scope. Asynchronous I/O (ex: fetch() or connect()), setting a timeout, and generating random values are not allowed within global scope. To fix this error, perform this operation within a handler. https://developers.cloudflare.com/workers/runtime-apis/handlers/\nnew Response(bytes): Error: Disallowed operation called within global scope. Asynchronous I/O (ex: fetch() or connect()), setting a timeout, and generating random values are not allowed within global scope. To fix this error, perform this operation within a handler. https://developers.cloudflare.com/workers/runtime-apis/handlers/\nnew Response(blob): Error: Disallowed operation called within global scope. Asynchronous I/O (ex: fetch() or connect()), setting a timeout, and generating random values are not allowed within global scope. To fix this error, perform this operation within a handler. https://developers.cloudflare.com/workers/runtime-apis/handlers/\nnew Response(formData): Error: Disallowed operation called within global scope. Asynchronous I/O (ex: fetch() or connect()), setting a timeout, and generating random values are not allowed within global scope. To fix this error, perform this operation within a handler. https://developers.cloudflare.com/workers/runtime-apis/handlers/\nnew Response(searchParams): Error: Disallowed operation called within global scope. Asynchronous I/O (ex: fetch() or connect()), setting a timeout, and generating random values are not allowed within global scope. To fix this error, perform this operation within a handler. https://developers.cloudflare.com/workers/runtime-apis/handlers/\nResponse.json(): Error: Disallowed operation called within global scope. Asynchronous I/O (ex: fetch() or connect()), setting a timeout, and generating random values are not allowed within global scope. To fix this error, perform this operation within a handler. https://developers.cloudflare.com/workers/runtime-apis/handlers/\nResponse.redirect(): Error: Disallowed operation called within global scope. Asynchronous I/O (ex: fetch() or connect()), setting a timeout, and generating random values are not allowed within global scope. To fix this error, perform this operation within a handler. https://developers.cloudflare.com/workers/runtime-apis/handlers/\nnew Request(url, {body: 'x'}): Error: Disallowed operation called within global scope. Asynchronous I/O (ex: fetch() or connect()), setting a timeout, and generating random values are not allowed within global scope. To fix this error, perform this operation within a handler. https://developers.cloudflare.com/workers/runtime-apis/handlers/\nnew Response('x', {status: 42}): RangeError: Responses may only be constructed with status codes in the range 200 to 599, inclusive."}},
    {"path": "/shared", "expect": {"status": 200, "body": "top-level stream"}}
  ]
}
*/
// What the top-level scope (no request running) may build: bodies, JSON and redirect responses
// need a request ("Disallowed operation called within global scope"); empty responses, requests
// without a body and JavaScript streams do not, and a top-level stream is no request's I/O.
const outcomes = [];
function attempt(name, make) {
  try {
    make();
    outcomes.push(`${name}: ok`);
  } catch (error) {
    outcomes.push(`${name}: ${error.name}: ${error.message}`);
  }
}

const url = 'https://example.com/';
attempt('new Response()', () => new Response());
attempt('new Response(null)', () => new Response(null));
attempt('new Response(undefined, {status: 204})', () => new Response(undefined, { status: 204 }));
attempt('new Response(stream)', () => new Response(new ReadableStream()));
attempt('Response.error()', () => Response.error());
attempt('new Request(url)', () => new Request(url));
attempt('new Request(url, {method: POST})', () => new Request(url, { method: 'POST' }));
attempt('new Request(url, {body: stream})', () => new Request(url, { method: 'POST', body: new ReadableStream() }));
attempt('new Request(new Request(url))', () => new Request(new Request(url)));
attempt('new ReadableStream()', () => new ReadableStream());
attempt('new TransformStream()', () => new TransformStream());
attempt('new WritableStream()', () => new WritableStream());
attempt('new Blob()', () => new Blob(['x']));
attempt('new Headers()', () => new Headers({ a: 'b' }));
attempt("new Response('text')", () => new Response('text'));
attempt("new Response('')", () => new Response(''));
attempt('new Response(bytes)', () => new Response(new Uint8Array([1])));
attempt('new Response(blob)', () => new Response(new Blob(['x'])));
attempt('new Response(formData)', () => new Response(new FormData()));
attempt('new Response(searchParams)', () => new Response(new URLSearchParams('a=1')));
attempt('Response.json()', () => Response.json({ a: 1 }));
attempt('Response.redirect()', () => Response.redirect(url));
attempt("new Request(url, {body: 'x'})", () => new Request(url, { method: 'POST', body: 'x' }));
attempt("new Response('x', {status: 42})", () => new Response('x', { status: 42 }));

const shared = new ReadableStream({
  start(controller) {
    controller.enqueue(new TextEncoder().encode('top-level stream'));
    controller.close();
  },
});

export default {
  fetch(request) {
    if (new URL(request.url).pathname === '/shared') return new Response(shared);
    return new Response(outcomes.join('\n'));
  },
};
