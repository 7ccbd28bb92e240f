/**
 * @module greylist/triplet
 * The greylisting key (postgrey's triplet): the client's network, the normalised sender and the
 * recipient. Behaviour follows postgrey 1.37:
 * - client: the address masked to its network (/24 IPv4, /64 IPv6 by default), network address
 *   only; a prefix of 32 (or 128) keeps the full address (postgrey --lookup-by-host).
 * - sender: a BATV wrapper (`prvs=tag=user` or the swapped `prvs=user=tag`) is removed, the
 *   `+extension` of the local part is cut, and each standalone run of digits in the local part
 *   becomes `#` (VERP and numbered bounce addresses then share one triplet).
 * - recipient: unchanged (postgrey does not normalise it either).
 * The whole key is lower-cased. XXX: like postgrey, a hex-only VERP token (no word boundary
 * around digits) is not folded.
 */
import ipaddr from 'ipaddr.js';

/** clientNetwork - the network address of `address` at the given prefix lengths, or the input when it is not an IP. */
export function clientNetwork(address: string, v4Prefix = 24, v6Prefix = 64): string {
  // The common case without a parser: a dotted quad at /24.
  if (v4Prefix === 24) {
    const m = /^(\d{1,3}\.\d{1,3}\.\d{1,3})\.\d{1,3}$/.exec(address);
    if (m && address.split('.').every((o) => Number(o) <= 255 && (o === '0' || o[0] !== '0'))) return `${m[1]}.0`;
  }
  let ip: ipaddr.IPv4 | ipaddr.IPv6;
  try { ip = ipaddr.parse(address); } catch { return address.toLowerCase(); }
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()) ip = (ip as ipaddr.IPv6).toIPv4Address();
  if (ip.kind() === 'ipv4') {
    const b = ip.toByteArray();
    const n = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
    const mask = v4Prefix <= 0 ? 0 : v4Prefix >= 32 ? 0xffffffff : (0xffffffff << (32 - v4Prefix)) >>> 0;
    const m = (n & mask) >>> 0;
    return `${m >>> 24}.${(m >>> 16) & 255}.${(m >>> 8) & 255}.${m & 255}`;
  }
  const bytes = ip.toByteArray();
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, v6Prefix - i * 8));
    bytes[i] = bytes[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return ipaddr.fromByteArray(bytes).toString();
}

const BATV_TAG = /^[0-9a-z]{10}/;

/** normaliseSender - postgrey's sender substitutions (BATV, +extension, standalone numbers → #). */
export function normaliseSender(sender: string): string {
  const at = sender.indexOf('@');
  if (at < 0) return sender;
  let user = sender.slice(0, at);
  const domain = sender.slice(at + 1);
  if (user.startsWith('prvs=')) {
    const parts = user.split('=');
    if (parts.length === 3) {
      const [, a, b] = parts as [string, string, string];
      // The tag is 10 characters (4 digits of day + 6 of hash): the part that looks like one goes.
      user = BATV_TAG.test(a) && !BATV_TAG.test(b) ? b : BATV_TAG.test(b) && !BATV_TAG.test(a) ? a : b;
    }
  }
  const plus = user.indexOf('+');
  if (plus >= 0) user = user.slice(0, plus);
  user = user.replace(/\b\d+\b/g, '#');
  return `${user}@${domain}`;
}

/** tripletKey - `network/sender/recipient`, lower case (postgrey's database key). */
export function tripletKey(clientAddress: string, sender: string, recipient: string, v4Prefix = 24, v6Prefix = 64): string {
  return tripletKeyOf(clientNetwork(clientAddress, v4Prefix, v6Prefix), sender, recipient);
}

/** tripletKeyOf - the key for a client part already chosen (a network, or `spf:DOMAIN`). */
export function tripletKeyOf(client: string, sender: string, recipient: string): string {
  return `${client}/${normaliseSender(sender)}/${recipient}`.toLowerCase();
}
