import { isIP } from 'node:net';

/**
 * The one loopback check (the client's plain-http guard and the simulator's bind address):
 * 127.0.0.0/8, ::1, the IPv4-mapped forms of 127.x (`::ffff:127.0.0.1`, which URL parsing writes
 * as `::ffff:7f00:1`), and "localhost". A host may come bracketed, as URL.hostname gives IPv6.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) {
    return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^(0:0:0:0:0:|::)ffff:127\./.test(h) || /^(0:0:0:0:0:|::)ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(h);
  }
  return false;
}
