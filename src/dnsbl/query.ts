/**
 * @module dnsbl/query
 * One DNS list lookup (Postfix smtpd_check.c rbl_pagein(), postscreen dnsblog): the A records of
 * `<key>.<list>`, read through the list's health (dnsbl/health) and its answer rules
 * (dnsbl/codes). NXDOMAIN and NODATA are "not listed"; a temporary failure is never a listing;
 * an operator's refusal code or an answer outside 127/8 is never a listing either. The resolver
 * caches answers and coalesces identical lookups in flight.
 */
import { isIP } from 'node:net';
import { isTemporary, type DnsResult, type Resolver } from '../dns/index.js';
import { classifyAnswer } from './codes.js';
import { describeResult, type ListHealthRegistry, type ListKind } from './health.js';

export type ListAnswer =
  /** A usable answer: the A record addresses (before any reply filter). */
  | { readonly kind: 'listed'; readonly name: string; readonly addresses: readonly string[] }
  | { readonly kind: 'not_listed'; readonly name: string }
  /** Not a listing: the list refused the query or answered nonsense. */
  | { readonly kind: 'refused'; readonly name: string; readonly why: string }
  /** Temporary failure (Postfix: RBL lookup error). */
  | { readonly kind: 'failed'; readonly name: string; readonly result: DnsResult }
  /** Not asked: the list is degraded or refusing, or failed earlier in this session. */
  | { readonly kind: 'skipped'; readonly name: string; readonly why: string };

export interface QueryOptions {
  readonly resolver: Resolver;
  readonly health: ListHealthRegistry;
  /** The list's domain, without `=filter`. */
  readonly domain: string;
  readonly kind: ListKind;
  /** The session (its ClientInfo object): a list that failed once is not asked again in it. */
  readonly session?: object;
  /** Upper bound of this lookup in ms (postscreen_dnsbl_timeout); the resolver's own otherwise. */
  readonly timeoutMs?: number;
  /** Warnings about the list's state, when the health registry has no log attached. */
  readonly warn?: (text: string) => void;
}

/** reverseIp - the query label of an address: reversed IPv4 octets or 32 reversed IPv6 nibbles. */
export function reverseIp(address: string): string | undefined {
  const v = isIP(address);
  if (v === 4) return address.split('.').reverse().join('.');
  if (v !== 6) return undefined;
  // Expand :: and embedded IPv4, then take the nibbles in reverse.
  let a = address.toLowerCase();
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (v4) {
    const o = v4[1]!.split('.').map(Number);
    a = a.slice(0, -v4[1]!.length) + `${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const [head, tail] = a.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const hex = groups.map((g) => g.padStart(4, '0')).join('');
  if (hex.length !== 32) return undefined;
  return hex.split('').reverse().join('.');
}

function withTimeout(p: Promise<DnsResult>, ms: number | undefined): Promise<DnsResult> {
  if (ms === undefined) return p;
  let t: NodeJS.Timeout | undefined;
  const timer = new Promise<DnsResult>((res) => { t = setTimeout(() => res({ kind: 'timeout' }), ms); t.unref?.(); });
  return Promise.race([p, timer]).finally(() => clearTimeout(t));
}

/** queryList - looks `<key>.<domain>` up as a DNS list entry. */
export async function queryList(key: string, o: QueryOptions): Promise<ListAnswer> {
  const name = `${key}.${o.domain}`;
  const skip = o.health.skipReason(o.domain, o.kind, o.session);
  if (skip) return { kind: 'skipped', name, why: skip };
  const r = await withTimeout(o.resolver.lookup(name, 'A'), o.timeoutMs);
  const note = (w: string[]) => { for (const x of w) o.warn?.(x); };
  if (isTemporary(r)) {
    note(o.health.record(o.domain, o.kind, { kind: 'failed', name, answer: describeResult(r) }, o.session));
    return { kind: 'failed', name, result: r };
  }
  if (r.kind !== 'answer') {
    note(o.health.record(o.domain, o.kind, { kind: 'not_listed', name, answer: describeResult(r) }, o.session));
    return { kind: 'not_listed', name };
  }
  const addresses = r.records.flatMap((x) => (x.type === 'A' ? [x.address] : []));
  const c = classifyAnswer(o.domain, addresses);
  if (c.kind === 'refused') {
    note(o.health.record(o.domain, o.kind, { kind: 'refused', name, answer: addresses.join(' '), why: `${c.why} (query ${name})` }, o.session));
    return { kind: 'refused', name, why: c.why };
  }
  note(o.health.record(o.domain, o.kind, { kind: 'listed', name, answer: addresses.join(' ') }, o.session));
  return { kind: 'listed', name, addresses };
}

const TXT_LIMIT = 500;

/**
 * listingText - the TXT records of a listed name, joined with " / " up to 500 characters
 * (rbl_pagein()); '' when there are none or the lookup fails.
 */
export async function listingText(resolver: Resolver, name: string): Promise<string> {
  const r = await resolver.lookup(name, 'TXT');
  if (r.kind !== 'answer') return '';
  let out = '';
  const txts = r.records.flatMap((x) => (x.type === 'TXT' ? [x.text] : []));
  for (let i = 0; i < txts.length; i++) {
    const left = TXT_LIMIT - out.length;
    if (left <= 0) break;
    out += txts[i]!.slice(0, left);
    if (i + 1 < txts.length && TXT_LIMIT - out.length > 3) out += ' / ';
  }
  return out;
}

/**
 * lookupErrorText - the warning Postfix logs for a failed list lookup (dns_lookup()'s "why"
 * text for a temporary failure): `NAME: RBL lookup error: Host or domain name not found. …`.
 */
export function lookupErrorText(name: string, _r: DnsResult): string {
  return `${name}: RBL lookup error: Host or domain name not found. Name service error for name=${name} type=A: Host not found, try again`;
}
