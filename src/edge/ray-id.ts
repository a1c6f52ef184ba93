// Request ids in Cloudflare's Ray ID shape: 16 hex digits and the colo, e.g. 8f1c2b3a4d5e6f70-LCL.
import { randomBytes } from 'node:crypto';

let pool = Buffer.alloc(0);
let offset = 0;

export function newRayId(colo: string): string {
  if (offset + 8 > pool.length) { pool = randomBytes(8 * 512); offset = 0; }
  const id = pool.toString('hex', offset, offset + 8);
  offset += 8;
  return `${id}-${colo}`;
}
