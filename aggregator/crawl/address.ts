/**
 * Which addresses a crawler must not reach unless allowed: loopback, private,
 * link-local, shared, multicast and reserved ranges (IPv4 and IPv6). A target's host
 * is resolved and every address checked, and the connection goes to a checked address.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';

const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24],
  ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) blocked.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  // ::/96 holds ::, ::1 and the deprecated IPv4-compatible ::a.b.c.d; ::ffff:0:a.b.c.d is IPv4-translated (RFC 2765).
  ['::', 96], ['::ffff:0:0:0', 96], ['64:ff9b:1::', 48], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8], ['2001:db8::', 32],
  ['64:ff9b::', 96], ['100::', 64],
] as const) blocked.addSubnet(net, prefix, 'ipv6');

/** True for an address a public crawler must not connect to. */
export function isPrivateAddress(ip: string): boolean {
  const family = isIP(ip);
  if (family === 4) return blocked.check(ip, 'ipv4');
  if (family !== 6) return true; // not an address at all: refuse
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return blocked.check(mapped[1]!, 'ipv4');
  return blocked.check(ip, 'ipv6');
}

export class AddressError extends Error {
  readonly code = 'private_address';
}

type LookupCb = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A `lookup` for node:http that refuses private addresses (unless allowed). */
export function checkedLookup(allowPrivate: boolean) {
  return (hostname: string, options: { all?: boolean } | number | undefined, cb: LookupCb): void => {
    dnsLookup(hostname, { all: true, verbatim: true }, (err, addrs) => {
      if (err) return cb(err, []);
      const ok = allowPrivate ? addrs : addrs.filter((a) => !isPrivateAddress(a.address));
      if (!ok.length) return cb(new AddressError(`${hostname} resolves only to private addresses`), []);
      if (typeof options === 'object' && options?.all) cb(null, ok);
      else cb(null, ok[0]!.address, ok[0]!.family);
    });
  };
}
