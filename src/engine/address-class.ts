/**
 * @module engine/address-class
 * Address resolution as trivial-rewrite(8) does it for the SMTP server's relay checks
 * (reject_unauth_destination, permit_auth_destination, reject_unlisted_recipient): rewrite the
 * address to its canonical form, strip every domain that is this host's own, undo the
 * sender-specified routing that Postfix understands, and put what is left in an address class.
 *
 * Rewriting, repeated until nothing changes (trivial-rewrite resolve.c loop):
 * - a trailing dot of the domain is dropped (not `..`), and a trailing `@`;
 * - `@domain` is stripped when the domain is local ($mydestination, or an address literal of
 *   this host, see `isLocalDomain`), and the rest is resolved again;
 * - then `site!user` becomes `user@site` (swap_bangpath) and `user%site` becomes `user@site`
 *   (allow_percent_hack); a quoted local part such as `"user@site"` is opened and searched for
 *   the same operators (resolve_dequoted_address);
 * - an empty local part becomes MAILER-DAEMON; an address left without domain gets the domain
 *   that was stripped last, or $myhostname.
 *
 * Classes (ADDRESS_CLASS_README): local (a domain was stripped, or none was given), virtual
 * alias ($virtual_alias_domains), virtual mailbox ($virtual_mailbox_domains), relay
 * ($relay_domains, subdomains included per parent_domain_matches_subdomains), default.
 *
 * RESOLVE_FLAG_ROUTED: when the resolved address, in unquoted form, still carries `@`, `%` or `!`
 * in its local part (e.g. `user@remote@relay.example` or `user%remote@local` with the percent
 * hack off), the sender specified a route. Such an address is never an authorised destination
 * for an untrusted client (allow_untrusted_routing = no), so a Sendmail next hop cannot be used
 * to relay onward. The check ignores swap_bangpath and allow_percent_hack on purpose: the next
 * hop may honour them even if this host does not.
 *
 * Address literals are local only when conservative evidence says so: the literal is listed in
 * $mydestination (`[192.0.2.1]`), or is an explicit address in $inet_interfaces or
 * $proxy_interfaces, or a single-host entry of $mynetworks. Postfix compares with all the
 * host's interface addresses; the engine does not enumerate interfaces (it never touches the
 * network), and with the default mynetworks_style = host those are the $mynetworks entries.
 */
import type ipaddr from 'ipaddr.js';
import type { Config } from '../config/config.js';
import { catalogue } from '../config/catalogue.js';
import { parseList } from '../config/values.js';
import { parseClientAddress } from './cidr-table.js';
import { DomainList } from './domain-list.js';
import { firstUnquoted, isValidHostname, lastUnquoted, parseAddressLiteral, quoteLocalPart, unquoteLocalPart } from './mailbox.js';
import { NetworkList } from './networks.js';
import { parentStyle } from './patterns.js';

export type AddressClass = 'local' | 'virtual_alias' | 'virtual' | 'relay' | 'default';

export interface ResolvedAddress {
  /** The address as given. */
  readonly input: string;
  /** The resolved recipient in unquoted ("internal") form, lower-cased: the table lookup key. */
  readonly recipient: string;
  /** Its local part (unquoted, lower-cased) and domain (lower-cased, no trailing dot). */
  readonly localPart: string;
  readonly domain: string;
  readonly addressClass: AddressClass;
  /** Sender-specified routing remains (RESOLVE_FLAG_ROUTED). */
  readonly routed: boolean;
  /** The resolved domain is not a valid host name or address literal (RESOLVE_FLAG_ERROR). */
  readonly invalid: boolean;
  /** Why the class was chosen, e.g. `example.test matches mydestination`. */
  readonly reason: string;
  /** Each rewriting step, for traces. */
  readonly rewrites: readonly string[];
}

