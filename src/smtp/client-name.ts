/**
 * @module smtp/client-name
 * The client's host names (postconf(5) smtpd_peername_lookup; Postfix smtpd_peer.c), found
 * once per connection, within $mxguard_peername_timeout:
 *
 * - reverse name: the PTR name of the address (the first one), or `unknown`;
 * - name: the PTR name only when it is forward-confirmed, i.e. one of its A/AAAA addresses
 *   ($inet_protocols) is the client address; otherwise `unknown`.
 *
 * Each `unknown` carries why (ClientInfo nameStatus / reverseNameStatus), which decides
 * between $unknown_client_reject_code and 450 in reject_unknown_client_hostname and
 * reject_unknown_reverse_client_hostname:
 * - no PTR record (NXDOMAIN, no data), a numeric or malformed PTR name: permanent, both names;
 * - a temporary failure of the PTR lookup (SERVFAIL, timeout, …): temporary, both names;
 * - the PTR name does not resolve: name permanent (or temporary when that lookup failed
 *   temporarily), logged as `warning: hostname X does not resolve to address Y: <reason>`;
 * - the PTR name resolves, but not to the client address: name permanent, logged as
 *   `warning: hostname X does not resolve to address Y` (Postfix 3.7's wording, checked in its
 *   smtpd binary; Postfix 2.x logged "Y: hostname X verification failed: …" instead);
 * - $mxguard_peername_timeout running out: temporary for whatever is not known yet.
 * An address listed in /etc/hosts takes its name from there, as the C library would.
 * Loopback addresses are not looked up when no $mxguard_dns_servers are set (no delegated PTR
 * zone exists for them; asking the system resolver only costs time).
 */
import { readFileSync } from 'node:fs';
import ipaddr from 'ipaddr.js';
import type { Config } from '../config/config.js';
import { resolverFor, type Resolver } from '../dns/index.js';
import { hostAddresses } from '../engine/restrictions/dns-status.js';
import { validHostaddr, validHostname } from '../engine/restrictions/hostname-syntax.js';

export type NameStatus = 'ok' | 'temporary' | 'permanent';

export interface ClientNames {
  readonly name: string;
  readonly reverseName: string;
  readonly nameStatus: NameStatus;
  readonly reverseNameStatus: NameStatus;
  /** Lines to log as `warning: …`, before `connect from`. */
  readonly warnings: readonly string[];
}

let hosts: Map<string, string> | undefined;

function hostsFile(): Map<string, string> {
  if (hosts) return hosts;
  hosts = new Map();
  try {
    for (const line of readFileSync('/etc/hosts', 'utf8').split('\n')) {
      const f = line.replace(/#.*/, '').trim().split(/\s+/);
      if (f.length >= 2 && !hosts.has(f[0]!)) hosts.set(f[0]!, f[1]!);
    }
  } catch { /* no hosts file */ }
  return hosts;
}

const UNKNOWN = 'unknown';
const unknownBoth = (status: NameStatus, warnings: string[] = []): ClientNames =>
  ({ name: UNKNOWN, reverseName: UNKNOWN, nameStatus: status, reverseNameStatus: status, warnings });

/** The same address, written either way (IPv4-mapped IPv6 is its IPv4 address). */
function sameAddress(a: string, b: string): boolean {
  const norm = (s: string) => {
    try {
      let ip = ipaddr.parse(s);
      if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()) ip = (ip as ipaddr.IPv6).toIPv4Address();
      return ip.toNormalizedString();
    } catch { return s.toLowerCase(); }
  };
  return norm(a) === norm(b);
}

/** Resolves to `fallback` once `deadline` (ms since epoch) has passed. */
function bounded<T>(p: Promise<T>, deadline: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<T>((resolve) => { timer = setTimeout(() => resolve(fallback), Math.max(0, deadline - Date.now())); });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/**
 * lookupClientNames - the names of the client at `address` (see the module comment). Never
 * throws; never takes longer than $mxguard_peername_timeout.
 */
export async function lookupClientNames(address: string, cfg: Config, dns?: Resolver): Promise<ClientNames> {
  const h = hostsFile().get(address);
  if (h) return { name: h, reverseName: h, nameStatus: 'ok', reverseNameStatus: 'ok', warnings: [] };
  const timeoutMs = cfg.time('mxguard_peername_timeout') * 1000;
  if (timeoutMs <= 0) return unknownBoth('permanent');
  if (!dns && !cfg.list('mxguard_dns_servers').length && (address.startsWith('127.') || address === '::1')) return unknownBoth('permanent');
  let resolver: Resolver;
  try { resolver = dns ?? resolverFor(cfg); } catch { return unknownBoth('temporary'); }
  const deadline = Date.now() + timeoutMs;

  const ptr = await bounded(resolver.reverse(address), deadline, { kind: 'timeout' } as const);
  if (ptr.kind === 'nxdomain' || ptr.kind === 'nodata') return unknownBoth('permanent');
  if (ptr.kind !== 'answer') return unknownBoth('temporary');
  const first = ptr.records.find((r) => r.type === 'PTR');
  const name = first && first.type === 'PTR' ? first.name.replace(/\.$/, '') : '';
  // sockaddr_to_hostname() refuses a numeric name (it would pass for an address in access tables).
  if (validHostaddr(name)) return unknownBoth('permanent', [`numeric hostname: ${name}`]);
  if (!validHostname(name)) return unknownBoth('permanent');

  const reverse = { reverseName: name, reverseNameStatus: 'ok' as const };
  const fwd = await bounded(hostAddresses(resolver, cfg, name), deadline,
    { ok: false, temporary: true, error: 'Temporary failure in name resolution' } as const);
  if (!fwd.ok) {
    return { ...reverse, name: UNKNOWN, nameStatus: fwd.temporary ? 'temporary' : 'permanent',
      warnings: [`hostname ${name} does not resolve to address ${address}: ${fwd.error}`] };
  }
  if (fwd.addresses.some((a) => sameAddress(a, address))) return { ...reverse, name, nameStatus: 'ok', warnings: [] };
  return { ...reverse, name: UNKNOWN, nameStatus: 'permanent', warnings: [`hostname ${name} does not resolve to address ${address}`] };
}
