/* differential
{
  "requests": [
    { "path": "/digest", "expect": { "status": 200 } },
    { "method": "POST", "path": "/digest-body", "body": "hash me please", "expect": { "status": 200 } },
    { "path": "/random", "expect": { "status": 200, "body": "{\"uuidFormat\":true,\"distinct\":true,\"version\":\"4\",\"variant\":true,\"filled\":16,\"sameArray\":true,\"tooBig\":\"QuotaExceededError\"}" } }
  ]
}
*/
// crypto.subtle.digest (SHA-1/256/384/512 as hex), randomUUID() format and getRandomValues() (results checked inside the worker, so output is deterministic).
const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');

export default {
  async fetch(request) {
    const { pathname } = new URL(request.url);
    if (pathname === '/digest') {
      const data = new TextEncoder().encode('abc');
      const out = {};
      for (const algo of ['SHA-1', 'SHA-256', 'SHA-384', 'SHA-512']) out[algo] = hex(await crypto.subtle.digest(algo, data));
      out.objectForm = hex(await crypto.subtle.digest({ name: 'sha-256' }, new Uint8Array(0)));
      try {
        await crypto.subtle.digest('SHA-0', data);
        out.unknown = 'accepted';
      } catch (err) {
        out.unknown = err.name;
      }
      return Response.json(out);
    }
    if (pathname === '/digest-body') {
      const digest = await crypto.subtle.digest('SHA-256', await request.arrayBuffer());
      return new Response(hex(digest), { headers: { 'x-algorithm': 'SHA-256' } });
    }
    if (pathname === '/random') {
      const a = crypto.randomUUID();
      const b = crypto.randomUUID();
      const arr = new Uint8Array(16);
      const same = crypto.getRandomValues(arr);
      let tooBig;
      try {
        crypto.getRandomValues(new Uint8Array(65537));
        tooBig = 'accepted';
      } catch (err) {
        tooBig = err.name;
      }
      return Response.json({
        uuidFormat: /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(a),
        distinct: a !== b,
        version: a[14],
        variant: '89ab'.includes(a[19]),
        filled: arr.length,
        sameArray: same === arr,
        tooBig,
      });
    }
    return new Response('?', { status: 404 });
  },
};
