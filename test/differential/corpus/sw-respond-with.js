/* differential
{
  "requests": [
    { "path": "/sync", "expect": { "status": 200, "body": "sync response for GET /sync" } },
    { "path": "/promise", "expect": { "status": 200, "body": "promised response" } },
    { "path": "/event", "expect": { "status": 200 } },
    { "method": "POST", "path": "/body", "body": "sent by the client", "expect": { "status": 200, "body": "echo: sent by the client" } }
  ]
}
*/
// Service-worker format: respondWith() with a Response and with a promise, the FetchEvent's properties, the second respondWith() error.
addEventListener('fetch', (event) => {
  const { pathname } = new URL(event.request.url);
  if (pathname === '/sync') {
    event.respondWith(new Response(`sync response for ${event.request.method} ${pathname}`));
  } else if (pathname === '/promise') {
    event.respondWith(new Promise((resolve) => setTimeout(() => resolve(new Response('promised response', { headers: { 'x-delayed': 'yes' } })), 5)));
  } else if (pathname === '/event') {
    event.respondWith(Response.json({ type: event.type, isFetchEvent: event instanceof FetchEvent, hasWaitUntil: typeof event.waitUntil, requestIsRequest: event.request instanceof Request }));
    let second;
    try {
      event.respondWith(new Response('again'));
      second = 'accepted';
    } catch (err) {
      second = err.name;
    }
    if (second !== 'InvalidStateError') throw new Error(`second respondWith gave ${second}`);
  } else {
    event.respondWith(event.request.text().then((text) => new Response(`echo: ${text}`)));
  }
});
