/* differential
{
  "vars": { "GREETING": "hi from a binding", "EMPTY": "", "UNICODE": "ünïcödé ✓" },
  "requests": [
    { "path": "/", "expect": { "status": 200, "body": "{\"greeting\":\"hi from a binding\",\"empty\":\"\",\"unicode\":\"ünïcödé ✓\",\"types\":[\"string\",\"string\"],\"onGlobalThis\":true}" } }
  ]
}
*/
// Service-worker format: text bindings are globals.
addEventListener('fetch', (event) => {
  event.respondWith(
    Response.json({
      greeting: GREETING,
      empty: EMPTY,
      unicode: UNICODE,
      types: [typeof GREETING, typeof EMPTY],
      onGlobalThis: globalThis.GREETING === GREETING,
    }),
  );
});
