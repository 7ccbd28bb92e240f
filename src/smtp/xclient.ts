/**
 * @module smtp/xclient
 * The XCLIENT command of Postfix (XCLIENT_README): an authorised client (a proxy, a content
 * filter, a test program) replaces what the server knows of the SMTP client — name, reverse
 * name, address, port, protocol, HELO name, SASL login — for the rest of the session, and the
 * session starts over at the greeting. This module parses and checks a command's attributes;
 * the session (smtp/session.ts) owns the preconditions, the state and the restart.
 *
 * Syntax (XCLIENT_README "XCLIENT Command syntax"): `XCLIENT 1*( SP name=value )`, names
 * without regard to case, values xtext (RFC 1891 §5; RFC 3461 §4): `+XX` is the octet XX.
 * As Postfix does for clients older than Postfix 2.3, a value that is not valid xtext is taken
 * as it is. `[UNAVAILABLE]` (and, for NAME and REVERSE_NAME, `[TEMPUNAVAIL]`) says the value
 * is not known, in any case.
 *
 * Checks and replies are those observed on Postfix 3.7.11 (see test/smtp/xclient.test.ts,
 * which compares both servers):
 * - `501 5.5.4 Error: attribute=value expected`: no `=`, or nothing after it;
 * - `501 5.5.4 Error: attribute value too long`: more than 255 octets before xtext decoding;
 * - `501 5.5.4 Bad XCLIENT attribute name: <name as sent>`;
 * - `501 5.5.4 Bad <NAME> syntax: <decoded value>`: a NAME/REVERSE_NAME that is no valid host
 *   name (valid_hostname(): labels of letters, digits, `-`, `_`, at most 63 long, no `-` at a
 *   label's ends, at most 255 in all, not all-numeric); an ADDR/DESTADDR that is no IPv4
 *   dotted quad or `IPv6:` address; a PORT/DESTPORT that is not 1–5 digits; a PROTO other than
 *   SMTP or ESMTP.
 * Attributes take effect in order: when one is bad, those before it have already been applied
 * (Postfix behaves so), which `partial` reports. Control characters in values become `?`, and
 * in HELO also the characters Postfix neuters for header safety (space < > ( ) \ " ; @).
 * A NAME or REVERSE_NAME of [UNAVAILABLE] or [TEMPUNAVAIL] becomes 'unknown', with the status
 * Postfix gives it (smtpd.c name_status_code()): permanent or temporary, so that
 * reject_unknown_client_hostname answers $unknown_client_reject_code or 450 as for a real lookup.
 */
import ipaddr from 'ipaddr.js';
import { validHostname } from '../engine/restrictions/hostname-syntax.js';
import { reply, type Reply } from './reply.js';

/** Attribute names in the order Postfix 3.7 announces them after EHLO. */
export const XCLIENT_ATTRIBUTES = ['NAME', 'ADDR', 'PROTO', 'HELO', 'REVERSE_NAME', 'PORT', 'LOGIN', 'DESTADDR', 'DESTPORT'] as const;
export type XclientAttributeName = (typeof XCLIENT_ATTRIBUTES)[number];

/** The EHLO keyword line, offered only to authorised clients. */
export const XCLIENT_EHLO_LINE = `XCLIENT ${XCLIENT_ATTRIBUTES.join(' ')}`;

/** What Postfix writes for a value that is not available (CLIENT_NAME_UNKNOWN etc.). */
export const UNKNOWN = 'unknown';

/** One accepted attribute, already decoded and checked. */
export type XclientAttribute =
  | { readonly attr: 'NAME' | 'REVERSE_NAME'; readonly value: string; readonly available: boolean; readonly status: 'ok' | 'temporary' | 'permanent' }
  | { readonly attr: 'ADDR' | 'DESTADDR'; readonly value: string }
  | { readonly attr: 'PORT' | 'DESTPORT'; readonly value: number | undefined }
  | { readonly attr: 'PROTO'; readonly value: 'SMTP' | 'ESMTP' }
  | { readonly attr: 'HELO'; readonly value: string | undefined }
  | { readonly attr: 'LOGIN'; readonly value: string | undefined };

export type XclientParse =
  | { readonly ok: true; readonly attributes: readonly XclientAttribute[] }
  /** `partial`: the attributes before the bad one, which Postfix has already applied. */
  | { readonly ok: false; readonly reply: Reply; readonly partial: readonly XclientAttribute[] };

/** The command's own syntax error (no attribute at all). */
export const XCLIENT_SYNTAX: Reply = reply(501, '5.4', 'Syntax: XCLIENT attribute=value...');
export const XCLIENT_UNAUTHORIZED: Reply = reply(550, '7.0', 'Error: insufficient authorization');
export const XCLIENT_IN_TRANSACTION: Reply = reply(503, '5.1', 'Error: MAIL transaction in progress');

