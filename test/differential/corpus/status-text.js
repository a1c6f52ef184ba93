/* differential
{
  "requests": [
    { "path": "/201", "compareStatusText": true, "expect": { "status": 201, "body": "created" } },
    { "path": "/418", "compareStatusText": true, "expect": { "status": 418 } },
    { "path": "/299", "expect": { "status": 299 } },
    { "path": "/599", "expect": { "status": 599 } },
    { "path": "/404", "expect": { "status": 404, "body": "" } },
    { "path": "/range", "expect": { "status": 200 } }
  ]
}
*/
// Status codes and status texts, including unusual ones, and the RangeError for statuses outside 200..599.
export default {
  fetch(request) {
    const code = new URL(request.url).pathname.slice(1);
    switch (code) {
      case '201':
        return new Response('created', { status: 201, statusText: 'Made It' });
      case '418':
        return new Response("I'm a teapot", { status: 418, statusText: "I'm a teapot" });
      case '299':
        return new Response('odd but valid', { status: 299 });
      case '599':
        return new Response('edge of range', { status: 599 });
      case '404':
        return new Response(null, { status: 404 });
      case 'range': {
        const out = {};
        for (const status of [100, 199, 600, 0, 200.5]) {
          try {
            out[status] = new Response(null, { status }).status;
          } catch (err) {
            out[status] = err.name;
          }
        }
        return Response.json(out);
      }
    }
    return new Response('?', { status: 400 });
  },
};
