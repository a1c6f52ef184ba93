// Hosts a worker may not fetch (error 1021 when the refusal escapes the handler). The default
// list keeps workers away from link-local addresses and the cloud providers' instance-metadata
// services, which hand out credentials to anything that can reach them from the host.
import { BlockList, isIP } from 'node:net';

const DEFAULT_BLOCKED_NAMES = ['metadata.google.internal', 'metadata.goog', 'metadata.azure.com', 'instance-data', 'instance-data.ec2.internal'];
const DEFAULT_BLOCKED_SUBNETS: [string, number, 'ipv4' | 'ipv6'][] = [
  ['169.254.0.0', 16, 'ipv4'], // link-local, incl. 169.254.169.254 (AWS, GCP, Azure, OpenStack)
  ['100.100.100.200', 32, 'ipv4'], // Alibaba Cloud metadata
  ['fe80::', 10, 'ipv6'], // link-local
  ['fd00:ec2::254', 128, 'ipv6'], // AWS metadata over IPv6
];

export class BlockedHosts {
  private readonly names = new Set<string>();
  private readonly addresses = new BlockList();

  /** `extra`: more host names, IP addresses or CIDR ranges (`10.0.0.0/8`) from the operator. */
  constructor(extra: string[] = [], withDefaults = true) {
    if (withDefaults) {
      for (const name of DEFAULT_BLOCKED_NAMES) this.names.add(name);
      for (const [net, prefix, type] of DEFAULT_BLOCKED_SUBNETS) this.addresses.addSubnet(net, prefix, type);
    }
    for (const entry of extra) this.add(entry);
  }

  /** Throws on an entry that is neither a host name nor an address or range. */
  add(entry: string): void {
    const [address, prefix] = entry.split('/');
    const type = isIP(address);
    if (type) {
      const family = type === 4 ? 'ipv4' : 'ipv6';
      const bits = prefix === undefined ? (type === 4 ? 32 : 128) : Number(prefix);
      if (!Number.isInteger(bits) || bits < 0 || bits > (type === 4 ? 32 : 128)) throw new Error(`"${entry}" is not a valid address range`);
      this.addresses.addSubnet(address, bits, family);
      return;
    }
    if (prefix !== undefined || !/^[a-z0-9.-]+$/i.test(entry)) throw new Error(`"${entry}" is not a host name, address or address range`);
    this.names.add(entry.toLowerCase());
  }

  /** `hostname` as URL.hostname gives it (IPv6 in brackets). */
  isBlocked(hostname: string): boolean {
    const host = hostname.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
    const type = isIP(host);
    if (type === 4) return this.addresses.check(host, 'ipv4');
    if (type === 6) {
      const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(host);
      return mapped ? this.addresses.check(mapped[1], 'ipv4') : this.addresses.check(host, 'ipv6');
    }
    return this.names.has(host);
  }
}
