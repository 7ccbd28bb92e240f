/**
 * @module engine/cidr-table
 * Postfix `cidr:` lookup tables (cidr_table(5)): `pattern result`, `!pattern result` and nested
 * `if pattern` / `if !pattern` … `endif` blocks, searched in file order until a pattern
 * matches. Patterns are `address` or `network/prefix`, IPv6 with or without `[]`; host bits
 * of a network must be zero. Both the file form `cidr:/path` and the inline form
 * `cidr:{ { rule }, { rule } }` (Postfix 3.7) are read.
 *
 * It lives in engine/ because mynetworks is its first user; it keeps the LookupTable contract
 * so that tables/ can adopt it unchanged.
 * XXX: not reloaded when the file changes.
 */
import { readFileSync } from 'node:fs';
import ipaddr from 'ipaddr.js';
import { ConfigError } from '../config/types.js';
import type { LookupTable } from '../tables/index.js';

export type Network = { readonly addr: ipaddr.IPv4 | ipaddr.IPv6; readonly bits: number };

/**
 * Parses `a.b.c.d`, `a.b.c.d/n`, `ipv6`, `[ipv6]`, `[ipv6]/n` or `ipv6/n`. `bracketsRequired`
 * is set for main.cf lists, where an unbracketed IPv6 address would read as `type:table`
 * (postconf(5) mynetworks, Note 2). Throws ConfigError with Postfix's advice for host bits.
 */
export function parseNetwork(pattern: string, where: string, bracketsRequired = false): Network | undefined {
  const m = /^(\[([^\]]*)\]|([^/[\]]+))(?:\/(\d{1,3}))?$/.exec(pattern);
  if (!m) return undefined;
  const text = m[2] ?? m[3]!;
  const bracketed = m[2] !== undefined;
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) {
    addr = ipaddr.IPv4.parse(text);
  } else if (text.includes(':') && /^[0-9A-Fa-f:.]+$/.test(text) && ipaddr.IPv6.isValid(text)) {
    if (!bracketed && bracketsRequired) return undefined;
    addr = ipaddr.IPv6.parse(text);
  } else {
    return undefined;
  }
  const max = addr.kind() === 'ipv4' ? 32 : 128;
  const bits = m[4] === undefined ? max : Number(m[4]);
  if (bits > max) throw new ConfigError(`${where}: bad net/mask pattern: "${pattern}"`);
  const network = addr.kind() === 'ipv4'
    ? ipaddr.IPv4.networkAddressFromCIDR(`${text}/${bits}`)
    : ipaddr.IPv6.networkAddressFromCIDR(`${text}/${bits}`);
  if (network.toNormalizedString() !== addr.toNormalizedString()) {
    const shown = addr.kind() === 'ipv6' && bracketsRequired ? `[${network.toString()}]/${bits}` : `${network.toString()}/${bits}`;
    throw new ConfigError(`${where}: non-null host address bits in "${pattern}", perhaps you should use "${shown}" instead`);
  }
  return { addr, bits };
}

/**
 * A client address as the matchers want it: brackets and an IPv6 zone removed, IPv4-mapped
 * IPv6 (`::ffff:a.b.c.d`) turned into IPv4 so it matches IPv4 networks. Undefined if it is not
 * an address (then nothing matches, as in Postfix's match_hostaddr()).
 */
export function parseClientAddress(address: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  const bare = address.replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, '');
  if (!/^[0-9A-Fa-f:.]+$/.test(bare) || !ipaddr.isValid(bare)) return undefined;
  if (!bare.includes(':') && !ipaddr.IPv4.isValidFourPartDecimal(bare)) return undefined;
  return ipaddr.process(bare);
}

/** Whether the address lies in the network; an IPv4 address also matches IPv4-mapped IPv6 networks. */
export function inNetwork(addr: ipaddr.IPv4 | ipaddr.IPv6, net: Network): boolean {
  if (addr.kind() === net.addr.kind()) return addr.match(net.addr, net.bits);
  if (addr.kind() === 'ipv4' && net.addr.kind() === 'ipv6') return (addr as ipaddr.IPv4).toIPv4MappedAddress().match(net.addr, net.bits);
  return false;
}

