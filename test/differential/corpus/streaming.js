/* differential
{
  "requests": [
    { "path": "/transform", "expect": { "status": 200, "body": "chunk 0\nchunk 1\nchunk 2\ndone\n" } },
    { "path": "/pull", "expect": { "status": 200, "body": "0123456789" } },
    { "path": "/upper", "expect": { "status": 200, "body": "STREAMED THROUGH A TRANSFORM" } },
    { "method": "POST", "path": "/reverse-lines", "body": "first\nsecond\nthird", "expect": { "status": 200, "body": "third\nsecond\nfirst" } }
  ]
}
*/
// Streaming bodies: a TransformStream written asynchronously, a pull-based ReadableStream, pipeThrough a transformer, reading the request stream.
export default {
  async fetch(request) {
    const { pathname } = new URL(request.url);
    const enc = new TextEncoder();
    if (pathname === '/transform') {
      const { readable, writable } = new TransformStream();
      const writer = writable.getWriter();
      (async () => {
        for (let i = 0; i < 3; i++) {
          await new Promise((r) => setTimeout(r, 5));
          await writer.write(enc.encode(`chunk ${i}\n`));
        }
        await writer.write(enc.encode('done\n'));
        await writer.close();
      })();
      return new Response(readable, { headers: { 'content-type': 'text/plain', 'x-streamed': 'yes' } });
    }
    if (pathname === '/pull') {
      let i = 0;
      const stream = new ReadableStream({
        pull(controller) {
          if (i < 10) controller.enqueue(enc.encode(String(i++)));
          else controller.close();
        },
      });
      return new Response(stream);
    }
    if (pathname === '/upper') {
      const source = new Response('streamed through a transform').body;
      const dec = new TextDecoder();
      const upper = new TransformStream({
        transform(chunk, controller) {
          controller.enqueue(enc.encode(dec.decode(chunk, { stream: true }).toUpperCase()));
        },
      });
      return new Response(source.pipeThrough(upper));
    }
    if (pathname === '/reverse-lines') {
      const reader = request.body.getReader();
      const dec = new TextDecoder();
      let text = '';
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += dec.decode(value, { stream: true });
      }
      text += dec.decode();
      return new Response(text.split('\n').reverse().join('\n'));
    }
    return new Response('?', { status: 404 });
  },
};
