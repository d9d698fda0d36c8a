import { isIPv4, isIPv6 } from 'node:net';

/**
 * What the device-start limit counts by: the client's address (Fastify's req.ip, which believes
 * X-Forwarded-For only for TRUST_PROXY hops). An IPv6 client is counted by its /64, as one
 * subscriber usually holds a whole /64 and could otherwise step through it; an IPv4 address
 * written as IPv6 (::ffff:a.b.c.d) counts as that IPv4 address.
 */
export function clientBucket(ip: string | undefined): string {
  if (!ip) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped && isIPv4(mapped[1])) return mapped[1];
  if (!isIPv6(ip)) return ip;
  return `${expandIPv6(ip).slice(0, 4).join(':')}::/64`;
}

/**
 * The eight groups of an IPv6 address, without leading zeros ('::' and a zone id resolved; an
 * IPv4 tail reads as zeros, as only the first four groups are used).
 */
function expandIPv6(ip: string): string[] {
  const bare = ip.replace(/%.*$/, '');
  const [head, tail] = bare.includes('::') ? bare.split('::') : [bare, null];
  // An embedded IPv4 tail (…:1.2.3.4) stands for two groups.
  const groups = (s: string) => (s ? s.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g])) : []);
  const left = groups(head);
  const right = tail === null ? [] : groups(tail);
  const all = tail === null ? left : [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return all.map((g) => (parseInt(g, 16) || 0).toString(16));
}
