/* differential
{
  "requests": [
    { "path": "/sync", "compare": "status", "expect": { "status": 500 } },
    { "path": "/async", "compare": "status", "expect": { "status": 500 } },
    { "path": "/reject", "compare": "status", "expect": { "status": 500 } },
    { "path": "/not-a-response", "compare": "status", "expect": { "status": 500 } },
    { "path": "/type-error", "compare": "status", "expect": { "status": 500 } },
    { "path": "/caught", "expect": { "status": 200 } }
  ]
}
*/
// Uncaught errors in a module worker (sync throw, async throw, rejected promise, non-Response result, TypeError) all end in status 500; a caught one does not.
export default {
  async fetch(request) {
    const { pathname } = new URL(request.url);
    switch (pathname) {
      case '/sync':
        throw new Error('thrown synchronously');
      case '/async':
        await new Promise((r) => setTimeout(r, 1));
        throw new RangeError('thrown after a timer');
      case '/reject':
        return Promise.reject(new Error('rejected'));
      case '/not-a-response':
        return { status: 200, body: 'plain object' };
      case '/type-error':
        return undefined.property;
      case '/caught':
        try {
          JSON.parse('{');
        } catch (err) {
          return Response.json({ name: err.name, isSyntaxError: err instanceof SyntaxError, hasStack: typeof err.stack === 'string' });
        }
    }
    return new Response('?', { status: 404 });
  },
};
