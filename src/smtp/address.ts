/**
 * @module smtp/address
 * Parses the argument of MAIL FROM and RCPT TO (the text after `MAIL FROM:` / `RCPT TO:`):
 * a reverse-path or forward-path (RFC 5321 §4.1.1.2, §4.1.1.3, §4.1.2) and ESMTP parameters.
 *
 * What is accepted, and how it differs from the RFC grammar:
 * - `<>` is the null reverse-path (MAIL only, RFC 5321 §4.5.5); `RCPT TO:<>` is refused.
 * - A source route `<@a,@b:user@dom>` is accepted and dropped (RFC 5321 §4.1.2 and Appendix C:
 *   servers accept the deprecated form and ignore the route), as Postfix does.
 * - `<postmaster>` without a domain is accepted in RCPT TO (RFC 5321 §4.1.1.3, §4.5.1).
 * - Without strict_rfc821_envelopes the angle brackets may be missing (`MAIL FROM:user@dom`),
 *   as Postfix allows; with it they are required.
 * - The local part is a Dot-string or a Quoted-string. Like Postfix, a Dot-string with empty
 *   atoms (`a..b`, `a.`) is accepted; the address is then carried with the local part quoted.
 * - The domain is a host name (Postfix's valid_hostname rules) or an IPv4/IPv6 address literal.
 *   Unlike Postfix, other domain-less addresses, a trailing `@` and RFC 822 comments or phrases
 *   are refused: "strict on the wire" (DESIGN.md).
 * - Non-ASCII octets need SMTPUTF8 (RFC 6531 §3.5): `553 5.6.7 Must declare SMTPUTF8 to send
 *   unicode address`, Postfix's reply.
 *
 * The returned address is the external form with the local part quoted only when needed
 * (see engine/mailbox), the form Postfix logs; the session and the engine both use it.
 */
import { isAtext, isValidDomain, quoteLocalPart, splitAddress as splitMailbox, unquoteLocalPart } from '../engine/mailbox.js';
import { reply, type Reply } from './reply.js';

export interface AddressOptions {
  /** SMTPUTF8 was given on MAIL FROM (RFC 6531 §3.4), or 8-bit addresses are allowed anyway. */
  readonly smtputf8: boolean;
  /** postconf(5) strict_rfc821_envelopes: require `<>` around the address. */
  readonly strict: boolean;
}

/** ESMTP parameters by upper-cased keyword; a keyword without `=value` maps to `true`. */
export type EsmtpParams = Map<string, string | true>;

export type ParsedPath =
  | { readonly ok: true; readonly address: string; readonly params: EsmtpParams }
  | { readonly ok: false; readonly reply: Reply };

/** Splits an address at its last unquoted `@`; the domain is lower-cased. */
export function splitAddress(addr: string): { local: string; domain: string } {
  return splitMailbox(addr);
}

/** Parses the text after `MAIL FROM:`. SMTPUTF8 among the parameters allows 8-bit addresses. */
export function parseMailFrom(arg: string, opts: AddressOptions): ParsedPath {
  return parsePath(arg, opts, 'mail');
}

/** Parses the text after `RCPT TO:`. */
export function parseRcptTo(arg: string, opts: AddressOptions): ParsedPath {
  return parsePath(arg, opts, 'rcpt');
}

type Verb = 'mail' | 'rcpt';

// Postfix smtpd's reply texts (smtpd.c mail_cmd, rcpt_cmd, extract_addr).
const SYNTAX: Record<Verb, Reply> = {
  mail: reply(501, '5.4', 'Syntax: MAIL FROM:<address>'),
  rcpt: reply(501, '5.4', 'Syntax: RCPT TO:<address>'),
};
const BAD_ADDRESS: Record<Verb, Reply> = {
  mail: reply(501, '1.7', 'Bad sender address syntax'),
  rcpt: reply(501, '1.3', 'Bad recipient address syntax'),
};
const NEED_SMTPUTF8 = reply(553, '6.7', 'Must declare SMTPUTF8 to send unicode address');

