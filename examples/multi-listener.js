// Several fetch listeners run in order; /ignore/ paths get no respondWith() and go to the origin, the second listener answers the rest.
addEventListener('fetch', (event) => {
  // First listener: only observes.
  console.log('first listener saw', new URL(event.request.url).pathname);
});

addEventListener('fetch', (event) => {
  const { pathname } = new URL(event.request.url);
  if (pathname.startsWith('/ignore/')) return; // no respondWith(): default handling (origin)
  event.respondWith(
    new Response(`second listener answered ${pathname}\n`, {
      headers: { 'content-type': 'text/plain', 'x-listener': 'second' },
    }),
  );
});

addEventListener('fetch', (event) => {
  // Runs only when no earlier listener called respondWith(): respondWith() stops propagation.
  console.log('third listener saw', new URL(event.request.url).pathname);
});