/** The settings resolution reads; built from a Config by `resolverSettings()`. */
export interface ResolverSettings {
  readonly myhostname: string;
  readonly mydestination: DomainList;
  readonly virtualAliasDomains: DomainList;
  readonly virtualMailboxDomains: DomainList;
  readonly relayDomains: DomainList;
  /** Addresses whose literal `[addr]` counts as this host. */
  readonly ownAddresses: readonly (ipaddr.IPv4 | ipaddr.IPv6)[];
  readonly percentHack: boolean;
  readonly swapBangpath: boolean;
  readonly resolveDequoted: boolean;
  /** var_empty_addr: the local part given to an empty one. */
  readonly emptyAddress: string;
}

/** Reads a parameter that another room may declare; an explicit main.cf setting always counts. */
export function optionalParam(cfg: Config, name: string, fallback: string): string {
  return catalogue.has(name) || cfg.isExplicit(name) ? cfg.get(name) : fallback;
}

/** Builds the resolver's settings; throws ConfigError for a bad list or table. */
export function resolverSettings(cfg: Config): ResolverSettings {
  const parent = cfg.list('parent_domain_matches_subdomains');
  const aliasMaps = optionalParam(cfg, 'virtual_alias_maps', '');
  return {
    myhostname: cfg.get('myhostname').toLowerCase(),
    mydestination: new DomainList('mydestination', cfg.list('mydestination'), { style: 'string' }),
    virtualAliasDomains: new DomainList('virtual_alias_domains', parseList(optionalParam(cfg, 'virtual_alias_domains', aliasMaps)), { style: 'string' }),
    virtualMailboxDomains: new DomainList('virtual_mailbox_domains', cfg.list('virtual_mailbox_domains'), { style: 'string' }),
    relayDomains: new DomainList('relay_domains', cfg.list('relay_domains'), {
      style: 'domain', parentMatchesSubdomains: parentStyle(parent, 'relay_domains'),
    }),
    ownAddresses: ownAddresses(cfg),
    percentHack: cfg.bool('allow_percent_hack'),
    swapBangpath: cfg.bool('swap_bangpath'),
    resolveDequoted: cfg.bool('resolve_dequoted_address'),
    emptyAddress: 'MAILER-DAEMON',
  };
}

/** Explicit addresses of inet_interfaces and proxy_interfaces, and single-host mynetworks entries. */
function ownAddresses(cfg: Config): (ipaddr.IPv4 | ipaddr.IPv6)[] {
  const out: (ipaddr.IPv4 | ipaddr.IPv6)[] = [];
  for (const name of ['inet_interfaces', 'proxy_interfaces']) {
    for (const item of cfg.list(name)) {
      if (item.toLowerCase() === 'loopback-only') {
        out.push(parseClientAddress('127.0.0.1')!, parseClientAddress('::1')!);
        continue;
      }
      const a = parseClientAddress(item);
      if (a) out.push(a);
    }
  }
  out.push(...new NetworkList(cfg.list('mynetworks'), { name: 'mynetworks' }).hostAddresses());
  return out;
}

export class AddressResolver {
  constructor(readonly settings: ResolverSettings) {}

  /** Whether mail for this domain (or `[address literal]`) is delivered on this host (resolve_local.c). */
  isLocalDomain(domain: string): boolean {
    let d = domain.toLowerCase();
    if (d.endsWith('.')) d = d.slice(0, -1);
    if (d === '' || d.endsWith('.')) return false;
    if (this.settings.mydestination.matches(d)) return true;
    if (d.startsWith('[')) {
      const lit = parseAddressLiteral(d);
      if (!lit) return false;
      const a = lit.kind() === 'ipv6' && (lit as ipaddr.IPv6).isIPv4MappedAddress() ? (lit as ipaddr.IPv6).toIPv4Address() : lit;
      return this.settings.ownAddresses.some((o) => o.kind() === a.kind() && o.toNormalizedString() === a.toNormalizedString());
    }
    return false;
  }

  /** Results of recent inputs: one transaction resolves the same address for several restrictions. */
  private readonly memo = new Map<string, ResolvedAddress>();

