/**
 * @module dns/names
 * Domain names as the resolver takes them: ASCII only (IDNA A-labels; RFC 5890 §2.3.2.1),
 * case-insensitive (RFC 4343), a trailing dot tolerated, RFC 1035 §2.3.4 lengths. And the
 * reverse-lookup names of addresses (RFC 1035 §3.5 in-addr.arpa, RFC 3596 §2.5 ip6.arpa).
 */
import ipaddr from 'ipaddr.js';

/** The canonical form of `name` (lower case, no trailing dot; "" for the root), or why it is refused. */
export function normalizeName(name: string): { ok: true; name: string } | { ok: false; detail: string } {
  // A name with anything outside printable ASCII needs IDNA conversion first: mxguard does not
  // guess (an unconverted U-label would be sent as UTF-8 bytes no server matches).
  if (!/^[\x21-\x7e]*$/.test(name)) return { ok: false, detail: `not an ASCII domain name (IDNA A-labels required): ${JSON.stringify(name)}` };
  let n = name.toLowerCase();
  if (n.endsWith('.')) n = n.slice(0, -1);
  if (n === '') return { ok: true, name: '' };
  const labels = n.split('.');
  if (labels.some((l) => l.length === 0)) return { ok: false, detail: `empty label in domain name "${name}"` };
  if (labels.some((l) => l.length > 63)) return { ok: false, detail: `label longer than 63 octets in "${name}"` };
  // 255 octets on the wire: a length octet per label plus the root's.
  if (n.length + 2 > 255) return { ok: false, detail: `domain name longer than 253 characters: "${name.slice(0, 40)}…"` };
  return { ok: true, name: n };
}

/**
 * The PTR query name of an IPv4 or IPv6 address. An IPv4-mapped IPv6 address (::ffff:a.b.c.d)
 * is looked up as its IPv4 address, the way a client arriving on a dual-stack socket is meant.
 */
export function reverseName(address: string): string | undefined {
  let a = address.trim();
  if (a.startsWith('[') && a.endsWith(']')) a = a.slice(1, -1);
  // ipaddr.js also takes "127.1" and octal or hex parts: an IPv4 address must be a dotted quad.
  if (!a.includes(':') && !ipaddr.IPv4.isValidFourPartDecimal(a)) return undefined;
  if (!ipaddr.isValid(a)) return undefined;
  let ip = ipaddr.parse(a);
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()) ip = (ip as ipaddr.IPv6).toIPv4Address();
  if (ip.kind() === 'ipv4') {
    return `${ip.toByteArray().reverse().join('.')}.in-addr.arpa`;
  }
  const nibbles = ip.toByteArray().flatMap((b) => [b >> 4, b & 0xf]).map((x) => x.toString(16));
  return `${nibbles.reverse().join('.')}.ip6.arpa`;
}
