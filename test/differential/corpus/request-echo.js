/* differential
{
  "requests": [
    { "path": "/echo?b=2&a=1&a=3", "headers": { "X-Trace-Id": "abc", "Accept": "application/json", "x-many": "v1" } },
    { "method": "PUT", "path": "/echo/put", "headers": { "content-type": "text/plain" }, "body": "payload" },
    { "method": "DELETE", "path": "/echo/item/7" },
    { "method": "PATCH", "path": "/echo/%E2%9C%93?q=%20space" },
    { "method": "HEAD", "path": "/echo/head", "expect": { "status": 200, "body": "" } },
    { "method": "OPTIONS", "path": "/echo/options" }
  ]
}
*/
// Echoes what the worker sees of the request: method, path, query, chosen headers, body and Request properties.
const SHOWN = ['x-trace-id', 'accept', 'x-many', 'content-type'];

export default {
  async fetch(request) {
    const url = new URL(request.url);
    const headers = {};
    for (const name of SHOWN) if (request.headers.has(name)) headers[name] = request.headers.get(name);
    const body = request.method === 'GET' || request.method === 'HEAD' ? null : await request.text();
    return Response.json(
      {
        method: request.method,
        pathname: url.pathname,
        search: url.search,
        query: [...url.searchParams],
        headers,
        body,
        redirect: request.redirect,
        hasSignal: request.signal instanceof AbortSignal,
        bodyUsed: request.bodyUsed,
        protocol: url.protocol,
      },
      { headers: { 'x-echo-method': request.method } },
    );
  },
};
