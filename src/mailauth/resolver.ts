/**
 * @module mailauth/resolver
 * The bridge from mxguard's resolver (dns/types.ts: every lookup ends in one typed result,
 * never a throw) to the resolver function mailauth calls: Node's `dns.promises.resolve(name,
 * rrtype)` shape, which returns an array of records and signals "no such name" and "no such
 * record" by throwing errors with the codes ENOTFOUND and ENODATA.
 *
 * mailauth reads the codes (lib/spf/index.js, lib/dkim/dkim-verifier.js,
 * lib/dmarc/get-dmarc-record.js): ENOTFOUND/ENODATA are answers (SPF counts them as void
 * lookups, RFC 7208 §4.6.4); every other code is a temporary failure (temperror). So each
 * temporary kind of DnsResult maps to a code that is neither: ESERVFAIL, EREFUSED, ETIMEOUT,
 * EBADRESP. A DNS failure can therefore never turn into fail/none/permerror.
 */
import type { DnsRecord, DnsResult, RecordType, Resolver } from '../dns/types.js';

/** What mailauth passes in (its DNSResolver type). */
export type MailauthResolver = (name: string, rrtype: string) => Promise<string[][] | string[]>;

const TYPES: ReadonlySet<string> = new Set<RecordType>(['A', 'AAAA', 'MX', 'TXT', 'PTR', 'NS', 'CNAME', 'SOA']);

const VOID = new Set(['ENOTFOUND', 'ENODATA']);

/** A Node-style DNS error: `err.code` is what mailauth looks at. */
export class DnsLookupError extends Error {
  override readonly name = 'DnsLookupError';
  /**
   * Set on temporary failures. mailauth 4.13's SPF evaluator turns only ETIMEOUT and EREFUSED
   * into temperror by itself; inside include: and redirect= it drops any other error without
   * this property and goes on to the next term, so a SERVFAIL in an included record could
   * end in `-all`, a fail (lib/spf/spf-verify.js). With it, the include returns temperror
   * (RFC 7208 §5.2: a temperror in the included check is a temperror).
   */
  readonly spfResult?: { error: 'temperror'; text: string };
  constructor(readonly code: string, readonly hostname: string, readonly rrtype: string) {
    super(`query${rrtype} ${code} ${hostname}`);
    if (!VOID.has(code)) this.spfResult = { error: 'temperror', text: `DNS ${code} for ${hostname} ${rrtype}` };
  }
}

/** The Node error code for a result that carries no records. */
export function errorCode(r: Exclude<DnsResult, { kind: 'answer' }>): string {
  switch (r.kind) {
    case 'nxdomain': return 'ENOTFOUND';
    case 'nodata': return 'ENODATA';
    case 'servfail': return 'ESERVFAIL';
    case 'refused': return 'EREFUSED';
    case 'timeout': return 'ETIMEOUT';
    case 'error': return 'EBADRESP';
  }
}

/** One record in the shape dns.promises.resolve gives for its type. */
function shape(rec: DnsRecord): unknown {
  switch (rec.type) {
    case 'A': case 'AAAA': return rec.address;
    // Node returns a TXT record as its character-strings; ours are already joined, and mailauth
    // joins them again, so one string per record is the same thing.
    case 'TXT': return [rec.text];
    case 'MX': return { exchange: rec.exchange, priority: rec.preference };
    case 'PTR': case 'NS': case 'CNAME': return rec.name;
  }
}

/** mailauthResolver - wraps a Resolver in the function mailauth expects; counts lookups in `stats`. */
export function mailauthResolver(resolver: Resolver, stats?: { lookups: number; failures: number }): MailauthResolver {
  return async (name: string, rrtype: string) => {
    const type = rrtype.toUpperCase();
    if (!TYPES.has(type)) throw new DnsLookupError('ENOTIMP', name, type);
    if (stats) stats.lookups++;
    let r: DnsResult;
    try {
      r = await resolver.lookup(name.replace(/\.$/, ''), type as RecordType);
    } catch (e) {
      // The contract says lookup never throws; if it does, that is a temporary failure too.
      if (stats) stats.failures++;
      throw new DnsLookupError('EBADRESP', name, type);
    }
    if (r.kind !== 'answer') {
      if (stats && r.kind !== 'nxdomain' && r.kind !== 'nodata') stats.failures++;
      throw new DnsLookupError(errorCode(r), name, type);
    }
    // CNAMEs were followed by the resolver: keep only records of the type asked for.
    const out = r.records.filter((x) => x.type === type).map(shape);
    if (!out.length) throw new DnsLookupError('ENODATA', name, type);
    return out as string[][] | string[];
  };
}