type Rule =
  | { kind: 'rule'; net: Network; negated: boolean; result: string; line: number }
  | { kind: 'if'; net: Network; negated: boolean; body: Rule[]; line: number };

export class CidrTable implements LookupTable {
  private constructor(readonly spec: string, private readonly rules: readonly Rule[]) {}

  /** Opens `cidr:/path` or `cidr:{ {rule}, … }`; throws ConfigError on a syntax error. */
  static open(spec: string): CidrTable {
    const arg = spec.slice(spec.indexOf(':') + 1);
    let lines: string[];
    let file: string;
    const inline = /^\{([\s\S]*)\}$/.exec(arg.trim());
    if (inline) {
      file = spec;
      lines = splitInlineRules(inline[1]!, spec);
    } else {
      file = arg;
      try { lines = readFileSync(arg, 'utf8').split(/\r?\n/); } catch (e) {
        throw new ConfigError(`cannot read table ${spec}: ${(e as Error).message}`);
      }
    }
    return new CidrTable(spec, parseRules(lines, file));
  }

  lookup(key: string): string | undefined {
    const addr = parseClientAddress(key);
    return addr ? search(this.rules, addr) : undefined;
  }
}

function search(rules: readonly Rule[], addr: ipaddr.IPv4 | ipaddr.IPv6): string | undefined {
  for (const r of rules) {
    const hit = inNetwork(addr, r.net) !== r.negated;
    if (!hit) continue;
    if (r.kind === 'rule') return r.result;
    const inner = search(r.body, addr);
    if (inner !== undefined) return inner;
  }
  return undefined;
}

/** `{ rule-1 }, { rule-2 }` → one text line per rule (cidr_table(5) INLINE SPECIFICATION). */
function splitInlineRules(body: string, spec: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < body.length) {
    while (i < body.length && /[\s,]/.test(body[i]!)) i++;
    if (i >= body.length) break;
    if (body[i] !== '{') throw new ConfigError(`${spec}: expected "{ rule }" at "${body.slice(i, i + 20)}"`);
    const end = body.indexOf('}', i);
    if (end < 0) throw new ConfigError(`${spec}: missing "}"`);
    out.push(body.slice(i + 1, end).trim());
    i = end + 1;
  }
  return out;
}

function parseRules(raw: readonly string[], file: string): Rule[] {
  // Logical lines: a line starting with white space continues the previous one.
  const lines: { text: string; line: number }[] = [];
  raw.forEach((l, i) => {
    if (/^\s*#/.test(l) || /^\s*$/.test(l)) return;
    if (/^\s/.test(l) && lines.length) { lines[lines.length - 1]!.text += ' ' + l.trim(); return; }
    lines.push({ text: l.trim(), line: i + 1 });
  });
  const root: Rule[] = [];
  const stack: { body: Rule[]; line: number }[] = [{ body: root, line: 0 }];
  for (const { text, line } of lines) {
    const where = `${file}, line ${line}`;
    const top = stack[stack.length - 1]!;
    if (/^endif$/i.test(text)) {
      if (stack.length === 1) throw new ConfigError(`${where}: ignoring ENDIF without matching IF`);
      stack.pop();
      continue;
    }
    const ifm = /^if\s+(!?)(\S+)$/i.exec(text);
    if (ifm) {
      const net = parseNetwork(ifm[2]!, where);
      if (!net) throw new ConfigError(`${where}: bad address pattern: "${ifm[2]}"`);
      const rule: Rule = { kind: 'if', net, negated: ifm[1] === '!', body: [], line };
      top.body.push(rule);
      stack.push({ body: rule.body, line });
      continue;
    }
    const m = /^(!?)(\S+)\s+(.+)$/.exec(text);
    if (!m) throw new ConfigError(`${where}: expected "pattern result", found "${text.slice(0, 60)}"`);
    const net = parseNetwork(m[2]!, where);
    if (!net) throw new ConfigError(`${where}: bad address pattern: "${m[2]}"`);
    top.body.push({ kind: 'rule', net, negated: m[1] === '!', result: m[3]!.trim(), line });
  }
  if (stack.length > 1) throw new ConfigError(`${file}, line ${stack[stack.length - 1]!.line}: IF has no matching ENDIF`);
  return root;
}
