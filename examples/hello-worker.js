// Service worker that reads request.cf (city, country) and console.log's them, as in Cloudflare's "Logging from Workers" page.
addEventListener('fetch', (event) => {
  event.respondWith(greet(event.request));
});

async function greet(request) {
  // On Cloudflare request.cf is always set; a plain local runtime may have none, hence the fallback.
  const { city, country } = request.cf ?? {};

  console.log(`Request came from city: ${city} in country: ${country}`);

  return new Response('Hello worker!', {
    headers: { 'content-type': 'text/plain' },
  });
}
