/**
 * @module engine/domain-list
 * Postfix domain lists, the syntax of $mydestination, $relay_domains,
 * $virtual_mailbox_domains and $virtual_alias_domains: names, `!pattern`, `/file/name` and
 * `type:table` patterns, first match decides.
 *
 * Two matching styles, as in Postfix:
 * - `string` (string_list.c, used by trivial-rewrite(8) for $mydestination and the virtual
 *   domain lists): the whole domain, case-insensitively; a table is looked up with the domain.
 * - `domain` (domain_list.c, used for $relay_domains): also subdomains. With the parent style
 *   (the feature is named in parent_domain_matches_subdomains, as relay_domains is by default)
 *   `example.com` matches `sub.example.com`; without it only `.example.com` does. Tables are
 *   looked up with the domain, then with each parent (`example.com`, `com`, or `.example.com`,
 *   `.com` without the parent style) (match_ops.c match_hostname()).
 */
import { ConfigError } from '../config/types.js';
import { openTable, type LookupTable } from '../tables/index.js';
import { expandPatterns, isTablePattern } from './patterns.js';

export type DomainMatchStyle = 'string' | 'domain';

export interface DomainListOptions {
  readonly style: DomainMatchStyle;
  /** For the `domain` style: `example.com` matches subdomains (parent_domain_matches_subdomains). */
  readonly parentMatchesSubdomains?: boolean;
}

/** What matched, for traces: the pattern, and the key found in a table. */
export interface DomainMatch {
  readonly pattern: string;
  readonly negated: boolean;
  readonly key?: string;
}

type Entry =
  | { kind: 'name'; text: string; negated: boolean; name: string }
  | { kind: 'table'; text: string; negated: boolean; table: LookupTable };

export class DomainList {
  private readonly entries: readonly Entry[];

  constructor(readonly name: string, patterns: readonly string[], private readonly opts: DomainListOptions) {
    this.entries = expandPatterns(patterns, name).map((p): Entry => {
      if (isTablePattern(p.text)) {
        const type = p.text.slice(0, p.text.indexOf(':')).toLowerCase();
        if (type === 'cidr') throw new ConfigError(`${p.source}: a cidr: table cannot match domain names: "${p.text}"`);
        return { kind: 'table', text: p.text, negated: p.negated, table: openTable(p.text) };
      }
      return { kind: 'name', text: p.text, negated: p.negated, name: p.text.toLowerCase() };
    });
  }

  /** True when the list has no patterns at all. */
  get empty(): boolean { return this.entries.length === 0; }

  /** True when the domain is in the list (a negated first match means it is not). */
  matches(domain: string): boolean {
    const m = this.match(domain);
    return m !== undefined && !m.negated;
  }

  /** The first pattern matching the domain, or undefined. */
  match(domain: string): DomainMatch | undefined {
    const d = domain.toLowerCase();
    if (d === '') return undefined;
    for (const e of this.entries) {
      if (e.kind === 'name') {
        if (this.nameMatches(d, e.name)) return { pattern: e.text, negated: e.negated };
        continue;
      }
      for (const key of this.tableKeys(d)) {
        if (e.table.lookup(key) !== undefined) return { pattern: e.text, negated: e.negated, key };
      }
    }
    return undefined;
  }

  private nameMatches(d: string, pattern: string): boolean {
    if (d === pattern) return true;
    if (this.opts.style === 'string') return false;
    if (this.opts.parentMatchesSubdomains) return d.endsWith('.' + pattern);
    return pattern.startsWith('.') && d.length > pattern.length && d.endsWith(pattern);
  }

  private tableKeys(d: string): string[] {
    if (this.opts.style === 'string' || d.startsWith('[')) return [d];
    const keys = [d];
    for (let i = d.indexOf('.', 1); i > 0; i = d.indexOf('.', i + 1)) {
      keys.push(this.opts.parentMatchesSubdomains ? d.slice(i + 1) : d.slice(i));
    }
    return keys.filter((k) => k !== '' && k !== '.');
  }
}
