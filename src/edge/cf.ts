// The `request.cf` object. Cloudflare fills it from its edge (colo) and a geo-IP database; here
// the operator configures the edge facts and the geo facts, and loopback clients get no geo at
// all, as a request that never crossed the Internet has none.
import type { IncomingMessage } from 'node:http';

export interface CfConfig {
  /** Facts about this edge location: colo, asn, asOrganization… */
  edge: Record<string, unknown>;
  /** Geo facts given to non-loopback clients: country, city, region, timezone, latitude… */
  geo: Record<string, unknown>;
}

export const DEFAULT_CF: CfConfig = {
  edge: { colo: 'LCL', asn: 0, asOrganization: 'Flarelet' },
  geo: {},
};

export function isLoopback(ip: string | undefined): boolean {
  if (!ip) return true;
  return ip === '::1' || ip.startsWith('127.') || ip.startsWith('::ffff:127.');
}

export function buildCf(config: CfConfig, req: IncomingMessage): Record<string, unknown> {
  const cf: Record<string, unknown> = {
    ...config.edge,
    clientTcpRtt: 0,
    httpProtocol: `HTTP/${req.httpVersion}`,
    tlsVersion: '',
    tlsCipher: '',
    requestPriority: '',
    edgeRequestKeepAliveStatus: 1,
    clientAcceptEncoding: req.headers['accept-encoding'] ?? '',
    verifiedBotCategory: '',
  };
  if (!isLoopback(req.socket.remoteAddress)) Object.assign(cf, config.geo);
  return cf;
}
