/* differential
{
  "requests": [
    { "path": "/static-default", "expect": { "status": 302, "headers": { "location": "https://example.com/target" } } },
    { "path": "/static-301", "expect": { "status": 301, "headers": { "location": "https://example.com/moved?x=1" } } },
    { "path": "/static-307", "expect": { "status": 307 } },
    { "path": "/static-308", "expect": { "status": 308 } },
    { "path": "/manual", "expect": { "status": 303, "headers": { "location": "/relative/path" } } },
    { "path": "/bad" }
  ]
}
*/
// Redirect responses: Response.redirect() with each allowed status, a hand-made 303 with a relative Location, and the errors for bad input.
export default {
  fetch(request) {
    const { pathname } = new URL(request.url);
    switch (pathname) {
      case '/static-default':
        return Response.redirect('https://example.com/target');
      case '/static-301':
        return Response.redirect('https://example.com/moved?x=1', 301);
      case '/static-307':
        return Response.redirect('https://example.com/temp', 307);
      case '/static-308':
        return Response.redirect('https://example.com/perm', 308);
      case '/manual':
        return new Response('see other', { status: 303, headers: { location: '/relative/path' } });
      case '/bad': {
        const out = [];
        try {
          Response.redirect('https://example.com/', 200);
          out.push('accepted 200');
        } catch (err) {
          out.push(err.name);
        }
        try {
          const r = Response.redirect('https://example.com/a b');
          out.push(r.headers.get('location'));
        } catch (err) {
          out.push(err.name);
        }
        return Response.json(out);
      }
    }
    return new Response('?', { status: 404 });
  },
};
