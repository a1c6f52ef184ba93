/* differential
{
  "requests": [
    { "method": "POST", "path": "/urlencoded", "headers": { "content-type": "application/x-www-form-urlencoded" }, "body": "name=Ada+Lovelace&lang=en&lang=fr&sym=%26%3D", "expect": { "status": 200 } },
    { "method": "POST", "path": "/form", "headers": { "content-type": "application/x-www-form-urlencoded" }, "body": "a=1&b=two+words&a=3", "expect": { "status": 200 } },
    { "method": "POST", "path": "/form", "headers": { "content-type": "multipart/form-data; boundary=XyZBoundary42" }, "body": "--XyZBoundary42\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nHello form\r\n--XyZBoundary42\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"notes.txt\"\r\nContent-Type: text/plain\r\n\r\nfile line 1\nfile line 2\r\n--XyZBoundary42\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nSecond title\r\n--XyZBoundary42--\r\n", "expect": { "status": 200 } },
    { "method": "POST", "path": "/form", "headers": { "content-type": "text/plain" }, "body": "not a form", "expect": { "status": 200 } }
  ]
}
*/
// Form bodies: application/x-www-form-urlencoded through URLSearchParams and formData(), multipart/form-data with a file, and the TypeError for a non-form body.
export default {
  async fetch(request) {
    const { pathname } = new URL(request.url);
    if (pathname === '/urlencoded') {
      const params = new URLSearchParams(await request.text());
      return Response.json({ name: params.get('name'), langs: params.getAll('lang'), sym: params.get('sym'), size: params.size });
    }
    if (pathname === '/form') {
      let form;
      try {
        form = await request.formData();
      } catch (err) {
        return Response.json({ error: err.name });
      }
      const out = [];
      for (const [name, value] of form) {
        if (typeof value === 'string') out.push([name, value]);
        else out.push([name, { file: value.name, type: value.type, size: value.size, text: await value.text() }]);
      }
      return Response.json({ entries: out, titles: form.getAll('title'), hasUpload: form.has('upload') });
    }
    return new Response('?', { status: 404 });
  },
};
