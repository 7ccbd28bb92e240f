/**
 * @module dnsbl/codes
 * Answers that are not listings. DNS lists answer a listed name with an address in 127.0.0.0/8
 * (RFC 5782 §2.1); operators also use addresses to say "your query was refused", and broken or
 * rewriting resolvers answer from outside 127/8. Such an answer makes the list unusable for the
 * moment: it is never evidence against the client (docs/dnsbl.md has the table and sources).
 *
 * Rules, in order:
 * 1. an address outside 127.0.0.0/8: never a listing (NXDOMAIN-rewriting resolver, wrong zone;
 *    SURBL announce 2009-08, RFC 5782 §2.1);
 * 2. an operator's documented error code for the list's zone (table below);
 * 3. 127.255.255.0/24 on any list: Spamhaus reserved that range for query errors (2019) and other
 *    operators copy it; no list uses it for listings;
 * 4. 127.0.0.1 on any list: RFC 5782 §5 forbids listing the test point 127.0.0.1, and URIBL
 *    answers every refused query with 127.0.0.1.
 */

export interface RefusalCode {
  /** The zone and every zone below it (matched on label boundaries). */
  readonly zones: readonly string[];
  readonly address: string;
  readonly meaning: string;
  readonly source: string;
}

/** Documented "query refused" answers. Keep docs/dnsbl.md in step. */
export const REFUSAL_CODES: readonly RefusalCode[] = [
  { zones: ['spamhaus.org', 'spamhaus.net'], address: '127.255.255.252', meaning: 'Spamhaus: typing error in the DNSBL name', source: 'https://www.spamhaus.org/faq/section/DNSBL%20Usage' },
  { zones: ['spamhaus.org', 'spamhaus.net'], address: '127.255.255.254', meaning: 'Spamhaus: query via a public/open resolver', source: 'https://www.spamhaus.org/news/article/788/' },
  { zones: ['spamhaus.org', 'spamhaus.net'], address: '127.255.255.255', meaning: 'Spamhaus: excessive number of queries', source: 'https://www.spamhaus.org/news/article/788/' },
  { zones: ['uribl.com'], address: '127.0.0.1', meaning: 'URIBL: query refused (volume or public resolver)', source: 'https://uribl.com/refused.shtml' },
  { zones: ['dnswl.org'], address: '127.0.0.255', meaning: 'DNSWL.org: query blocked (volume or public resolver)', source: 'rspamd conf/modules.d/rbl.conf DNSWL_BLOCKED' },
];

export type AnswerClass =
  | { readonly kind: 'usable' }
  | { readonly kind: 'refused'; readonly address: string; readonly why: string };

function inZone(domain: string, zone: string): boolean {
  const d = domain.toLowerCase();
  return d === zone || d.endsWith(`.${zone}`);
}

/** isLoopback127 - whether a dotted IPv4 address is in 127.0.0.0/8. */
function in127(a: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

/** classifyAnswer - whether the A records of a list's answer can be read as a listing at all. */
export function classifyAnswer(listDomain: string, addresses: readonly string[]): AnswerClass {
  for (const a of addresses) {
    if (!in127(a)) return { kind: 'refused', address: a, why: `answer ${a} is outside 127.0.0.0/8 (a resolver that rewrites NXDOMAIN, or not a DNS list)` };
  }
  for (const a of addresses) {
    const known = REFUSAL_CODES.find((c) => c.address === a && c.zones.some((z) => inZone(listDomain, z)));
    if (known) return { kind: 'refused', address: a, why: `answer ${a}: ${known.meaning}` };
  }
  for (const a of addresses) {
    if (a.startsWith('127.255.255.')) return { kind: 'refused', address: a, why: `answer ${a}: an operator error code (127.255.255.0/24), not a listing` };
    if (a === '127.0.0.1') return { kind: 'refused', address: a, why: 'answer 127.0.0.1: never a listing (RFC 5782 §5); operators use it for refused queries' };
  }
  return { kind: 'usable' };
}
