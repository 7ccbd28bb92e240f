/**
 * @module smtp/client-name
 * The client's host name for logs and Received: (postconf(5) smtpd_peername_lookup): /etc/hosts
 * first, then a PTR lookup bounded by a timeout; 'unknown' when there is none.
 * XXX: forward confirmation of the PTR name and the shared DNS cache come with the DNS layer.
 */
import { readFileSync } from 'node:fs';
import { Resolver } from 'node:dns/promises';

let hosts: Map<string, string> | undefined;
/** One resolver (one c-ares channel) for all lookups, per timeout value. */
const resolvers = new Map<number, Resolver>();

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

export async function lookupClientName(address: string, timeoutMs: number): Promise<string> {
  const h = hostsFile().get(address);
  if (h) return h;
  // Loopback addresses have no delegated PTR zone: asking the system resolver only costs time.
  if (timeoutMs <= 0 || address.startsWith('127.') || address === '::1') return 'unknown';
  let r = resolvers.get(timeoutMs);
  if (!r) { r = new Resolver({ timeout: timeoutMs, tries: 1 }); resolvers.set(timeoutMs, r); }
  try {
    const names = await Promise.race([
      r.reverse(address),
      new Promise<string[]>((_, reject) => setTimeout(() => reject(new Error('timeout')), timeoutMs).unref()),
    ]);
    return names[0]?.replace(/\.$/, '') || 'unknown';
  } catch {
    return 'unknown';
  }
}
