// A small Hono app (module format, TypeScript): two text routes, a JSON route and an env binding.
import { Hono } from 'hono';

type Bindings = { APP_NAME?: string };

const app = new Hono<{ Bindings: Bindings }>();

app.get('/', (c) => c.text('Hono home'));

app.get('/hello/:name', (c) => {
  const name = c.req.param('name');
  console.log('greeting', name);
  return c.text(`Hello, ${name}!`);
});

app.get('/api/info', (c) =>
  c.json({ app: c.env.APP_NAME ?? 'hono-app', framework: 'hono', method: c.req.method, query: c.req.query('q') ?? null }),
);

app.notFound((c) => c.text('no such route', 404));

export default app;
