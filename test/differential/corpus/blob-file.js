/* differential
{
  "requests": [
    { "path": "/", "expect": { "status": 200 } },
    { "path": "/download", "expect": { "status": 200, "body": "id,name\n1,kettle\n", "headers": { "content-type": "text/csv", "content-disposition": "attachment; filename=\"items.csv\"" } } }
  ]
}
*/
// Blob and File: size, type, slice, text/arrayBuffer, a Blob as a response body with its type.
export default {
  async fetch(request) {
    const { pathname } = new URL(request.url);
    if (pathname === '/download') {
      const file = new File(['id,name\n', '1,kettle\n'], 'items.csv', { type: 'text/csv' });
      return new Response(file, { headers: { 'content-disposition': `attachment; filename="${file.name}"` } });
    }
    const blob = new Blob(['héllo', ' ', new Uint8Array([119, 111, 114, 108, 100])], { type: 'Text/Plain' });
    const part = blob.slice(1, 5, 'application/x-part');
    const file = new File(['x'], 'a.txt', { lastModified: 1700000000000 });
    return Response.json({
      size: blob.size,
      type: blob.type,
      text: await blob.text(),
      partSize: part.size,
      partType: part.type,
      partBytes: [...new Uint8Array(await part.arrayBuffer())],
      negative: await blob.slice(-5).text(),
      file: [file.name, file.size, file.lastModified, file instanceof Blob],
    });
  },
};