const CONTROL = /[\x00-\x1f\x7f]/;
const NON_ASCII = /[^\x00-\x7f]/;

function parsePath(arg: string, opts: AddressOptions, verb: Verb): ParsedPath {
  // Postfix tolerates white space between the colon and the path ("MAIL FROM: <a@b>").
  const s = arg.replace(/^[ \t]+/, '').replace(/[ \t]+$/, '');
  if (s === '') return { ok: false, reply: SYNTAX[verb] };

  const split = splitPathAndParams(s, opts.strict);
  if (!split) return { ok: false, reply: BAD_ADDRESS[verb] };
  const params = parseParams(split.rest);

  const mailbox = parseMailbox(split.path, verb);
  if (mailbox === undefined) return { ok: false, reply: BAD_ADDRESS[verb] };

  // RFC 6531 §3.5: an address with non-ASCII characters needs SMTPUTF8 on MAIL FROM. Checked
  // after the syntax, before the parameters, in Postfix's order (smtpd.c extract_addr).
  const utf8 = opts.smtputf8 || (verb === 'mail' && params.ok && params.params.has('SMTPUTF8'));
  if (!utf8 && NON_ASCII.test(mailbox)) return { ok: false, reply: NEED_SMTPUTF8 };

  if (!params.ok) return { ok: false, reply: params.reply };
  return { ok: true, address: mailbox, params: params.params };
}

/**
 * Cuts the argument into the path (without angle brackets) and the parameter text. With
 * brackets the path ends at the first `>` outside a quoted string; without them (allowed
 * unless strict) at the first white space outside a quoted string.
 */
function splitPathAndParams(s: string, strict: boolean): { path: string; rest: string } | undefined {
  let end: number;
  let path: string;
  if (s.startsWith('<')) {
    end = scanTo(s, 1, (c) => c === '>');
    if (end < 0) return undefined;
    path = s.slice(1, end);
    end += 1;
  } else {
    if (strict) return undefined;  // postconf(5) strict_rfc821_envelopes
    end = scanTo(s, 0, (c) => c === ' ' || c === '\t');
    if (end < 0) end = s.length;
    path = s.slice(0, end);
    // "Name <user@example>": a phrase before the path is RFC 822, not RFC 5321; refused.
    if (path.includes('<') || path.includes('>') || s.slice(end).includes('<')) return undefined;
  }
  const rest = s.slice(end);
  // RFC 5321 §4.1.1.2: parameters are separated from the path by SP.
  if (rest !== '' && !/^[ \t]/.test(rest)) return undefined;
  return { path, rest: rest.trim() };
}

/** Index of the first character at or after `from` that satisfies `stop`, outside quotes; -1 if none. */
function scanTo(s: string, from: number, stop: (c: string) => boolean): number {
  let inQuote = false;
  for (let i = from; i < s.length; i++) {
    const c = s[i]!;
    if (inQuote) {
      if (c === '\\') i++;
      else if (c === '"') inQuote = false;
      continue;
    }
    if (c === '"') inQuote = true;
    else if (stop(c)) return i;
  }
  return -1;
}

/**
 * The mailbox inside the path, normalised, or undefined on a syntax error.
 * Path = "<" [ A-d-l ":" ] Mailbox ">" (RFC 5321 §4.1.2); '' is the null path.
 */