  resolve(input: string): ResolvedAddress {
    let r = this.memo.get(input);
    if (!r) {
      r = this.resolveUncached(input);
      if (this.memo.size >= 1000) this.memo.delete(this.memo.keys().next().value!);
      this.memo.set(input, r);
    }
    return r;
  }

  private resolveUncached(input: string): ResolvedAddress {
    const st = this.settings;
    const rewrites: string[] = [];
    const step = (what: string, from: string, to: string) => { if (from !== to) rewrites.push(`${what}: ${from} -> ${to}`); };
    let s = input;
    let saved: string | undefined;   // the local domain stripped last
    let remote: string | undefined;  // set when the loop stops at a non-local domain
    const max = input.length + 100;

    for (let n = 0; n <= max; n++) {
      // Trailing dot at the end of the domain, but not "..": diagnostics stay accurate.
      if (lastUnquoted(s, '@') >= 0 && s.endsWith('.') && !s.endsWith('..')) { step('trailing dot', s, s.slice(0, -1)); s = s.slice(0, -1); }
      // A trailing "@" (an empty domain) is dropped.
      if (s.endsWith('@') && lastUnquoted(s, '@') === s.length - 1) { step('trailing @', s, s.slice(0, -1)); s = s.slice(0, -1); }

      const at = lastUnquoted(s, '@');
      if (at >= 0) {
        const dom = s.slice(at + 1);
        if (dom !== '' && !this.isLocalDomain(dom)) { remote = dom; break; }
        step('local domain stripped', s, s.slice(0, at));
        s = s.slice(0, at);
        if (dom !== '') saved = dom;
      }

      // With the local domain gone, routing operators left in the local part are resolved.
      if (lastUnquoted(s, '@') >= 0 || (st.swapBangpath && firstUnquoted(s, '!') >= 0) || (st.percentHack && lastUnquoted(s, '%') >= 0)) {
        const c = this.canonical(s);
        step(c.what, s, c.to);
        s = c.to;
        continue;
      }

      // resolve_dequoted_address: look for operators inside a quoted local part as well.
      // Technically wrong, but it stops "user@elsewhere"@local relay attempts via a Sendmail hop.
      if (st.resolveDequoted && isOneQuotedString(s)) {
        const content = unquoteLocalPart(s);
        let i = content.lastIndexOf('@');
        let t: string | undefined;
        if (i < 0 && st.percentHack) i = content.lastIndexOf('%');
        if (i >= 0) {
          t = `${quoteLocalPart(content.slice(0, i))}@${content.slice(i + 1)}`;
        } else if (st.swapBangpath && content.includes('!')) {
          const b = content.indexOf('!');
          t = `${quoteLocalPart(content.slice(b + 1))}@${content.slice(0, b)}`;
        }
        if (t !== undefined) {
          step('resolve_dequoted_address', s, t);
          s = stripTrailingDot(t);
          continue;
        }
      }

      // An empty local part becomes MAILER-DAEMON, as in Postfix's own From: headers.
      if (s === '' || s === '""') { step('empty local part', s, st.emptyAddress); s = st.emptyAddress; }
      break;
    }

    const full = remote !== undefined ? s : `${s}@${saved ?? st.myhostname}`;
    const internal = unquoteLocalPart(full);
    const lastAt = internal.lastIndexOf('@');
    const rcptDomain = internal.slice(lastAt + 1);
    // RESOLVE_FLAG_ROUTED: whatever follows the first routing operator must be the domain itself.
    const firstOp = internal.search(/[@!%]/);
    const routed = internal.slice(firstOp + 1) !== rcptDomain;
    const invalid = rcptDomain.startsWith('[') ? parseAddressLiteral(rcptDomain) === undefined : !isValidHostname(rcptDomain);
    const domain = rcptDomain.toLowerCase();

    let addressClass: AddressClass;
    let reason: string;
    if (remote === undefined) {
      addressClass = 'local';
      reason = saved !== undefined ? `${saved.toLowerCase()} is local ($mydestination or this host's address)` : `no domain: $myhostname (${st.myhostname}) assumed`;
    } else {
      const m = (l: DomainList) => l.match(domain);
      const alias = m(st.virtualAliasDomains);
      const mailbox = !alias || alias.negated ? m(st.virtualMailboxDomains) : undefined;
      const relay = (!alias || alias.negated) && (!mailbox || mailbox.negated) ? m(st.relayDomains) : undefined;
      if (alias && !alias.negated) { addressClass = 'virtual_alias'; reason = describe(domain, 'virtual_alias_domains', alias); }
      else if (mailbox && !mailbox.negated) { addressClass = 'virtual'; reason = describe(domain, 'virtual_mailbox_domains', mailbox); }
      else if (relay && !relay.negated) { addressClass = 'relay'; reason = describe(domain, 'relay_domains', relay); }
      else { addressClass = 'default'; reason = `${domain} is not local, not virtual and not in relay_domains`; }
    }
    return {
      input, recipient: internal.toLowerCase(), localPart: internal.slice(0, lastAt).toLowerCase(), domain,
      addressClass, routed, invalid, reason, rewrites,
    };
  }

