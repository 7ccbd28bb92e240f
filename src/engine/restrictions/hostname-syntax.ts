/**
 * @module engine/restrictions/hostname-syntax
 * The syntax tests behind the HELO and address restrictions, with Postfix's own rules rather
 * than RFC 1035's (util/valid_hostname.c, global/valid_mailhost_addr.c, smtpd_check.c
 * dup_if_truncate()). They differ from engine/mailbox isValidHostname() on purpose, so that
 * mxguard rejects exactly the names Postfix rejects:
 * - a host name has letters, digits, `_`, `-` and dots; no empty label, no label that starts
 *   or ends with `-` (`a--b` is fine); labels of at most 63 and a name of at most 255
 *   characters; and it is not numeric: digits and dots only (`1.2.3.4`, `123`) is refused,
 *   while a letter, `_` or `-` anywhere makes it a name (`1-2.3` passes, as observed on 3.7);
 * - an IPv4 address is exactly four decimal octets 0..255 (leading zeros allowed, `0.1.2.3`
 *   refused, `0.0.0.0` allowed);
 * - an IPv6 address has 2 to 8 colon-separated groups of at most 4 hex digits, at most one
 *   `::`, optionally ending in an IPv4 address; in a mail address literal it needs the
 *   `IPv6:` tag (RFC 5321 §4.1.3), any case.
 * XXX: non-ASCII names are refused as if the client had not asked for SMTPUTF8; Postfix
 * accepts UTF-8 domains in reject_non_fqdn_* when it did (the context does not say yet).
 */

const LABEL_MAX = 63;
const NAME_MAX = 255;

/** dup_if_truncate(): one trailing dot is dropped, but not from `..` or a lone `.`. */
export function withoutTrailingDot(name: string): string {
  return name.length > 1 && name.endsWith('.') && !name.endsWith('..') ? name.slice(0, -1) : name;
}

const isDigit = (c: string) => c >= '0' && c <= '9';
const isAlnum = (c: string) => isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');

/** valid_hostname(): Postfix's host name syntax (see the module comment). */
export function validHostname(name: string): boolean {
  if (name === '') return false;
  let label = 0;
  let alpha = false;
  for (let i = 0; i < name.length; i++) {
    const c = name[i]!;
    const next = name[i + 1];
    if (isAlnum(c) || c === '_') {
      label += 1;
      if (label > LABEL_MAX) return false;
      if (!isDigit(c)) alpha = true;   // a letter or `_`
    } else if (c === '.') {
      if (label === 0 || next === undefined) return false;
      label = 0;
    } else if (c === '-') {
      alpha = true;
      label += 1;
      if (label === 1 || next === undefined || next === '.') return false;
    } else {
      return false;
    }
  }
  return alpha && name.length <= NAME_MAX;
}

/** valid_ipv4_hostaddr(): four decimal octets. */
export function validIpv4(addr: string): boolean {
  let octets = 0;
  let inOctet = false;
  let value = 0;
  for (let i = 0; i < addr.length; i++) {
    const c = addr[i]!;
    if (isDigit(c)) {
      if (!inOctet) { inOctet = true; value = 0; octets += 1; }
      value = value * 10 + (c.charCodeAt(0) - 48);
      if (value > 255) return false;
    } else if (c === '.') {
      if (!inOctet || i + 1 === addr.length) return false;
      // 0.0.0.0 is allowed, 0.1.2.3 is not.
      if (octets === 1 && value === 0 && /[^0.]/.test(addr)) return false;
      inOctet = false;
    } else {
      return false;
    }
  }
  return octets === 4;
}

/** valid_ipv6_hostaddr(): hex groups separated by colons, at most one `::`, optional IPv4 tail; no `IPv6:` tag. */
export function validIpv6(addr: string): boolean {
  let fields = 0;        // colons seen
  let nullField = 0;     // field number of the `::`, 0 when none
  let len = 0;           // length of the group just read
  let i = 0;
  for (;;) {
    const c = addr[i];
    if (c === undefined) {
      if (fields < 2) return false;
      // A trailing colon is only fine as the end of a `::`.
      return !(len === 0 && nullField !== fields - 1);
    }
    if (c === '.') {
      if (fields < 2 || fields > 6) return false;
      return validIpv4(addr.slice(i - len));
    }
    if (c === ':') {
      // A single leading colon (":1::2") is refused; "::1" is fine.
      if (fields === 0 && len === 0 && addr[i + 1] !== undefined && isAlnum(addr[i + 1]!)) return false;
      fields += 1;
      if (fields > 7) return false;
      i += 1;
      len = 0;
      if (addr[i] === ':') {
        if (nullField > 0) return false;
        nullField = fields;
      }
      continue;
    }
    const m = /^[0-9a-fA-F]*/.exec(addr.slice(i))![0].length;
    if (m > 4 || m === 0) return false;
    len = m;
    i += m;
  }
}

/** valid_hostaddr(): an IPv6 address when it has a colon, otherwise IPv4. */
export function validHostaddr(addr: string): boolean {
  if (addr === '') return false;
  return addr.includes(':') ? validIpv6(addr) : validIpv4(addr);
}

/**
 * valid_mailhost_addr(): the inside of an address literal: `IPv6:` (any case) plus an IPv6
 * address, or an IPv4 address. A bare IPv6 address without the tag is refused.
 */
export function validMailhostAddr(addr: string): boolean {
  if (addr.slice(0, 5).toLowerCase() === 'ipv6:') return validIpv6(addr.slice(5));
  return validIpv4(addr);
}

/** reject_invalid_hostaddr(): `[…]` is unwrapped when it has something inside; the rest must be a mail host address. */
export function validAddressLiteral(literal: string): boolean {
  const inner = literal.length > 2 && literal.startsWith('[') && literal.endsWith(']') ? literal.slice(1, -1) : literal;
  return validMailhostAddr(inner);
}
