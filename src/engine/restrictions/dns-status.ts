/**
 * @module engine/restrictions/dns-status
 * DNS lookups as the Postfix SMTP server's restrictions see them (dns/dns_lookup.c,
 * util/myaddrinfo.c), on top of the resolver's typed results (dns/types):
 *
 * - `lookupTypes(name, types, stop)` is dns_lookup_l(): the types are asked in order, and the
 *   walk stops early on the statuses named in `stop`; otherwise the result is the status of
 *   highest precedence among all the answers: OK, then a temporary failure (RETRY), then a
 *   malformed answer (INVAL), then nullMX, then "not found" (dns.h precedence order). So
 *   "A: SERVFAIL, AAAA: NXDOMAIN, MX: NXDOMAIN" is a temporary failure, never a 5xx.
 * - A name that Postfix would not send to the DNS at all (an IP address, or not a valid host
 *   name, e.g. with a trailing dot or `_`-free junk like `bad!name`) is "not found" without a
 *   query, as dns_lookup_x() does.
 * - An MX answer with an empty exchange (RFC 7505 nullMX, `0 .`) is NULLMX; an MX exchange that
 *   is numeric or not a valid host name makes the answer INVAL ("Malformed DNS server reply"),
 *   with Postfix's warning.
 * - `hostAddresses(name)` is getaddrinfo() as hostname_to_sockaddr() uses it: A and AAAA
 *   (per $inet_protocols); a failure carries the C library's text ("Name or service not
 *   known", "No address associated with hostname", "Temporary failure in name resolution").
 *
 * XXX: smtpd_dns_reply_filter is not implemented, so DNS_POLICY never happens.
 */
import { domainToASCII } from 'node:url';
import type { Config } from '../../config/config.js';
import type { DnsRecord, DnsResult, RecordType, Resolver } from '../../dns/index.js';
import { validHostaddr, validHostname } from './hostname-syntax.js';

/** dns_lookup() result statuses, in Postfix's precedence order (dns.h). */
export type DnsStatus = 'ok' | 'retry' | 'inval' | 'nullmx' | 'notfound';
const PRECEDENCE: Record<DnsStatus, number> = { ok: 4, retry: 3, inval: 2, nullmx: 1, notfound: 0 };

export interface TypedLookup {
  readonly status: DnsStatus;
  /** Records of every type that answered (MX exchanges lower case, without the trailing dot). */
  readonly records: readonly DnsRecord[];
  /** dns_strerror(h_errno) of the deciding answer: "Host not found", "Host not found, try again", … */
  readonly error: string;
  /** What was asked and answered, for traces: `example.test/MX nxdomain`. */
  readonly detail: string;
}

/** A name in the form the resolver takes: non-ASCII domains converted to A-labels (midna_domain_to_ascii). */
export function asciiName(name: string): string {
  if (/^[\x00-\x7f]*$/.test(name)) return name;
  return domainToASCII(name) || name;
}

/** Whether dns_lookup_x() sends `name` to the DNS at all. */
export function queryable(name: string): boolean {
  return !validHostaddr(name) && validHostname(wildcardless(name));
}

/** DO_WILDCARD: a leading `*.` label is allowed. */
const wildcardless = (name: string) => (name.startsWith('*.') ? name.slice(2) : name);

function statusOf(type: RecordType, r: DnsResult, warn: (text: string) => void, name: string): { status: DnsStatus; error: string } {
  switch (r.kind) {
    case 'answer': {
      if (type === 'MX') {
        for (const rec of r.records) {
          if (rec.type !== 'MX') continue;
          const ex = rec.exchange.replace(/\.$/, '');
          if (ex === '') return { status: 'nullmx', error: 'Host found but no data record of requested type' };
          if (validHostaddr(ex) || !validHostname(wildcardless(ex))) {
            warn(`${validHostaddr(ex) ? 'numeric domain name' : 'malformed domain name'} in resource data of MX record for ${name}: ${ex.slice(0, 100)}`);
            return { status: 'inval', error: 'Host not found' };
          }
        }
      }
      return { status: 'ok', error: '' };
    }
    case 'nxdomain': return { status: 'notfound', error: 'Host not found' };
    case 'nodata': return { status: 'notfound', error: 'Host found but no data record of requested type' };
    // The C resolver tries the next server after a REFUSED, and reports TRY_AGAIN when none is left.
    case 'servfail': case 'refused': case 'timeout': case 'error': return { status: 'retry', error: 'Host not found, try again' };
  }
}

