/**
 * @module logs/detect/context
 * What the detectors share: the options, the domains we host (given with --local-domain and
 * learned from the log: domains of local deliveries and of SASL logins), and the host names that
 * clients claimed but that did not resolve back (`warning: hostname X does not resolve to address
 * IP`), for summaries.
 */
import { LruMap } from './bounded.js';
import { detach } from '../strings.js';
import type { DetectOptions } from './options.js';

const MAX_LOCAL_DOMAINS = 2000;

export class LocalDomains {
  private readonly given: Set<string>;
  private readonly learned = new Set<string>();
  constructor(given: readonly string[]) {
    this.given = new Set(given);
  }

  /** learn - a domain we deliver to locally or whose users log in here. */
  learn(domain: string): void {
    if (!domain || this.given.has(domain) || this.learned.has(domain) || this.learned.size >= MAX_LOCAL_DOMAINS) return;
    this.learned.add(detach(domain));
  }

  has(domain: string): boolean {
    return this.given.has(domain) || this.learned.has(domain);
  }

  all(): string[] {
    return [...new Set([...this.given, ...this.learned])].sort();
  }
}

export class DetectContext {
  readonly local: LocalDomains;
  /** Client address → the host name it claimed that did not resolve back to it. */
  readonly claimedNames: LruMap<string, string>;
  constructor(readonly opts: DetectOptions) {
    this.local = new LocalDomains(opts.localDomains);
    this.claimedNames = new LruMap(opts.maxKeys);
  }
}

/** domainOf - the lower-cased domain of an address (`user@Example.COM` → `example.com`), or ''. */
export function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? '' : address.slice(at + 1).toLowerCase();
}
