/**
 * @module delivery/transport
 * Transport selection as Postfix's trivial-rewrite(8) resolves a recipient, and as transport(5)
 * overrides that: first the address class gives a default (transport, nexthop), then
 * $transport_maps may replace either part.
 *
 * Address classes (ADDRESS_CLASS_README), checked in this order:
 * - local: the domain is in $mydestination, or is an address literal `[addr]` of this host
 *   → $local_transport (mxguard: `virtual`, Maildir; it has no system users);
 * - virtual mailbox: the domain is in $virtual_mailbox_domains → $virtual_transport;
 * - relay: the domain is in $relay_domains → $relay_transport (`relay`, an SMTP client);
 * - default: anything else → $default_transport.
 * A transport value may carry its own nexthop (`lmtp:inet:127.0.0.1:24`,
 * `smtp:[relay.example]:587`). Otherwise the nexthop is $relayhost for the relay and default
 * classes when it is set, and the recipient domain in every other case.
 *
 * Tables are opened once per spec and cached; `clearTableCache()` forgets them (reload).
 * A bad table spec is a ConfigError thrown to the caller: a configuration error must never be
 * mistaken for "no such key" (that would route mail to the wrong place).
 *
 * XXX: virtual_alias_domains (a class whose unknown recipients are rejected) has no transport
 * here; mxguard's rewriting happens before delivery.
 */
import { networkInterfaces } from 'node:os';
import { readFileSync } from 'node:fs';
import { catalogue } from '../config/catalogue.js';
import type { Config } from '../config/config.js';
import { ConfigError } from '../config/types.js';
import { clearTableCache as clearSharedTables, openTable, type LookupTable } from '../tables/index.js';

export interface TransportChoice {
  readonly transport: string;
  readonly nexthop: string;
}

/**
 * openCachedTable - one LookupTable per spec, shared with every other room through tables/
 * openTable(), which also drops `proxy:` (proxymap(8) only changes who opens the file) and
 * reloads a table whose file changed.
 */
export function openCachedTable(spec: string): LookupTable {
  return openTable(spec);
}

/** clearTableCache - forget opened tables so the next lookup rereads their files (after a reload). */
export function clearTableCache(): void {
  clearSharedTables();
}

/**
 * Reads a parameter that another room may or may not have declared yet, falling back to
 * Postfix's default. Config.get() refuses names outside the catalogue.
 */
function optionalParam(cfg: Config, name: string, dflt: string): string {
  if (catalogue.has(name) || cfg.isExplicit(name)) return cfg.get(name);
  return dflt;
}

/** `transport:nexthop` split at the first colon; a value without a colon is all transport. */
export function splitTransport(value: string): { transport: string; nexthop: string } {
  const v = value.trim();
  const i = v.indexOf(':');
  if (i < 0) return { transport: v, nexthop: '' };
  return { transport: v.slice(0, i).trim(), nexthop: v.slice(i + 1).trim() };
}

function splitAddress(recipient: string): { local: string; domain: string } {
  const at = recipient.lastIndexOf('@');
  if (at < 0) return { local: recipient, domain: '' };
  return { local: recipient.slice(0, at), domain: recipient.slice(at + 1) };
}

/**
 * Postfix's default parent_domain_matches_subdomains (postconf(5)): for the lists named there,
 * `example.com` also matches its subdomains; elsewhere only `.example.com` does.
 */
const PARENT_MATCH_DEFAULT = 'debug_peer_list,fast_flush_domains,mynetworks,permit_mbr_mx_backup_networks,'
  + 'qmqpd_authorized_clients,relay_domains,smtpd_access_maps';

function parentMatches(cfg: Config, listName: string): boolean {
  const names = optionalParam(cfg, 'parent_domain_matches_subdomains', PARENT_MATCH_DEFAULT)
    .split(/[\s,]+/).map((s) => s.toLowerCase());
  return names.includes(listName);
}

