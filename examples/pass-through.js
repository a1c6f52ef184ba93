// Service worker with passThroughOnException(): an exception (path /boom) makes the origin answer instead of an error page.
addEventListener('fetch', (event) => {
  event.passThroughOnException();
  event.respondWith(handleRequest(event.request));
});

async function handleRequest(request) {
  const { pathname } = new URL(request.url);
  if (pathname === '/boom') {
    // Uncaught: because of passThroughOnException() the client gets the origin's answer, not error 1101.
    throw new Error('boom');
  }
  return new Response(`worker handled ${pathname}\n`, {
    headers: { 'content-type': 'text/plain', 'x-handled-by': 'worker' },
  });
}
