/* differential
{
  "requests": [
    { "path": "/second", "expect": { "status": 200, "body": "second listener, tag=first-was-here" } },
    { "path": "/third", "expect": { "status": 200, "body": "third listener, tag=first-was-here" } }
  ]
}
*/
// Service-worker format with several fetch listeners: they run in order on the same event, and respondWith() stops propagation (a later respondWith would throw).
addEventListener('fetch', (event) => {
  event.tag = 'first-was-here';
});

addEventListener('fetch', (event) => {
  if (new URL(event.request.url).pathname === '/second') {
    event.respondWith(new Response(`second listener, tag=${event.tag}`, { headers: { 'x-listener': '2' } }));
  }
});

addEventListener('fetch', (event) => {
  // If propagation did not stop after the second listener answered, this second call would throw InvalidStateError.
  event.respondWith(new Response(`third listener, tag=${event.tag}`, { headers: { 'x-listener': '3' } }));
});