/** Parent domains of `a.b.c`: `b.c`, `c`. */
function parents(domain: string): string[] {
  const out: string[] = [];
  let d = domain;
  for (let i = d.indexOf('.'); i >= 0; i = d.indexOf('.')) {
    d = d.slice(i + 1);
    if (d) out.push(d);
  }
  return out;
}

/**
 * matchDomainList - whether `domain` is in a Postfix domain match list (match_list semantics,
 * postconf(5) "mydestination"): entries are tried in order, the first match wins, `!pattern`
 * negates; `type:table` looks the domain (and, with parent matching, its parents) up as a key;
 * `/file/name` supplies patterns from a file; `.example.com` matches subdomains;
 * `example.com` matches itself, and its subdomains when the list is named in
 * $parent_domain_matches_subdomains.
 */
export function matchDomainList(cfg: Config, listName: string, domain: string): boolean {
  const d = domain.toLowerCase().replace(/\.$/, '');
  if (!d) return false;
  const withParents = parentMatches(cfg, listName);
  return matchPatterns(cfg.list(listName), d, withParents, 0) ?? false;
}

function matchPatterns(patterns: readonly string[], d: string, withParents: boolean, depth: number): boolean | undefined {
  if (depth > 10) throw new ConfigError(`domain list file nesting too deep at "${patterns.join(' ')}"`);
  for (const raw of patterns) {
    let pat = raw.trim();
    let negate = false;
    while (pat.startsWith('!')) { negate = !negate; pat = pat.slice(1).trim(); }
    if (!pat) continue;
    let hit: boolean | undefined;
    if (pat.startsWith('/')) {
      // A file of patterns, read each time: such files are small and rarely used.
      let text: string;
      try { text = readFileSync(pat, 'utf8'); } catch (e) {
        throw new ConfigError(`cannot read domain list file ${pat}: ${(e as Error).message}`);
      }
      const inner = text.split(/\r?\n/).map((l) => l.replace(/#.*$/, '')).flatMap((l) => l.split(/[\s,]+/)).filter(Boolean);
      hit = matchPatterns(inner, d, withParents, depth + 1);
      if (hit !== undefined) return negate ? !hit : hit;
      continue;
    }
    if (/^[a-z0-9]+:/i.test(pat) && !pat.startsWith('[')) {
      const t = openCachedTable(pat);
      const keys = [d];
      if (withParents) keys.push(...parents(d));
      else keys.push(...parents(d).map((p) => `.${p}`));
      hit = keys.some((k) => t.lookup(k) !== undefined);
    } else {
      const p = pat.toLowerCase().replace(/\.$/, '');
      if (p.startsWith('.')) hit = d.endsWith(p);
      else hit = d === p || (withParents && d.endsWith(`.${p}`));
    }
    if (hit) return !negate;
  }
  return undefined;
}

/** The IP address inside a domain literal `[192.0.2.1]` or `[IPv6:2001:db8::1]`, else undefined. */
export function addressLiteral(domain: string): string | undefined {
  const m = /^\[(?:ipv6:)?([^\]]+)\]$/i.exec(domain);
  return m ? m[1]!.toLowerCase() : undefined;
}

/**
 * The addresses this host receives mail on (Postfix's own_inet_addr_list): $inet_interfaces
 * when it names addresses, every interface address when it says `all`, plus $proxy_interfaces.
 */
function ownAddresses(cfg: Config): Set<string> {
  const out = new Set<string>();
  const add = (a: string) => out.add(a.toLowerCase().replace(/^\[|\]$/g, ''));
  for (const i of cfg.list('inet_interfaces')) {
    const v = i.toLowerCase();
    if (v === 'all') {
      for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) add(a.address);
    } else if (v === 'loopback-only') { add('127.0.0.1'); add('::1'); } else if (v === 'localhost') { add('127.0.0.1'); add('::1'); } else add(v);
  }
  for (const p of optionalParam(cfg, 'proxy_interfaces', '').split(/[\s,]+/).filter(Boolean)) add(p);
  return out;
}

