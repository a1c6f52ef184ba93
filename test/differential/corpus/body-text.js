/* differential
{
  "requests": [
    { "method": "POST", "path": "/text", "headers": { "content-type": "text/plain;charset=utf-8" }, "body": "Grüße aus dem Test\nzweite Zeile", "expect": { "status": 200 } },
    { "method": "POST", "path": "/bytes", "body": "abc\u0000def", "expect": { "status": 200 } },
    { "method": "POST", "path": "/twice", "body": "once only", "expect": { "status": 200 } },
    { "method": "POST", "path": "/empty", "expect": { "status": 200 } },
    { "method": "POST", "path": "/clone", "body": "cloned body", "expect": { "status": 200, "body": "cloned body|cloned body" } }
  ]
}
*/
// Request bodies read as text and bytes; reading twice; an empty body; clone() before reading.
export default {
  async fetch(request) {
    const { pathname } = new URL(request.url);
    if (pathname === '/text') {
      const text = await request.text();
      return new Response(`${text.length}:${text.toUpperCase()}`, { headers: { 'x-length': String(text.length) } });
    }
    if (pathname === '/bytes') {
      const buf = new Uint8Array(await request.arrayBuffer());
      return Response.json({ length: buf.byteLength, bytes: [...buf] });
    }
    if (pathname === '/twice') {
      const first = await request.text();
      let second;
      try {
        second = await request.text();
      } catch (err) {
        second = err.name;
      }
      return Response.json({ first, second, bodyUsed: request.bodyUsed });
    }
    if (pathname === '/empty') {
      const text = await request.text();
      return Response.json({ text, length: text.length });
    }
    if (pathname === '/clone') {
      const copy = request.clone();
      return new Response(`${await request.text()}|${await copy.text()}`);
    }
    return new Response('?', { status: 404 });
  },
};