/**
 * dns_lookup_l(name, types…, flags): see the module comment. `stop` lists the statuses after
 * which no further type is asked (DNS_REQ_FLAG_STOP_OK, _STOP_NULLMX, _STOP_INVAL).
 */
export async function lookupTypes(dns: Resolver, name: string, types: readonly RecordType[], stop: readonly DnsStatus[], warn: (text: string) => void): Promise<TypedLookup> {
  const ascii = asciiName(name);
  if (!queryable(ascii)) return { status: 'notfound', records: [], error: 'Host not found', detail: `${name}: not a host name, not looked up` };
  let best: { status: DnsStatus; error: string } | undefined;
  const records: DnsRecord[] = [];
  const seen: string[] = [];
  for (const type of types) {
    const r = await dns.lookup(ascii, type);
    const s = statusOf(type, r, warn, ascii);
    seen.push(`${type} ${r.kind}`);
    if (r.kind === 'answer' && s.status === 'ok') records.push(...r.records.filter((x) => x.type === type));
    if (!best || PRECEDENCE[s.status] >= PRECEDENCE[best.status]) best = s;
    if (stop.includes(s.status)) { best = s; break; }
  }
  const b = best ?? { status: 'notfound' as const, error: 'Host not found' };
  return { status: b.status, records, error: b.error, detail: `${ascii}: ${seen.join(', ')}` };
}

/** Address families asked for, from $inet_protocols (inet_proto_info()). */
export function addressTypes(cfg: Config): ('A' | 'AAAA')[] {
  const p = cfg.list('inet_protocols').map((x) => x.toLowerCase());
  if (p.includes('all')) return ['A', 'AAAA'];
  const out: ('A' | 'AAAA')[] = [];
  if (p.includes('ipv4')) out.push('A');
  if (p.includes('ipv6')) out.push('AAAA');
  return out.length ? out : ['A', 'AAAA'];
}

export type HostAddresses =
  | { readonly ok: true; readonly addresses: readonly string[] }
  | { readonly ok: false; readonly temporary: boolean; readonly error: string };

/** getaddrinfo() of a host name through the resolver (hostname_to_sockaddr()); see the module comment. */
export async function hostAddresses(dns: Resolver, cfg: Config, name: string): Promise<HostAddresses> {
  const ascii = asciiName(name);
  if (validHostaddr(ascii)) return { ok: true, addresses: [ascii] };
  if (!validHostname(ascii)) return { ok: false, temporary: false, error: 'Name or service not known' };
  const results = await Promise.all(addressTypes(cfg).map((t) => dns.lookup(ascii, t)));
  const addresses: string[] = [];
  for (const r of results) {
    if (r.kind === 'answer') for (const rec of r.records) if (rec.type === 'A' || rec.type === 'AAAA') addresses.push(rec.address);
  }
  if (addresses.length) return { ok: true, addresses };
  if (results.some((r) => r.kind !== 'answer' && r.kind !== 'nxdomain' && r.kind !== 'nodata')) {
    return { ok: false, temporary: true, error: 'Temporary failure in name resolution' };
  }
  if (results.every((r) => r.kind === 'nxdomain')) return { ok: false, temporary: false, error: 'Name or service not known' };
  return { ok: false, temporary: false, error: 'No address associated with hostname' };
}