function isLocalDomain(cfg: Config, domain: string): boolean {
  if (matchDomainList(cfg, 'mydestination', domain)) return true;
  // trivial-rewrite(8): a domain literal for one of this host's addresses is local too.
  const lit = addressLiteral(domain);
  return lit !== undefined && ownAddresses(cfg).has(lit);
}

/**
 * The keys transport(5) tries for a recipient, in order: `user+ext@domain`, `user@domain`
 * (extension removed per $recipient_delimiter), `domain`, then each parent as `.parent`
 * (or as `parent` when transport_maps is listed in $parent_domain_matches_subdomains), then `*`.
 */
function transportKeys(cfg: Config, local: string, domain: string): string[] {
  const keys: string[] = [];
  const d = domain.toLowerCase();
  if (d) {
    keys.push(`${local}@${d}`);
    const delims = optionalParam(cfg, 'recipient_delimiter', '');
    if (delims) {
      const cut = [...local].findIndex((c) => delims.includes(c));
      // Postfix never strips a delimiter at the start of the local part (owner-, -request are names).
      if (cut > 0) keys.push(`${local.slice(0, cut)}@${d}`);
    }
    keys.push(d);
    const withParents = parentMatches(cfg, 'transport_maps');
    for (const p of parents(d)) keys.push(withParents ? p : `.${p}`);
  }
  keys.push('*');
  return keys;
}

function lookupTransportMaps(cfg: Config, local: string, domain: string): string | undefined {
  const specs = cfg.list('transport_maps');
  if (!specs.length) return undefined;
  const tables = specs.map(openCachedTable);
  for (const key of transportKeys(cfg, local, domain)) {
    for (const t of tables) {
      const v = t.lookup(key);
      if (v !== undefined) return v;
    }
  }
  return undefined;
}

/** Nexthop that error(8)/retry transports get when transport_maps names them without text. */
const UNDELIVERABLE_TEXT = 'mail for this destination is not deliverable';

/**
 * resolveTransport - the (transport, nexthop) that delivers mail for `recipient`.
 * Throws ConfigError when a table cannot be opened.
 */
export function resolveTransport(cfg: Config, recipient: string): TransportChoice {
  let { local, domain } = splitAddress(recipient);
  // An unqualified address belongs to $myorigin, as trivial-rewrite(8) appends it (append_at_myorigin).
  if (!domain) domain = cfg.get('myorigin');
  const dom = domain.toLowerCase();

  // 1. Address class: its transport and that transport's default nexthop.
  let classParam: string;
  let usesRelayhost = false;
  if (isLocalDomain(cfg, dom)) classParam = 'local_transport';
  else if (matchDomainList(cfg, 'virtual_mailbox_domains', dom)) classParam = 'virtual_transport';
  else if (matchDomainList(cfg, 'relay_domains', dom)) { classParam = 'relay_transport'; usesRelayhost = true; } else { classParam = 'default_transport'; usesRelayhost = true; }

  const cls = splitTransport(cfg.get(classParam));
  if (!cls.transport) throw new ConfigError(`${classParam}: empty transport name`);
  let transport = cls.transport;
  let nexthop = cls.nexthop;
  if (!nexthop) {
    const relayhost = usesRelayhost ? cfg.get('relayhost').trim() : '';
    nexthop = relayhost || dom;
  }

  // 2. transport(5) overrides.
  const entry = lookupTransportMaps(cfg, local, dom);
  if (entry !== undefined) {
    const t = splitTransport(entry);
    if (!t.transport) {
      // `:nexthop` keeps the class transport; a bare `:` changes nothing at all.
      if (t.nexthop) nexthop = t.nexthop;
    } else {
      // `transport:` with no nexthop: "the destination domain name is used instead" —
      // except for error/retry, whose nexthop is the text of the failure.
      transport = t.transport;
      if (t.nexthop) nexthop = t.nexthop;
      else nexthop = transport === 'error' || transport === 'retry' ? UNDELIVERABLE_TEXT : dom;
    }
  }
  return { transport, nexthop };
}
