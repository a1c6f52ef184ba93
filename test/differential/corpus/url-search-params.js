/* differential
{
  "requests": [
    { "path": "/parse", "expect": { "status": 200 } },
    { "path": "/params?z=26&a=1&m=%F0%9F%98%80&a=2", "expect": { "status": 200 } },
    { "path": "/invalid", "expect": { "status": 200 } }
  ]
}
*/
// URL and URLSearchParams: parsing, relative resolution, normalisation, mutation, sorting, encoding, invalid input.
export default {
  fetch(request) {
    const { pathname, searchParams } = new URL(request.url);
    if (pathname === '/parse') {
      const u = new URL('HTTPS://User:Pa%20ss@Example.COM:443/a/./b/../c?x=1#frag');
      const rel = new URL('../up/here?q=2', 'https://example.com/one/two/three');
      const ipv6 = new URL('http://[::1]:8080/');
      const mut = new URL('https://example.com/');
      mut.pathname = '/with space';
      mut.searchParams.set('k', 'v&w');
      mut.hash = 'h';
      return Response.json({
        href: u.href,
        origin: u.origin,
        host: u.host,
        port: u.port,
        username: u.username,
        password: u.password,
        pathname: u.pathname,
        hash: u.hash,
        rel: rel.href,
        ipv6: [ipv6.hostname, ipv6.port],
        mutated: mut.toString(),
        json: JSON.stringify(new URL('http://a.b/c')),
      });
    }
    if (pathname === '/params') {
      const copy = new URLSearchParams(searchParams);
      copy.append('space', 'a b+c');
      copy.delete('z');
      copy.sort();
      return Response.json({
        all: [...searchParams],
        aValues: searchParams.getAll('a'),
        emoji: searchParams.get('m'),
        sorted: copy.toString(),
        has: [copy.has('a'), copy.has('z')],
        fromObject: new URLSearchParams({ x: '1', y: 'ü' }).toString(),
        fromPairs: new URLSearchParams([
          ['p', '1'],
          ['p', '2'],
        ]).toString(),
      });
    }
    if (pathname === '/invalid') {
      const results = [];
      for (const input of ['not a url', 'http://', 'https://exa mple.com/', '//no-scheme']) {
        try {
          results.push(new URL(input).href);
        } catch (err) {
          results.push(err.name);
        }
      }
      return Response.json({ results, canParse: typeof URL.canParse === 'function' ? URL.canParse('https://ok.example') : 'missing' });
    }
    return new Response('?', { status: 404 });
  },
};
