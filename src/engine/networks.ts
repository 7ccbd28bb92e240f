/**
 * @module engine/networks
 * Postfix host/address lists (namadr_list.c), the syntax of $mynetworks,
 * $smtpd_client_event_limit_exceptions and friends (postconf(5) mynetworks):
 * - `127.0.0.0/8`, `192.168.1.1`, `[::1]/128`, `[2001:db8::]/32`: networks and hosts; IPv6 must
 *   be bracketed, else it would read as `type:table`; host bits of a network must be zero;
 * - `!pattern` excludes, `/file/name` is replaced by the file's patterns;
 * - `cidr:/path` (or inline `cidr:{…}`) tables; other `type:table` references are looked up
 *   with the address (and the client name) as key, through tables/ openTable();
 * - host or domain names match the client's verified name: `example.com` also matches
 *   subdomains when the feature is in parent_domain_matches_subdomains (mynetworks is, by
 *   default), `.example.com` matches subdomains otherwise.
 * The first matching pattern decides. An IPv4-mapped IPv6 client (`::ffff:a.b.c.d`) matches
 * IPv4 networks. Building the list throws ConfigError, as Postfix refuses to start on a bad
 * pattern.
 */
import type ipaddr from 'ipaddr.js';
import { ConfigError } from '../config/types.js';
import { openTable, type LookupTable } from '../tables/index.js';
import { CidrTable, inNetwork, parseClientAddress, parseNetwork, type Network } from './cidr-table.js';
import { expandPatterns, isTablePattern } from './patterns.js';

export interface NetworkListOptions {
  /** The parameter the list came from, for messages (default `mynetworks`). */
  readonly name?: string;
  /** `example.com` also matches subdomains (parent_domain_matches_subdomains). Default true, as for mynetworks. */
  readonly parentMatchesSubdomains?: boolean;
}

/** What matched, for traces. */
export interface NetworkMatch {
  readonly pattern: string;
  readonly negated: boolean;
}

type Entry =
  | { kind: 'net'; text: string; negated: boolean; net: Network }
  | { kind: 'table'; text: string; negated: boolean; table: LookupTable }
  | { kind: 'name'; text: string; negated: boolean; name: string };

export class NetworkList {
  private readonly entries: readonly Entry[];
  private readonly parent: boolean;
  readonly name: string;

  constructor(patterns: readonly string[], opts: NetworkListOptions = {}) {
    this.name = opts.name ?? 'mynetworks';
    this.parent = opts.parentMatchesSubdomains ?? true;
    this.entries = expandPatterns(patterns, this.name).map((p): Entry => {
      const where = p.source;
      // postconf(5) mynetworks, Note 2: IPv6 must be inside [], or it reads as type:table.
      const v6 = /^([0-9A-Fa-f]*:[0-9A-Fa-f:.]*)(\/\d+)?$/.exec(p.text);
      if (v6 && v6[1]!.split(':').length > 2) {
        throw new ConfigError(`${where}: IPv6 address "${p.text}" must be written inside [], as in [${v6[1]}]${v6[2] ?? ''}`);
      }
      if (isTablePattern(p.text)) {
        const type = p.text.slice(0, p.text.indexOf(':')).toLowerCase();
        const table = type === 'cidr' ? CidrTable.open(p.text) : openTable(p.text);
        return { kind: 'table', text: p.text, negated: p.negated, table };
      }
      const net = parseNetwork(p.text, where, true);
      if (net) return { kind: 'net', text: p.text, negated: p.negated, net };
      if (/^[\d./[\]:]+$/.test(p.text)) throw new ConfigError(`${where}: bad net/mask pattern: "${p.text}"`);
      if (!/^\.?[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?$/.test(p.text)) throw new ConfigError(`${where}: bad host name or address pattern: "${p.text}"`);
      return { kind: 'name', text: p.text, negated: p.negated, name: p.text.toLowerCase().replace(/\.$/, '') };
    });
  }

  /** Addresses of the single-host entries that are not excluded (`1.2.3.4`, `[::1]/128`). */
  hostAddresses(): (ipaddr.IPv4 | ipaddr.IPv6)[] {
    const out: (ipaddr.IPv4 | ipaddr.IPv6)[] = [];
    for (const e of this.entries) {
      if (e.kind === 'net' && !e.negated && e.net.bits === (e.net.addr.kind() === 'ipv4' ? 32 : 128)) out.push(e.net.addr);
    }
    return out;
  }

  /** True when the client address (or its verified name) is in the list. */
  matches(address: string, clientName?: string): boolean {
    const m = this.match(address, clientName);
    return m !== undefined && !m.negated;
  }

  /** The first pattern that matches, or undefined; a `negated` match means "excluded". */
  match(address: string, clientName?: string): NetworkMatch | undefined {
    const addr = parseClientAddress(address);
    const name = clientName && clientName.toLowerCase() !== 'unknown' ? clientName.toLowerCase().replace(/\.$/, '') : undefined;
    for (const e of this.entries) {
      if (this.entryMatches(e, address, addr, name)) return { pattern: e.text, negated: e.negated };
    }
    return undefined;
  }

  private entryMatches(e: Entry, raw: string, addr: ipaddr.IPv4 | ipaddr.IPv6 | undefined, name: string | undefined): boolean {
    switch (e.kind) {
      case 'net':
        return addr !== undefined && inNetwork(addr, e.net);
      case 'table':
        // postconf(5) mynetworks: "a type:table lookup table is matched when a table entry
        // matches a lookup string (the lookup result is ignored)".
        if (addr !== undefined && e.table.lookup(addr.toString()) !== undefined) return true;
        if (addr === undefined && e.table.lookup(raw) !== undefined) return true;
        return name !== undefined && !(e.table instanceof CidrTable) && e.table.lookup(name) !== undefined;
      case 'name':
        if (name === undefined) return false;
        if (name === e.name) return true;
        // match_ops.c match_hostname(): with the parent style "example.com" matches its
        // subdomains; otherwise only an explicit ".example.com" does.
        if (this.parent) return name.endsWith('.' + e.name);
        return e.name.startsWith('.') && name.endsWith(e.name) && name.length > e.name.length;
    }
  }
}
