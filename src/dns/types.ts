/**
 * @module dns/types
 * The resolver's contract with the engine and the faces. Every lookup ends in exactly one of
 * these results, so that a restriction can follow Postfix: a temporary failure (timeout,
 * SERVFAIL, refused, garbage) gives a 4xx or nothing, never a 5xx.
 */

export type RecordType = 'A' | 'AAAA' | 'MX' | 'TXT' | 'PTR' | 'NS' | 'CNAME' | 'SOA';

/** One answer record, as the restrictions need it. */
export type DnsRecord =
  | { readonly type: 'A' | 'AAAA'; readonly address: string; readonly ttl: number }
  | { readonly type: 'MX'; readonly preference: number; readonly exchange: string; readonly ttl: number }
  | { readonly type: 'TXT'; readonly text: string; readonly ttl: number }          // strings of one record joined
  | { readonly type: 'PTR' | 'NS' | 'CNAME'; readonly name: string; readonly ttl: number }
  | {
      readonly type: 'SOA'; readonly mname: string; readonly rname: string; readonly serial: number;
      /** RFC 2308 §4: the negative-caching time of the zone. */
      readonly minimum: number; readonly ttl: number;
    };

export type DnsResult =
  /** The name has records of the type (CNAMEs followed); `records` is never empty. */
  | { readonly kind: 'answer'; readonly records: readonly DnsRecord[] }
  /** The name does not exist (RCODE NXDOMAIN): permanent. */
  | { readonly kind: 'nxdomain' }
  /** The name exists but has no record of this type (NOERROR, empty answer): permanent. */
  | { readonly kind: 'nodata' }
  /** Temporary: the server answered SERVFAIL. */
  | { readonly kind: 'servfail' }
  /** Temporary: the server refused (RCODE REFUSED) or answered another error code. */
  | { readonly kind: 'refused'; readonly rcode: string }
  /** Temporary: no answer within the timeout, from any server. */
  | { readonly kind: 'timeout' }
  /** Temporary: an answer that could not be parsed or does not match the question. */
  | { readonly kind: 'error'; readonly detail: string };

/** Whether a result is a temporary failure (Postfix DNS_RETRY). */
export function isTemporary(r: DnsResult): boolean {
  return r.kind === 'servfail' || r.kind === 'refused' || r.kind === 'timeout' || r.kind === 'error';
}

export interface Resolver {
  /** Looks `name` up; never throws, never waits longer than the configured timeout. */
  lookup(name: string, type: RecordType): Promise<DnsResult>;
  /** PTR lookup of an IPv4 or IPv6 address (in-addr.arpa / ip6.arpa). */
  reverse(address: string): Promise<DnsResult>;
}
