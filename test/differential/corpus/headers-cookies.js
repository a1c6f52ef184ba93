/* differential
{
  "requests": [
    { "path": "/cookies", "expect": { "status": 200 } },
    { "path": "/combine", "expect": { "status": 200 } },
    { "path": "/iterate", "expect": { "status": 200 } },
    { "path": "/invalid", "expect": { "status": 200 } }
  ]
}
*/
// Headers: several set-cookie lines, getSetCookie(), combining repeats, lower-casing, sorted iteration, invalid names.
export default {
  async fetch(request) {
    const { pathname } = new URL(request.url);
    if (pathname === '/cookies') {
      const h = new Headers();
      h.append('Set-Cookie', 'a=1; Path=/; HttpOnly');
      h.append('set-cookie', 'b=2; Max-Age=60');
      h.append('SET-COOKIE', 'c=3, with comma; Secure');
      h.set('X-Count', String(h.getSetCookie().length));
      return new Response(JSON.stringify({ list: h.getSetCookie(), joined: h.get('set-cookie') }), { headers: h });
    }
    if (pathname === '/combine') {
      const h = new Headers({ 'X-Multi': 'one' });
      h.append('x-multi', 'two');
      h.append('X-Multi', 'three');
      h.set('X-Replaced', 'first');
      h.set('x-replaced', 'second');
      h.append('X-Gone', 'soon');
      h.delete('x-gone');
      h.set('X-Spaces', '  padded value  ');
      return new Response(JSON.stringify({ multi: h.get('x-multi'), has: h.has('X-MULTI'), gone: h.get('x-gone'), spaces: h.get('x-spaces') }), {
        headers: h,
      });
    }
    if (pathname === '/iterate') {
      const h = new Headers([
        ['Zeta', 'z'],
        ['alpha', 'a'],
        ['Set-Cookie', 's1=1'],
        ['Mid', 'm'],
        ['set-cookie', 's2=2'],
        ['ALPHA', 'b'],
      ]);
      const entries = [...h];
      const keys = [...h.keys()];
      const seen = [];
      h.forEach((value, name) => seen.push(`${name}=${value}`));
      return Response.json({ entries, keys, seen });
    }
    if (pathname === '/invalid') {
      const results = [];
      for (const [name, value] of [
        ['bad name', 'v'],
        ['x-ok', 'line\nbreak'],
        ['', 'empty'],
      ]) {
        try {
          new Headers().set(name, value);
          results.push('accepted');
        } catch (err) {
          results.push(err.name);
        }
      }
      return Response.json(results, { headers: { 'x-custom-header': 'Custom Value' } });
    }
    return new Response('no', { status: 404 });
  },
};
