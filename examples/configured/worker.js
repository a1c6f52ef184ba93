// Module worker whose name and vars come from wrangler.toml beside it.
export default {
  fetch(request, env) {
    console.log('configured worker', env.MODE);
    return Response.json({ greeting: env.GREETING, mode: env.MODE, path: new URL(request.url).pathname });
  },
};
