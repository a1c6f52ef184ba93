// Module worker: the handler gets bindings through `env` (run with --var GREETING=...).
export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    console.log('module-hello', request.method, pathname);
    return new Response(`Hello from a module worker, ${env.GREETING ?? 'stranger'}!\n`, {
      headers: { 'content-type': 'text/plain; charset=utf-8', 'x-greeting-source': 'env' },
    });
  },
};
