/* differential
{
  "requests": [
    { "path": "/throw", "compare": "status", "expect": { "status": 500 } },
    { "path": "/reject", "compare": "status", "expect": { "status": 500 } },
    { "path": "/not-response", "compare": "status", "expect": { "status": 500 } },
    { "path": "/fine", "expect": { "status": 200, "body": "fine" } }
  ]
}
*/
// Service-worker format errors: a listener that throws, respondWith() of a rejected promise or of a non-Response; all are 500.
addEventListener('fetch', (event) => {
  const { pathname } = new URL(event.request.url);
  if (pathname === '/throw') throw new Error('listener threw');
  if (pathname === '/reject') return event.respondWith(Promise.reject(new TypeError('rejected response')));
  if (pathname === '/not-response') return event.respondWith(Promise.resolve('a string, not a Response'));
  event.respondWith(new Response('fine'));
});