const MAX_VALUE = 255;
/** Characters neutered in a HELO value (smtpd.c NEUTER_CHARACTERS). */
const NEUTER = /[ <>()\\";@]/g;

/** RFC 1891 §5 xtext decoding; undefined when `s` is not valid xtext. Hex digits in either case, as Postfix accepts. */
export function xtextDecode(s: string): Buffer | undefined {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2b) {
      const hex = s.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return undefined;
      out.push(parseInt(hex, 16));
      i += 2;
    } else if (c > 0xff) {
      out.push(...Buffer.from(s[i]!, 'utf8'));
    } else out.push(c);
  }
  return Buffer.from(out);
}

/** RFC 1891 §5 xtext encoding (for clients and tests): `+`, `=`, controls, space and non-ASCII as +XX. */
export function xtextEncode(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    out += b < 33 || b > 126 || b === 0x2b || b === 0x3d ? `+${b.toString(16).toUpperCase().padStart(2, '0')}` : String.fromCharCode(b);
  }
  return out;
}

/** Postfix printable(): control characters (and octets that are not UTF-8 text) become `?`. */
function printable(bytes: Buffer): string {
  let text: string;
  try { text = new TextDecoder('utf-8', { fatal: true }).decode(bytes); } catch { text = bytes.toString('latin1').replace(/[\x80-\xff]/g, '?'); }
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, '?');
}

/**
 * An ADDR value in the form Postfix keeps it: an IPv4 dotted quad (each part at most 255 in
 * decimal, and read as octal after a leading 0, as inet_aton does), or `IPv6:` plus an IPv6
 * address, compressed and in lower case; IPv4-mapped IPv6 becomes IPv4. Undefined when bad.
 */
export function normalizeClientAddress(value: string): string | undefined {
  if (/^ipv6:/i.test(value)) {
    const a = value.slice(5);
    if (!/^[0-9A-Fa-f:.]+$/.test(a) || !a.includes(':') || !ipaddr.IPv6.isValid(a)) return undefined;
    const v6 = ipaddr.IPv6.parse(a);
    return v6.isIPv4MappedAddress() ? v6.toIPv4Address().toString() : v6.toString();
  }
  const parts = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(value);
  if (!parts) return undefined;
  const bytes: number[] = [];
  for (const p of parts.slice(1)) {
    if (Number(p) > 255) return undefined;
    if (p.length > 1 && p.startsWith('0')) {
      if (!/^[0-7]+$/.test(p)) return undefined;
      bytes.push(parseInt(p, 8));
    } else bytes.push(Number(p));
  }
  return bytes.join('.');
}

const unavailable = (v: string) => v.toUpperCase() === '[UNAVAILABLE]';
const bad = (attr: XclientAttributeName, value: string) => reply(501, '5.4', `Bad ${attr} syntax: ${value}`);

/** Checks one decoded value; a reply when it is bad. */
function attribute(attr: XclientAttributeName, value: string): XclientAttribute | Reply {
  switch (attr) {
    case 'NAME': case 'REVERSE_NAME': {
      const u = value.toUpperCase();
      if (u === '[UNAVAILABLE]' || u === '[TEMPUNAVAIL]') return { attr, value: UNKNOWN, available: false, status: u === '[TEMPUNAVAIL]' ? 'temporary' : 'permanent' };
      return validHostname(value) ? { attr, value, available: true, status: 'ok' } : bad(attr, value);
    }
    case 'ADDR': case 'DESTADDR': {
      if (unavailable(value)) return { attr, value: UNKNOWN };
      const a = normalizeClientAddress(value);
      return a === undefined ? bad(attr, value) : { attr, value: a };
    }
    case 'PORT': case 'DESTPORT':
      if (unavailable(value)) return { attr, value: undefined };
      return /^\d{1,5}$/.test(value) ? { attr, value: Number(value) } : bad(attr, value);
    case 'PROTO': {
      const u = value.toUpperCase();
      return u === 'SMTP' || u === 'ESMTP' ? { attr, value: u } : bad(attr, value);
    }
    case 'HELO':
      if (unavailable(value)) return { attr, value: undefined };
      return { attr, value: value.replace(NEUTER, '?') };
    case 'LOGIN':
      return { attr, value: unavailable(value) ? undefined : value };
  }
}

/**
 * smtpTokens - splits command arguments as Postfix's smtpd_token() does: at white space, except
 * inside "…" and <…> (kept with their quotes; a backslash escapes the next character), and
 * after a leading `to:` or `from:`. An unclosed quote runs to the end of the line.
 */
