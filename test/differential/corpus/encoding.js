/* differential
{
  "requests": [
    { "path": "/text-codec", "expect": { "status": 200 } },
    { "path": "/base64", "expect": { "status": 200 } }
  ]
}
*/
// TextEncoder / TextDecoder (UTF-8, BOM, fatal mode, streaming, other labels) and atob / btoa with their errors.
export default {
  fetch(request) {
    const { pathname } = new URL(request.url);
    if (pathname === '/text-codec') {
      const enc = new TextEncoder();
      const bytes = enc.encode('€ and 😀');
      const into = new Uint8Array(4);
      const progress = enc.encodeInto('héllo', into);
      const withBom = new Uint8Array([0xef, 0xbb, 0xbf, 0x68, 0x69]);
      let fatal;
      try {
        new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array([0xff, 0xfe, 0x41]));
        fatal = 'no error';
      } catch (err) {
        fatal = err.name;
      }
      const streaming = new TextDecoder();
      const euro = enc.encode('€');
      const split = streaming.decode(euro.subarray(0, 1), { stream: true }) + streaming.decode(euro.subarray(1));
      return Response.json({
        encoding: enc.encoding,
        bytes: [...bytes],
        progress,
        into: [...into],
        bom: new TextDecoder().decode(withBom),
        keepBom: new TextDecoder('utf-8', { ignoreBOM: true }).decode(withBom).length,
        replacement: new TextDecoder().decode(new Uint8Array([0x41, 0xff, 0x42])),
        fatal,
        split,
        label: new TextDecoder('UTF8').encoding,
      });
    }
    if (pathname === '/base64') {
      const out = { btoa: btoa('Hello, World!'), atob: atob('SGVsbG8sIFdvcmxkIQ=='), binary: btoa('\x00\x01\xff') };
      out.noPadding = atob('YWI');
      out.whitespace = atob(' YW Jj ');
      for (const [key, fn] of [
        ['btoaWide', () => btoa('€')],
        ['atobBad', () => atob('!!!')],
        ['atobLength', () => atob('abcde')],
      ]) {
        try {
          out[key] = fn();
        } catch (err) {
          out[key] = err.name;
        }
      }
      return Response.json(out);
    }
    return new Response('?', { status: 404 });
  },
};
