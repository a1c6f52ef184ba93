// Request latency over one keep-alive connection, for tests that compare a worker's latency with
// and without a noisy neighbour.
import http from 'node:http';

export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
  failures: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))];
}

/** Sends `count` sequential GETs (one connection) and summarises their latency in ms. */
export async function measureLatency(url: string, host: string, count: number): Promise<LatencySummary> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const times: number[] = [];
  let failures = 0;
  try {
    for (let i = 0; i < count; i++) {
      const started = performance.now();
      const status = await new Promise<number>((resolve, reject) => {
        const req = http.get(url, { agent, headers: { host } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.setTimeout(10_000, () => req.destroy(new Error('timed out')));
        req.on('error', reject);
      });
      times.push(performance.now() - started);
      if (status !== 200) failures++;
    }
  } finally {
    agent.destroy();
  }
  times.sort((a, b) => a - b);
  return { count, p50: percentile(times, 0.5), p99: percentile(times, 0.99), max: times[times.length - 1], failures };
}
