// Baseline for the throughput benchmark: a bare node:http server answering 'Hello worker!' as the
// hello worker does (same body, content-type text/plain;charset=UTF-8). Run as its own process:
//   node bench/node-hello-server.ts PORT
import http from 'node:http';

const body = Buffer.from('Hello worker!');
const port = Number(process.argv[2] ?? 0);

const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain;charset=UTF-8', 'content-length': body.byteLength });
  res.end(body);
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1');
process.once('SIGTERM', () => server.close(() => process.exit(0)).closeAllConnections());