export function smtpTokens(line: string): string[] {
  const out: string[] = [];
  let tok = '';
  let i = 0;
  const quoted = (open: string, close: string) => {
    const stack = [close];
    tok += open;
    while (i < line.length && stack.length) {
      const c = line[i++]!;
      tok += c;
      if (c === '\\') { if (i < line.length) tok += line[i++]!; }
      else if (c === stack[stack.length - 1]) stack.pop();
      else if (c === '"') stack.push('"');
      else if (c === '<' && stack[stack.length - 1] === '>') stack.push('>');
    }
  };
  while (i < line.length) {
    const c = line[i++]!;
    if (/\s/.test(c)) {
      if (tok) { out.push(tok); tok = ''; }
    } else if (c === '<') quoted(c, '>');
    else if (c === '"') quoted(c, '"');
    else if (c === ':') {
      tok += c;
      if (/^(to|from):$/i.test(tok)) { out.push(tok); tok = ''; }
    } else {
      if (c === '\\' && i < line.length) tok += c + line[i++]!;
      else tok += c;
    }
  }
  if (tok) out.push(tok);
  return out;
}

/** parseXclient - checks the arguments of an XCLIENT command (the text after the verb). */
export function parseXclient(args: string): XclientParse {
  const done: XclientAttribute[] = [];
  const fail = (r: Reply): XclientParse => ({ ok: false, reply: r, partial: done });
  for (const item of smtpTokens(args)) {
    const eq = item.indexOf('=');
    if (eq < 0 || eq === item.length - 1) return fail(reply(501, '5.4', 'Error: attribute=value expected'));
    const name = item.slice(0, eq);
    const raw = item.slice(eq + 1);
    if (Buffer.byteLength(raw, 'utf8') > MAX_VALUE) return fail(reply(501, '5.4', 'Error: attribute value too long'));
    const attr = XCLIENT_ATTRIBUTES.find((a) => a === name.toUpperCase());
    if (!attr) return fail(reply(501, '5.4', `Bad XCLIENT attribute name: ${name}`));
    const value = printable(xtextDecode(raw) ?? Buffer.from(raw, 'utf8'));
    const a = attribute(attr, value);
    if ('code' in a) return fail(a);
    done.push(a);
  }
  return { ok: true, attributes: done };
}

/** The client facts an XCLIENT command can replace, as the session keeps them. */
export interface XclientState {
  readonly name: string;
  readonly reverseName: string;
  readonly address: string;
  readonly port: number;
  readonly helo: string | undefined;
  readonly protocol: 'SMTP' | 'ESMTP';
  readonly login: string | undefined;
  readonly destAddress?: string;
  readonly destPort?: number;
  /** Why name / reverseName is 'unknown' (engine ClientInfo); absent: as the engine defaults. */
  readonly nameStatus?: 'ok' | 'temporary' | 'permanent';
  readonly reverseNameStatus?: 'ok' | 'temporary' | 'permanent';
}

/**
 * applyXclient - the state after `attrs`, and which of HELO, PROTO and LOGIN they set (after a
 * successful command, the others are reset: XCLIENT_README "XCLIENT Server response"). A
 * successful NAME also sets the reverse name, as Postfix does.
 */
export function applyXclient(s: XclientState, attrs: readonly XclientAttribute[]): { state: XclientState; helo: boolean; protocol: boolean; login: boolean } {
  let st = { ...s };
  let helo = false, protocol = false, login = false;
  for (const a of attrs) {
    switch (a.attr) {
      case 'NAME': st = { ...st, name: a.value, nameStatus: a.status, ...(a.available ? { reverseName: a.value, reverseNameStatus: a.status } : {}) }; break;
      case 'REVERSE_NAME': st = { ...st, reverseName: a.value, reverseNameStatus: a.status }; break;
      case 'ADDR': st = { ...st, address: a.value }; break;
      case 'PORT': st = { ...st, port: a.value ?? 0 }; break;
      case 'DESTADDR': st = { ...st, destAddress: a.value }; break;
      case 'DESTPORT': st = { ...st, destPort: a.value }; break;
      case 'PROTO': st = { ...st, protocol: a.value }; protocol = true; break;
      case 'HELO': st = { ...st, helo: a.value }; helo = true; break;
      // LOGIN=[UNAVAILABLE] changes nothing by itself; a successful command then drops the login.
      case 'LOGIN': if (a.value !== undefined) { st = { ...st, login: a.value }; login = true; } break;
    }
  }
  return { state: st, helo, protocol, login };
}
