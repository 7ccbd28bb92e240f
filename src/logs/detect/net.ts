/**
 * @module logs/detect/net
 * Client addresses as the detectors need them: which are someone else's (public), which network
 * an address belongs to, and `--exclude` lists.
 *
 * Networks: without a GeoIP database (countries are not available offline), "used from many
 * places" is measured in networks: IPv4 /16 and IPv6 /32 are roughly one provider's block
 * (seed 004's flood came from 180.120.0.0/16, 114.232.0.0/16, … of one Chinese carrier); /24 and
 * /64 are roughly one customer or one site.
 */
import ipaddr from 'ipaddr.js';
import { clientNetwork } from '../../greylist/triplet.js';

type Addr = ipaddr.IPv4 | ipaddr.IPv6;

/** parseAddress - an IPv4 or IPv6 address (IPv4-mapped IPv6 becomes IPv4), or undefined. */
export function parseAddress(text: string): Addr | undefined {
  if (!ipaddr.isValid(text)) return undefined;
  const a = ipaddr.parse(text);
  if (a.kind() === 'ipv6' && (a as ipaddr.IPv6).isIPv4MappedAddress()) return (a as ipaddr.IPv6).toIPv4Address();
  return a;
}

/** Ranges that are never a remote client's own: ours, or not routable. */
const INTERNAL = new Set(['loopback', 'private', 'linkLocal', 'uniqueLocal', 'carrierGradeNat', 'unspecified', 'multicast', 'broadcast']);

const publicCache = new Map<string, boolean>();

/**
 * isPublic - whether an address is a routable client address (not loopback, RFC 1918, link-local,
 * ULA, CGNAT, multicast). Documentation ranges count as public: they stand for real clients in
 * examples and tests. Cached: the same few thousand clients come back all the time.
 */
export function isPublic(ip: string): boolean {
  const v4 = publicV4(ip);
  if (v4 !== undefined) return v4;
  const c = publicCache.get(ip);
  if (c !== undefined) return c;
  const a = parseAddress(ip);
  const r = a !== undefined && !INTERNAL.has(a.range());
  if (publicCache.size > 50_000) publicCache.clear();
  publicCache.set(ip, r);
  return r;
}

/**
 * publicV4 - isPublic for a dotted IPv4 address without a parser or cache (most clients are IPv4;
 * this runs for every connection). Undefined when `ip` is not a plain dotted quad.
 */
function publicV4(ip: string): boolean | undefined {
  const o = [0, 0, 0, 0];
  let part = 0;
  let digits = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || ++part > 3) return undefined;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      o[part] = o[part]! * 10 + (c - 48);
      if (++digits > 3 || o[part]! > 255) return undefined;
    } else {
      return undefined;
    }
  }
  if (part !== 3 || digits === 0) return undefined;
  const [a, b] = o as [number, number, number, number];
  if (a === 0 || a === 10 || a === 127 || a >= 224) return false; // this network, RFC 1918, loopback, multicast/reserved
  if (a === 172 && b >= 16 && b <= 31) return false;
  if (a === 192 && b === 168) return false;
  if (a === 169 && b === 254) return false; // link-local
  if (a === 100 && b >= 64 && b <= 127) return false; // CGNAT
  return true;
}

/** network - the CIDR of `ip` with the given prefix lengths for IPv4 and IPv6 (`180.120.0.0/16`); `ip` itself when it is not an address. */
export function network(ip: string, v4bits: number, v6bits: number): string {
  const a = parseAddress(ip);
  if (!a) return ip;
  // The masking is greylisting's client network (IPv4-mapped IPv6 counts as IPv4 in both).
  return `${clientNetwork(ip, v4bits, v6bits)}/${a.kind() === 'ipv4' ? v4bits : v6bits}`;
}

/** A list of networks (`--exclude`): addresses and CIDRs, IPv4 and IPv6. */
export class NetList {
  private readonly nets: Array<[Addr, number]> = [];
  constructor(items: readonly string[]) {
    for (const raw of items) {
      const item = raw.trim().replace(/^\[([^\]]+)\]/, '$1');
      if (!item) continue;
      if (item.includes('/')) {
        let parsed: [Addr, number];
        try {
          parsed = ipaddr.parseCIDR(item);
        } catch {
          throw new Error(`--exclude ${raw}: not an address or network`);
        }
        this.nets.push(parsed);
      } else {
        const a = parseAddress(item);
        if (!a) throw new Error(`--exclude ${raw}: not an address or network`);
        this.nets.push([a, a.kind() === 'ipv4' ? 32 : 128]);
      }
    }
  }

  has(ip: string): boolean {
    const a = parseAddress(ip);
    if (!a) return false;
    for (const [net, bits] of this.nets) {
      if (net.kind() === a.kind() && a.match(net, bits)) return true;
    }
    return false;
  }
}

/**
 * listOfQuery - the DNS list of a lookup name such as `4.3.2.1.zen.spamhaus.org` or the 32 nibbles
 * of an IPv6 address in front of the list's domain; undefined when the name has no such prefix.
 */
export function listOfQuery(query: string): string | undefined {
  const q = query.replace(/\.$/, '').toLowerCase();
  const v4 = /^(?:\d{1,3}\.){4}(.+)$/.exec(q);
  if (v4) return v4[1];
  const v6 = /^(?:[0-9a-f]\.){32}(.+)$/.exec(q);
  if (v6) return v6[1];
  return undefined;
}

/** clientAt - `NAME[ADDR]` or `[ADDR]:PORT` at `text[from]`: the name (or `unknown`) and address. */
export function clientAt(text: string, from: number): { name: string; ip: string; end: number } | undefined {
  const open = text.indexOf('[', from);
  if (open < 0) return undefined;
  const close = text.indexOf(']', open + 1);
  if (close < 0) return undefined;
  return { name: text.slice(from, open) || 'unknown', ip: text.slice(open + 1, close), end: close + 1 };
}
