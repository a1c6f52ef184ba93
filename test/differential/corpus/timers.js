/* differential
{
  "requests": [
    { "path": "/order", "expect": { "status": 200, "body": "[\"sync\",\"microtask\",\"timeout 0\",\"timeout 10\",\"timeout 20\"]" } },
    { "path": "/interval", "expect": { "status": 200, "body": "{\"ticks\":3,\"cleared\":\"yes\"}" } },
    { "path": "/await-chain", "expect": { "status": 200, "body": "a-b-c" } }
  ]
}
*/
// async/await with setTimeout: callback order, clearTimeout, setInterval stopped by clearInterval, awaited sleeps.
const sleep = (ms, value) => new Promise((r) => setTimeout(() => r(value), ms));

export default {
  async fetch(request) {
    const { pathname } = new URL(request.url);
    if (pathname === '/order') {
      const order = [];
      const done = new Promise((resolve) => {
        setTimeout(() => order.push('timeout 20') && resolve(), 20);
      });
      setTimeout(() => order.push('timeout 10'), 10);
      const cancelled = setTimeout(() => order.push('cancelled'), 5);
      clearTimeout(cancelled);
      setTimeout(() => order.push('timeout 0'), 0);
      queueMicrotask(() => order.push('microtask'));
      order.push('sync');
      await done;
      return Response.json(order);
    }
    if (pathname === '/interval') {
      let ticks = 0;
      await new Promise((resolve) => {
        const id = setInterval(() => {
          ticks++;
          if (ticks === 3) {
            clearInterval(id);
            resolve();
          }
        }, 2);
      });
      await sleep(10);
      return Response.json({ ticks, cleared: ticks === 3 ? 'yes' : 'no' });
    }
    if (pathname === '/await-chain') {
      const parts = await Promise.all([sleep(15, 'a'), sleep(5, 'b'), sleep(1, 'c')]);
      return new Response(parts.join('-'));
    }
    return new Response('?', { status: 404 });
  },
};