function parseMailbox(path: string, verb: Verb): string | undefined {
  if (CONTROL.test(path)) return undefined;
  if (path === '') return verb === 'mail' ? '' : undefined;

  let box = path;
  if (box.startsWith('@')) {
    // A-d-l = At-domain *( "," At-domain ); the route is ignored (RFC 5321 §4.1.2, Appendix C).
    const colon = box.indexOf(':');
    if (colon < 0) return undefined;
    const route = box.slice(0, colon).split(',');
    if (!route.every((hop) => hop.startsWith('@') && isValidDomain(hop.slice(1)))) return undefined;
    box = box.slice(colon + 1);
    if (box === '') return undefined;
  }

  // RFC 5321 §4.1.1.3 and §4.5.1: "postmaster" without a domain must be accepted in RCPT TO.
  if (verb === 'rcpt' && path === box && box.toLowerCase() === 'postmaster') return box;

  const local = scanLocalPart(box);
  if (local === undefined) return undefined;
  // Like Postfix's smtpd, an address without a domain is passed on to the restrictions
  // (reject_non_fqdn_sender/recipient answer it); the queue gets it qualified with $myorigin.
  if (local.end === box.length) return quoteLocalPart(local.text);
  if (box[local.end] !== '@') return undefined;
  const domain = box.slice(local.end + 1);
  // Sender-specified routing (user@relay@final) is not a syntax error either: the restrictions
  // refuse to relay it (engine/address-class RESOLVE_FLAG_ROUTED). Each part must be a domain.
  // Postfix also takes an empty part in between (user@@domain); the last part must be a domain.
  const parts = domain.split('@');
  if (!isValidDomain(parts[parts.length - 1]!) || !parts.slice(0, -1).every((d) => d === '' || isValidDomain(d))) return undefined;
  return `${quoteLocalPart(local.text)}@${domain}`;
}

/**
 * Local-part = Dot-string / Quoted-string (RFC 5321 §4.1.2). Returns the unquoted text and the
 * index just past the local part. Empty atoms are tolerated as Postfix does; the caller then
 * quotes the result.
 */
function scanLocalPart(box: string): { text: string; end: number } | undefined {
  if (box.startsWith('"')) {
    // Quoted-string = DQUOTE *QcontentSMTP DQUOTE; qtextSMTP is %d32-33 / %d35-91 / %d93-126
    // (and UTF-8 with SMTPUTF8, RFC 6531 §3.3); quoted-pairSMTP is "\" %d32-126.
    let i = 1;
    for (; i < box.length; i++) {
      const c = box[i]!;
      if (c === '\\') {
        const n = box[i + 1];
        if (n === undefined || n.charCodeAt(0) < 32) return undefined;
        i++;
      } else if (c === '"') {
        break;
      }
    }
    if (i >= box.length) return undefined;
    return { text: unquoteLocalPart(box.slice(0, i + 1)), end: i + 1 };
  }
  let i = 0;
  while (i < box.length && (box[i] === '.' || isAtext(box[i]!))) i++;
  if (i === 0) return undefined;
  return { text: box.slice(0, i), end: i };
}

/**
 * esmtp-param = esmtp-keyword ["=" esmtp-value] (RFC 5321 §4.1.2); keywords are
 * case-insensitive (RFC 5321 §2.4) and stored upper-cased. A keyword given twice is refused.
 * Which keywords are supported is the session's decision (555 for the others).
 */
function parseParams(rest: string): { ok: true; params: EsmtpParams } | { ok: false; reply: Reply } {
  const params: EsmtpParams = new Map();
  if (rest === '') return { ok: true, params };
  for (const tok of rest.split(/[ \t]+/)) {
    const eq = tok.indexOf('=');
    const key = (eq < 0 ? tok : tok.slice(0, eq)).toUpperCase();
    // esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
    if (!/^[A-Z0-9][A-Z0-9-]*$/.test(key)) return { ok: false, reply: reply(555, '5.4', `Unsupported option: ${tok}`) };
    let value: string | true = true;
    if (eq >= 0) {
      value = tok.slice(eq + 1);
      // esmtp-value = 1*(%d33-60 / %d62-126), plus UTF-8 with SMTPUTF8 (RFC 6531 §3.3).
      if (value === '' || value.includes('=') || CONTROL.test(value)) return { ok: false, reply: reply(501, '5.4', `Bad ${key} parameter syntax`) };
    }
    if (params.has(key)) return { ok: false, reply: reply(501, '5.4', `Bad ${key} parameter syntax`) };
    params.set(key, value);
  }
  return { ok: true, params };
}
