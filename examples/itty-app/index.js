// An itty-router app (module format): AutoRouter turns returned strings/objects into responses and unknown routes into 404.
import { AutoRouter } from 'itty-router';

const router = AutoRouter();

const items = new Map([
  ['1', { id: '1', name: 'kettle' }],
  ['2', { id: '2', name: 'teapot' }],
]);

router
  .get('/', () => new Response('itty home', { headers: { 'content-type': 'text/plain' } }))
  .get('/items', () => [...items.values()])
  .get('/items/:id', ({ params }) => items.get(params.id) ?? new Response('no such item', { status: 404 }))
  .post('/echo', async (request) => ({ received: await request.json() }));

export default router;
