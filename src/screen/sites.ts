/**
 * @module screen/sites
 * postscreen_dnsbl_sites patterns (postscreen_dnsbl.c psc_dnsbl_add_site()): `domain[=filter][*weight]`.
 * The weight is split off first (a signed integer; 1 when absent; negative for allow lists),
 * then the filter (ip_match syntax), then the domain is checked. Patterns of one domain share one
 * query; each pattern whose filter matches one of the answers adds its weight once.
 */
import { parseFilter, type ReplyFilter } from '../dnsbl/filter.js';

export interface Site {
  readonly pattern: string;
  readonly domain: string;
  readonly filter?: ReplyFilter;
  readonly weight: number;
}

/** parseSite - one pattern; throws an Error in Postfix's words on bad input. */
export function parseSite(pattern: string): Site {
  let rest = pattern;
  let weight = 1;
  const star = rest.indexOf('*');
  if (star >= 0) {
    const w = rest.slice(star + 1);
    if (!/^[+-]?\d+$/.test(w)) throw new Error(`bad DNSBL weight factor "${w}" in "${pattern}"`);
    weight = Number(w);
    rest = rest.slice(0, star);
  }
  let filter: ReplyFilter | undefined;
  const eq = rest.indexOf('=');
  if (eq >= 0) {
    try { filter = parseFilter(rest.slice(eq + 1)); } catch (e) { throw new Error(`bad DNSBL filter syntax: ${(e as Error).message}`); }
    rest = rest.slice(0, eq);
  }
  const domain = rest.replace(/\.$/, '').toLowerCase();
  if (!domain || !domain.split('.').every((l) => /^[a-z0-9_-]{1,63}$/.test(l))) throw new Error(`bad DNSBL domain name "${rest}" in "${pattern}"`);
  return { pattern, domain, filter, weight };
}

/** parseSites - every pattern of postscreen_dnsbl_sites, in order. */
export function parseSites(patterns: readonly string[]): Site[] {
  return patterns.map(parseSite);
}
