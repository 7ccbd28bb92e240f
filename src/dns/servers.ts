/**
 * @module dns/servers
 * Where queries go: `mxguard_dns_servers` entries ("1.2.3.4", "1.2.3.4:5353", "[::1]:53",
 * "::1") or the `nameserver` lines of resolv.conf(5).
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { ConfigError } from '../config/types.js';

export interface DnsServer {
  readonly address: string;   // numeric IPv4 or IPv6, without brackets or zone
  readonly port: number;
}

/** Parses one server entry; undefined when it is not a numeric address with an optional port. */
export function parseServer(spec: string): DnsServer | undefined {
  const s = spec.trim();
  let address: string; let port = 53;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (bracketed) {
    address = bracketed[1]!;
    if (bracketed[2] !== undefined) port = Number(bracketed[2]);
  } else if (isIP(s) !== 0) {
    address = s;                                  // bare IPv4, or bare IPv6 (no port possible)
  } else {
    const m = /^([^:]+):(\d+)$/.exec(s);          // IPv4:port
    if (!m) return undefined;
    address = m[1]!;
    port = Number(m[2]);
  }
  if (isIP(address) === 0 || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { address, port };
}

/** The servers of a list; an entry that is not a server is a ConfigError. */
export function parseServerList(specs: readonly string[]): DnsServer[] {
  return specs.map((spec) => {
    const s = parseServer(spec);
    if (!s) throw new ConfigError(`mxguard_dns_servers: "${spec}" is not an IP address with an optional port ("1.2.3.4", "1.2.3.4:5353", "[::1]:53")`);
    return s;
  });
}

/**
 * The `nameserver` lines of a resolv.conf text, in order (resolv.conf(5): comments start with
 * "#" or ";", a link-local IPv6 address may carry "%zone", which is dropped). An empty list
 * falls back to 127.0.0.1, as the C library does.
 */
export function parseResolvConf(text: string): DnsServer[] {
  const out: DnsServer[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const m = /^nameserver\s+(\S+)/.exec(line);
    if (!m) continue;
    const address = m[1]!.replace(/%.*$/, '');
    if (isIP(address) !== 0) out.push({ address, port: 53 });
  }
  return out.length > 0 ? out : [{ address: '127.0.0.1', port: 53 }];
}

/** The system's servers, read when asked (never at import time). */
export function systemServers(path = '/etc/resolv.conf'): DnsServer[] {
  let text = '';
  try { text = readFileSync(path, 'utf8'); } catch { /* no file: the fallback */ }
  return parseResolvConf(text);
}

export function formatServer(s: DnsServer): string {
  return isIP(s.address) === 6 ? `[${s.address}]:${s.port}` : `${s.address}:${s.port}`;
}
