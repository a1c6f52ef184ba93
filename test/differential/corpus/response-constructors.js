/* differential
{
  "requests": [
    { "path": "/text", "expect": { "status": 200, "body": "plain text", "headers": { "content-type": "text/plain;charset=UTF-8" } } },
    { "path": "/empty", "expect": { "status": 204, "body": "" } },
    { "path": "/bytes", "expect": { "status": 200, "body": "ABC" } },
    { "path": "/buffer" },
    { "path": "/blob", "expect": { "status": 200, "body": "<b>blob</b>", "headers": { "content-type": "text/html" } } },
    { "path": "/params", "expect": { "status": 200, "body": "a=1&b=x+y", "headers": { "content-type": "application/x-www-form-urlencoded;charset=UTF-8" } } },
    { "path": "/json-static", "expect": { "status": 202, "body": "{\"ok\":true,\"n\":[1,2]}", "headers": { "content-type": "application/json", "x-kind": "static" } } },
    { "path": "/clone" },
    { "path": "/props" }
  ]
}
*/
// Response constructors with each body type, the static helpers and the Response properties.
export default {
  async fetch(request) {
    const { pathname } = new URL(request.url);
    switch (pathname) {
      case '/text':
        return new Response('plain text');
      case '/empty':
        return new Response(null, { status: 204 });
      case '/bytes':
        return new Response(new Uint8Array([65, 66, 67]));
      case '/buffer':
        return new Response(new TextEncoder().encode('from an ArrayBuffer').buffer, { headers: { 'x-body': 'arraybuffer' } });
      case '/blob':
        return new Response(new Blob(['<b>', 'blob', '</b>'], { type: 'text/html' }));
      case '/params':
        return new Response(new URLSearchParams({ a: '1', b: 'x y' }));
      case '/json-static':
        return Response.json({ ok: true, n: [1, 2] }, { status: 202, headers: { 'x-kind': 'static' } });
      case '/clone': {
        const original = new Response('twice', { headers: { 'x-original': 'yes' } });
        const copy = original.clone();
        const a = await original.text();
        const b = await copy.text();
        return new Response(`${a}|${b}|${original.bodyUsed}|${copy.headers.get('x-original')}`);
      }
      case '/props': {
        const r = new Response('x', { status: 299, statusText: 'Fine' });
        return Response.json({
          status: r.status,
          statusText: r.statusText,
          ok: r.ok,
          redirected: r.redirected,
          type: r.type,
          bodyUsed: r.bodyUsed,
          defaultStatus: new Response().status,
          nullBody: new Response().body === null,
          errorType: Response.error().type,
          errorStatus: Response.error().status,
        });
      }
    }
    return new Response('not found', { status: 404 });
  },
};
