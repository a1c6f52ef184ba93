/* differential
{
  "requests": [
    { "method": "POST", "path": "/roundtrip", "headers": { "content-type": "application/json" }, "body": "{\"name\":\"Zoë\",\"tags\":[\"a\",\"b\"],\"nested\":{\"n\":1.5,\"t\":true,\"z\":null}}", "expect": { "status": 200 } },
    { "method": "POST", "path": "/roundtrip", "headers": { "content-type": "application/json" }, "body": "{not json", "expect": { "status": 400 } },
    { "path": "/unicode", "expect": { "status": 200, "headers": { "content-type": "application/json" } } },
    { "path": "/custom", "expect": { "status": 200, "headers": { "content-type": "application/vnd.api+json" } } }
  ]
}
*/
// JSON in and out: request.json(), a parse error mapped to 400, Response.json() with unicode and a custom content type.
export default {
  async fetch(request) {
    const { pathname } = new URL(request.url);
    if (pathname === '/roundtrip') {
      try {
        const data = await request.json();
        return Response.json({ got: data, keys: Object.keys(data), tagCount: data.tags.length });
      } catch (err) {
        return Response.json({ error: err.name }, { status: 400 });
      }
    }
    if (pathname === '/unicode') {
      return Response.json({ text: 'héllo wörld ✓ 🚀', escaped: '\u2028\u2029', quote: '"\\', nothing: undefined, list: [undefined, NaN] });
    }
    if (pathname === '/custom') {
      return Response.json({ data: { type: 'x' } }, { headers: { 'content-type': 'application/vnd.api+json' } });
    }
    return new Response('?', { status: 404 });
  },
};