  /** trivial-rewrite's canonical rewrite (rewrite.c) on an address, without the optional qualifications. */
  private canonical(s: string): { to: string; what: string } {
    if (lastUnquoted(s, '@') < 0) {
      const bang = firstUnquoted(s, '!');
      const pct = lastUnquoted(s, '%');
      // site!user -> user@site (swap_bangpath), else user%site -> user@site (allow_percent_hack).
      if (this.settings.swapBangpath && bang >= 0) return { to: stripTrailingDot(`${s.slice(bang + 1)}@${s.slice(0, bang)}`), what: 'swap_bangpath' };
      if (this.settings.percentHack && pct >= 0) return { to: stripTrailingDot(`${s.slice(0, pct)}@${s.slice(pct + 1)}`), what: 'allow_percent_hack' };
    }
    return { to: stripTrailingDot(s), what: 'canonical' };
  }
}

function describe(domain: string, list: string, m: { pattern: string; key?: string }): string {
  return `${domain} matches ${list} (${m.key !== undefined ? `${m.pattern}, key ${m.key}` : m.pattern})`;
}

/** Drops a trailing dot of the domain, but not after another dot or an "@" (rewrite.c). */
function stripTrailingDot(s: string): string {
  if (s.endsWith('.') && !s.endsWith('..') && !s.endsWith('@.') && lastUnquoted(s, '@') >= 0) return s.slice(0, -1);
  return s;
}

/** True when the whole text is one quoted string ("…"), the only form resolve_dequoted_address opens. */
function isOneQuotedString(s: string): boolean {
  if (s.length < 2 || !s.startsWith('"') || !s.endsWith('"')) return false;
  for (let i = 1; i < s.length - 1; i++) {
    if (s[i] === '\\') { i++; continue; }
    if (s[i] === '"') return false;
  }
  return true;
}

/**
 * Whether the resolved address may be relayed to by anyone (smtpd_check.c
 * permit_auth_destination): a final destination (local or virtual class) or a relay domain,
 * without sender-specified routing unless allow_untrusted_routing is set.
 */
export function authorizedDestination(r: ResolvedAddress, allowUntrustedRouting: boolean): { ok: boolean; why: string } {
  if (r.invalid) return { ok: false, why: `resolved domain "${r.domain}" is not a valid host name or address literal` };
  if (r.routed && !allowUntrustedRouting) return { ok: false, why: `${r.recipient} contains sender-specified routing (allow_untrusted_routing = no)` };
  switch (r.addressClass) {
    case 'local': case 'virtual_alias': case 'virtual':
      return { ok: true, why: `final destination: ${r.reason}` };
    case 'relay':
      return { ok: true, why: `relay destination: ${r.reason}` };
    case 'default':
      return { ok: false, why: r.reason };
  }
}
