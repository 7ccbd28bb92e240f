/**
 * @module engine/mailbox
 * Syntax of one mailbox address as the engine and the SMTP face both need it: where the local
 * part ends, how it is quoted, what a valid domain or address literal is.
 *
 * Addresses travel through mxguard in one form: the RFC 5321 §4.1.2 external form with the
 * local part quoted only when it must be (a Dot-string stays bare, anything else becomes a
 * Quoted-string). `"john"@x` is carried as `john@x`, `"john doe"@x` keeps its quotes. Postfix
 * logs and replies with this form too (postconf(5) info_log_address_format = external), and
 * looks addresses up in tables in the unquoted ("internal") form; `unquoteLocalPart()` gives it.
 */
import ipaddr from 'ipaddr.js';

/** RFC 5322 §3.2.3 atext, plus any non-ASCII character (RFC 6531 §3.3 UTF8-non-ascii). */
export function isAtext(ch: string): boolean {
  return /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]$/.test(ch) || ch.charCodeAt(0) > 0x7f;
}

/** RFC 5321 §4.1.2 Dot-string: atoms of atext joined by single dots, no dot at either end. */
export function isDotString(s: string): boolean {
  if (s === '' || s.startsWith('.') || s.endsWith('.') || s.includes('..')) return false;
  for (const ch of s) if (ch !== '.' && !isAtext(ch)) return false;
  return true;
}

/** Quotes a local part (unquoted form) only when it is not a Dot-string (RFC 5321 §4.1.2). */
export function quoteLocalPart(local: string): string {
  if (isDotString(local)) return local;
  return `"${local.replace(/(["\\])/g, '\\$1')}"`;
}

/**
 * The unquoted ("internal") form of a local part: quoted strings lose their quotes and
 * backslash escapes (RFC 5321 §4.1.2 quoted-pairSMTP). Text outside quotes is kept.
 */
export function unquoteLocalPart(local: string): string {
  let out = '';
  let inQuote = false;
  for (let i = 0; i < local.length; i++) {
    const ch = local[i]!;
    if (inQuote && ch === '\\' && i + 1 < local.length) { out += local[++i]!; continue; }
    if (ch === '"') { inQuote = !inQuote; continue; }
    out += ch;
  }
  return out;
}

/**
 * Index of the last `ch` that is outside a quoted string, or -1. Quoted strings may contain
 * `@`, `%` and `!` (RFC 5321 §4.1.2), which are then not address operators.
 */
export function lastUnquoted(s: string, ch: string): number {
  let found = -1;
  let inQuote = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (inQuote && c === '\\') { i++; continue; }
    if (c === '"') inQuote = !inQuote;
    else if (!inQuote && c === ch) found = i;
  }
  return found;
}

/** Index of the first `ch` outside a quoted string, or -1. */
export function firstUnquoted(s: string, ch: string): number {
  let inQuote = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (inQuote && c === '\\') { i++; continue; }
    if (c === '"') inQuote = !inQuote;
    else if (!inQuote && c === ch) return i;
  }
  return -1;
}

/**
 * Splits an address at its last unquoted `@`. The domain is lower-cased (domains are
 * case-insensitive, RFC 5321 §2.4); the local part is returned as written, quotes included,
 * because its case may matter to the final destination (RFC 5321 §2.4). An address without
 * `@` (`postmaster`, or '' for the null sender) has an empty domain.
 */
export function splitAddress(addr: string): { local: string; domain: string } {
  const at = lastUnquoted(addr, '@');
  if (at < 0) return { local: addr, domain: '' };
  return { local: addr.slice(0, at), domain: addr.slice(at + 1).toLowerCase() };
}

/**
 * A host name as Postfix's valid_hostname() accepts it: labels of letters, digits, `-` and `_`
 * (non-ASCII letters too when `utf8`), no label starting or ending in `-`, labels of at most 63
 * and names of at most 255 characters (RFC 1035 §2.3.4), not all-numeric (that is an IP address
 * written without brackets, RFC 5321 §4.1.3 requires brackets). One trailing dot is allowed.
 */
export function isValidHostname(name: string, utf8 = true): boolean {
  const n = name.endsWith('.') && !name.endsWith('..') ? name.slice(0, -1) : name;
  if (n === '' || n.length > 255) return false;
  const labels = n.split('.');
  let numeric = true;
  for (const label of labels) {
    if (label === '' || label.length > 63) return false;
    if (label.startsWith('-') || label.endsWith('-')) return false;
    for (const ch of label) {
      const ok = /^[A-Za-z0-9_-]$/.test(ch) || (utf8 && ch.charCodeAt(0) > 0x7f);
      if (!ok) return false;
    }
    if (!/^\d+$/.test(label)) numeric = false;
  }
  return !numeric;
}

/** The address inside an RFC 5321 §4.1.3 address literal, or undefined when it is not one. */
export function parseAddressLiteral(lit: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  const m = /^\[(.*)\]$/s.exec(lit);
  if (!m) return undefined;
  const inner = m[1]!;
  // IPv6-address-literal = "IPv6:" IPv6-addr; the tag is case-insensitive (RFC 5321 §4.1.3).
  const v6 = /^IPv6:(.+)$/i.exec(inner);
  if (v6) {
    const a = v6[1]!;
    if (!/^[0-9A-Fa-f:.]+$/.test(a) || !ipaddr.IPv6.isValid(a)) return undefined;
    return ipaddr.IPv6.parse(a);
  }
  // IPv4-address-literal = Snum 3("." Snum): dotted decimal only, no octal or hex forms.
  if (!ipaddr.IPv4.isValidFourPartDecimal(inner)) return undefined;
  return ipaddr.IPv4.parse(inner);
}

/** Domain part check: a host name or an IPv4/IPv6 address literal (General-address-literal is refused, as Postfix does). */
export function isValidDomain(domain: string, utf8 = true): boolean {
  if (domain.startsWith('[')) return parseAddressLiteral(domain) !== undefined;
  return isValidHostname(domain, utf8);
}
