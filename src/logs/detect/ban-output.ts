/**
 * @module logs/detect/ban-output
 * The offending client addresses of the findings, in a form a firewall or fail2ban takes:
 *
 * - `nftables`: a script for `nft -f` (nothing is run here): table `inet mxguard` with an IPv4 set
 *   and an IPv6 set (`mxguard_detect`, `mxguard_detect6`; the server's own bans export uses
 *   `mxguard_bans`, so the two never overwrite each other), one element per address with a timeout
 *   (--ban-time) and the reason as a comment. Like `mxguard bans export --nft`, it adds no rule:
 *   the header says which one to add once.
 * - `fail2ban`: `fail2ban-client set JAIL banip IP …` commands, grouped by finding kind. Chosen
 *   over a file for a jail to read: the jail's own ban action, bantime and ignoreip apply, the bans
 *   survive a fail2ban restart in its database, and `fail2ban-client status JAIL` shows them; a
 *   log-reading jail would need a filter and log path of its own for our output.
 * - `json`: `[{address, reason, findings}]`.
 *
 * Never listed: loopback, private, link-local, ULA, CGNAT and other internal addresses (unless
 * --ban-private), and anything inside an --exclude network.
 */
import { isIP } from 'node:net';
import type { Finding } from './findings.js';
import { isPublic, parseAddress, type NetList } from './net.js';

export type BanFormat = 'nftables' | 'fail2ban' | 'json';

export interface BanEntry {
  readonly address: string;
  /** The titles of the findings that name it, joined with "; ". */
  readonly reason: string;
  /** Ids of those findings. */
  readonly findings: readonly string[];
}

/** A ban with the finding kinds behind it (short, for script comments and grouping). */
interface Ban extends BanEntry {
  readonly kinds: string;
}

export interface BanSettings {
  readonly exclude?: NetList;
  /** List internal addresses too. */
  readonly includePrivate?: boolean;
}

/** collectBans - the addresses to ban, each once, in address order. */
export function collectBans(findings: readonly Finding[], s: BanSettings = {}): Ban[] {
  const by = new Map<string, { kinds: string[]; ids: string[]; titles: string[] }>();
  for (const f of findings) {
    for (const raw of f.addresses) {
      const a = parseAddress(raw);
      if (!a) continue;
      const address = a.toString();
      if (!s.includePrivate && !isPublic(address)) continue;
      if (s.exclude?.has(address)) continue;
      let e = by.get(address);
      if (!e) {
        e = { kinds: [], ids: [], titles: [] };
        by.set(address, e);
      }
      if (!e.kinds.includes(f.kind)) e.kinds.push(f.kind);
      if (!e.ids.includes(f.id)) e.ids.push(f.id);
      if (!e.titles.includes(f.title)) e.titles.push(f.title);
    }
  }
  return [...by].sort((x, y) => compareAddresses(x[0], y[0]))
    .map(([address, e]) => ({ address, reason: e.titles.join('; '), findings: e.ids, kinds: e.kinds.join(', ') }));
}

function compareAddresses(a: string, b: string): number {
  const va = isIP(a);
  const vb = isIP(b);
  if (va !== vb) return va - vb;
  return a.localeCompare(b, 'en', { numeric: true });
}

export interface NftSettings {
  readonly table: string;
  readonly set: string;
  /** Element timeout in seconds; 0: elements stay until removed. */
  readonly timeoutSeconds: number;
  readonly now?: Date;
}

/** nftScript - an `nft -f` script adding the addresses to the sets. */
export function nftScript(bans: readonly Ban[], o: NftSettings): string {
  const set4 = o.set;
  const set6 = `${o.set}6`;
  const flags = o.timeoutSeconds > 0 ? ' flags timeout;' : '';
  const timeout = o.timeoutSeconds > 0 ? ` timeout ${o.timeoutSeconds}s` : '';
  const out = [
    `#!/usr/sbin/nft -f`,
    `# mxguard logs detect, ${(o.now ?? new Date()).toISOString()}: ${bans.length} address${bans.length === 1 ? '' : 'es'} to block.`,
    `# Load with: nft -f FILE. The sets block nothing by themselves; add a rule once, e.g.`,
    `#   nft add chain inet ${o.table} input '{ type filter hook input priority -1; }'`,
    `#   nft add rule inet ${o.table} input tcp dport '{ 25, 465, 587 }' ip saddr @${set4} drop`,
    `#   nft add rule inet ${o.table} input tcp dport '{ 25, 465, 587 }' ip6 saddr @${set6} drop`,
    `add table inet ${o.table}`,
    `add set inet ${o.table} ${set4} { type ipv4_addr;${flags} }`,
    `add set inet ${o.table} ${set6} { type ipv6_addr;${flags} }`,
  ];
  for (const b of bans) {
    const v = isIP(b.address);
    out.push(`add element inet ${o.table} ${v === 4 ? set4 : set6} { ${b.address}${timeout} } # ${b.kinds}`);
  }
  return `${out.join('\n')}\n`;
}

const F2B_BATCH = 50;

/** fail2banScript - `fail2ban-client set JAIL banip …` lines, grouped by reason, 50 addresses a line. */
export function fail2banScript(bans: readonly Ban[], o: { jail: string; now?: Date }): string {
  const out = [
    '#!/bin/sh',
    `# mxguard logs detect, ${(o.now ?? new Date()).toISOString()}: ${bans.length} address${bans.length === 1 ? '' : 'es'} to ban in fail2ban jail "${o.jail}".`,
    `# Run as root with fail2ban running; the jail must exist (fail2ban-client status ${o.jail}). Its bantime and ignoreip apply.`,
  ];
  const groups = new Map<string, string[]>();
  for (const b of bans) {
    const g = groups.get(b.kinds);
    if (g) g.push(b.address);
    else groups.set(b.kinds, [b.address]);
  }
  for (const [reason, addrs] of groups) {
    out.push(`# ${reason}: ${addrs.length}`);
    for (let i = 0; i < addrs.length; i += F2B_BATCH) {
      out.push(`fail2ban-client set ${shellWord(o.jail)} banip ${addrs.slice(i, i + F2B_BATCH).join(' ')}`);
    }
  }
  return `${out.join('\n')}\n`;
}

/** jsonBans - `[{address, reason, findings}]`. */
export function jsonBans(bans: readonly BanEntry[]): string {
  return `${JSON.stringify(bans.map(({ address, reason, findings }) => ({ address, reason, findings })), null, 2)}\n`;
}

/** shellWord - a jail name quoted for sh when it needs it. */
function shellWord(s: string): string {
  return /^[A-Za-z0-9_.-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** renderBans - the chosen form. */
export function renderBans(format: BanFormat, bans: readonly Ban[], o: { table: string; set: string; timeoutSeconds: number; jail: string; now?: Date }): string {
  switch (format) {
    case 'nftables': return nftScript(bans, o);
    case 'fail2ban': return fail2banScript(bans, o);
    case 'json': return jsonBans(bans);
  }
}
