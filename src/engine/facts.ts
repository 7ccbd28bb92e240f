/**
 * @module engine/facts
 * What the engine derives from a Config once and reuses for every transaction: the parsed
 * $mynetworks, the address resolver, opened recipient tables. Kept per Config object (a
 * master.cf service with `-o` overrides has its own), built lazily, so a bad list surfaces
 * where it is used, as a configuration error of that restriction.
 */
import type { Config } from '../config/config.js';
import { parseList } from '../config/values.js';
import { resolverFor, type Resolver } from '../dns/index.js';
import { openTable, type LookupTable } from '../tables/index.js';
import { AddressResolver, optionalParam, resolverSettings } from './address-class.js';
import { NetworkList } from './networks.js';
import { parentStyle } from './patterns.js';

export interface EngineFacts {
  readonly config: Config;
  /** $mynetworks (permit_mynetworks). */
  mynetworks(): NetworkList;
  resolver(): AddressResolver;
  /** The opened tables of a `*_maps` parameter (e.g. local_recipient_maps); [] when empty. */
  maps(param: string): readonly LookupTable[];
  /** One table named in a restriction (check_client_access hash:/etc/postfix/access), opened once. */
  table(spec: string): LookupTable;
  /** The DNS resolver of this configuration ($mxguard_dns_servers), shared with every user of it. */
  dns(): Resolver;
}

const cache = new WeakMap<Config, EngineFacts>();

/** Facts for this configuration, shared by all transactions that use it. */
export function engineFacts(cfg: Config): EngineFacts {
  let f = cache.get(cfg);
  if (!f) {
    f = buildFacts(cfg);
    cache.set(cfg, f);
  }
  return f;
}

function once<T>(make: () => T): () => T {
  let made: { value: T } | { error: unknown } | undefined;
  return () => {
    if (!made) {
      try { made = { value: make() }; } catch (error) { made = { error }; }
    }
    if ('error' in made) throw made.error;
    return made.value;
  };
}

function buildFacts(cfg: Config): EngineFacts {
  const mynetworks = once(() => new NetworkList(cfg.list('mynetworks'), {
    name: 'mynetworks', parentMatchesSubdomains: parentStyle(cfg.list('parent_domain_matches_subdomains'), 'mynetworks'),
  }));
  const resolver = once(() => new AddressResolver(resolverSettings(cfg)));
  const dns = once(() => resolverFor(cfg));
  const maps = new Map<string, () => readonly LookupTable[]>();
  const tables = new Map<string, () => LookupTable>();
  return {
    config: cfg,
    mynetworks,
    resolver,
    dns,
    maps(param: string) {
      let m = maps.get(param);
      if (!m) {
        // Parameters owned by other rooms (virtual_alias_maps, canonical_maps) may be undeclared.
        m = once(() => parseList(optionalParam(cfg, param, '')).map((spec) => openTable(spec)));
        maps.set(param, m);
      }
      return m();
    },
    table(spec: string) {
      let t = tables.get(spec);
      if (!t) {
        t = once(() => openTable(spec));
        tables.set(spec, t);
      }
      return t();
    },
  };
}
