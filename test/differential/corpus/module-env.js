/* differential
{
  "vars": { "API_BASE": "https://api.example.com/v1", "FEATURE_FLAG": "on" },
  "requests": [
    { "path": "/", "expect": { "status": 200, "body": "{\"base\":\"https://api.example.com/v1\",\"flag\":\"on\",\"keys\":[\"API_BASE\",\"FEATURE_FLAG\"],\"globalLeak\":\"undefined\",\"ctx\":[\"function\",\"function\"]}" } }
  ]
}
*/
// Module format: text bindings arrive in env only (not as globals); ctx carries waitUntil and passThroughOnException.
export default {
  fetch(request, env, ctx) {
    return Response.json({
      base: env.API_BASE,
      flag: env.FEATURE_FLAG,
      keys: Object.keys(env).sort(),
      globalLeak: typeof globalThis.API_BASE,
      ctx: [typeof ctx.waitUntil, typeof ctx.passThroughOnException],
    });
  },
};
