/**
 * @module greylist/allowlist
 * Allow lists in postgrey's file formats (postgrey(8) WHITELISTS): `#` comments and blank lines
 * are ignored; one entry per line.
 *
 * Clients (matched against the verified client name, or the address):
 * - `/regex/`: case-insensitive, against the client name;
 * - `a.b.c.d` or `a.b.c.d/NN`: IPv4 address or network; `a.b.c` is a.b.c.0/24, `a.b` a.b.0.0/16
 *   (postgrey's comment says /16; its code builds a /24 there — we follow the documented intent);
 * - an entry with two or more `:`: IPv6 address with optional `/NN`;
 * - anything else: a domain, matching the name itself and every name below it.
 * Recipients (matched against the full recipient address, case-insensitive):
 * - `/regex/`; `user@domain` (also `user+ext@domain`); `user@` (any domain, with extensions);
 * - `domain`: recipients at the domain or any subdomain.
 * A line that is none of these (whitespace inside, a bad regex or network) is reported and skipped.
 */
import ipaddr from 'ipaddr.js';

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

export interface ClientAllowlist {
  readonly regexes: readonly RegExp[];
  readonly networks: readonly Range[];
  readonly domains: ReadonlySet<string>;
}

export interface RecipientAllowlist {
  readonly patterns: readonly RegExp[];
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function entries(text: string): { line: number; entry: string }[] {
  const out: { line: number; entry: string }[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const entry = raw.replace(/#.*/, '').trim();
    if (entry) out.push({ line: i + 1, entry });
  });
  return out;
}

/** parseClientAllowlist - a client allow list file's text; `bad` gets each unusable line. */
export function parseClientAllowlist(text: string, bad: (line: number, why: string) => void = () => {}): ClientAllowlist {
  const regexes: RegExp[] = [], networks: Range[] = [], domains = new Set<string>();
  for (const { line, entry } of entries(text)) {
    if (/\s/.test(entry)) { bad(line, `whitespace in entry "${entry}"`); continue; }
    const rx = /^\/(.+)\/$/.exec(entry);
    try {
      if (rx) { regexes.push(new RegExp(rx[1]!, 'i')); continue; }
      const v4 = /^(\d{1,3}(?:\.\d{1,3}){1,3})(?:\/(\d{1,2}))?$/.exec(entry);
      if (v4) {
        const parts = v4[1]!.split('.');
        const implied = parts.length * 8;
        while (parts.length < 4) parts.push('0');
        const len = v4[2] !== undefined ? Number(v4[2]) : implied;
        networks.push([ipaddr.IPv4.parse(parts.join('.')), len]);
        if (len > 32) throw new Error('prefix too long');
        continue;
      }
      if ((entry.match(/:/g) ?? []).length >= 2) { networks.push(entry.includes('/') ? ipaddr.parseCIDR(entry) : [ipaddr.parse(entry), 128]); continue; }
      domains.add(entry.toLowerCase().replace(/^\.+|\.+$/g, ''));
    } catch (e) {
      bad(line, `bad entry "${entry}": ${(e as Error).message}`);
    }
  }
  return { regexes, networks, domains };
}

/** parseRecipientAllowlist - a recipient allow list file's text. */
export function parseRecipientAllowlist(text: string, bad: (line: number, why: string) => void = () => {}): RecipientAllowlist {
  const patterns: RegExp[] = [];
  for (const { line, entry } of entries(text)) {
    if (/\s/.test(entry)) { bad(line, `whitespace in entry "${entry}"`); continue; }
    const rx = /^\/(.+)\/$/.exec(entry);
    try {
      if (rx) { patterns.push(new RegExp(rx[1]!, 'i')); continue; }
      const at = entry.indexOf('@');
      if (at >= 0) {
        const user = entry.slice(0, at), domain = entry.slice(at + 1);
        patterns.push(new RegExp(`^${escape(user)}(?:\\+[^@]+)?@${domain ? `${escape(domain)}$` : ''}`, 'i'));
        continue;
      }
      patterns.push(new RegExp(`(?:@|\\.)${escape(entry)}$`, 'i'));
    } catch (e) {
      bad(line, `bad entry "${entry}": ${(e as Error).message}`);
    }
  }
  return { patterns };
}

/** mergeClient / mergeRecipient - several files act as one list. */
export function mergeClient(lists: readonly ClientAllowlist[]): ClientAllowlist {
  return { regexes: lists.flatMap((l) => l.regexes), networks: lists.flatMap((l) => l.networks), domains: new Set(lists.flatMap((l) => [...l.domains])) };
}
export function mergeRecipient(lists: readonly RecipientAllowlist[]): RecipientAllowlist {
  return { patterns: lists.flatMap((l) => l.patterns) };
}

/** clientAllowed - the entry that allows this client, or undefined. `name` is 'unknown' when not verified. */
export function clientAllowed(list: ClientAllowlist, address: string, name: string): string | undefined {
  const n = name.toLowerCase().replace(/\.$/, '');
  if (n && n !== 'unknown') {
    for (const r of list.regexes) if (r.test(n)) return `/${r.source}/`;
    if (list.domains.size) {
      for (let d = n; ; ) {
        if (list.domains.has(d)) return d;
        const dot = d.indexOf('.');
        if (dot < 0) break;
        d = d.slice(dot + 1);
      }
    }
  }
  if (list.networks.length) {
    let ip: ipaddr.IPv4 | ipaddr.IPv6;
    try { ip = ipaddr.process(address); } catch { return undefined; }
    for (const [net, len] of list.networks) {
      if (net.kind() === ip.kind() && ip.match(net as never, len)) return `${net.toString()}/${len}`;
    }
  }
  return undefined;
}

/** recipientAllowed - the pattern that allows this recipient, or undefined. */
export function recipientAllowed(list: RecipientAllowlist, recipient: string): string | undefined {
  for (const r of list.patterns) if (r.test(recipient)) return `/${r.source}/`;
  return undefined;
}
