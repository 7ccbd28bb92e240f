/**
 * @module dns
 * The DNS room's public surface: the result types, the resolver, and one shared resolver per
 * distinct configuration (so every session, the policy service and mailauth share one cache).
 * See docs/dns.md.
 */
import type { Config } from '../config/config.js';
import { createResolver, type DnsResolver, type ResolverOptions } from './resolver.js';

export { isTemporary } from './types.js';
export type { DnsRecord, DnsResult, RecordType, Resolver } from './types.js';
export { createResolver } from './resolver.js';
export type { DnsResolver, ResolverOptions } from './resolver.js';
export { normalizeName, reverseName } from './names.js';
export { parseResolvConf, parseServer, parseServerList, systemServers, formatServer, type DnsServer } from './servers.js';

const shared = new Map<string, DnsResolver>();

/** The resolver settings a configuration asks for (mxguard_dns_* parameters). */
export function resolverOptions(cfg: Config): ResolverOptions {
  return {
    servers: [...cfg.list('mxguard_dns_servers')],
    timeoutMs: Math.round(cfg.time('mxguard_dns_timeout') * 1000),
    attemptTimeoutMs: Math.round(cfg.time('mxguard_dns_attempt_timeout') * 1000),
    cacheSize: cfg.int('mxguard_dns_cache_size'),
    maxTtl: cfg.time('mxguard_dns_cache_max_ttl'),
    negativeMaxTtl: cfg.time('mxguard_dns_negative_cache_max_ttl'),
    temporaryTtl: cfg.time('mxguard_dns_temporary_cache_ttl'),
  };
}

/**
 * resolverFor - the shared resolver for `cfg`: one instance per distinct (servers, timeouts,
 * cache settings), created on first use. An empty mxguard_dns_servers reads /etc/resolv.conf
 * then. Throws (a configuration error) on a malformed mxguard_dns_servers entry.
 */
export function resolverFor(cfg: Config): DnsResolver {
  const o = resolverOptions(cfg);
  const key = JSON.stringify(o);
  let r = shared.get(key);
  if (!r) { r = createResolver(o); shared.set(key, r); }
  return r;
}

/** clearDnsCache - forgets every cached result of the shared resolvers (tests; `postfix reload`-like events). */
export function clearDnsCache(): void {
  for (const r of shared.values()) r.clearCache();
}
