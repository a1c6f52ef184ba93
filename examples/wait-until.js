// Service worker: answers at once and posts a log line to LOG_URL in the background with event.waitUntil().
addEventListener('fetch', (event) => {
  event.respondWith(handleEvent(event));
});

async function handleEvent(event) {
  const { pathname } = new URL(event.request.url);
  const line = `${event.request.method} ${pathname} handled at ${new Date().toISOString()}`;
  // Without waitUntil() the runtime could cancel the log request once the response is sent.
  event.waitUntil(postLog(line));
  console.log('queued log line');
  return new Response('logged in the background\n', { headers: { 'content-type': 'text/plain' } });
}

async function postLog(data) {
  // LOG_URL is a text binding; service-worker bindings are globals.
  const res = await fetch(LOG_URL, { method: 'POST', body: data, headers: { 'content-type': 'text/plain' } });
  console.log('log service answered', res.status);
}
